//! Client certificates checked by us rather than by the TLS library, as kube-apiserver does:
//! the handshake only *requests* a certificate and proves the client holds its key
//! ([`RequestingClientVerifier`]); which CA signed it is decided per request against a CA
//! bundle that may change at run time ([`CaBundle`], e.g. from the host cluster's
//! `extension-apiserver-authentication` ConfigMap).
//!
//! Two reasons not to let rustls/webpki verify the chain during the handshake: the CAs
//! rotate without a restart, and webpki refuses X.509 v1 certificates, which kube-apiserver
//! and Go Clusterpedia accept (`openssl x509 -req` without extensions makes them).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

/// Longest chain (leaf, intermediates) we follow to a CA of the bundle.
const MAX_CHAIN: usize = 5;

/// Why a client certificate does not authenticate its client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertRefusal {
    #[error("the client certificate is not valid X.509: {0}")]
    Malformed(String),
    #[error("the client certificate (issuer {issuer:?}) is not signed by a trusted CA")]
    UnknownAuthority { issuer: String },
    #[error("the client certificate {subject:?} expired at {not_after}")]
    Expired { subject: String, not_after: String },
    #[error("the client certificate {subject:?} is not valid before {not_before}")]
    NotYetValid { subject: String, not_before: String },
    #[error(
        "the client certificate {subject:?} is not for client authentication (extended key usage)"
    )]
    NotForClientAuth { subject: String },
    #[error("the client certificate {subject:?} is signed with SHA-1, which is refused")]
    InsecureSignature { subject: String },
}

/// Who a verified client certificate names: CN is the user, O the groups (Kubernetes'
/// convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSubject {
    pub common_name: String,
    pub organizations: Vec<String>,
}

/// A set of CA certificates that client certificates are checked against.
#[derive(Debug, Clone, Default)]
pub struct CaBundle {
    certs: Vec<CertificateDer<'static>>,
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertRefusal> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| CertRefusal::Malformed(e.to_string()))
}

fn subject_of(cert: &X509Certificate<'_>) -> String {
    cert.subject().to_string()
}

/// `sha1WithRSAEncryption` (two OIDs in use) and `ecdsa-with-SHA1`.
fn is_sha1(cert: &X509Certificate<'_>) -> bool {
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    matches!(
        oid.as_str(),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" | "1.2.840.10045.4.1"
    )
}

fn check_validity(cert: &X509Certificate<'_>, now: i64) -> Result<(), CertRefusal> {
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(CertRefusal::NotYetValid {
            subject: subject_of(cert),
            not_before: validity.not_before.to_string(),
        });
    }
    if now > validity.not_after.timestamp() {
        return Err(CertRefusal::Expired {
            subject: subject_of(cert),
            not_after: validity.not_after.to_string(),
        });
    }
    Ok(())
}

/// An extended key usage extension, when present, must allow client authentication.
fn check_client_usage(cert: &X509Certificate<'_>) -> Result<(), CertRefusal> {
    for ext in cert.extensions() {
        if let ParsedExtension::ExtendedKeyUsage(eku) = ext.parsed_extension()
            && !(eku.client_auth || eku.any)
        {
            return Err(CertRefusal::NotForClientAuth {
                subject: subject_of(cert),
            });
        }
    }
    Ok(())
}

/// Whether `cert` may sign other certificates: a CA by basic constraints, or a v1
/// certificate, which has no extensions to say so (Go accepts those too).
fn may_issue(cert: &X509Certificate<'_>) -> bool {
    match cert.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        Ok(None) => cert.version().0 == 0,
        Err(_) => false,
    }
}

fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == issuer.subject().as_raw()
        && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

impl CaBundle {
    /// The CA certificates of a PEM bundle (a `client-ca-file`, or the ConfigMap's value).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
        if certs.is_empty() {
            return Err("contains no certificate".to_owned());
        }
        for (i, der) in certs.iter().enumerate() {
            parse(der).map_err(|e| format!("certificate {}: {e}", i + 1))?;
        }
        Ok(Self { certs })
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// Checks `chain` (leaf first, then any intermediates the client sent) at `now`.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        now: SystemTime,
    ) -> Result<CertSubject, CertRefusal> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let Some(leaf_der) = chain.first() else {
            return Err(CertRefusal::Malformed("no certificate".to_owned()));
        };
        let leaf = parse(leaf_der)?;
        check_validity(&leaf, now)?;
        check_client_usage(&leaf)?;
        let intermediates = chain[1..]
            .iter()
            .take(MAX_CHAIN)
            .map(|d| parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        let cas = self
            .certs
            .iter()
            .filter_map(|d| parse(d).ok())
            .collect::<Vec<_>>();
        let mut current = &leaf;
        let mut used = vec![false; intermediates.len()];
        for _ in 0..=MAX_CHAIN {
            if is_sha1(current) {
                return Err(CertRefusal::InsecureSignature {
                    subject: subject_of(current),
                });
            }
            if let Some(ca) = cas.iter().find(|ca| signed_by(current, ca)) {
                check_validity(ca, now)?;
                return Ok(CertSubject {
                    common_name: leaf
                        .subject()
                        .iter_common_name()
                        .next()
                        .and_then(|cn| cn.as_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                    organizations: leaf
                        .subject()
                        .iter_organization()
                        .filter_map(|o| o.as_str().ok().map(str::to_owned))
                        .collect(),
                });
            }
            let next = intermediates
                .iter()
                .enumerate()
                .find(|(i, c)| !used[*i] && may_issue(c) && signed_by(current, c));
            match next {
                Some((i, c)) => {
                    check_validity(c, now)?;
                    used[i] = true;
                    current = c;
                }
                None => break,
            }
        }
        Err(CertRefusal::UnknownAuthority {
            issuer: current.issuer().to_string(),
        })
    }
}

/// The handshake side: asks every client for a certificate (never requires one, so bearer
/// tokens keep working), accepts any well-formed chain, and checks that the client holds
/// the leaf's private key. Which CA signed the chain is the request authenticator's
/// question ([`CaBundle::verify`]).
#[derive(Debug)]
pub struct RequestingClientVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl RequestingClientVerifier {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            algorithms: provider::default_provider().signature_verification_algorithms,
        })
    }

    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
        tls13: bool,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let parsed = parse(cert).map_err(|e| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                Arc::new(e),
            )))
        })?;
        let public_key = &parsed.public_key().subject_public_key.data;
        let candidates = self
            .algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ))?;
        // TLS 1.3 names exactly one algorithm per scheme; TLS 1.2's schemes leave the curve
        // open, so each candidate is tried (a key of the wrong type simply fails).
        let candidates = if tls13 {
            &candidates[..candidates.len().min(1)]
        } else {
            candidates
        };
        if candidates.iter().any(|alg| {
            alg.verify_signature(public_key, message, dss.signature())
                .is_ok()
        }) {
            Ok(HandshakeSignatureValid::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadSignature,
            ))
        }
    }
}

impl ClientCertVerifier for RequestingClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: Go clients (kubectl) then send their certificate whatever CA we trust
        // at the moment, and the CAs may change after the handshake anyway.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        for cert in std::iter::once(end_entity).chain(intermediates) {
            parse(cert).map_err(|e| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                    rustls::OtherError(Arc::new(e)),
                ))
            })?;
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests;
