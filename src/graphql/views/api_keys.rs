use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// When the key last authenticated a request (to about a minute); null
    /// when never.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<entity::api_keys::Model> for ApiKey {
    fn from(m: entity::api_keys::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    /// The key itself. Shown this once: only its hash is kept.
    pub secret: String,
}
