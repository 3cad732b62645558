//! The secure port: accepts TCP connections, completes TLS (HTTP/2 or HTTP/1.1 by ALPN),
//! classifies the client certificate once per connection, and serves the router with that
//! classification attached to every request as an extension.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use rustls::pki_types::CertificateDer;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` over TLS until `shutdown` completes, then closes every open
/// connection (watches included). `identify` turns the client's certificate chain (if any)
/// into a value inserted into every request of the connection.
pub async fn serve_tls<I, F>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    identify: F,
    app: Router,
    shutdown: impl Future<Output = ()>,
) where
    I: Clone + Send + Sync + 'static,
    F: Fn(Option<&[CertificateDer<'static>]>) -> I + Clone + Send + Sync + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Reap finished connections so the set does not grow with every client.
        while connections.try_join_next().is_some() {}
        let (tcp, remote) = tokio::select! {
            _ = &mut shutdown => {
                connections.abort_all();
                return;
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(err) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Responses go out as several small writes (TLS records, HTTP/2 frames): with
        // Nagle's algorithm a small write waits for the client's delayed ACK, 40 ms on
        // Linux. Go's servers (kube-apiserver) disable it too.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%remote, error = %err, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let identify = identify.clone();
        let app = app.clone();
        connections.spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => {
                    // Refused certificates included: an operator debugging "kubectl cannot
                    // connect" needs the reason without turning on debug logs.
                    tracing::info!(%remote, reason = %err, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::info!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let peer = identify(stream.get_ref().1.peer_certificates());
            let service = app.map_request(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req: Request = req.map(Body::new);
                req.extensions_mut().insert(peer.clone());
                req
            });
            let service = TowerToHyperService::new(service);
            if let Err(err) = Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%remote, error = %err, "connection ended with an error");
            }
        });
    }
}
