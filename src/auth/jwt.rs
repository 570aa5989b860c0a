//! Access tokens: `sub` = the user's public id, with `exp`, `iat`, `iss` and
//! `aud`, all required and checked. Signed with EdDSA (Ed25519, `kid` in the
//! header, public keys at `/.well-known/jwks.json`) when signing keys are
//! configured or generated, else with HS256 from `JWT_SECRET` (kept for
//! existing deployments). The algorithm is pinned per key: `alg: none`, an
//! HS256 token made with a public key, and an unknown `kid` are refused.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::signing_keys::{SigningKey, split_pems};
use crate::config::AuthConfig;

pub use super::caller::{AuthUser, Caller};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub iss: String,
    pub aud: String,
    /// The session (refresh-token family) the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// The keys and rules for access tokens. Cheap to clone: every request's
/// extractor holds one.
#[derive(Clone)]
pub struct JwtKeys(Arc<Keys>);

struct Keys {
    /// EdDSA keys by `kid`; the first signs.
    ed25519: Vec<SigningKey>,
    /// `JWT_SECRET`'s HS256 key: signs when there is no Ed25519 key, and
    /// verifies the tokens it signed before keys were configured.
    hs256: Option<(EncodingKey, DecodingKey)>,
    ed_validation: Validation,
    hs_validation: Validation,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    verified: VerifiedTokens,
}

/// Seconds a token is still accepted past its `exp` (clocks of one
/// deployment agree closely; keep the grace short).
const LEEWAY_SECS: u64 = 5;

/// Tokens whose signature and claims were checked, by their exact text. A
/// client sends the same token with every request for its whole life, and
/// checking a signature costs more than the rest of a small query (an
/// Ed25519 verification, or HMAC and JSON for HS256); a hit only needs the
/// expiry looked at again. Only verified tokens get in, so it cannot be
/// filled with forgeries; it is bounded, and starts over when full.
#[derive(Default)]
struct VerifiedTokens(RwLock<HashMap<Box<str>, AuthUser>>);

const MAX_VERIFIED: usize = 16_384;

impl VerifiedTokens {
    fn get(&self, token: &str, now: u64) -> Option<AuthUser> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(token)
            .copied()
            .filter(|u| now <= u.expires_at.saturating_add(LEEWAY_SECS))
    }

    fn insert(&self, token: &str, user: AuthUser, now: u64) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_VERIFIED {
            // Expired ones first; if that frees too little, all of them.
            map.retain(|_, u| now <= u.expires_at.saturating_add(LEEWAY_SECS));
            if map.len() >= MAX_VERIFIED / 2 {
                map.clear();
            }
        }
        map.insert(token.into(), user);
    }
}

