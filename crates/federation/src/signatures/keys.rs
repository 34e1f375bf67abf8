//! RSA keys as ActivityPub carries them: PEM, SPKI for public keys (`publicKeyPem`), PKCS#8 for
//! ours (PKCS#1, which Mastodon stores, is read too).

use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::SignatureError;

fn key_error(e: impl std::fmt::Display) -> SignatureError {
    SignatureError::Key(e.to_string())
}

/// The DER inside a PEM block, and the block's label.
fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), SignatureError> {
    let pem = pem.trim();
    let begin = pem.find("-----BEGIN ").ok_or_else(|| key_error("not PEM"))?;
    let rest = &pem[begin + 11..];
    let label_end = rest.find("-----").ok_or_else(|| key_error("not PEM"))?;
    let label = rest[..label_end].to_string();
    let body = &rest[label_end + 5..];
    let end = body.find("-----END ").ok_or_else(|| key_error("PEM without END"))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = B64.decode(b64).map_err(|_| key_error("PEM body is not base64"))?;
    Ok((label, der))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A local RSA signing key.
#[derive(Clone)]
pub struct PrivateKey(Arc<RsaKeyPair>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(RSA)")
    }
}

impl PrivateKey {
    /// A new RSA-2048 key.
    pub fn generate() -> Result<PrivateKey, SignatureError> {
        Ok(PrivateKey(Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).map_err(key_error)?)))
    }

    pub fn from_pem(pem: &str) -> Result<PrivateKey, SignatureError> {
        let (label, der) = pem_decode(pem)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der).map_err(key_error)?,
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map_err(key_error)?,
            other => return Err(key_error(format!("unexpected PEM label {other}"))),
        };
        Ok(PrivateKey(Arc::new(key)))
    }

    /// PKCS#8 PEM.
    pub fn to_pem(&self) -> String {
        let der: Result<Pkcs8V1Der<'static>, _> = self.0.as_der();
        der.map(|d| pem_encode("PRIVATE KEY", d.as_ref())).unwrap_or_default()
    }

    /// The public key as SPKI PEM (`publicKeyPem`).
    pub fn public_key_pem(&self) -> String {
        let der: Result<PublicKeyX509Der<'static>, _> = self.0.public_key().as_der();
        der.map(|d| pem_encode("PUBLIC KEY", d.as_ref())).unwrap_or_default()
    }

    /// RSASSA-PKCS1-v1_5 SHA-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let mut out = vec![0; self.0.public_modulus_len()];
        self.0.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out).map_err(key_error)?;
        Ok(out)
    }
}

/// A remote actor's RSA public key, parsed once.
#[derive(Clone)]
pub struct PublicKey(Arc<ParsedPublicKey>);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicKey(RSA)")
    }
}

impl PublicKey {
    pub fn from_pem(pem: &str) -> Result<PublicKey, SignatureError> {
        let (label, der) = pem_decode(pem)?;
        let spki = match label.as_str() {
            "PUBLIC KEY" => der,
            // PKCS#1: re-encoded as SPKI.
            "RSA PUBLIC KEY" => {
                let key = aws_lc_rs::rsa::PublicKey::from_der(&der).map_err(key_error)?;
                let spki: PublicKeyX509Der<'static> = key.as_der().map_err(key_error)?;
                spki.as_ref().to_vec()
            }
            other => return Err(key_error(format!("unexpected PEM label {other}"))),
        };
        let parsed = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &spki).map_err(key_error)?;
        Ok(PublicKey(Arc::new(parsed)))
    }

    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
        self.0.verify_sig(message, sig).map_err(|_| SignatureError::InvalidSignature)
    }
}
