//! Chain checks against CA bundles: v1 certificates, intermediates, validity, key usage.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};

use super::*;

const V1_CA: &[u8] = include_bytes!("../../tests/fixtures/v1-ca.crt");
const V1_CLIENT: &[u8] = include_bytes!("../../tests/fixtures/v1-client.crt");

fn der_of(pem: &[u8]) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem).expect("pem")
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).expect("self-signed").pem();
    Ca { params, key, pem }
}

fn leaf(
    issuer: &Ca,
    cn: &str,
    edit: impl FnOnce(&mut CertificateParams),
) -> CertificateDer<'static> {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "devs");
    edit(&mut params);
    let issuer = Issuer::from_params(&issuer.params, &issuer.key);
    params.signed_by(&key, &issuer).expect("sign").der().clone()
}

fn bundle(cas: &[&Ca]) -> CaBundle {
    let pem: String = cas.iter().map(|c| c.pem.as_str()).collect();
    CaBundle::from_pem(pem.as_bytes()).expect("bundle")
}

#[test]
fn an_x509_v1_client_certificate_made_by_openssl_is_accepted() {
    let v1_ca = CaBundle::from_pem(V1_CA).expect("bundle");
    let subject = v1_ca
        .verify(&[der_of(V1_CLIENT)], SystemTime::now())
        .expect("v1 certificate accepted");
    assert_eq!(subject.common_name, "development");
    assert_eq!(subject.organizations, vec!["system:masters", "team-a"]);

    let other = ca("someone-else");
    let err = bundle(&[&other])
        .verify(&[der_of(V1_CLIENT)], SystemTime::now())
        .expect_err("other CA");
    assert!(matches!(err, CertRefusal::UnknownAuthority { .. }), "{err}");
}

#[test]
fn the_signing_ca_must_be_in_the_bundle() {
    let (ours, theirs) = (ca("ours"), ca("theirs"));
    let cert = leaf(&ours, "alice", |_| {});
    assert_eq!(
        bundle(&[&theirs, &ours])
            .verify(std::slice::from_ref(&cert), SystemTime::now())
            .expect("signed by a bundle CA")
            .common_name,
        "alice"
    );
    let err = bundle(&[&theirs])
        .verify(&[cert], SystemTime::now())
        .expect_err("unknown");
    assert!(err.to_string().contains("ours"), "names the issuer: {err}");
}

#[test]
fn intermediates_sent_by_the_client_lead_to_the_ca() {
    let root = ca("root");
    let inter_key = KeyPair::generate().expect("key");
    let mut inter_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    inter_params
        .distinguished_name
        .push(DnType::CommonName, "intermediate");
    inter_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let inter_pem = inter_params
        .signed_by(&inter_key, &Issuer::from_params(&root.params, &root.key))
        .expect("sign")
        .pem();
    let inter = Ca {
        params: inter_params,
        key: inter_key,
        pem: inter_pem,
    };
    let cert = leaf(&inter, "bob", |_| {});
    let chain = [cert.clone(), der_of(inter.pem.as_bytes())];
    let roots = bundle(&[&root]);
    assert_eq!(
        roots
            .verify(&chain, SystemTime::now())
            .expect("chain")
            .common_name,
        "bob"
    );
    assert!(matches!(
        roots.verify(&[cert], SystemTime::now()),
        Err(CertRefusal::UnknownAuthority { .. })
    ));
    // A non-CA certificate cannot stand in as an intermediate.
    let not_ca = leaf(&root, "mallory", |_| {});
    let forged = leaf(
        &Ca {
            params: {
                let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
                p.distinguished_name.push(DnType::CommonName, "mallory");
                p
            },
            key: KeyPair::generate().expect("key"),
            pem: String::new(),
        },
        "eve",
        |_| {},
    );
    assert!(roots.verify(&[forged, not_ca], SystemTime::now()).is_err());
}

#[test]
fn validity_and_key_usage_are_checked() {
    let ours = ca("ours");
    let b = bundle(&[&ours]);
    let expired = leaf(&ours, "old", |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    assert!(matches!(
        b.verify(&[expired], SystemTime::now()),
        Err(CertRefusal::Expired { .. })
    ));
    let cert = leaf(&ours, "later", |_| {});
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
    assert!(matches!(
        b.verify(std::slice::from_ref(&cert), past),
        Err(CertRefusal::NotYetValid { .. })
    ));
    let server_only = leaf(&ours, "web", |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    assert!(matches!(
        b.verify(&[server_only], SystemTime::now()),
        Err(CertRefusal::NotForClientAuth { .. })
    ));
    let client = leaf(&ours, "cli", |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    assert!(b.verify(&[client], SystemTime::now()).is_ok());
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let ours = ca("ours");
    let err = bundle(&[&ours])
        .verify(
            &[CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])],
            SystemTime::now(),
        )
        .expect_err("garbage");
    assert!(matches!(err, CertRefusal::Malformed(_)), "{err}");
    assert!(CaBundle::from_pem(b"not pem").is_err());
    assert!(
        CaBundle::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
}
