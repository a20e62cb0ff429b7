//! Signed JWTs (RS256) for the Microsoft client assertion (RFC 7523) and Google's JWT bearer
//! grant, with ring. Keys and certificates are PEM files.

use std::path::Path;

use base64::Engine as _;
use ring::signature::RsaKeyPair;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA private key from PEM text: PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
pub fn rsa_key_from_pem(pem: &[u8]) -> Result<RsaKeyPair, String> {
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|_| "holds no PEM private key".to_string())?;
    let pair = match &key {
        PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
        _ => return Err("is not an RSA key (RS256 needs one)".into()),
    };
    pair.map_err(|e| format!("is not a usable RSA key ({e})"))
}

pub fn rsa_key_from_file(path: &Path) -> Result<RsaKeyPair, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    rsa_key_from_pem(&pem).map_err(|e| format!("{} {e}", path.display()))
}

/// The first certificate of a PEM file, DER-encoded.
pub fn certificate_from_file(path: &Path) -> Result<Vec<u8>, String> {
    let cert = CertificateDer::from_pem_file(path).map_err(|e| format!("{}: no PEM certificate ({e})", path.display()))?;
    Ok(cert.as_ref().to_vec())
}

/// `x5t`: the base64url SHA-1 thumbprint of the DER certificate, which Entra uses to find the
/// registered certificate.
pub fn x5t(der: &[u8]) -> String {
    b64url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

/// A random `jti`, so that each assertion is used once.
pub fn random_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("system random source");
    crate::domain::inbound::hex(&bytes)
}

/// `header.claims.signature` with RS256.
pub fn sign(header: &serde_json::Value, claims: &serde_json::Value, key: &RsaKeyPair) -> Result<String, String> {
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut signature)
        .map_err(|_| "cannot sign the assertion".to_string())?;
    Ok(format!("{input}.{}", b64url(&signature)))
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
