//! Field guards: a field that needs a feature, or an operator's role, names
//! it once, in `#[graphql(guard = …, directive = …)]`, so the SDL shows it
//! (`@requiresFeature`, `@requiresRole`); the catalogue is checked at start
//! to grant every guarded feature.

#![allow(non_snake_case)] // the directive's Rust name is its GraphQL name

use std::sync::Arc;

use async_graphql::{Context, Guard, TypeDirective};

use super::{
    caller::{access, caller_id, meta},
    loaders::Loaders,
    views::Role,
};
use crate::{
    auth::Caller,
    domain::Catalog,
    error::{ApiError, Entitlement},
};

pub const API_ACCESS: &str = "api_access";
pub const ADVANCED_ANALYTICS: &str = "advanced_analytics";

/// Every feature that some guard requires. `plans.toml` must grant each one
/// (checked at start), and a test checks this list against the SDL.
pub const GUARDED_FEATURES: &[&str] = &[API_ACCESS, ADVANCED_ANALYTICS];

/// Marks a field in the SDL with the feature its guard requires.
#[TypeDirective(location = "FieldDefinition")]
pub fn requiresFeature(feature: String) {}

/// Lets the field run only for a signed-in caller whose plan includes the feature.
pub struct RequireFeature(pub &'static str);

impl Guard for RequireFeature {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if caller_id(ctx)?.is_none() {
            return Err(ApiError::Unauthenticated("sign in first").into());
        }
        if access(ctx).await?.plan.has_feature(self.0) {
            return Ok(());
        }
        let catalog = ctx.data_unchecked::<Arc<Catalog>>();
        Err(ApiError::EntitlementRequired {
            need: Entitlement::Feature(self.0),
            plans: catalog
                .plans_with_feature(self.0)
                .map(|p| p.name.clone())
                .collect(),
        }
        .into())
    }
}

/// Lets the field run for anyone but an API key: a key acts for its owner's
/// product (reading access, recording usage), never for the owner's account
/// (billing, keys, sessions).
pub struct SessionOnly;

impl Guard for SessionOnly {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match meta(ctx).caller {
            Caller::ApiKey(_) => Err(ApiError::Forbidden(
                "an API key cannot do this: sign in as the account's owner",
            )
            .into()),
            _ => Ok(()),
        }
    }
}

/// Marks a field in the SDL with the operator role its guard requires.
#[TypeDirective(location = "FieldDefinition")]
pub fn requiresRole(role: Role) {}

/// Lets the field run only for a signed-in operator with at least this role
/// (read from the account's row, which a role change evicts everywhere).
/// Anyone else learns nothing: anonymous callers get `UNAUTHENTICATED`,
/// API keys (which never carry a role) and other users `FORBIDDEN`, before
/// any argument is looked at.
pub struct RequireRole(pub entity::Role);

impl Guard for RequireRole {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = meta(ctx).caller;
        let Caller::User(session) = caller else {
            caller_id(ctx)?.ok_or(ApiError::Unauthenticated("sign in first"))?;
            return Err(forbidden().into());
        };
        let user = ctx.data_unchecked::<Loaders>().user(session.id).await?;
        match user {
            Some(u) if u.role >= self.0 => Ok(()),
            Some(_) => Err(forbidden().into()),
            None => Err(ApiError::Unauthenticated("this account no longer exists").into()),
        }
    }
}

fn forbidden() -> ApiError {
    ApiError::Forbidden("this needs an operator role you do not have")
}
