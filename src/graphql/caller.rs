//! The caller and what they may do. The credential was turned into a
//! [`Caller`] once, at the edge (the extractors in `auth::extractor`, or the
//! WebSocket's `connectionParams`); here resolvers and guards ask who that
//! is, read their account (through the rows cache, or fresh for billing),
//! and their access, resolved once per request by the one rule in
//! `domain::access`.

use std::{
    convert::Infallible,
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
};

use async_graphql::Context;
use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use chrono::Utc;
use entity::users;
use sea_orm::DatabaseConnection;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::loaders::Loaders;
use crate::{
    auth::{
        Authenticator, Caller,
        extractor::{ClientIp, TrustProxy},
    },
    config::FeatureSource,
    db,
    domain::{
        Catalog,
        access::{self, Access, AccessPolicy, Rows},
    },
    error::{ApiError, ApiResult},
};

/// What the transport knows about one request, handed to resolvers as request data.
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta {
    pub caller: Caller,
    pub client_ip: IpAddr,
}

impl Default for RequestMeta {
    fn default() -> Self {
        Self {
            caller: Caller::Anonymous,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

/// What access is decided from, beside a user's rows: schema data.
#[derive(Clone)]
pub struct AccessRules {
    pub catalog: Arc<Catalog>,
    pub policy: AccessPolicy,
    pub feature_source: FeatureSource,
}

/// Memoises the caller's access for one HTTP request, so a query with
/// several guarded fields resolves it once. (Absent on WebSocket
/// connections, whose data lives as long as the connection.)
#[derive(Default)]
pub struct CallerCache {
    access: OnceCell<Arc<Access>>,
}

pub fn meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().copied().unwrap_or_default()
}

/// The public id of the user calling (by a session or an API key); `None`
/// when anonymous. A token that was presented but is invalid is an error, so
/// a client knows to refresh rather than being shown an anonymous view.
pub fn caller_id(ctx: &Context<'_>) -> ApiResult<Option<Uuid>> {
    match meta(ctx).caller {
        Caller::Anonymous => Ok(None),
        Caller::User(user) => Ok(Some(user.id)),
        Caller::ApiKey(key) => Ok(Some(key.user)),
        Caller::InvalidToken => Err(ApiError::Unauthenticated("invalid or expired access token")),
        Caller::InvalidKey => Err(ApiError::Unauthenticated("unknown or revoked API key")),
        Caller::Unverified => Err(ApiError::Internal(anyhow::anyhow!(
            "the API key could not be checked"
        ))),
    }
}

/// The caller's public id; `UNAUTHENTICATED` when anonymous.
pub fn signed_in_id(ctx: &Context<'_>) -> ApiResult<Uuid> {
    caller_id(ctx)?.ok_or(ApiError::Unauthenticated("sign in first"))
}

fn gone() -> ApiError {
    ApiError::Unauthenticated("this account no longer exists")
}

/// The caller's account; `UNAUTHENTICATED` when anonymous, or when the
/// account was deleted (its tokens may not have expired yet).
pub async fn signed_in_user(ctx: &Context<'_>) -> ApiResult<Arc<users::Model>> {
    let pid = signed_in_id(ctx)?;
    ctx.data_unchecked::<Loaders>()
        .user(pid)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(gone)
}

/// The session (refresh-token family) the caller's access token names.
pub fn session_id(ctx: &Context<'_>) -> Option<Uuid> {
    match meta(ctx).caller {
        Caller::User(u) => u.session,
        _ => None,
    }
}

/// The caller's account read from the database, not the rows cache: billing
/// needs the current Stripe customer link, which changes without a change
/// notification (a checkout creating the customer).
pub async fn signed_in_user_uncached(ctx: &Context<'_>) -> ApiResult<users::Model> {
    let pid = signed_in_id(ctx)?;
    let db = ctx.data_unchecked::<DatabaseConnection>();
    db::users::by_pids(db, &[pid])
        .await?
        .into_iter()
        .next()
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(gone)
}

/// What the user (`None`: an anonymous caller) may do now, from their rows
/// as the loaders give them.
pub async fn access_of(
    loaders: &Loaders,
    rules: &AccessRules,
    user: Option<Uuid>,
) -> ApiResult<Access> {
    let Some(user) = user else {
        return Ok(Access::free(&rules.catalog));
    };
    let (subs, grants) =
        futures_util::try_join!(loaders.subscriptions_of(user), loaders.grants_of(user))?;
    let stripe_features = match rules.feature_source {
        FeatureSource::Plans => None,
        FeatureSource::Stripe => Some(
            loaders
                .stripe_features_of(subs.iter().map(|s| s.stripe_customer_id.clone()))
                .await?,
        ),
    };
    let rows = Rows {
        subscriptions: &subs,
        grants: &grants,
        stripe_features: stripe_features.as_ref(),
    };
    Ok(access::resolve(
        &rules.catalog,
        rows,
        Utc::now(),
        &rules.policy,
    ))
}

/// The caller's access, resolved once per request.
pub async fn access(ctx: &Context<'_>) -> ApiResult<Arc<Access>> {
    let user = caller_id(ctx)?;
    let resolve = || async {
        access_of(
            ctx.data_unchecked::<Loaders>(),
            ctx.data_unchecked::<AccessRules>(),
            user,
        )
        .await
        .map(Arc::new)
    };
    match ctx.data_opt::<CallerCache>() {
        Some(cache) => cache.access.get_or_try_init(resolve).await.cloned(),
        None => resolve().await,
    }
}

/// The request's caller and address, from the extractors at the edge: every
/// HTTP request builds its [`RequestMeta`] this one way.
impl<S> FromRequestParts<S> for RequestMeta
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
    TrustProxy: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let Ok(caller) = Caller::from_request_parts(parts, state).await;
        let Ok(ClientIp(client_ip)) = ClientIp::from_request_parts(parts, state).await;
        Ok(Self { caller, client_ip })
    }
}
