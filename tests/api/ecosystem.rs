//! Fitting the ecosystem: EdDSA access tokens any service verifies from the
//! JWKS alone, and Prometheus metrics on their own listener.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use serde_json::{Value, json};

use crate::{
    helpers::{Db, TestApp, error_code, spawn_app, spawn_app_with, unique_email},
    on_both_databases,
    sim::{eventually, pay, spawn_with_sim, start_checkout},
};

on_both_databases!(
    access_tokens_verify_against_the_jwks_alone,
    tokens_the_jwks_does_not_vouch_for_are_refused,
    a_key_rotation_keeps_tokens_of_the_old_key_valid,
    hs256_deployments_keep_working_with_an_empty_jwks,
    metrics_move_with_a_checkout_and_its_webhooks,
);

/// The key of `seed`, as a signer elsewhere would hold it.
fn signer(seed: u8) -> EncodingKey {
    let der = ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
        .to_pkcs8_der()
        .unwrap();
    EncodingKey::from_ed_der(der.as_bytes())
}

fn pem(seed: u8) -> String {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
        .to_pkcs8_pem(LineEnding::LF)
        .unwrap()
        .to_string()
}

/// A server signing with the given Ed25519 keys (and no `JWT_SECRET`).
async fn with_keys(db: Db, pems: &[String]) -> Option<TestApp> {
    let keys = pems.concat();
    spawn_app_with(
        db,
        &[("JWT_SECRET", ""), ("ENTITLE_JWT_KEYS", keys.as_str())],
    )
    .await
}

async fn jwks(app: &TestApp) -> JwkSet {
    let res = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&["entitle-api"]);
    v.set_issuer(&["entitle"]);
    v
}

async fn access_tokens_verify_against_the_jwks_alone(db: Db) {
    let Some(app) = with_keys(db, &[pem(1)]).await else {
        return;
    };
    let reg = app.register(&unique_email("jwks")).await;
    let token = reg["accessToken"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    // What another service does: fetch the JWKS, pick the key by kid, verify.
    let set = jwks(&app).await;
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("the kid is in the JWKS");
    let claims =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation())
            .expect("the token verifies with the published key");
    assert_eq!(claims.claims["sub"], reg["user"]["id"]);
    // The kid is the key's RFC 7638 thumbprint.
    let thumb = jwk
        .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .unwrap();
    assert_eq!(Some(thumb), header.kid);
    let me = app.gql("{ me { email } }", json!({}), Some(token)).await;
    assert_eq!(me["data"]["me"]["email"], reg["user"]["email"]);
}

fn forge(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode(signature)
    )
}

