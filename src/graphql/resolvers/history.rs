//! `billingHistory`: the caller's own audit trail of subscription changes.

use std::sync::Arc;

use async_graphql::{Context, Object};
use sea_orm::DatabaseConnection;

use crate::{
    db,
    domain::Catalog,
    error::ApiResult,
    graphql::{caller::signed_in_user, guards::SessionOnly, views::BillingChange},
};

#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// The caller's last `last` subscription changes (default 100), oldest first.
    #[graphql(guard = "SessionOnly")]
    async fn billing_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100, validator(minimum = 1, maximum = 500))] last: i32,
    ) -> async_graphql::Result<Vec<BillingChange>> {
        let user = signed_in_user(ctx).await?;
        Ok(billing_changes(ctx, user.id, last).await?)
    }
}

/// A user's last `last` subscription changes, oldest first (theirs, or a
/// customer's in the support view).
pub async fn billing_changes(
    ctx: &Context<'_>,
    user_id: i32,
    last: i32,
) -> ApiResult<Vec<BillingChange>> {
    let db = ctx.data_unchecked::<DatabaseConnection>();
    let catalog = ctx.data_unchecked::<Arc<Catalog>>();
    let rows = db::audit_log::of_user(db, user_id, u64::try_from(last).unwrap_or(100)).await?;
    Ok(rows
        .into_iter()
        .map(|r| BillingChange::new(r, catalog))
        .collect())
}
