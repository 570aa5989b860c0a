//! One parser per section of [`super::Config`], each reading only its own
//! variables.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, bail};

use super::{
    AccessConfig, AuthConfig, BillingConfig, DEFAULT_DATABASE_URL, DatabaseConfig, Environment,
    FeatureSource, GraphqlConfig, HttpConfig, MIN_JWT_SECRET_BYTES, MailConfig, OutboxConfig,
    Quota, Secret, StripeConfig, WebhookConfig, origin_of, vars::Vars,
};
use crate::{
    auth::signing_keys::{SigningKey, split_pems},
    domain::access::{AccessPolicy, PastDuePolicy},
};

pub fn environment<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<Environment> {
    match v.get("ENTITLE_ENV").as_deref().map(str::trim) {
        None | Some("development" | "dev") => Ok(Environment::Development),
        Some("production" | "prod") => Ok(Environment::Production),
        Some(other) => bail!("ENTITLE_ENV must be `development` or `production`, not `{other}`"),
    }
}

pub fn database<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<DatabaseConfig> {
    Ok(DatabaseConfig {
        url: v.string("DATABASE_URL", DEFAULT_DATABASE_URL),
        max_connections: v.positive_u32("ENTITLE_DB_MAX_CONNECTIONS", 10)?,
        migrate_on_start: v.bool("ENTITLE_MIGRATE_ON_START", true)?,
    })
}

pub fn http<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<HttpConfig> {
    let bind = v
        .string("ENTITLE_BIND", "127.0.0.1:8080")
        .trim()
        .parse::<SocketAddr>()
        .context("ENTITLE_BIND must be an address such as 127.0.0.1:8080")?;
    let cors_origins: Vec<String> = v
        .list("ENTITLE_CORS_ORIGINS")
        .into_iter()
        .map(|o| o.trim_end_matches('/').to_owned())
        .collect();
    for origin in &cors_origins {
        if !(origin.starts_with("http://") || origin.starts_with("https://")) {
            bail!("ENTITLE_CORS_ORIGINS: `{origin}` is not an http(s) origin");
        }
    }
    let metrics_bind = v
        .get("ENTITLE_METRICS_BIND")
        .map(|a| {
            a.trim()
                .parse::<SocketAddr>()
                .context("ENTITLE_METRICS_BIND must be an address such as 127.0.0.1:9090")
        })
        .transpose()?;
    Ok(HttpConfig {
        bind,
        metrics_bind,
        cors_origins,
        trust_proxy: v.bool("ENTITLE_TRUST_PROXY", false)?,
        max_body_bytes: v.positive_usize("ENTITLE_MAX_BODY_BYTES", 256 * 1024)?,
    })
}

fn jwt_secret<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<Option<Secret>> {
    match v.get("JWT_SECRET") {
        Some(s) if s.len() >= MIN_JWT_SECRET_BYTES => Ok(Some(Secret::new(s.into_bytes()))),
        Some(s) => bail!(
            "JWT_SECRET is {} bytes long; it must be at least {MIN_JWT_SECRET_BYTES} bytes \
             (for example: openssl rand -hex 32)",
            s.len()
        ),
        None => Ok(None),
    }
}

/// The Ed25519 signing keys, each checked to be one.
fn jwt_keys<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<Vec<Secret>> {
    let (text, from) = match (v.get("ENTITLE_JWT_KEYS"), v.get("ENTITLE_JWT_KEYS_FILE")) {
        (Some(_), Some(_)) => bail!("set ENTITLE_JWT_KEYS or ENTITLE_JWT_KEYS_FILE, not both"),
        (Some(text), None) => (text, "ENTITLE_JWT_KEYS"),
        (None, Some(path)) => (
            std::fs::read_to_string(path.trim())
                .with_context(|| format!("ENTITLE_JWT_KEYS_FILE: cannot read {}", path.trim()))?,
            "ENTITLE_JWT_KEYS_FILE",
        ),
        (None, None) => return Ok(Vec::new()),
    };
    let pems = split_pems(&text);
    if pems.is_empty() {
        bail!("{from} holds no PEM key");
    }
    for (i, pem) in pems.iter().enumerate() {
        SigningKey::from_pem(pem).with_context(|| format!("{from}: key #{}", i + 1))?;
    }
    Ok(pems
        .into_iter()
        .map(|p| Secret::new(p.into_bytes()))
        .collect())
}

