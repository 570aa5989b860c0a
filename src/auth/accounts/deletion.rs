//! Closing an account (GDPR Art. 17): its Stripe subscriptions are cancelled
//! at once and its Stripe customer unlinked, its keys and sessions revoked,
//! its address and password hash erased. The row stays as a tombstone, so
//! the audit trail keeps its reference, by the pseudonymous public id only.

use entity::users;

use super::Accounts;
use crate::{billing::sync::Cause, db, domain::LoginPassword, error::ApiResult};

impl Accounts {
    pub async fn delete_account(
        &self,
        user: &users::Model,
        password: LoginPassword,
    ) -> ApiResult<()> {
        self.confirm_password(user, &password, "password").await?;
        let billing = &self.inner.deps.billing;
        // Stripe first: if it is down, nothing is erased and the user can retry.
        let subs = db::subscriptions::of_user(&self.inner.db, user.id).await?;
        for sub in subs.iter().filter(|s| s.status.is_live()) {
            billing
                .stripe()
                .cancel_subscription(&sub.stripe_subscription_id)
                .await?;
        }
        if let Some(customer) = &user.stripe_customer_id {
            // Stores the cancellations, with their audit rows, as Stripe has them.
            billing
                .sync_customer(user.id, customer, &Cause::sync())
                .await?;
        }
        let now = self.now();
        let txn = db::begin_write(&self.inner.db).await?;
        db::users::tombstone(&txn, user, now).await?;
        db::token_families::revoke_all_of_user(&txn, user.id, now).await?;
        db::api_keys::revoke_all_of_user(&txn, user.id, now).await?;
        db::account_tokens::spend_all(&txn, user.id, None, now).await?;
        let announced = self.inner.deps.changes.announce(&txn, user.pid).await?;
        txn.commit().await?;
        self.inner.deps.changes.committed(Some(announced));
        tracing::info!(user = %user.pid, "account deleted");
        Ok(())
    }
}
