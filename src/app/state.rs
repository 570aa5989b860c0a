//! What every handler shares; cheap to clone.

use std::sync::Arc;

use axum::extract::FromRef;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{
    auth::{Authenticator, extractor::TrustProxy},
    changes::ChangeFeed,
    config::Config,
    graphql::EntitleSchema,
    webhook::recent::RecentEvents,
};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    /// Turns a request's credential into its caller.
    pub auth: Authenticator,
    pub schema: EntitleSchema,
    pub changes: ChangeFeed,
    /// Wakes the webhook worker when an event is stored.
    pub webhook_wake: Arc<Notify>,
    /// Event ids known to be stored, to acknowledge repeats without a write.
    pub recent_events: Arc<RecentEvents>,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for TrustProxy {
    fn from_ref(state: &AppState) -> Self {
        TrustProxy(state.config.http.trust_proxy)
    }
}