pub fn auth<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    env: Environment,
) -> anyhow::Result<AuthConfig> {
    let jwt_secret = jwt_secret(v)?;
    let jwt_keys = jwt_keys(v)?;
    if env == Environment::Production && jwt_secret.is_none() && jwt_keys.is_empty() {
        bail!(
            "ENTITLE_ENV=production needs signing keys for access tokens: ENTITLE_JWT_KEYS \
             (Ed25519, PKCS#8 PEM; openssl genpkey -algorithm ed25519) or, for HS256, \
             JWT_SECRET (at least {MIN_JWT_SECRET_BYTES} bytes; openssl rand -hex 32)"
        );
    }
    let window = v.secs("ENTITLE_AUTH_RATE_WINDOW_SECS", 60)?;
    Ok(AuthConfig {
        jwt_keys,
        jwt_secret,
        jwt_issuer: v.string("JWT_ISSUER", "entitle"),
        jwt_audience: v.string("JWT_AUDIENCE", "entitle-api"),
        access_token_ttl: v.secs("ENTITLE_ACCESS_TOKEN_TTL_SECS", 15 * 60)?,
        refresh_token_ttl: v.secs("ENTITLE_REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
        rate_per_email: Quota {
            burst: v.positive_u32("ENTITLE_AUTH_RATE_PER_EMAIL", 10)?,
            window,
        },
        rate_per_ip: Quota {
            burst: v.positive_u32("ENTITLE_AUTH_RATE_PER_IP", 60)?,
            window,
        },
        app_url: app_url(v)?,
        require_verified_email: v.bool("ENTITLE_REQUIRE_VERIFIED_EMAIL", false)?,
    })
}

fn app_url<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<String> {
    let raw = v.string("ENTITLE_APP_URL", "http://127.0.0.1:5173");
    let url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .with_context(|| format!("ENTITLE_APP_URL must be an http(s) URL, not `{raw}`"))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

pub fn graphql<F: Fn(&str) -> Option<String>>(
    v: &Vars<F>,
    env: Environment,
) -> anyhow::Result<GraphqlConfig> {
    let dev = env == Environment::Development;
    Ok(GraphqlConfig {
        graphiql: v.bool("ENTITLE_GRAPHIQL", dev)?,
        introspection: v.bool("ENTITLE_INTROSPECTION", dev)?,
        max_query_depth: v.positive_usize("ENTITLE_MAX_QUERY_DEPTH", 15)?,
        max_query_complexity: v.positive_usize("ENTITLE_MAX_QUERY_COMPLEXITY", 500)?,
    })
}

fn access_policy<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<AccessPolicy> {
    Ok(AccessPolicy {
        past_due: v.choice(
            "ENTITLE_PAST_DUE_POLICY",
            PastDuePolicy::UntilPeriodEnd,
            &[
                ("until_period_end", PastDuePolicy::UntilPeriodEnd),
                ("revoke", PastDuePolicy::Revoke),
            ],
        )?,
        renewal_grace: chrono::Duration::seconds(
            i64::try_from(v.u64("ENTITLE_RENEWAL_GRACE_SECS", 24 * 3600)?)
                .context("ENTITLE_RENEWAL_GRACE_SECS is too large")?,
        ),
        past_due_max: chrono::Duration::days(
            i64::try_from(v.u64("ENTITLE_PAST_DUE_MAX_DAYS", 14)?)
                .ok()
                .filter(|d| *d <= 366)
                .context("ENTITLE_PAST_DUE_MAX_DAYS must be at most 366")?,
        ),
    })
}

pub fn access<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<AccessConfig> {
    Ok(AccessConfig {
        plans_path: v.string("ENTITLE_PLANS", "plans.toml").into(),
        policy: access_policy(v)?,
        feature_source: v.choice(
            "ENTITLE_FEATURE_SOURCE",
            FeatureSource::Plans,
            &[
                ("plans", FeatureSource::Plans),
                ("stripe", FeatureSource::Stripe),
            ],
        )?,
        user_cache_ttl: Duration::from_millis(v.u64("ENTITLE_USER_CACHE_TTL_MS", 30_000)?),
    })
}

pub fn billing<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<BillingConfig> {
    let stripe = match v.get("STRIPE_SECRET_KEY") {
        None => None,
        Some(key) => {
            let key = key.trim().to_owned();
            if !(key.starts_with("sk_") || key.starts_with("rk_")) {
                bail!("STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key");
            }
            let api_base = v.string("STRIPE_API_BASE", "https://api.stripe.com/");
            if origin_of(&api_base).is_none() {
                bail!("STRIPE_API_BASE must be an http(s) URL, not `{api_base}`");
            }
            Some(StripeConfig {
                secret_key: Secret::new(key.into_bytes()),
                api_base,
                timeout: v.secs("STRIPE_TIMEOUT_SECS", 10)?,
            })
        }
    };
    let mut allowed_redirect_origins = Vec::new();
    for raw in v.list("ENTITLE_ALLOWED_REDIRECT_ORIGINS") {
        match origin_of(&raw) {
            Some(o) => allowed_redirect_origins.push(o),
            None => bail!("ENTITLE_ALLOWED_REDIRECT_ORIGINS: `{raw}` is not an http(s) origin"),
        }
    }
    Ok(BillingConfig {
        stripe,
        allowed_redirect_origins,
    })
}

pub fn webhooks<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<WebhookConfig> {
    let secrets: Vec<Secret> = v
        .list("STRIPE_WEBHOOK_SECRETS")
        .into_iter()
        .map(|s| Secret::new(s.into_bytes()))
        .collect();
    if secrets.iter().any(|s| !s.expose().starts_with(b"whsec_")) {
        bail!("STRIPE_WEBHOOK_SECRETS must be whsec_… signing secrets, comma-separated");
    }
    Ok(WebhookConfig {
        secrets,
        tolerance_secs: i64::try_from(v.positive("STRIPE_WEBHOOK_TOLERANCE_SECS", 300)?)
            .context("STRIPE_WEBHOOK_TOLERANCE_SECS is too large")?,
        lease: v.secs("ENTITLE_WEBHOOK_LEASE_SECS", 60)?,
        concurrency: v.positive_usize("ENTITLE_WEBHOOK_CONCURRENCY", 4)?,
    })
}

pub fn outbox<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<OutboxConfig> {
    Ok(OutboxConfig {
        lease: v.secs("ENTITLE_OUTBOX_LEASE_SECS", 60)?,
        retry_base: Duration::from_millis(v.positive("ENTITLE_OUTBOX_RETRY_MS", 5_000)?),
    })
}

pub fn mail<F: Fn(&str) -> Option<String>>(v: &Vars<F>) -> anyhow::Result<MailConfig> {
    let smtp_url = v.get("ENTITLE_SMTP_URL").map(|u| u.trim().to_owned());
    if let Some(u) = &smtp_url
        && !(u.starts_with("smtp://") || u.starts_with("smtps://"))
    {
        bail!("ENTITLE_SMTP_URL must be smtp://host:port or smtps://host:port");
    }
    Ok(MailConfig {
        smtp_url: smtp_url.map(|u| Secret::new(u.into_bytes())),
        from: v.string("ENTITLE_MAIL_FROM", "Entitle <no-reply@localhost>"),
        dir: v.string("ENTITLE_MAIL_DIR", "mail").into(),
    })
}
