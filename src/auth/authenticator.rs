//! Turns an `Authorization` value (a header, or the WebSocket's
//! `connectionParams`) into a [`Caller`]: `Bearer ent_…` is an API key,
//! any other bearer token an access token.

use super::{
    api_keys::{self, ApiKeys},
    caller::Caller,
    jwt::JwtKeys,
};

#[derive(Clone)]
pub struct Authenticator {
    pub jwt: JwtKeys,
    pub keys: ApiKeys,
}

impl Authenticator {
    pub async fn caller(&self, authorization: Option<&str>) -> Caller {
        let Some(value) = authorization else {
            return Caller::Anonymous;
        };
        let token = match value.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Caller::InvalidToken,
        };
        if !token.starts_with(api_keys::PREFIX) {
            return self.jwt.caller_from_header(Some(value));
        }
        match self.keys.authenticate(token).await {
            Ok(Some(key)) => Caller::ApiKey(key),
            Ok(None) => Caller::InvalidKey,
            Err(e) => {
                tracing::error!(error = %e, "checking an API key");
                Caller::Unverified
            }
        }
    }

    /// Whether a caller established earlier may still act: a WebSocket's
    /// access token must not have expired, its API key not been revoked.
    pub async fn still_valid(&self, caller: &Caller) -> bool {
        match caller {
            Caller::User(u) => !u.is_expired(),
            Caller::ApiKey(k) => self.keys.is_active(*k).await.unwrap_or(false),
            _ => true,
        }
    }
}
