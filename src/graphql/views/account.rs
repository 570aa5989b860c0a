use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::accounts::Session;

#[derive(SimpleObject, Clone)]
pub struct User {
    /// The public id; the same as the access token's `sub`.
    pub id: ID,
    pub email: String,
    pub created_at: DateTime<Utc>,
    /// What the account may do as an operator.
    pub role: super::Role,
    /// Whether the address was confirmed through the link sent to it.
    pub email_verified: bool,
}

impl From<&entity::users::Model> for User {
    fn from(m: &entity::users::Model) -> Self {
        Self {
            id: ID(m.pid.to_string()),
            email: m.email.clone(),
            created_at: m.created_at,
            role: m.role.into(),
            email_verified: m.email_verified_at.is_some(),
        }
    }
}

/// What `register`, `login` and `refresh` return.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A JWT for the `Authorization: Bearer` header.
    pub access_token: String,
    /// Opaque; single use. Send it to `refresh` for a new pair, and keep only the newest.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i32,
    pub token_type: &'static str,
    pub user: User,
}

impl From<Session> for AuthPayload {
    fn from(s: Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_in: i32::try_from(s.expires_in).unwrap_or(i32::MAX),
            token_type: "Bearer",
            user: (&s.user).into(),
        }
    }
}