fn validation(alg: Algorithm, config: &AuthConfig) -> Validation {
    let mut v = Validation::new(alg);
    v.algorithms = vec![alg];
    v.set_issuer(&[&config.jwt_issuer]);
    v.set_audience(&[&config.jwt_audience]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.leeway = LEEWAY_SECS;
    v
}

impl JwtKeys {
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Self> {
        let mut ed25519 = Vec::new();
        for pem in config
            .jwt_keys
            .iter()
            .flat_map(|k| split_pems(&String::from_utf8_lossy(k.expose())))
        {
            ed25519.push(SigningKey::from_pem(&pem)?);
        }
        let hs256 = config.jwt_secret.as_ref().map(|s| {
            (
                EncodingKey::from_secret(s.expose()),
                DecodingKey::from_secret(s.expose()),
            )
        });
        if ed25519.is_empty() && hs256.is_none() {
            tracing::warn!(
                "no ENTITLE_JWT_KEYS and no JWT_SECRET: signing with an Ed25519 key made for \
                 this process only; tokens will not survive a restart"
            );
            ed25519.push(SigningKey::generate());
        } else if ed25519.is_empty() {
            tracing::warn!(
                "access tokens are HS256 (JWT_SECRET): other services cannot verify them \
                 without the secret, and /.well-known/jwks.json is empty; set ENTITLE_JWT_KEYS"
            );
        }
        Ok(Self(Arc::new(Keys {
            ed25519,
            hs256,
            ed_validation: validation(Algorithm::EdDSA, config),
            hs_validation: validation(Algorithm::HS256, config),
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            access_ttl: config.access_token_ttl,
            verified: VerifiedTokens::default(),
        })))
    }

    /// How long an access token lives.
    pub fn access_ttl(&self) -> Duration {
        self.0.access_ttl
    }

    /// The public keys, as `/.well-known/jwks.json` serves them.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.0.ed25519.iter().map(SigningKey::jwk).collect::<Vec<_>>() })
    }

    /// A token for `user`, naming its `session` (`sid`) when it has one.
    pub fn issue(&self, user: Uuid, session: Option<Uuid>) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp: now + self.0.access_ttl.as_secs(),
            iss: self.0.issuer.clone(),
            aud: self.0.audience.clone(),
            sid: session.map(|s| s.to_string()),
        };
        let (header, key) = match (self.0.ed25519.first(), &self.0.hs256) {
            (Some(k), _) => {
                let mut h = Header::new(Algorithm::EdDSA);
                h.kid = Some(k.kid.clone());
                (h, &k.encoding)
            }
            (None, Some((hs, _))) => (Header::new(Algorithm::HS256), hs),
            (None, None) => anyhow::bail!("no key to sign access tokens with"),
        };
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| anyhow::anyhow!("encode jwt: {e}"))
    }

    /// The user's public id, or `None` for any token that is not ours, not
    /// well-formed or no longer valid. The reason is not told to the client.
    pub fn verify(&self, token: &str) -> Option<AuthUser> {
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(user) = self.0.verified.get(token, now) {
            return Some(user);
        }
        let user = self.check(token)?;
        self.0.verified.insert(token, user, now);
        Some(user)
    }

    fn check(&self, token: &str) -> Option<AuthUser> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let (key, validation) = match header.alg {
            Algorithm::EdDSA => {
                let kid = header.kid?;
                let key = self.0.ed25519.iter().find(|k| k.kid == kid)?;
                (&key.decoding, &self.0.ed_validation)
            }
            Algorithm::HS256 => (&self.0.hs256.as_ref()?.1, &self.0.hs_validation),
            _ => return None,
        };
        let data = jsonwebtoken::decode::<Claims>(token, key, validation).ok()?;
        Some(AuthUser {
            id: Uuid::parse_str(&data.claims.sub).ok()?,
            expires_at: data.claims.exp,
            session: data
                .claims
                .sid
                .as_deref()
                .and_then(|s| Uuid::parse_str(s).ok()),
        })
    }

    /// Interprets an `Authorization` header value as an access token (API
    /// keys are the [`super::Authenticator`]'s).
    pub fn caller_from_header(&self, value: Option<&str>) -> Caller {
        match value {
            None => Caller::Anonymous,
            Some(v) => match v.trim().split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => self
                    .verify(token.trim())
                    .map_or(Caller::InvalidToken, Caller::User),
                _ => Caller::InvalidToken,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};

    use super::*;
    use crate::config::Config;

    fn keys(secret: &str, aud: &str) -> JwtKeys {
        let config = Config::from_lookup(|k| match k {
            "JWT_SECRET" => Some(secret.to_string()),
            "JWT_AUDIENCE" => Some(aud.to_string()),
            _ => None,
        })
        .unwrap();
        JwtKeys::from_config(&config.auth).unwrap()
    }

    fn forge(header: &str, claims: &serde_json::Value, sig: &str) -> String {
        format!(
            "{}.{}.{sig}",
            B64.encode(header),
            B64.encode(claims.to_string())
        )
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires() {
        let cache = VerifiedTokens::default();
        let user = AuthUser {
            id: Uuid::new_v4(),
            expires_at: 1_000,
            session: None,
        };
        cache.insert("t", user, 900);
        assert_eq!(cache.get("t", 1_000), Some(user));
        assert_eq!(cache.get("t", 1_000 + LEEWAY_SECS), Some(user));
        assert_eq!(cache.get("t", 1_001 + LEEWAY_SECS), None);
        assert_eq!(cache.get("t2", 900), None);
        // Bounded: the expired go first, then everything.
        for i in 0..(MAX_VERIFIED + 10) {
            cache.insert(&format!("k{i}"), user, 900);
        }
        assert!(cache.0.read().unwrap().len() <= MAX_VERIFIED);
        // Through `verify`: a remembered token, then one a byte off.
        let k = keys(&"a".repeat(32), "entitle-api");
        let token = k.issue(user.id, None).unwrap();
        assert!(k.verify(&token).is_some() && k.verify(&token).is_some());
        let mut forged = token.clone();
        forged.insert(token.len() - 2, 'x');
        assert_eq!(k.verify(&forged), None);
    }

    #[test]
    fn tokens_round_trip_and_everything_else_is_refused() {
        let k = keys(&"a".repeat(32), "entitle-api");
        let user = Uuid::new_v4();
        let session = Uuid::new_v4();
        let token = k.issue(user, Some(session)).unwrap();
        assert_eq!(
            k.verify(&token).map(|u| (u.id, u.session)),
            Some((user, Some(session)))
        );

        let now = jsonwebtoken::get_current_timestamp();
        let claims = |exp: u64, aud: &str| serde_json::json!({"sub": user.to_string(), "exp": exp, "iat": now, "iss": "entitle", "aud": aud});
        let sign = |claims: &serde_json::Value, secret: &str| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        let refused = [
            (
                "alg none",
                forge(
                    r#"{"alg":"none","typ":"JWT"}"#,
                    &claims(now + 600, "entitle-api"),
                    "",
                ),
            ),
            (
                "wrong key",
                sign(&claims(now + 600, "entitle-api"), &"b".repeat(32)),
            ),
            (
                "expired",
                sign(&claims(now - 3600, "entitle-api"), &"a".repeat(32)),
            ),
            (
                "wrong audience",
                sign(&claims(now + 600, "someone-else"), &"a".repeat(32)),
            ),
            (
                "wrong issuer",
                sign(
                    &serde_json::json!({"sub": user.to_string(), "exp": now + 600, "iat": now, "iss": "someone-else", "aud": "entitle-api"}),
                    &"a".repeat(32),
                ),
            ),
            (
                "no audience",
                sign(
                    &serde_json::json!({"sub": user.to_string(), "exp": now + 600, "iat": now, "iss": "entitle"}),
                    &"a".repeat(32),
                ),
            ),
            (
                "no expiry",
                sign(
                    &serde_json::json!({"sub": user.to_string(), "iat": now, "iss": "entitle", "aud": "entitle-api"}),
                    &"a".repeat(32),
                ),
            ),
            (
                "expired beyond the 5 s leeway",
                sign(&claims(now - 10, "entitle-api"), &"a".repeat(32)),
            ),
            ("tampered", tampered),
            ("garbage", "not.a.jwt".to_string()),
            ("empty", String::new()),
        ];
        for (why, t) in refused {
            assert_eq!(k.verify(&t), None, "{why} must be refused");
        }
        // HS512 with the right key is still refused: the algorithm is pinned.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(now + 600, "entitle-api"),
            &EncodingKey::from_secret("a".repeat(32).as_bytes()),
        )
        .unwrap();
        assert_eq!(k.verify(&hs512), None);
        // Within the leeway a just-expired token still passes, and says when it expired.
        let just = k.verify(&sign(&claims(now - 1, "entitle-api"), &"a".repeat(32)));
        assert_eq!(just.map(|u| (u.id, u.is_expired())), Some((user, true)));
    }

    #[test]
    fn authorization_headers_map_to_callers() {
        let k = keys(&"a".repeat(32), "entitle-api");
        let user = Uuid::new_v4();
        let token = k.issue(user, None).unwrap();
        assert_eq!(k.caller_from_header(None), Caller::Anonymous);
        assert_eq!(
            k.caller_from_header(Some(&format!("Bearer {token}"))),
            Caller::User(AuthUser {
                id: user,
                expires_at: k.verify(&token).unwrap().expires_at,
                session: None,
            })
        );
        assert_eq!(
            k.caller_from_header(Some(&format!("bearer {token}"))),
            Caller::User(AuthUser {
                id: user,
                expires_at: k.verify(&token).unwrap().expires_at,
                session: None,
            })
        );
        assert_eq!(
            k.caller_from_header(Some(&format!("Basic {token}"))),
            Caller::InvalidToken
        );
        assert_eq!(
            k.caller_from_header(Some("Bearer nope")),
            Caller::InvalidToken
        );
    }
}
