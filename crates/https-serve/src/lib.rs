//! `https-serve`: the TLS front of our servers (the search apiserver and the Kubernetes
//! simulator). [`tls`] builds rustls configurations (from PEM files, or a self-signed
//! certificate written to a directory), [`client_cert`] checks client certificates against
//! CA bundles that may change at run time, [`serve`] runs the accept loop and attaches what
//! the handshake established about the client to every request.

pub mod client_cert;
pub mod serve;
pub mod tls;

pub use serve::serve_tls;
