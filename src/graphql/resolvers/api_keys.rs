//! API keys for the customer's own product: creating one needs `api_access`
//! and room under the plan's `api_keys` limit. Listing and revoking need only
//! a signed-in user, so someone who downgraded can still clean up.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use sea_orm::DatabaseConnection;

use crate::{
    auth::api_keys::{ApiKeys, CreateError},
    db,
    domain::{Catalog, catalog::LimitValue},
    error::{ApiError, ApiResult, Entitlement},
    graphql::{
        caller::{access, signed_in_user},
        guards::{API_ACCESS, RequireFeature, SessionOnly, requiresFeature},
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
        .filter(|p| {
            p.has_feature(API_ACCESS)
                && match p.max(API_KEYS_LIMIT) {
                    Some(LimitValue::Unlimited) => true,
                    Some(LimitValue::Finite(n)) => n > max,
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
    #[graphql(guard = "SessionOnly")]
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
        guard = "SessionOnly.and(RequireFeature(API_ACCESS))",
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
            .max(API_KEYS_LIMIT)
            .unwrap_or(LimitValue::Finite(0));
        match ctx
            .data_unchecked::<ApiKeys>()
            .create(&user, name, limit)
            .await
        {
            Ok((key, secret)) => Ok(CreatedApiKey {
                api_key: key.into(),
                secret,
            }),
            Err(CreateError::AtLimit(max)) => {
                Err(at_key_limit(ctx.data_unchecked::<Arc<Catalog>>(), max).into())
            }
            Err(CreateError::Db(e)) => Err(ApiError::from(e).into()),
        }
    }

    /// Revokes one of the caller's keys. False when there is no such live key.
    #[graphql(guard = "SessionOnly")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let user = signed_in_user(ctx).await?;
        let Ok(id) = uuid::Uuid::parse_str(&id) else {
            return Ok(false);
        };
        Ok(ctx
            .data_unchecked::<ApiKeys>()
            .revoke(&user, id)
            .await
            .map_err(ApiError::from)?)
    }
}
