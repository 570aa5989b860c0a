//! Configuration from the environment, parsed once at start into typed values.
//! A bad value stops the process with a message that names the variable.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use rand::RngCore;

use crate::domain::access::{AccessPolicy, PastDuePolicy};

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

#[derive(Clone)]
pub struct Config {
    pub env: Environment,
    pub database_url: String,
    pub db_max_connections: u32,
    pub bind: SocketAddr,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    pub jwt_secret: Secret,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub cors_origins: Vec<String>,
    pub graphiql: bool,
    pub introspection: bool,
    pub plans_path: PathBuf,
    pub auth_rate_per_email: Quota,
    pub auth_rate_per_ip: Quota,
    /// Take the client address from the last `X-Forwarded-For` hop (behind one trusted proxy).
    pub trust_proxy: bool,
    pub max_query_depth: usize,
    pub max_query_complexity: usize,
    /// Largest accepted `/graphql` body.
    pub max_body_bytes: usize,
    pub access_policy: AccessPolicy,
    /// `None` when `STRIPE_SECRET_KEY` is not set: billing mutations then
    /// answer `STRIPE_UNAVAILABLE`.
    pub stripe: Option<StripeConfig>,
    /// Origins (`scheme://host[:port]`) that checkout and portal may send users back to.
    pub allowed_redirect_origins: Vec<String>,
    /// `whsec_…` secrets webhooks may be signed with (several during a rotation).
    pub webhook_secrets: Vec<Secret>,
    pub webhook_tolerance_secs: i64,
    /// How long a worker owns a claimed event; after a crash another worker
    /// (or the restarted one) takes it over once this passes.
    pub webhook_lease: Duration,
    /// How long a user's rows may be served from memory when no change
    /// notification evicted them; zero turns the cache off.
    pub user_cache_ttl: Duration,
    pub feature_source: FeatureSource,
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

/// `scheme://host[:port]` of an http(s) URL, lower-cased; `None` for anything else.
pub fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// By hand, so that the database password cannot reach a log through `{:?}`.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("env", &self.env)
            .field("database_url", &crate::db::redact_url(&self.database_url))
            .field("db_max_connections", &self.db_max_connections)
            .field("bind", &self.bind)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("jwt_secret", &self.jwt_secret)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("cors_origins", &self.cors_origins)
            .field("graphiql", &self.graphiql)
            .field("introspection", &self.introspection)
            .field("plans_path", &self.plans_path)
            .field("auth_rate_per_email", &self.auth_rate_per_email)
            .field("auth_rate_per_ip", &self.auth_rate_per_ip)
            .field("trust_proxy", &self.trust_proxy)
            .field("max_query_depth", &self.max_query_depth)
            .field("max_query_complexity", &self.max_query_complexity)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("access_policy", &self.access_policy)
            .field("stripe", &self.stripe)
            .field("allowed_redirect_origins", &self.allowed_redirect_origins)
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("webhook_tolerance_secs", &self.webhook_tolerance_secs)
            .field("webhook_lease", &self.webhook_lease)
            .field("user_cache_ttl", &self.user_cache_ttl)
            .field("feature_source", &self.feature_source)
            .finish()
    }
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

    /// Parses configuration from any key → value source (the process environment in
    /// production, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let env = match var("ENTITLE_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                bail!("ENTITLE_ENV must be `development` or `production`, not `{other}`")
            }
        };
        let dev = env == Environment::Development;

        let jwt_secret = match var("JWT_SECRET") {
            Some(s) if s.len() >= MIN_JWT_SECRET_BYTES => Secret::new(s.into_bytes()),
            Some(s) => bail!(
                "JWT_SECRET is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} bytes \
                 (for example: openssl rand -hex 32)",
                s.len()
            ),
            None if dev => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret for this process only; \
                     tokens will not survive a restart"
                );
                let mut bytes = vec![0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                Secret::new(bytes)
            }
            None => bail!(
                "JWT_SECRET is required when ENTITLE_ENV=production \
                 (at least {MIN_JWT_SECRET_BYTES} bytes; for example: openssl rand -hex 32)"
            ),
        };

        let parse_u64 = |key: &str, default: u64| -> anyhow::Result<u64> {
            match var(key) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .with_context(|| format!("{key} must be a whole number, not `{v}`")),
            }
        };
        let parse_bool = |key: &str, default: bool| -> anyhow::Result<bool> {
            match var(key).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
                None => Ok(default),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some("0" | "false" | "no" | "off") => Ok(false),
                Some(other) => bail!("{key} must be true or false, not `{other}`"),
            }
        };
        let positive = |key: &str, default: u64| -> anyhow::Result<u64> {
            let v = parse_u64(key, default)?;
            if v == 0 {
                bail!("{key} must be greater than 0");
            }
            Ok(v)
        };

        let bind = var("ENTITLE_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .trim()
            .parse::<SocketAddr>()
            .context("ENTITLE_BIND must be an address such as 127.0.0.1:8080")?;
        let window = Duration::from_secs(positive("ENTITLE_AUTH_RATE_WINDOW_SECS", 60)?);
        let cors_origins = var("ENTITLE_CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                bail!("ENTITLE_CORS_ORIGINS: `{origin}` is not an http(s) origin");
            }
        }

        let stripe = match var("STRIPE_SECRET_KEY") {
            None => None,
            Some(key) => {
                let key = key.trim().to_owned();
                if !(key.starts_with("sk_") || key.starts_with("rk_")) {
                    bail!("STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key");
                }
                let api_base =
                    var("STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com/".into());
                if origin_of(&api_base).is_none() {
                    bail!("STRIPE_API_BASE must be an http(s) URL, not `{api_base}`");
                }
                Some(StripeConfig {
                    secret_key: Secret::new(key.into_bytes()),
                    api_base,
                    timeout: Duration::from_secs(positive("STRIPE_TIMEOUT_SECS", 10)?),
                })
            }
        };
        let mut allowed_redirect_origins = Vec::new();
        for raw in var("ENTITLE_ALLOWED_REDIRECT_ORIGINS")
            .unwrap_or_default()
            .split(',')
        {
            if raw.trim().is_empty() {
                continue;
            }
            match origin_of(raw) {
                Some(o) => allowed_redirect_origins.push(o),
                None => bail!(
                    "ENTITLE_ALLOWED_REDIRECT_ORIGINS: `{}` is not an http(s) origin",
                    raw.trim()
                ),
            }
        }

        let webhook_secrets: Vec<Secret> = var("STRIPE_WEBHOOK_SECRETS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Secret::new(s.as_bytes().to_vec()))
            .collect();
        if webhook_secrets
            .iter()
            .any(|s| !s.expose().starts_with(b"whsec_"))
        {
            bail!("STRIPE_WEBHOOK_SECRETS must be whsec_… signing secrets, comma-separated");
        }

        Ok(Self {
            env,
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://entitle.db?mode=rwc".into()),
            db_max_connections: u32::try_from(positive("ENTITLE_DB_MAX_CONNECTIONS", 10)?)
                .context("ENTITLE_DB_MAX_CONNECTIONS is too large")?,
            bind,
            migrate_on_start: parse_bool("ENTITLE_MIGRATE_ON_START", true)?,
            jwt_secret,
            jwt_issuer: var("JWT_ISSUER").unwrap_or_else(|| "entitle".into()),
            jwt_audience: var("JWT_AUDIENCE").unwrap_or_else(|| "entitle-api".into()),
            access_token_ttl: Duration::from_secs(positive(
                "ENTITLE_ACCESS_TOKEN_TTL_SECS",
                15 * 60,
            )?),
            refresh_token_ttl: Duration::from_secs(positive(
                "ENTITLE_REFRESH_TOKEN_TTL_SECS",
                30 * 24 * 3600,
            )?),
            cors_origins,
            graphiql: parse_bool("ENTITLE_GRAPHIQL", dev)?,
            introspection: parse_bool("ENTITLE_INTROSPECTION", dev)?,
            plans_path: var("ENTITLE_PLANS")
                .unwrap_or_else(|| "plans.toml".into())
                .into(),
            auth_rate_per_email: Quota {
                burst: u32::try_from(positive("ENTITLE_AUTH_RATE_PER_EMAIL", 10)?)?,
                window,
            },
            auth_rate_per_ip: Quota {
                burst: u32::try_from(positive("ENTITLE_AUTH_RATE_PER_IP", 60)?)?,
                window,
            },
            trust_proxy: parse_bool("ENTITLE_TRUST_PROXY", false)?,
            max_query_depth: usize::try_from(positive("ENTITLE_MAX_QUERY_DEPTH", 15)?)?,
            max_query_complexity: usize::try_from(positive("ENTITLE_MAX_QUERY_COMPLEXITY", 500)?)?,
            max_body_bytes: usize::try_from(positive("ENTITLE_MAX_BODY_BYTES", 256 * 1024)?)?,
            access_policy: AccessPolicy {
                past_due: match var("ENTITLE_PAST_DUE_POLICY").as_deref().map(str::trim) {
                    None | Some("until_period_end") => PastDuePolicy::UntilPeriodEnd,
                    Some("revoke") => PastDuePolicy::Revoke,
                    Some(other) => bail!(
                        "ENTITLE_PAST_DUE_POLICY must be `until_period_end` or `revoke`, not `{other}`"
                    ),
                },
                renewal_grace: chrono::Duration::seconds(
                    i64::try_from(parse_u64("ENTITLE_RENEWAL_GRACE_SECS", 24 * 3600)?)
                        .context("ENTITLE_RENEWAL_GRACE_SECS is too large")?,
                ),
                past_due_max: chrono::Duration::days(
                    i64::try_from(parse_u64("ENTITLE_PAST_DUE_MAX_DAYS", 14)?)
                        .ok()
                        .filter(|d| *d <= 366)
                        .context("ENTITLE_PAST_DUE_MAX_DAYS must be at most 366")?,
                ),
            },
            stripe,
            allowed_redirect_origins,
            webhook_secrets,
            feature_source: match var("ENTITLE_FEATURE_SOURCE").as_deref().map(str::trim) {
                None | Some("plans") => FeatureSource::Plans,
                Some("stripe") => FeatureSource::Stripe,
                Some(other) => {
                    bail!("ENTITLE_FEATURE_SOURCE must be `plans` or `stripe`, not `{other}`")
                }
            },
            webhook_tolerance_secs: i64::try_from(positive("STRIPE_WEBHOOK_TOLERANCE_SECS", 300)?)
                .context("STRIPE_WEBHOOK_TOLERANCE_SECS is too large")?,
            webhook_lease: Duration::from_secs(positive("ENTITLE_WEBHOOK_LEASE_SECS", 60)?),
            user_cache_ttl: Duration::from_millis(parse_u64("ENTITLE_USER_CACHE_TTL_MS", 30_000)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_bare_environment_gives_a_working_development_config() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.env, Environment::Development);
        assert_eq!(c.database_url, "sqlite://entitle.db?mode=rwc");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 24 * 3600));
        assert!(c.graphiql && c.introspection);
        assert_eq!(c.jwt_secret.expose().len(), 32);
    }

    #[test]
    fn production_refuses_to_start_without_a_jwt_secret() {
        let err = parse(&[("ENTITLE_ENV", "production")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("JWT_SECRET is required"), "{err}");
    }

    #[test]
    fn a_short_jwt_secret_is_refused_in_every_environment() {
        for env in ["development", "production"] {
            let err = parse(&[("ENTITLE_ENV", env), ("JWT_SECRET", "too-short")])
                .unwrap_err()
                .to_string();
            assert!(err.contains("at least 32 bytes"), "{err}");
        }
    }

    #[test]
    fn production_turns_graphiql_and_introspection_off_by_default() {
        let c = parse(&[
            ("ENTITLE_ENV", "production"),
            ("JWT_SECRET", &"k".repeat(32)),
        ])
        .unwrap();
        assert!(!c.graphiql && !c.introspection);
        let c = parse(&[
            ("ENTITLE_ENV", "production"),
            ("JWT_SECRET", &"k".repeat(32)),
            ("ENTITLE_INTROSPECTION", "true"),
        ])
        .unwrap();
        assert!(c.introspection);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (key, value) in [
            ("ENTITLE_ENV", "staging"),
            ("ENTITLE_BIND", "nowhere"),
            ("ENTITLE_ACCESS_TOKEN_TTL_SECS", "soon"),
            ("ENTITLE_ACCESS_TOKEN_TTL_SECS", "0"),
            ("ENTITLE_GRAPHIQL", "maybe"),
            ("ENTITLE_CORS_ORIGINS", "example.com"),
            ("ENTITLE_PAST_DUE_POLICY", "sometimes"),
            ("ENTITLE_RENEWAL_GRACE_SECS", "-1"),
            ("STRIPE_SECRET_KEY", "pk_live_publishable"),
            ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", "javascript:alert(1)"),
        ] {
            let err = format!("{:#}", parse(&[(key, value)]).unwrap_err());
            assert!(err.contains(key), "{key}={value}: {err}");
        }
    }

    #[test]
    fn redirect_origins_are_normalised() {
        let c = parse(&[(
            "ENTITLE_ALLOWED_REDIRECT_ORIGINS",
            "https://App.Example.com/, http://localhost:3000",
        )])
        .unwrap();
        assert_eq!(
            c.allowed_redirect_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert_eq!(
            origin_of("https://app.example.com:443/x?y"),
            Some("https://app.example.com".into())
        );
        assert_eq!(origin_of("ftp://example.com"), None);
        assert_eq!(origin_of("/relative"), None);
    }

    #[test]
    fn secrets_do_not_print() {
        let c = parse(&[
            ("JWT_SECRET", &"s3cr3t".repeat(8)),
            ("DATABASE_URL", "postgres://app:hunter2@db/entitle"),
            ("STRIPE_SECRET_KEY", "sk_test_topsecretkey"),
            (
                "STRIPE_WEBHOOK_SECRETS",
                "whsec_verysecret1,whsec_verysecret2",
            ),
        ])
        .unwrap();
        let printed = format!("{c:?}");
        for secret in ["s3cr3t", "hunter2", "topsecret", "verysecret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(
            printed.contains("postgres://app:***@db/entitle"),
            "{printed}"
        );
    }
}
