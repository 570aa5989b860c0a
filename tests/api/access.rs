//! What stored subscriptions grant, read at request time. The rows are written
//! as the billing sync writes them; the clock decides the rest.

use chrono::{Duration, Utc};
use entitle::{db, domain::Email};
use sea_orm::Database;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{Db, TestApp, spawn_app_with, unique_email},
    on_both_databases,
};

on_both_databases!(
    stored_subscriptions_grant_their_plan_while_the_rules_allow,
    a_guarded_field_refuses_a_plan_without_its_feature,
    api_keys_are_capped_by_the_plan_and_shown_once,
    api_keys_are_stored_hashed_and_the_cap_holds_under_concurrency,
    a_failing_renewal_keeps_the_plan_for_a_bounded_time,
    usage_needs_advanced_analytics_and_counts_api_keys,
);

/// These tests write subscription rows straight into the database, behind the
/// server's back, so the rows cache (kept fresh by billing's change feed) is off.
pub(crate) const UNCACHED: &[(&str, &str)] = &[("ENTITLE_USER_CACHE_TTL_MS", "0")];

const QUERY: &str = "{ subscription { id status plan interval cancelAtPeriodEnd grantsAccess } entitlements { plan features } }";

pub(crate) async fn store(
    app: &TestApp,
    email: &str,
    status: &str,
    price: &str,
    period_end: Duration,
    cancel: bool,
) {
    store_from(
        app,
        email,
        status,
        price,
        Duration::days(30),
        period_end,
        cancel,
    )
    .await
}

