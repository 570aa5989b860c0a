use std::sync::Arc;

use sea_orm::DatabaseConnection;

use tokio::sync::Notify;

use crate::{auth::JwtKeys, billing::Billing, config::Config, graphql::EntitleSchema};

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub jwt: JwtKeys,
    pub schema: EntitleSchema,
    pub billing: Billing,
    /// Wakes the webhook worker when an event is stored.
    pub webhook_wake: Arc<Notify>,
    /// Event ids known to be stored, to acknowledge repeats without a write.
    pub recent_events: Arc<crate::webhook::recent::RecentEvents>,
}
