//! Changing a password (signed in, with the current one) and resetting a
//! forgotten one (a single-use link by mail, 30 minutes).

use std::{net::IpAddr, time::Duration};

use entity::{TokenPurpose, users};
use uuid::Uuid;

use super::Accounts;
use crate::{
    auth::{opaque, rate_limit::client_key},
    db,
    domain::{Email, LoginPassword, Password},
    error::{ApiError, ApiResult},
    mail::{self, templates},
};

/// How long a reset link works.
const RESET_TTL: chrono::Duration = chrono::Duration::minutes(30);

/// Every answer to `requestPasswordReset` takes at least this long, whether
/// or not the address has an account, so the time tells nothing either.
const RESET_ANSWER_TIME: Duration = Duration::from_millis(250);

const BAD_TOKEN: &str =
    "this link is not valid, was used already, or has expired: ask for a new one";

impl Accounts {
    /// Sets a new password, if `current` is the account's; every other
    /// session (refresh-token family) ends, `keep` (the caller's) goes on.
    pub async fn change_password(
        &self,
        user: &users::Model,
        keep: Option<Uuid>,
        current: LoginPassword,
        new: Password,
    ) -> ApiResult<()> {
        self.confirm_password(user, &current, "currentPassword")
            .await?;
        let hash = self.inner.hasher.hash(&new).await?;
        let now = self.now();
        let txn = db::begin_write(&self.inner.db).await?;
        db::users::set_password(&txn, user.id, hash).await?;
        match keep {
            Some(family) => db::token_families::revoke_all_but(&txn, user.id, family, now).await?,
            None => db::token_families::revoke_all_of_user(&txn, user.id, now).await?,
        };
        db::account_tokens::spend_all(&txn, user.id, Some(TokenPurpose::PasswordReset), now)
            .await?;
        txn.commit().await?;
        tracing::info!(user = %user.pid, "password changed; other sessions ended");
        Ok(())
    }

    /// Mails a reset link when the address has an account. The answer is
    /// the same, and takes about the same time, either way; both the address
    /// and the client are rate-limited.
    pub async fn request_password_reset(&self, email: &Email, client: IpAddr) -> ApiResult<()> {
        let started = tokio::time::Instant::now();
        self.inner
            .per_ip
            .check(&client_key(client))
            .map_err(super::limited)?;
        self.inner
            .per_account
            .check(&format!("reset:{}", email.as_str()))
            .map_err(super::limited)?;
        let sent = self.send_reset(email).await;
        tokio::time::sleep_until(started + RESET_ANSWER_TIME).await;
        sent
    }

    async fn send_reset(&self, email: &Email) -> ApiResult<()> {
        let Some(user) = db::users::by_email(&self.inner.db, email).await? else {
            return Ok(());
        };
        let now = self.now();
        let token = opaque::generate();
        let link = templates::link(&self.inner.app_url, "/reset-password", &token);
        let txn = db::begin_write(&self.inner.db).await?;
        db::account_tokens::insert(
            &txn,
            user.id,
            TokenPurpose::PasswordReset,
            opaque::hash(&token),
            now + RESET_TTL,
            now,
        )
        .await?;
        mail::enqueue(&txn, &templates::password_reset(&user.email, &link), now).await?;
        txn.commit().await?;
        self.inner.deps.outbox_wake.notify_one();
        tracing::info!(user = %user.pid, "password reset link sent");
        Ok(())
    }

    /// Sets the password a reset link allows and ends every session. A link
    /// that was used, has expired or was never ours changes nothing.
    pub async fn reset_password(&self, token: &str, new: Password) -> ApiResult<()> {
        let bad = || ApiError::bad_input("token", BAD_TOKEN);
        if token.len() > 100 {
            return Err(bad());
        }
        let hash = self.inner.hasher.hash(&new).await?;
        let now = self.now();
        let txn = db::begin_write(&self.inner.db).await?;
        let used = db::account_tokens::consume(
            &txn,
            &opaque::hash(token),
            TokenPurpose::PasswordReset,
            now,
        )
        .await?
        .ok_or_else(bad)?;
        // The row lock a sign-in in flight also takes: it sees the new hash.
        let user = db::users::lock(&txn, used.user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or_else(bad)?;
        db::users::set_password(&txn, user.id, hash).await?;
        db::token_families::revoke_all_of_user(&txn, user.id, now).await?;
        db::account_tokens::spend_all(&txn, user.id, Some(TokenPurpose::PasswordReset), now)
            .await?;
        txn.commit().await?;
        tracing::info!(user = %user.pid, "password reset; every session ended");
        Ok(())
    }
}