/// Stores a subscription whose current period started `started_ago` and ends in `period_end`.
pub(crate) async fn store_from(
    app: &TestApp,
    email: &str,
    status: &str,
    price: &str,
    started_ago: Duration,
    period_end: Duration,
    cancel: bool,
) {
    let conn = Database::connect(&app.db_url).await.unwrap();
    let user = db::users::by_email(&conn, &Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let now = Utc::now();
    db::subscriptions::upsert(
        &conn,
        entity::subscriptions::Model {
            id: Uuid::new_v4(),
            user_id: user.id,
            stripe_subscription_id: format!("sub_{}", user.pid.simple()),
            stripe_customer_id: "cus_test".into(),
            status: entity::SubscriptionStatus::from_stripe(status).expect("a Stripe status"),
            price_id: price.into(),
            current_period_start: Some(now - started_ago),
            current_period_end: Some(now + period_end),
            trial_end: None,
            cancel_at_period_end: cancel,
            cancel_at: None,
            canceled_at: None,
            created_at: now,
            updated_at: now,
            synced_at: now,
        },
    )
    .await
    .unwrap();
    conn.close().await.ok();
}

async fn read(app: &TestApp, token: &str) -> Value {
    let body = app.gql(QUERY, json!({}), Some(token)).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

async fn stored_subscriptions_grant_their_plan_while_the_rules_allow(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let email = unique_email("sub");
    let reg = app.register(&email).await;
    let token = reg["accessToken"].as_str().unwrap();

    let data = read(&app, token).await;
    assert!(data["subscription"].is_null());
    assert_eq!(data["entitlements"]["plan"], "free");

    // Active on pro: the plan's features.
    store(
        &app,
        &email,
        "active",
        "price_pro_yearly",
        Duration::days(300),
        false,
    )
    .await;
    let data = read(&app, token).await;
    assert_eq!(data["subscription"]["status"], "ACTIVE", "{data}");
    assert_eq!(data["subscription"]["plan"], "pro");
    assert_eq!(data["subscription"]["interval"], "YEARLY");
    assert_eq!(data["subscription"]["grantsAccess"], true);
    assert_eq!(data["entitlements"]["plan"], "pro");
    assert_eq!(
        data["entitlements"]["features"],
        json!(["advanced_analytics", "api_access"])
    );

    // A failed renewal two days into the period keeps the plan for now (the
    // default policy gives up to 14 days, see the next test for the cap).
    store_from(
        &app,
        &email,
        "past_due",
        "price_pro_yearly",
        Duration::days(2),
        Duration::days(28),
        false,
    )
    .await;
    assert_eq!(read(&app, token).await["entitlements"]["plan"], "pro");

    // Cancelled at a period end that has just passed: free, with no webhook needed.
    store(
        &app,
        &email,
        "active",
        "price_pro_yearly",
        Duration::seconds(-1),
        true,
    )
    .await;
    let data = read(&app, token).await;
    assert_eq!(data["entitlements"]["plan"], "free", "{data}");
    assert_eq!(data["subscription"]["grantsAccess"], false);
    assert_eq!(data["subscription"]["cancelAtPeriodEnd"], true);

    // Canceled, unpaid and paused grant nothing even inside the period.
    for status in ["canceled", "unpaid", "paused", "incomplete"] {
        store(
            &app,
            &email,
            status,
            "price_studio_monthly",
            Duration::days(10),
            false,
        )
        .await;
        let data = read(&app, token).await;
        assert_eq!(data["entitlements"]["plan"], "free", "{status}: {data}");
    }
    // A price that is not in plans.toml grants nothing either.
    store(
        &app,
        &email,
        "active",
        "price_retired",
        Duration::days(10),
        false,
    )
    .await;
    let data = read(&app, token).await;
    assert_eq!(data["entitlements"]["plan"], "free", "{data}");
    assert_eq!(data["subscription"]["plan"], "unknown");

    // Another user sees none of it.
    let other = app.register(&unique_email("other")).await;
    let data = read(&app, other["accessToken"].as_str().unwrap()).await;
    assert!(data["subscription"].is_null());
}

const CREATE: &str = "mutation($n: String!) { createApiKey(name: $n) { secret apiKey { id name prefix createdAt } } }";

async fn create_key(app: &TestApp, token: &str, name: &str) -> Value {
    app.gql(CREATE, json!({ "n": name }), Some(token)).await
}

async fn a_guarded_field_refuses_a_plan_without_its_feature(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let anonymous = app.gql(CREATE, json!({ "n": "ci" }), None).await;
    assert_eq!(
        crate::helpers::error_code(&anonymous),
        "UNAUTHENTICATED",
        "{anonymous}"
    );

    let reg = app.register(&unique_email("freeloader")).await;
    let body = create_key(&app, reg["accessToken"].as_str().unwrap(), "ci").await;
    let err = &body["errors"][0];
    assert_eq!(err["extensions"]["code"], "ENTITLEMENT_REQUIRED", "{body}");
    assert_eq!(err["extensions"]["feature"], "api_access");
    assert_eq!(err["extensions"]["plans"], json!(["pro", "studio"]));
    assert_eq!(err["path"], json!(["createApiKey"]));
    assert!(body["data"].is_null(), "{body}");
}

async fn api_keys_are_stored_hashed_and_the_cap_holds_under_concurrency(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let email = unique_email("burst");
    let reg = app.register(&email).await;
    let token = reg["accessToken"].as_str().unwrap();
    store(
        &app,
        &email,
        "active",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;
    // Ten at once against a cap of five: five keys, five clean refusals.
    let results = futures_util::future::join_all((0..10).map(|i| {
        let app = &app;
        async move { create_key(app, token, &format!("k{i}")).await }
    }))
    .await;
    let mut secrets = Vec::new();
    for r in &results {
        match r["data"]["createApiKey"]["secret"].as_str() {
            Some(s) => secrets.push(s.to_owned()),
            None => assert_eq!(
                r["errors"][0]["extensions"]["code"], "ENTITLEMENT_REQUIRED",
                "{r}"
            ),
        }
    }
    assert_eq!(secrets.len(), 5, "{results:?}");
    // Only the SHA-256 of each key is stored, never the key.
    let conn = Database::connect(&app.db_url).await.unwrap();
    let user = db::users::by_email(&conn, &Email::parse(&email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let rows = db::api_keys::active_of(&conn, user.id).await.unwrap();
    assert_eq!(rows.len(), 5);
    for secret in &secrets {
        let row = rows
            .iter()
            .find(|r| r.key_hash == entitle::auth::opaque::hash(secret));
        assert!(row.is_some(), "the hash of each key is stored");
    }
    assert!(
        rows.iter()
            .all(|r| !secrets.contains(&r.key_hash) && r.prefix.len() == 12)
    );
    conn.close().await.ok();
}

async fn api_keys_are_capped_by_the_plan_and_shown_once(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let email = unique_email("builder");
    let reg = app.register(&email).await;
    let token = reg["accessToken"].as_str().unwrap();
    store(
        &app,
        &email,
        "active",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;

    // pro allows 5 keys.
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = create_key(&app, token, &format!("key {i}")).await;
        let created = &body["data"]["createApiKey"];
        let secret = created["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"));
        assert!(secret.starts_with("ent_") && secret.len() > 40, "{secret}");
        assert_eq!(created["apiKey"]["prefix"].as_str().unwrap(), &secret[..12]);
        ids.push(created["apiKey"]["id"].as_str().unwrap().to_owned());
    }
    let sixth = create_key(&app, token, "one too many").await;
    let ext = &sixth["errors"][0]["extensions"];
    assert_eq!(ext["code"], "ENTITLEMENT_REQUIRED", "{sixth}");
    assert_eq!(ext["limit"], "api_keys");
    assert_eq!(ext["max"], 5);
    assert_eq!(ext["plans"], json!(["studio"]));

    // The list never shows a secret.
    let list = app
        .gql("{ apiKeys { id name prefix } }", json!({}), Some(token))
        .await;
    let keys = list["data"]["apiKeys"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(keys.len(), 5);
    assert!(!list.to_string().contains("secret"));

    // Someone else cannot revoke my key; I can, and that frees a slot.
    let other = app.register(&unique_email("intruder")).await;
    let revoke = "mutation($id: ID!) { revokeApiKey(id: $id) }";
    let theirs = app
        .gql(
            revoke,
            json!({ "id": ids[0] }),
            other["accessToken"].as_str(),
        )
        .await;
    assert_eq!(theirs["data"]["revokeApiKey"], false, "{theirs}");
    let mine = app.gql(revoke, json!({ "id": ids[0] }), Some(token)).await;
    assert_eq!(mine["data"]["revokeApiKey"], true, "{mine}");
    let again = app.gql(revoke, json!({ "id": ids[0] }), Some(token)).await;
    assert_eq!(again["data"]["revokeApiKey"], false);
    assert!(create_key(&app, token, "replacement").await["data"]["createApiKey"].is_object());

    // After the subscription lapses, creating is refused, but listing and revoking still work.
    store(
        &app,
        &email,
        "canceled",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;
    let refused = create_key(&app, token, "late").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "ENTITLEMENT_REQUIRED",
        "{refused}"
    );
    let list = app.gql("{ apiKeys { id } }", json!({}), Some(token)).await;
    assert_eq!(list["data"]["apiKeys"].as_array().unwrap().len(), 5);
    let mine = app.gql(revoke, json!({ "id": ids[1] }), Some(token)).await;
    assert_eq!(mine["data"]["revokeApiKey"], true);
}

async fn a_failing_renewal_keeps_the_plan_for_a_bounded_time(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let email = unique_email("late-payer");
    let reg = app.register(&email).await;
    let token = reg["accessToken"].as_str().unwrap();
    // Stripe moved the period forward and the renewal failed: the period
    // started 30 days ago (see `store`), which is past the 14-day cap.
    store(
        &app,
        &email,
        "past_due",
        "price_pro_monthly",
        Duration::days(300),
        false,
    )
    .await;
    let data = read(&app, token).await;
    assert_eq!(
        data["entitlements"]["plan"], "free",
        "an unpaid period is not given away: {data}"
    );
    assert_eq!(data["subscription"]["status"], "PAST_DUE");
    assert_eq!(data["subscription"]["grantsAccess"], false);
}

async fn usage_needs_advanced_analytics_and_counts_api_keys(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let email = unique_email("analyst");
    let reg = app.register(&email).await;
    let token = reg["accessToken"].as_str().unwrap();
    let q = "{ usage { periodEnd limits { name used limit } } }";
    let refused = app.gql(q, json!({}), Some(token)).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "ENTITLEMENT_REQUIRED",
        "{refused}"
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["feature"],
        "advanced_analytics"
    );

    store(
        &app,
        &email,
        "active",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;
    create_key(&app, token, "one").await;
    create_key(&app, token, "two").await;
    let body = app.gql(q, json!({}), Some(token)).await;
    assert_eq!(
        body["data"]["usage"]["limits"],
        json!([
            { "name": "api_keys", "used": 2, "limit": 5 },
            // Metered: counted by recordUsage, none yet this period.
            { "name": "monthly_requests", "used": 0, "limit": 100000 }
        ]),
        "{body}"
    );
    assert!(body["data"]["usage"]["periodEnd"].is_string());
}
