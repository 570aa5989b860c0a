use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{auth::JwtKeys, config::Config, graphql::EntitleSchema};

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub jwt: JwtKeys,
    pub schema: EntitleSchema,
}
