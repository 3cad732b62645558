//! A client-certificate authority for tests: generate a CA, write it out for
//! [`SimConfig::client_ca`](crate::SimConfig::client_ca), issue client certificates
//! (CN = user, O = groups) to put in a kubeconfig.

use std::path::Path;

use crate::error::SimError;

/// A CA that signs client certificates.
pub struct ClientCa {
    cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for ClientCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCa").finish_non_exhaustive()
    }
}

fn cert_error(e: rcgen::Error) -> SimError {
    SimError::Certificate(e.to_string())
}

impl ClientCa {
    /// A new self-signed CA named `name`.
    pub fn generate(name: &str) -> Result<Self, SimError> {
        let key = rcgen::KeyPair::generate().map_err(cert_error)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).map_err(cert_error)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// The CA certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) -> Result<(), SimError> {
        std::fs::write(path, &self.cert_pem).map_err(|source| SimError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// A client certificate and its key (both PEM) for `user` in `groups`.
    pub fn issue(&self, user: &str, groups: &[&str]) -> Result<(String, String), SimError> {
        let key = rcgen::KeyPair::generate().map_err(cert_error)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, user);
        for g in groups {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, *g);
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).map_err(cert_error)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}
