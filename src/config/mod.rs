//! Configuration from the environment, parsed once at start into typed
//! values, section by section (`sections.rs`). A bad value stops the process
//! with a message that names the variable.

mod sections;
#[cfg(test)]
mod tests;
mod vars;

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use self::vars::Vars;
pub use self::vars::origin_of;
use crate::domain::access::AccessPolicy;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl Environment {
    /// For choosing the log format before the rest of the configuration is
    /// parsed (and can complain through the logs).
    pub fn from_env_lenient() -> Self {
        match std::env::var("ENTITLE_ENV").as_deref().map(str::trim) {
            Ok("production" | "prod") => Self::Production,
            _ => Self::Development,
        }
    }
}

/// A value that must never reach a log: `Debug` prints a placeholder.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl AsRef<[u8]> for Secret {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// The value as text (secrets read from the environment are).
    pub fn expose_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// At most `burst` attempts per `window` for one key (an email or a client address).
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub burst: u32,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub env: Environment,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub graphql: GraphqlConfig,
    pub access: AccessConfig,
    pub billing: BillingConfig,
    pub webhooks: WebhookConfig,
    pub outbox: OutboxConfig,
    pub mail: MailConfig,
    /// What account tokens expire by; only tests move it.
    pub clock: crate::clock::Clock,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
}

/// By hand, so that the database password cannot reach a log through `{:?}`.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &crate::db::redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    pub cors_origins: Vec<String>,
    /// Take the client address from the last `X-Forwarded-For` hop (behind one trusted proxy).
    pub trust_proxy: bool,
    /// Largest accepted `/graphql` body (and WebSocket message).
    pub max_body_bytes: usize,
    /// Where `/metrics` listens (Prometheus); `None` (the default) for nowhere.
    pub metrics_bind: Option<SocketAddr>,
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// PKCS#8 PEM Ed25519 private keys (`ENTITLE_JWT_KEYS`, or the file
    /// `ENTITLE_JWT_KEYS_FILE` names): the first signs, all verify.
    pub jwt_keys: Vec<Secret>,
    /// HS256 (`JWT_SECRET`): signs when there are no keys, and verifies the
    /// tokens it signed before keys were configured.
    pub jwt_secret: Option<Secret>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub rate_per_email: Quota,
    pub rate_per_ip: Quota,
    /// Where the app's pages are: links in mail point there
    /// (`/reset-password?token=…`, `/verify-email?token=…`).
    pub app_url: String,
    /// `createCheckout` answers `FORBIDDEN` until the address is verified.
    pub require_verified_email: bool,
}

/// How mail leaves.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, for local relays and tests),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (TLS),
    /// with `user:password@` when the relay wants them. `None`: mail is
    /// written to `dir`.
    pub smtp_url: Option<Secret>,
    pub from: String,
    pub dir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct GraphqlConfig {
    pub graphiql: bool,
    pub introspection: bool,
    pub max_query_depth: usize,
    pub max_query_complexity: usize,
}

/// What users may do: the catalogue, the rules, and where features come from.
#[derive(Clone, Debug)]
pub struct AccessConfig {
    pub plans_path: PathBuf,
    pub policy: AccessPolicy,
    pub feature_source: FeatureSource,
    /// How long a user's rows may be served from memory when no change
    /// notification evicted them; zero turns the cache off.
    pub user_cache_ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct BillingConfig {
    /// `None` when `STRIPE_SECRET_KEY` is not set: billing mutations then
    /// answer `STRIPE_UNAVAILABLE`.
    pub stripe: Option<StripeConfig>,
    /// Origins (`scheme://host[:port]`) that checkout and portal may send users back to.
    pub allowed_redirect_origins: Vec<String>,
}

#[derive(Clone)]
pub struct WebhookConfig {
    /// `whsec_…` secrets webhooks may be signed with (several during a rotation).
    pub secrets: Vec<Secret>,
    pub tolerance_secs: i64,
    /// How long a worker owns a claimed event; after a crash another worker
    /// (or the restarted one) takes it over once this passes.
    pub lease: Duration,
    /// How many customers' events are applied at once (each holds one
    /// database connection while Stripe is read, on PostgreSQL).
    pub concurrency: usize,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("secrets", &self.secrets.len())
            .field("tolerance_secs", &self.tolerance_secs)
            .field("lease", &self.lease)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// How the outbox worker sends.
#[derive(Clone, Copy, Debug)]
pub struct OutboxConfig {
    /// How long a worker owns a claimed row before another may take it.
    pub lease: Duration,
    /// The first retry's delay; each next one doubles, up to an hour.
    pub retry_base: Duration,
}

/// Where a subscribed user's features come from; limits always come from `plans.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureSource {
    /// The plan's features in `plans.toml`.
    Plans,
    /// Stripe's Entitlements API: the customer's active entitlements (feature lookup keys).
    Stripe,
}

#[derive(Clone, Debug)]
pub struct StripeConfig {
    pub secret_key: Secret,
    /// Where the Stripe API is: Stripe itself, or stripe-sim.
    pub api_base: String,
    /// Bound on each Stripe call.
    pub timeout: Duration,
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://entitle.db?mode=rwc";

/// `DATABASE_URL` alone, for commands that need nothing else (`migrate`).
pub fn database_url_from_env() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.into())
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Parses configuration from any key → value source (the process
    /// environment in production, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let vars = Vars::new(get);
        let env = sections::environment(&vars)?;
        Ok(Self {
            env,
            database: sections::database(&vars)?,
            http: sections::http(&vars)?,
            auth: sections::auth(&vars, env)?,
            graphql: sections::graphql(&vars, env)?,
            access: sections::access(&vars)?,
            billing: sections::billing(&vars)?,
            webhooks: sections::webhooks(&vars)?,
            outbox: sections::outbox(&vars)?,
            mail: sections::mail(&vars)?,
            clock: crate::clock::Clock::default(),
        })
    }
}
