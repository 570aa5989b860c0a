//! The configuration table tests: defaults, production rules, bad values.

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
    assert_eq!(c.database.url, "sqlite://entitle.db?mode=rwc");
    assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.auth.access_token_ttl, Duration::from_secs(900));
    assert_eq!(
        c.auth.refresh_token_ttl,
        Duration::from_secs(30 * 24 * 3600)
    );
    assert!(c.graphql.graphiql && c.graphql.introspection);
    // No keys configured: the server makes an Ed25519 key for its process.
    assert!(c.auth.jwt_secret.is_none() && c.auth.jwt_keys.is_empty());
}

#[test]
fn production_refuses_to_start_without_a_jwt_secret() {
    let err = parse(&[("ENTITLE_ENV", "production")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ENTITLE_JWT_KEYS") && err.contains("JWT_SECRET"),
        "{err}"
    );
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
    assert!(!c.graphql.graphiql && !c.graphql.introspection);
    let c = parse(&[
        ("ENTITLE_ENV", "production"),
        ("JWT_SECRET", &"k".repeat(32)),
        ("ENTITLE_INTROSPECTION", "true"),
    ])
    .unwrap();
    assert!(c.graphql.introspection);
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
        c.billing.allowed_redirect_origins,
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
