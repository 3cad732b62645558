//! Continue tokens: arbitrary text never decodes to a cursor unless it is a genuine token,
//! and genuine tokens round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pedia_core::{Cursor, CursorValue};

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        if let Ok(cursor) = Cursor::decode(token, 42) {
            // Whatever decodes must be a token this server could have issued.
            assert_eq!(Cursor::decode(&cursor.encode(42), 42).ok(), Some(cursor));
        }
    }
    // Cursors built from the input encode and decode losslessly.
    let values = data
        .chunks(9)
        .map(|c| match c.first() {
            Some(b) if b % 2 == 0 => CursorValue::Str(String::from_utf8_lossy(&c[1..]).into_owned()),
            _ => CursorValue::Int(c.iter().fold(0i64, |a, b| a.wrapping_mul(31).wrapping_add(i64::from(*b)))),
        })
        .take(16)
        .collect();
    let cursor = Cursor { values, revision: data.len() as u64 };
    let token = cursor.encode(7);
    if token.len() <= 16 * 1024 {
        assert_eq!(Cursor::decode(&token, 7).ok(), Some(cursor.clone()));
        assert!(Cursor::decode(&token, 8).is_err(), "a token of another query is refused");
    }
});
