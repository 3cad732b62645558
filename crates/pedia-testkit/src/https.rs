//! An HTTPS client of the search API for benchmarks and load tests: hyper-util's pooled
//! client over rustls (ring), HTTP/2 as kubectl negotiates it, a bearer token, and the
//! apiserver's self-signed certificate as the only trusted root.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The search API's base path.
pub const RESOURCES: &str = "/apis/clusterpedia.io/v1beta1/resources";

/// How long one request may take before the caller records it as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// A client of one apiserver.
#[derive(Debug, Clone)]
pub struct Api {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    base: String,
    auth: HeaderValue,
}

impl Api {
    /// A client of `https://addr` trusting the PEM certificate(s) at `ca`.
    pub fn new(addr: SocketAddr, ca: &Path, token: &str) -> Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca)
            .with_context(|| format!("reading the apiserver certificate {}", ca.display()))?
        {
            roots.add(cert?)?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        // As Go clients (kubectl) do: small HTTP/2 frames must not wait for delayed ACKs.
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            // Large windows, as Go clients (kubectl) use: with hyper's 64 KiB default a
            // 400 MB list would measure flow control, not the server.
            .http2_initial_stream_window_size(8 << 20)
            .http2_initial_connection_window_size(32 << 20)
            .http2_max_frame_size(1 << 20)
            .build(connector);
        Ok(Self {
            client,
            base: format!("https://{addr}"),
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }

    async fn send(&self, path: &str, accept: Option<&str>) -> Result<hyper::Response<Incoming>> {
        let mut req = Request::get(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .body(Empty::new())?;
        if let Some(accept) = accept {
            req.headers_mut()
                .insert(ACCEPT, HeaderValue::from_str(accept)?);
        }
        Ok(self.client.request(req).await?)
    }

    /// GETs `path`, returning the status and the whole body.
    pub async fn get(&self, path: &str, accept: Option<&str>) -> Result<(StatusCode, Bytes)> {
        let (status, _, body) = self.get_with_headers(path, accept).await?;
        Ok((status, body))
    }

    /// GETs `path`, returning the status, the response headers and the whole body.
    pub async fn get_with_headers(
        &self,
        path: &str,
        accept: Option<&str>,
    ) -> Result<(StatusCode, HeaderMap, Bytes)> {
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = self.send(path, accept).await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok((status, headers, body))
        })
        .await
        .with_context(|| format!("GET {path} timed out"))?
    }

    /// GETs `path`, which must answer 200, and returns the body.
    pub async fn get_ok(&self, path: &str, accept: Option<&str>) -> Result<Bytes> {
        let (status, body) = self.get(path, accept).await?;
        if status != StatusCode::OK {
            bail!(
                "GET {path}: {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(500)])
            );
        }
        Ok(body)
    }

    /// GETs `path`, which must answer 200, counting the body's bytes without keeping
    /// them (a full list is hundreds of megabytes).
    pub async fn get_counting(&self, path: &str) -> Result<u64> {
        tokio::time::timeout(REQUEST_TIMEOUT, async {
            let resp = self.send(path, None).await?;
            let status = resp.status();
            let mut body = resp.into_body();
            if status != StatusCode::OK {
                let text = body.collect().await?.to_bytes();
                bail!(
                    "GET {path}: {status}: {}",
                    String::from_utf8_lossy(&text[..text.len().min(500)])
                );
            }
            let mut n = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    n += data.len() as u64;
                }
            }
            Ok(n)
        })
        .await
        .with_context(|| format!("GET {path} timed out"))?
    }

    /// Opens a streaming GET (a watch); the body is read by the caller.
    pub async fn stream(&self, path: &str) -> Result<Incoming> {
        let resp = self.send(path, None).await?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let text = resp.into_body().collect().await?.to_bytes();
            bail!(
                "GET {path}: {status}: {}",
                String::from_utf8_lossy(&text[..text.len().min(500)])
            );
        }
        Ok(resp.into_body())
    }
}

/// The next data of a streamed body, `None` at its end (other frames are skipped); an
/// error when the server broke the body off.
pub async fn next_data(body: &mut Incoming) -> Option<Result<Bytes>> {
    loop {
        match body.frame().await? {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    return Some(Ok(data));
                }
            }
            Err(err) => return Some(Err(err.into())),
        }
    }
}
