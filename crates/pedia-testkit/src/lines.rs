//! Reading a child process's output line by line with a timeout: a reader thread feeds a
//! channel, so a test can `recv_timeout` instead of blocking forever on a silent process.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;

/// The lines of `output` (a child's stdout or stderr) as they arrive; the channel closes
/// when the stream ends.
pub fn lines(output: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}
