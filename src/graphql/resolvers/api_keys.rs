//! API keys for the customer's own product: creating one needs `api_access`
//! and room under the plan's `api_keys` limit. Listing and revoking need only
//! a signed-in user, so someone who downgraded can still clean up.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::{
    auth::opaque,
    db::{self, api_keys::NewKey},
    domain::{Catalog, catalog::LimitValue},
    error::{ApiError, ApiResult, Entitlement},
    graphql::{
        caller::{access, signed_in_user},
        guards::{API_ACCESS, RequireFeature, requiresFeature},
        views::{ApiKey, CreatedApiKey},
    },
};

/// The plan limit that caps how many keys a user holds.
pub const API_KEYS_LIMIT: &str = "api_keys";

fn key_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_input(
            "name",
            "a key name has 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// `ENTITLEMENT_REQUIRED` at the `api_keys` limit, naming the plans with room for more.
fn at_key_limit(catalog: &Catalog, max: u32) -> ApiError {
    let roomier = catalog
        .plans()
        .iter()
        .filter(|p| {
            p.has_feature(API_ACCESS)
                && match p.limits.get(API_KEYS_LIMIT) {
                    Some(LimitValue::Unlimited) => true,
                    Some(LimitValue::Finite(n)) => *n > max,
                    None => false,
                }
        })
        .map(|p| p.name.clone())
        .collect();
    ApiError::EntitlementRequired {
        need: Entitlement::Limit {
            name: API_KEYS_LIMIT,
            max,
        },
        plans: roomier,
    }
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The caller's API keys that are not revoked, newest first.
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let user = signed_in_user(ctx).await?;
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let keys = db::api_keys::active_of(db, user.id)
            .await
            .map_err(ApiError::from)?;
        Ok(keys.into_iter().map(ApiKey::from).collect())
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key. Needs `api_access`; `ENTITLEMENT_REQUIRED` (with
    /// `extensions.limit`) when the plan's `api_keys` limit is reached.
    #[graphql(
        guard = "RequireFeature(API_ACCESS)",
        directive = requiresFeature::apply(API_ACCESS.to_string())
    )]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> async_graphql::Result<CreatedApiKey> {
        let name = key_name(&name)?;
        let user = signed_in_user(ctx).await?;
        let limit = access(ctx)
            .await?
            .plan
            .limits
            .get(API_KEYS_LIMIT)
            .copied()
            .unwrap_or(LimitValue::Finite(0));
        let secret = format!("ent_{}", opaque::generate());
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let txn = db::begin_write(db).await.map_err(ApiError::from)?;
        // Count and insert under the owner's row lock, so concurrent creates
        // cannot pass the limit together.
        db::api_keys::lock_owner(&txn, user.id)
            .await
            .map_err(ApiError::from)?;
        if let LimitValue::Finite(max) = limit {
            let held = db::api_keys::count_active(&txn, user.id)
                .await
                .map_err(ApiError::from)?;
            if held >= u64::from(max) {
                return Err(at_key_limit(ctx.data_unchecked::<Arc<Catalog>>(), max).into());
            }
        }
        let key = NewKey {
            user_id: user.id,
            name,
            prefix: secret.chars().take(12).collect(),
            key_hash: opaque::hash(&secret),
        };
        let key = db::api_keys::insert(&txn, key, Utc::now())
            .await
            .map_err(ApiError::from)?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(CreatedApiKey {
            api_key: key.into(),
            secret,
        })
    }

    /// Revokes one of the caller's keys. False when there is no such live key.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let user = signed_in_user(ctx).await?;
        let Ok(id) = uuid::Uuid::parse_str(&id) else {
            return Ok(false);
        };
        let db = ctx.data_unchecked::<DatabaseConnection>();
        Ok(db::api_keys::revoke(db, user.id, id, Utc::now())
            .await
            .map_err(ApiError::from)?)
    }
}
