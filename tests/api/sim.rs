//! The server and stripe-sim side by side, for the billing and webhook tests.

use std::{collections::HashSet, time::Duration};

use entity::EventStatus;
use serde_json::json;
use stripe_sim::{Sim, SimConfig};

use crate::helpers::{Db, TestApp, spawn_app_with};

/// The origin checkout and portal may redirect to in tests.
pub const APP: &str = "http://app.test";
/// The webhook endpoint's secret; the server also accepts `whsec_old_one` (a rotation).
pub const SECRET: &str = "whsec_entitle_test";

/// Starts stripe-sim and a server pointed at it; with `deliver`, the sim
/// sends its webhooks to the server. `extra` adds or overrides configuration.
pub async fn spawn_with_sim(
    db: Db,
    deliver: bool,
    extra: &[(&str, &str)],
) -> Option<(TestApp, Sim)> {
    let sim = Sim::start(SimConfig::default())
        .await
        .expect("stripe-sim starts");
    let base = sim.base_url();
    let secrets = format!("whsec_old_one,{SECRET}");
    let mut overrides = vec![
        ("STRIPE_SECRET_KEY", "sk_test_entitle"),
        ("STRIPE_API_BASE", base.as_str()),
        ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", APP),
        ("STRIPE_WEBHOOK_SECRETS", secrets.as_str()),
        // Rows are cached for ten minutes: every change these tests see must
        // reach the server's cache through the change feed, not by expiry.
        ("ENTITLE_USER_CACHE_TTL_MS", "600000"),
    ];
    overrides.extend_from_slice(extra);
    let app = spawn_app_with(db, &overrides).await?;
    if deliver {
        sim.add_webhook_endpoint(&app.url("/webhooks/stripe"), Some(SECRET));
    }
    Some((app, sim))
}

/// Starts a monthly checkout for `plan` and returns its session id.
pub async fn start_checkout(app: &TestApp, token: &str, plan: &str) -> String {
    let body = app
        .gql(
            "mutation($p: String!) { createCheckout(plan: $p, interval: MONTHLY, successUrl: \"http://app.test/ok\", cancelUrl: \"http://app.test/no\") { sessionId } }",
            json!({ "p": plan }),
            Some(token),
        )
        .await;
    body["data"]["createCheckout"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// Pays a checkout session on the simulator, as the Pay button does.
pub async fn pay(sim: &Sim, session_id: &str) {
    let res = reqwest::Client::new()
        .post(format!(
            "{}/_sim/checkout/sessions/{session_id}/complete",
            sim.base_url()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "the simulator completes the checkout"
    );
}

/// Polls `check` until it returns Some, for at most 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers `n` users and pays a monthly `plan` checkout for each on the
/// simulator, without visiting the success page; returns their access tokens.
pub async fn paying_users(app: &TestApp, sim: &Sim, n: usize, plan: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..n {
        let reg = app
            .register(&crate::helpers::unique_email(&format!("payer{i}")))
            .await;
        let token = reg["accessToken"].as_str().unwrap().to_owned();
        let session = start_checkout(app, &token, plan).await;
        pay(sim, &session).await;
        tokens.push(token);
    }
    tokens
}

/// Waits until the inbox holds exactly `ids` and each has been applied.
pub async fn every_event_applied(conn: &sea_orm::DatabaseConnection, ids: &HashSet<String>) {
    use sea_orm::EntityTrait;
    eventually("every event stored once and applied", || async {
        let rows = entity::stripe_events::Entity::find()
            .all(conn)
            .await
            .unwrap();
        let stored: HashSet<String> = rows.iter().map(|r| r.id.clone()).collect();
        (&stored == ids
            && rows
                .iter()
                .all(|r| r.status == EventStatus::Processed || r.status == EventStatus::Ignored))
        .then_some(())
    })
    .await;
}

/// Our `n` subscription rows say what Stripe holds: status, price, period end.
pub async fn assert_subscriptions_match_stripe(
    conn: &sea_orm::DatabaseConnection,
    sim: &Sim,
    n: usize,
) {
    use sea_orm::EntityTrait;
    let ours = entity::subscriptions::Entity::find()
        .all(conn)
        .await
        .unwrap();
    assert_eq!(ours.len(), n);
    for sub in &ours {
        let theirs = sim
            .shared()
            .with(|st| st.render_subscription(&sub.stripe_subscription_id));
        assert_eq!(theirs["status"], sub.status.as_str());
        assert_eq!(
            theirs["items"]["data"][0]["price"]["id"],
            sub.price_id.as_str()
        );
        assert_eq!(
            theirs["items"]["data"][0]["current_period_end"].as_i64(),
            sub.current_period_end.map(|t| t.timestamp())
        );
    }
}

/// Ids of every event the simulator has emitted.
pub fn emitted_ids(sim: &Sim) -> HashSet<String> {
    sim.events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}
