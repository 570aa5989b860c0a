//! Verifying that an address is the user's: a single-use link by mail (48
//! hours), sent at registration and on request.

use entity::{TokenPurpose, users};
use sea_orm::ConnectionTrait;

use super::Accounts;
use crate::{
    auth::opaque,
    db,
    error::{ApiError, ApiResult},
    mail::{self, templates},
};

/// How long a verification link works.
const VERIFY_TTL: chrono::Duration = chrono::Duration::hours(48);

impl Accounts {
    /// Writes a verification link for the user's address into the outbox,
    /// inside the caller's transaction.
    pub(super) async fn send_verification(
        &self,
        txn: &impl ConnectionTrait,
        user: &users::Model,
    ) -> ApiResult<()> {
        let now = self.now();
        let token = opaque::generate();
        let link = templates::link(&self.inner.app_url, "/verify-email", &token);
        db::account_tokens::insert(
            txn,
            user.id,
            TokenPurpose::EmailVerification,
            opaque::hash(&token),
            now + VERIFY_TTL,
            now,
        )
        .await?;
        mail::enqueue(txn, &templates::email_verification(&user.email, &link), now).await?;
        Ok(())
    }

    /// Sends another verification link (rate-limited per account); nothing
    /// when the address is verified already.
    pub async fn request_email_verification(&self, user: &users::Model) -> ApiResult<()> {
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        self.inner
            .per_account
            .check(&format!("verify:{}", user.id))
            .map_err(super::limited)?;
        let txn = db::begin_write(&self.inner.db).await?;
        self.send_verification(&txn, user).await?;
        txn.commit().await?;
        self.inner.deps.outbox_wake.notify_one();
        Ok(())
    }

    /// Marks the address the link was sent to as verified.
    pub async fn verify_email(&self, token: &str) -> ApiResult<()> {
        let bad = || {
            ApiError::bad_input(
                "token",
                "this link is not valid, was used already, or has expired: ask for a new one",
            )
        };
        if token.len() > 100 {
            return Err(bad());
        }
        let now = self.now();
        let txn = db::begin_write(&self.inner.db).await?;
        let used = db::account_tokens::consume(
            &txn,
            &opaque::hash(token),
            TokenPurpose::EmailVerification,
            now,
        )
        .await?
        .ok_or_else(bad)?;
        let user = db::users::by_id(&txn, used.user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or_else(bad)?;
        db::users::mark_verified(&txn, user.id, now).await?;
        db::account_tokens::spend_all(&txn, user.id, Some(TokenPurpose::EmailVerification), now)
            .await?;
        // The flag is on the cached row: every instance reads it again.
        let announced = self.inner.deps.changes.announce(&txn, user.pid).await?;
        txn.commit().await?;
        self.inner.deps.changes.committed(Some(announced));
        tracing::info!(user = %user.pid, "email address verified");
        Ok(())
    }
}
