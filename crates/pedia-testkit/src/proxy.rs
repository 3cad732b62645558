//! A TCP proxy on 127.0.0.1 in front of a real server (a database), which a test can cut
//! and restore to make the server unreachable (connections refused, open ones dropped), or
//! look like it restarted, without touching the server other tests use.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Default)]
struct State {
    connections: Mutex<Vec<tokio::task::AbortHandle>>,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    state: Arc<State>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

async fn serve(listener: TcpListener, upstream: SocketAddr, state: Arc<State>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let conn = tokio::spawn(async move {
            if let Ok(mut server) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
        let mut conns = state.connections.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|c| !c.is_finished());
        conns.push(conn.abort_handle());
    }
}

impl TcpProxy {
    /// Listens on an ephemeral port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State::default());
        let task = tokio::spawn(serve(listener, upstream, Arc::clone(&state)));
        Self {
            addr,
            upstream,
            state,
            listener: Mutex::new(Some(task)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes the port (new connections are refused) and drops every open connection,
    /// until [`TcpProxy::restore`].
    pub fn cut(&self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
        for c in self
            .state
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            c.abort();
        }
    }

    /// Listens on the same port again.
    pub async fn restore(&self) {
        if self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return;
        }
        // The aborted accept loop may take a moment to release the port.
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let task = tokio::spawn(serve(listener, self.upstream, Arc::clone(&self.state)));
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// A restart: every open connection dropped, new ones accepted.
    pub async fn restart(&self) {
        self.cut();
        self.restore().await;
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
