//! What stored subscriptions grant, read at request time. The rows are written
//! as the billing sync writes them; the clock decides the rest.

use chrono::{Duration, Utc};
use entitle::{db, domain::Email};
use sea_orm::Database;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{Db, TestApp, spawn_app, unique_email},
    on_both_databases,
};

on_both_databases!(stored_subscriptions_grant_their_plan_while_the_rules_allow);

const QUERY: &str = "{ subscription { id status plan interval cancelAtPeriodEnd grantsAccess } entitlements { plan features } }";

async fn store(
    app: &TestApp,
    email: &str,
    status: &str,
    price: &str,
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
            status: status.into(),
            price_id: price.into(),
            current_period_start: Some(now - Duration::days(30)),
            current_period_end: Some(now + period_end),
            trial_end: None,
            cancel_at_period_end: cancel,
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
    let Some(app) = spawn_app(db).await else {
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

    // A failed renewal keeps the plan until the period ends (the default policy).
    store(
        &app,
        &email,
        "past_due",
        "price_pro_yearly",
        Duration::days(3),
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
