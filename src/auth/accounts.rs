//! The account flows behind `register`, `login`, `refresh` and `logout`.
//! Resolvers parse nothing themselves and call these.

use std::{net::IpAddr, sync::Arc};

use chrono::Utc;
use entity::users;
use sea_orm::{DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use super::{jwt::JwtKeys, password::PasswordHasherPool, rate_limit::RateLimiter, refresh};
use crate::{
    config::Config,
    db,
    domain::{Email, Password, password},
    error::{ApiError, ApiResult},
};

const BAD_CREDENTIALS: &str = "invalid email or password";
const BAD_REFRESH: &str = "invalid or expired refresh token";

/// What a successful sign-in gives the client.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user: users::Model,
}

#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    hasher: PasswordHasherPool,
    jwt: JwtKeys,
    refresh_ttl: chrono::Duration,
    per_email: RateLimiter,
    per_ip: RateLimiter,
}

impl Accounts {
    pub async fn new(
        db: DatabaseConnection,
        jwt: JwtKeys,
        config: &Config,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                hasher: PasswordHasherPool::new().await?,
                jwt,
                refresh_ttl: chrono::Duration::from_std(config.refresh_token_ttl)?,
                per_email: RateLimiter::new(config.auth_rate_per_email),
                per_ip: RateLimiter::new(config.auth_rate_per_ip),
            }),
        })
    }

    fn limit_ip(&self, client: IpAddr) -> ApiResult<()> {
        self.inner
            .per_ip
            .check(&client.to_string())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }

    fn limit_email(&self, email: &Email) -> ApiResult<()> {
        self.inner
            .per_email
            .check(email.as_str())
            .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
    }

    pub async fn register(
        &self,
        email: &str,
        password: String,
        client: IpAddr,
    ) -> ApiResult<Session> {
        self.limit_ip(client)?;
        let email = Email::parse(email).map_err(|e| ApiError::bad_input("email", e.to_string()))?;
        let password = Password::parse(password)
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        self.limit_email(&email)?;
        let hash = self.inner.hasher.hash(&password).await?;
        let user = match db::users::insert(&self.inner.db, &email, hash).await {
            Ok(user) => user,
            Err(e) if db::is_unique_violation(&e) => {
                return Err(ApiError::Conflict(
                    "an account with this email already exists",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(user = %user.pid, "account registered");
        self.start_session(user).await
    }

    pub async fn login(&self, email: &str, password: String, client: IpAddr) -> ApiResult<Session> {
        self.limit_ip(client)?;
        let email = Email::parse(email).map_err(|e| ApiError::bad_input("email", e.to_string()))?;
        self.limit_email(&email)?;
        if password.chars().count() > password::MAX_CHARS {
            return Err(ApiError::Unauthenticated(BAD_CREDENTIALS));
        }
        let user = db::users::by_email(&self.inner.db, &email).await?;
        // An unknown email is verified against a dummy hash: same time, same answer.
        let ok = self
            .inner
            .hasher
            .verify(&password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        match user {
            Some(user) if ok => {
                tracing::info!(user = %user.pid, "signed in");
                self.start_session(user).await
            }
            _ => Err(ApiError::Unauthenticated(BAD_CREDENTIALS)),
        }
    }

    async fn start_session(&self, user: users::Model) -> ApiResult<Session> {
        let refresh_token = refresh::generate();
        db::refresh_tokens::insert(
            &self.inner.db,
            Uuid::new_v4(),
            user.id,
            Uuid::new_v4(),
            refresh::hash(&refresh_token),
            Utc::now() + self.inner.refresh_ttl,
        )
        .await?;
        self.session(user, refresh_token)
    }

    fn session(&self, user: users::Model, refresh_token: String) -> ApiResult<Session> {
        Ok(Session {
            access_token: self.inner.jwt.issue(user.pid)?,
            refresh_token,
            expires_in: self.inner.jwt.access_ttl.as_secs(),
            user,
        })
    }

    /// Rotates a refresh token. A token that was already spent revokes its whole
    /// family: either the client or a thief holds a copy, and we cannot tell which.
    pub async fn refresh(&self, token: &str, client: IpAddr) -> ApiResult<Session> {
        self.limit_ip(client)?;
        let db = &self.inner.db;
        let now = Utc::now();
        let Some(old) = db::refresh_tokens::by_hash(db, &refresh::hash(token)).await? else {
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        };
        if old.used_at.is_some() {
            self.revoke_on_reuse(&old).await?;
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }
        if old.revoked_at.is_some() || old.expires_at <= now {
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }

        let new_token = refresh::generate();
        let new_id = Uuid::new_v4();
        let txn = db.begin().await?;
        if !db::refresh_tokens::spend(&txn, old.id, new_id, now).await? {
            // Someone spent it between our read and our write: that is reuse too.
            txn.rollback().await?;
            self.revoke_on_reuse(&old).await?;
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }
        db::refresh_tokens::insert(
            &txn,
            new_id,
            old.user_id,
            old.family_id,
            refresh::hash(&new_token),
            now + self.inner.refresh_ttl,
        )
        .await?;
        let user = db::users::by_id(&txn, old.user_id)
            .await?
            .ok_or(ApiError::Unauthenticated(BAD_REFRESH))?;
        txn.commit().await?;
        self.session(user, new_token)
    }

    async fn revoke_on_reuse(&self, old: &entity::refresh_tokens::Model) -> ApiResult<()> {
        let revoked =
            db::refresh_tokens::revoke_family(&self.inner.db, old.family_id, Utc::now()).await?;
        tracing::warn!(
            family = %old.family_id,
            revoked,
            "refresh token reused: token family revoked"
        );
        Ok(())
    }

    /// Ends the session the token belongs to. Unknown tokens are not an error:
    /// logging out twice is fine, and the answer tells nothing about the token.
    pub async fn logout(&self, token: &str) -> ApiResult<()> {
        let db = &self.inner.db;
        if let Some(t) = db::refresh_tokens::by_hash(db, &refresh::hash(token)).await? {
            db::refresh_tokens::revoke_family(db, t.family_id, Utc::now()).await?;
        }
        Ok(())
    }
}
