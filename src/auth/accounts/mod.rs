//! The account flows: `register`, `login`, `refresh`, `logout` here;
//! password changes and resets (`recovery.rs`), address verification
//! (`verification.rs`) and deletion (`deletion.rs`) beside them. Resolvers
//! parse the input into typed values and call these.

mod deletion;
mod recovery;
mod verification;

use std::{net::IpAddr, sync::Arc};

use chrono::{DateTime, Utc};
use entity::{refresh_tokens, users};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{
    jwt::JwtKeys,
    opaque,
    password::PasswordHasherPool,
    rate_limit::{RateLimiter, client_key},
};
use crate::{
    billing::Billing,
    changes::ChangeFeed,
    clock::Clock,
    config::AuthConfig,
    db::{self, refresh_tokens::NewToken},
    domain::{Email, LoginPassword, Password},
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

/// What the account flows reach beyond the accounts themselves.
pub struct AccountDeps {
    /// Account tokens expire by it.
    pub clock: Clock,
    /// Wakes the outbox worker when a mail is written.
    pub outbox_wake: Arc<Notify>,
    /// Deleting an account cancels its Stripe subscription.
    pub billing: Billing,
    pub changes: ChangeFeed,
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
    /// Keyed by email for register/login/reset, and by account otherwise.
    per_account: RateLimiter,
    per_ip: RateLimiter,
    app_url: String,
    deps: AccountDeps,
}

fn limited(retry_after_secs: u64) -> ApiError {
    ApiError::RateLimited { retry_after_secs }
}

impl Accounts {
    pub async fn new(
        db: DatabaseConnection,
        jwt: JwtKeys,
        config: &AuthConfig,
        deps: AccountDeps,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                hasher: PasswordHasherPool::new().await?,
                jwt,
                refresh_ttl: chrono::Duration::from_std(config.refresh_token_ttl)?,
                per_account: RateLimiter::new(config.rate_per_email),
                per_ip: RateLimiter::new(config.rate_per_ip),
                app_url: config.app_url.clone(),
                deps,
            }),
        })
    }

    fn limit(&self, client: IpAddr, account: &str) -> ApiResult<()> {
        self.inner
            .per_ip
            .check(&client_key(client))
            .map_err(limited)?;
        self.inner.per_account.check(account).map_err(limited)
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.deps.clock.now()
    }

    /// Creates the account, sends the link that verifies its address (in
    /// the same transaction), and signs it in.
    pub async fn register(
        &self,
        email: Email,
        password: Password,
        client: IpAddr,
    ) -> ApiResult<Session> {
        self.limit(client, email.as_str())?;
        let hash = self.inner.hasher.hash(&password).await?;
        let txn = db::begin_write(&self.inner.db).await?;
        let user = match db::users::insert(&txn, &email, hash).await {
            Ok(user) => user,
            Err(e) if db::is_unique_violation(&e) => {
                return Err(ApiError::Conflict(
                    "an account with this email already exists",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        self.send_verification(&txn, &user).await?;
        txn.commit().await?;
        self.inner.deps.outbox_wake.notify_one();
        tracing::info!(user = %user.pid, "account registered");
        let verified_hash = user.password_hash.clone();
        self.start_session(user, &verified_hash).await
    }

    pub async fn login(
        &self,
        email: Email,
        password: LoginPassword,
        client: IpAddr,
    ) -> ApiResult<Session> {
        self.limit(client, email.as_str())?;
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
                let verified_hash = user.password_hash.clone();
                self.start_session(user, &verified_hash).await
            }
            _ => Err(ApiError::Unauthenticated(BAD_CREDENTIALS)),
        }
    }

    /// A new token family (one sign-in) with its first refresh token, if the
    /// password that was checked (`verified_hash`) is still the account's:
    /// the user's row is locked, so a reset or change committed while
    /// argon2 ran makes this sign-in fail rather than outlive it.
    async fn start_session(&self, user: users::Model, verified_hash: &str) -> ApiResult<Session> {
        let now = Utc::now();
        let expires_at = now + self.inner.refresh_ttl;
        let family = Uuid::new_v4();
        let refresh_token = opaque::generate();
        let txn = db::begin_write(&self.inner.db).await?;
        let current = db::users::lock(&txn, user.id).await?;
        if current.is_none_or(|u| u.password_hash != verified_hash || u.deleted_at.is_some()) {
            return Err(ApiError::Unauthenticated(BAD_CREDENTIALS));
        }
        db::token_families::insert(&txn, family, user.id, now, expires_at).await?;
        db::refresh_tokens::insert(
            &txn,
            NewToken {
                id: Uuid::new_v4(),
                family_id: family,
                user_id: user.id,
                token_hash: opaque::hash(&refresh_token),
                expires_at,
            },
            now,
        )
        .await?;
        txn.commit().await?;
        self.session(user, refresh_token, family)
    }

    fn session(
        &self,
        user: users::Model,
        refresh_token: String,
        family: Uuid,
    ) -> ApiResult<Session> {
        Ok(Session {
            access_token: self.inner.jwt.issue(user.pid, Some(family))?,
            refresh_token,
            expires_in: self.inner.jwt.access_ttl().as_secs(),
            user,
        })
    }

    /// Rotates a refresh token. A token that was already spent revokes its
    /// whole family: the client or a thief holds a copy, and we cannot tell which.
    pub async fn refresh(&self, token: &str, client: IpAddr) -> ApiResult<Session> {
        self.inner
            .per_ip
            .check(&client_key(client))
            .map_err(limited)?;
        let db = &self.inner.db;
        let now = Utc::now();
        let Some(old) = db::refresh_tokens::by_hash(db, &opaque::hash(token)).await? else {
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        };
        self.inner
            .per_account
            .check(&format!("user:{}", old.user_id))
            .map_err(limited)?;
        if old.expires_at <= now {
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }
        if old.used_at.is_some() {
            self.revoke_on_reuse(&old, now).await?;
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }
        let (user, new_token) = self.rotate(&old, now).await?;
        self.session(user, new_token, old.family_id)
    }

    /// Spends `old` and issues its successor in the same family, under the
    /// family's row lock: a revocation cannot slip in between our checks and
    /// our new token.
    async fn rotate(
        &self,
        old: &refresh_tokens::Model,
        now: DateTime<Utc>,
    ) -> ApiResult<(users::Model, String)> {
        let new_token = opaque::generate();
        let new_id = Uuid::new_v4();
        let expires_at = now + self.inner.refresh_ttl;
        let txn = db::begin_write(&self.inner.db).await?;
        if !db::token_families::touch_live(&txn, old.family_id, now, expires_at).await? {
            txn.rollback().await?;
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }
        if !db::refresh_tokens::spend(&txn, old.id, new_id, now).await? {
            // Spent between our read and our lock: that is reuse too.
            db::token_families::revoke(&txn, old.family_id, now).await?;
            txn.commit().await?;
            warn_reuse(old);
            return Err(ApiError::Unauthenticated(BAD_REFRESH));
        }
        let token = NewToken {
            id: new_id,
            family_id: old.family_id,
            user_id: old.user_id,
            token_hash: opaque::hash(&new_token),
            expires_at,
        };
        db::refresh_tokens::insert(&txn, token, now).await?;
        let user = db::users::by_id(&txn, old.user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(ApiError::Unauthenticated(BAD_REFRESH))?;
        txn.commit().await?;
        Ok((user, new_token))
    }

    async fn revoke_on_reuse(
        &self,
        old: &refresh_tokens::Model,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        if db::token_families::revoke(&self.inner.db, old.family_id, now).await? {
            warn_reuse(old);
        }
        Ok(())
    }

    /// Ends the session the token belongs to. Unknown tokens are not an error:
    /// logging out twice is fine, and the answer tells nothing about the token.
    pub async fn logout(&self, token: &str) -> ApiResult<()> {
        let db = &self.inner.db;
        if let Some(t) = db::refresh_tokens::by_hash(db, &opaque::hash(token)).await? {
            db::token_families::revoke(db, t.family_id, Utc::now()).await?;
        }
        Ok(())
    }

    /// Checks the password of a signed-in user, for changes that need it:
    /// counted against the account's rate limit, `BAD_USER_INPUT` on `field`
    /// when wrong.
    async fn confirm_password(
        &self,
        user: &users::Model,
        password: &LoginPassword,
        field: &'static str,
    ) -> ApiResult<()> {
        self.inner
            .per_account
            .check(&format!("user:{}", user.id))
            .map_err(limited)?;
        let ok = self
            .inner
            .hasher
            .verify(password, Some(user.password_hash.as_str()))
            .await?;
        if ok {
            Ok(())
        } else {
            Err(ApiError::bad_input(field, "the password is wrong"))
        }
    }
}

fn warn_reuse(old: &refresh_tokens::Model) {
    tracing::warn!(family = %old.family_id, "refresh token reused: token family revoked");
}