async fn tokens_the_jwks_does_not_vouch_for_are_refused(db: Db) {
    let Some(app) = with_keys(db, &[pem(2)]).await else {
        return;
    };
    let reg = app.register(&unique_email("confused")).await;
    let real = reg["accessToken"].as_str().unwrap();
    let claims: Value =
        serde_json::from_slice(&B64.decode(real.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let set = jwks(&app).await;
    let jwk = serde_json::to_value(&set.keys[0]).unwrap();
    let kid = jwk["kid"].as_str().unwrap().to_owned();
    let public = B64.decode(jwk["x"].as_str().unwrap()).unwrap();
    let hs256 = |key: &[u8]| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let stranger = {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(&h, &claims, &signer(3)).unwrap()
    };
    let unknown_kid = {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some("not-a-published-kid".into());
        jsonwebtoken::encode(&h, &claims, &signer(2)).unwrap()
    };
    let no_kid = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signer(2)).unwrap();
    for (why, token) in [
        ("HS256 keyed with the public key", hs256(&public)),
        (
            "HS256 keyed with the public key's text",
            hs256(jwk["x"].as_str().unwrap().as_bytes()),
        ),
        (
            "alg none",
            forge(
                json!({ "alg": "none", "typ": "JWT", "kid": kid }),
                &claims,
                b"",
            ),
        ),
        ("another Ed25519 key under our kid", stranger),
        ("an unknown kid", unknown_kid),
        ("no kid", no_kid),
    ] {
        let body = app.gql("{ me { email } }", json!({}), Some(&token)).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{why}: {body}");
    }
}

async fn a_key_rotation_keeps_tokens_of_the_old_key_valid(db: Db) {
    let Some(old) = with_keys(db, &[pem(4)]).await else {
        return;
    };
    let reg = old.register(&unique_email("rotate")).await;
    let token = reg["accessToken"].as_str().unwrap().to_owned();
    // The new key is added in front: it signs; the old one still verifies.
    let rotated = crate::helpers::spawn_another_instance(
        &old,
        &[
            ("JWT_SECRET", ""),
            ("ENTITLE_JWT_KEYS", &format!("{}{}", pem(5), pem(4))),
        ],
    )
    .await;
    assert_eq!(jwks(&rotated).await.keys.len(), 2);
    let me = rotated
        .gql("{ me { email } }", json!({}), Some(&token))
        .await;
    assert_eq!(me["data"]["me"]["email"], reg["user"]["email"], "{me}");
    let fresh = rotated
        .login(
            reg["user"]["email"].as_str().unwrap(),
            crate::helpers::PASSWORD,
        )
        .await;
    let fresh = fresh["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_kid = jsonwebtoken::decode_header(&fresh).unwrap().kid;
    assert_ne!(new_kid, jsonwebtoken::decode_header(&token).unwrap().kid);
    assert_eq!(jwks(&rotated).await.keys[0].common.key_id, new_kid);
}

async fn hs256_deployments_keep_working_with_an_empty_jwks(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("hs")).await;
    let header = jsonwebtoken::decode_header(reg["accessToken"].as_str().unwrap()).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert!(jwks(&app).await.keys.is_empty());
}

/// `name{labels}` → value, from a Prometheus text page.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            series.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let addr = app.metrics_addr.expect("metrics are on");
    let res = app
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

async fn metrics_move_with_a_checkout_and_its_webhooks(db: Db) {
    let Some((app, sim)) =
        spawn_with_sim(db, true, &[("ENTITLE_METRICS_BIND", "127.0.0.1:0")]).await
    else {
        return;
    };
    // Not on the public listener.
    let public = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status().as_u16(), 404);
    let before = scrape(&app).await;
    let reg = app.register(&unique_email("metered")).await;
    let token = reg["accessToken"].as_str().unwrap();
    let session = start_checkout(&app, token, "pro").await;
    pay(&sim, &session).await;
    eventually("the webhooks are applied", || async {
        let body = app
            .gql("{ entitlements { plan } }", json!({}), Some(token))
            .await;
        (body["data"]["entitlements"]["plan"] == "pro").then_some(())
    })
    .await;
    let body = app
        .gql("mutation { recordUsage(limit: \"monthly_requests\", idempotencyKey: \"m-1\") { used } }", json!({}), Some(token))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let after = scrape(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        let (b, a) = (sample(&before, name, labels), sample(&after, name, labels));
        assert!(a > b, "{name}{labels:?}: {b} then {a}\n{after}");
    };
    grew(
        "entitle_http_requests_total",
        &[("route", "/graphql"), ("status", "200")],
    );
    grew(
        "entitle_http_request_duration_seconds_count",
        &[("route", "/graphql")],
    );
    grew(
        "entitle_graphql_operations_total",
        &[("type", "mutation"), ("code", "OK")],
    );
    grew(
        "entitle_graphql_operations_total",
        &[("type", "query"), ("code", "OK")],
    );
    grew("entitle_webhook_events_total", &[("outcome", "stored")]);
    grew("entitle_webhook_events_total", &[("outcome", "processed")]);
    grew(
        "entitle_stripe_requests_total",
        &[("operation", "create_checkout_session"), ("outcome", "ok")],
    );
    grew(
        "entitle_stripe_requests_total",
        &[("operation", "list_subscriptions"), ("outcome", "ok")],
    );
    grew(
        "entitle_stripe_request_duration_seconds_count",
        &[("operation", "list_subscriptions")],
    );
    grew("entitle_rows_cache_total", &[]);
    grew(
        "entitle_usage_records_total",
        &[("limit", "monthly_requests"), ("outcome", "counted")],
    );
    for gauge in [
        "entitle_webhook_backlog",
        "entitle_webhook_oldest_pending_seconds",
        "entitle_db_pool_in_use",
    ] {
        assert!(
            after.contains(&format!("\n{gauge} ")) || after.starts_with(&format!("{gauge} ")),
            "{gauge}\n{after}"
        );
    }
}
