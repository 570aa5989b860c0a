//! Who is calling: what a request's credential (an access token, an API key,
//! or nothing) established, once, at the edge.

use uuid::Uuid;

/// Who is calling, as established from the `Authorization` header (HTTP) or
/// `connectionParams` (WebSocket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// A signed-in user, by a session's access token.
    User(AuthUser),
    /// A user's API key: the owner, with the key's narrower scope.
    ApiKey(KeyCaller),
    /// A token was presented but is not valid. Fields that depend on the
    /// caller answer `UNAUTHENTICATED` instead of silently treating this as
    /// anonymous, while `login` and `refresh` still work.
    InvalidToken,
    /// An API key was presented that is malformed, unknown or revoked:
    /// treated like an invalid token.
    InvalidKey,
    /// An API key could not be checked (the database did not answer): the
    /// caller gets `INTERNAL`, not a refusal that would tell them to drop it.
    Unverified,
}

impl Caller {
    /// The user behind a session or a key.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::User(u) => Some(u.id),
            Self::ApiKey(k) => Some(k.user),
            _ => None,
        }
    }
}

/// A verified access token: whose it is and until when (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub expires_at: u64,
    /// The refresh-token family the token was issued for (`sid`).
    pub session: Option<Uuid>,
}

impl AuthUser {
    pub fn is_expired(&self) -> bool {
        jsonwebtoken::get_current_timestamp() >= self.expires_at
    }
}

/// An active API key and its owner (public ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCaller {
    pub key: Uuid,
    pub user: Uuid,
}
