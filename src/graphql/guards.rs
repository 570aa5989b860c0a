//! Field guards: a field that needs a feature names it once, in
//! `#[graphql(guard = …, directive = …)]`, so the SDL shows it
//! (`@requiresFeature`) and the catalogue is checked at start to grant it.

#![allow(non_snake_case)] // the directive's Rust name is its GraphQL name

use std::sync::Arc;

use async_graphql::{Context, Guard, TypeDirective};

use super::caller::{access, caller_id};
use crate::{
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
