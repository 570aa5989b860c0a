//! Ed25519 signing keys for EdDSA access tokens, and the JWKS that lets any
//! service verify them without holding a secret. Each key's `kid` is its
//! RFC 7638 JWK thumbprint, so it is the same wherever it is computed.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey as Ed25519,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One Ed25519 key: it signs (the first of a set) and verifies (all of them).
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    /// The public key, base64url: the JWK's `x`.
    x: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
}

impl SigningKey {
    fn from_ed25519(key: &Ed25519) -> anyhow::Result<Self> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("encoding an Ed25519 key: {e}"))?;
        let public = key.verifying_key().to_bytes();
        let x = URL_SAFE_NO_PAD.encode(public);
        Ok(Self {
            kid: thumbprint(&x),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            decoding: DecodingKey::from_ed_der(&public),
            x,
        })
    }

    /// A key from a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = Ed25519::from_pkcs8_pem(pem.trim())
            .map_err(|_| anyhow::anyhow!("not a PKCS#8 PEM Ed25519 private key"))?;
        Self::from_ed25519(&key)
    }

    /// A new random key (development, when none is configured).
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::from_ed25519(&Ed25519::from_bytes(&seed)).expect("a fresh key encodes")
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        })
    }
}

/// RFC 7638: the SHA-256 of the key's required members, in lexicographic
/// order and without white space, base64url-encoded.
pub fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Splits a value holding one or more PEM blocks (newlines may be written
/// as `\n`, as environment variables often carry them).
pub fn split_pems(raw: &str) -> Vec<String> {
    let text = raw.replace("\\n", "\n");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        current.push_str(line);
        current.push('\n');
        if line.starts_with("-----END ") {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_key_round_trips_and_its_kid_is_its_thumbprint() {
        let key = Ed25519::from_bytes(&[7u8; 32]);
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let parsed = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(parsed.kid, SigningKey::from_ed25519(&key).unwrap().kid);
        let jwk = parsed.jwk();
        assert_eq!(jwk["kid"], thumbprint(jwk["x"].as_str().unwrap()).as_str());
        assert_eq!(parsed.kid.len(), 43, "a base64url SHA-256");
        // Two blocks in one value, newlines escaped as an environment carries them.
        let other = Ed25519::from_bytes(&[9u8; 32])
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let both = format!("{}{}", pem.as_str(), other.as_str()).replace('\n', "\\n");
        assert_eq!(split_pems(&both).len(), 2);
        assert!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }

    #[test]
    fn rfc_8037_s_example_key_has_its_published_thumbprint() {
        // RFC 8037 appendix A.3: the JWK thumbprint of its Ed25519 example key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
