//! The public plan catalogue.

use std::sync::Arc;

use async_graphql::{Context, Object};

use crate::{domain::Catalog, graphql::views::Plan};

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Every plan with its features, limits and Stripe price ids, as in `plans.toml`.
    async fn plans(&self, ctx: &Context<'_>) -> Vec<Plan> {
        ctx.data_unchecked::<Arc<Catalog>>()
            .plans()
            .map(Plan::from)
            .collect()
    }
}
