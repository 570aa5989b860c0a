//! Metered limits: `recordUsage` counts in the database, exactly, per period,
//! idempotently, and refuses past the limit without counting.

use chrono::Duration;
use serde_json::{Value, json};

use crate::{
    access::store_from,
    helpers::{
        Db, PlansFile, TestApp, error_code, spawn_another_instance, spawn_app_with, unique_email,
    },
    on_both_databases,
};

on_both_databases!(
    usage_is_counted_within_the_limit_and_refused_past_it,
    concurrent_calls_count_exactly_up_to_the_limit,
    a_repeated_idempotency_key_answers_the_first_result_and_counts_nothing,
    a_new_period_starts_from_zero,
    an_upgrade_raises_the_limit_at_once,
    bad_usage_calls_are_refused_and_change_nothing,
    usage_reports_what_was_counted,
);

mod postgres_two_instances {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_calls_on_two_instances_count_exactly_up_to_the_limit() {
        super::two_instances_count_exactly(crate::helpers::Db::Postgres).await
    }
}

/// `calls`: 5 a month free, 50 a period on pro, unlimited on studio.
pub const PLANS: &str = r#"
[[plans]]
name = "free"
limits = { api_keys = 0, calls = { max = 5, metered = true }, monthly_requests = { max = 1000, metered = true } }

[[plans]]
name = "pro"
features = ["advanced_analytics", "api_access"]
limits = { api_keys = 5, calls = { max = 50, metered = true }, monthly_requests = { max = 100000, metered = true }, billed = { max = 3, metered = true, meter = "api_requests", overage = true } }
prices = { monthly = "price_pro_monthly", yearly = "price_pro_yearly" }

[[plans]]
name = "studio"
features = ["advanced_analytics", "api_access"]
limits = { api_keys = 50, calls = { max = "unlimited", metered = true }, monthly_requests = { max = "unlimited", metered = true } }
prices = { monthly = "price_studio_monthly", yearly = "price_studio_yearly" }
"#;

pub const RECORD: &str = "mutation($l: String!, $a: Int!, $k: String!) { recordUsage(limit: $l, amount: $a, idempotencyKey: $k) { limit used max resetsAt overage } }";

/// A server on [`PLANS`], with the rows cache off (these tests write
/// subscriptions straight into the database).
async fn spawn(db: Db) -> Option<(TestApp, PlansFile)> {
    let plans = PlansFile::new(PLANS);
    let app = spawn_app_with(
        db,
        &[
            ("ENTITLE_PLANS", plans.path()),
            ("ENTITLE_USER_CACHE_TTL_MS", "0"),
        ],
    )
    .await?;
    Some((app, plans))
}

pub async fn record(app: &TestApp, token: &str, limit: &str, amount: i64, key: &str) -> Value {
    app.gql(
        RECORD,
        json!({ "l": limit, "a": amount, "k": key }),
        Some(token),
    )
    .await
}

async fn user(app: &TestApp) -> (String, String) {
    let email = unique_email("meter");
    let reg = app.register(&email).await;
    (email, reg["accessToken"].as_str().unwrap().to_owned())
}

/// Puts the user on `price` for a period that began `started_days` ago and ends in `ends_days`.
async fn subscribe(app: &TestApp, email: &str, price: &str, started_days: i64, ends_days: i64) {
    store_from(
        app,
        email,
        "active",
        price,
        Duration::days(started_days),
        Duration::days(ends_days),
        false,
    )
    .await;
}

/// A plan switch as Stripe makes it: the same subscription and period, another price.
async fn switch_price(app: &TestApp, email: &str, price: &str) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let conn = sea_orm::Database::connect(&app.db_url).await.unwrap();
    let user = entitle::db::users::by_email(&conn, &entitle::domain::Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap();
    entity::subscriptions::Entity::update_many()
        .col_expr(entity::subscriptions::Column::PriceId, Expr::value(price))
        .filter(entity::subscriptions::Column::UserId.eq(user.id))
        .exec(&conn)
        .await
        .unwrap();
    conn.close().await.ok();
}

fn used(body: &Value) -> i64 {
    body["data"]["recordUsage"]["used"]
        .as_i64()
        .unwrap_or_else(|| panic!("{body}"))
}

async fn usage_is_counted_within_the_limit_and_refused_past_it(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (_, token) = user(&app).await;
    let first = record(&app, &token, "calls", 2, "a").await;
    let answer = &first["data"]["recordUsage"];
    assert_eq!(answer["limit"], "calls", "{first}");
    assert_eq!(
        (answer["used"].as_i64(), answer["max"].as_i64()),
        (Some(2), Some(5))
    );
    assert_eq!(answer["overage"], 0);
    assert_eq!(used(&record(&app, &token, "calls", 3, "b").await), 5);
    // One more would pass the limit: refused, and nothing counted.
    let refused = record(&app, &token, "calls", 1, "c").await;
    assert_eq!(error_code(&refused), "LIMIT_EXCEEDED", "{refused}");
    let ext = &refused["errors"][0]["extensions"];
    assert_eq!(
        (&ext["limit"], &ext["used"], &ext["max"]),
        (&json!("calls"), &json!(5), &json!(5)),
        "{refused}"
    );
    assert_eq!(ext["resetsAt"], answer["resetsAt"], "{refused}");
    assert!(refused["data"].is_null(), "{refused}");
    // Not even a partial amount is counted.
    let over = record(&app, &token, "calls", 9, "d").await;
    assert_eq!(error_code(&over), "LIMIT_EXCEEDED");
    assert_eq!(over["errors"][0]["extensions"]["used"], 5);
}

async fn concurrent_calls_count_exactly_up_to_the_limit(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (email, token) = user(&app).await;
    subscribe(&app, &email, "price_pro_monthly", 10, 20).await;
    let results = futures_util::future::join_all((0..64).map(|i| {
        let (app, token) = (&app, &token);
        async move { record(app, token, "calls", 1, &format!("k{i}")).await }
    }))
    .await;
    assert_exact(&results, 50);
}

/// Exactly `max` calls of 1 were counted, each answered with a distinct
/// count, and the rest refused.
fn assert_exact(results: &[Value], max: i64) {
    let mut counts: Vec<i64> = results
        .iter()
        .filter_map(|r| r["data"]["recordUsage"]["used"].as_i64())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=max).collect::<Vec<_>>(), "{results:?}");
    let refused = results
        .iter()
        .filter(|r| r["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED")
        .count();
    assert_eq!(refused as i64, results.len() as i64 - max, "{results:?}");
}

async fn two_instances_count_exactly(db: Db) {
    let Some((first, _plans)) = spawn(db).await else {
        return;
    };
    let plans = PlansFile::new(PLANS);
    let second = spawn_another_instance(
        &first,
        &[
            ("ENTITLE_PLANS", plans.path()),
            ("ENTITLE_USER_CACHE_TTL_MS", "0"),
        ],
    )
    .await;
    let (email, token) = user(&first).await;
    subscribe(&first, &email, "price_pro_monthly", 10, 20).await;
    let results = futures_util::future::join_all((0..64).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let token = token.clone();
        async move { record(app, &token, "calls", 1, &format!("k{i}")).await }
    }))
    .await;
    assert_exact(&results, 50);
}

async fn a_repeated_idempotency_key_answers_the_first_result_and_counts_nothing(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (email, token) = user(&app).await;
    let first = record(&app, &token, "calls", 2, "order-1").await;
    let again = record(&app, &token, "calls", 2, "order-1").await;
    assert_eq!(first, again, "the same answer");
    assert_eq!(
        used(&record(&app, &token, "calls", 1, "order-2").await),
        3,
        "counted once"
    );
    // The same key for another call is a conflict, and counts nothing.
    let other = record(&app, &token, "calls", 1, "order-1").await;
    assert_eq!(error_code(&other), "CONFLICT", "{other}");
    // Keys are per user: another user's `order-1` is theirs.
    let (_, stranger) = user(&app).await;
    assert_eq!(
        used(&record(&app, &stranger, "calls", 1, "order-1").await),
        1
    );
    // A refused call stores nothing: after an upgrade the same key succeeds.
    assert_eq!(used(&record(&app, &token, "calls", 2, "order-3").await), 5);
    let refused = record(&app, &token, "calls", 1, "order-4").await;
    assert_eq!(error_code(&refused), "LIMIT_EXCEEDED");
    subscribe(&app, &email, "price_pro_monthly", 1, 29).await;
    assert_eq!(used(&record(&app, &token, "calls", 1, "order-4").await), 1);
    // Concurrent repeats of one key count once.
    let results =
        futures_util::future::join_all((0..16).map(|_| record(&app, &token, "calls", 1, "burst")))
            .await;
    assert!(results.iter().all(|r| r == &results[0]), "{results:?}");
    assert_eq!(used(&results[0]), 2);
    assert_eq!(
        used(&record(&app, &token, "calls", 1, "after-burst").await),
        3
    );
}

async fn a_new_period_starts_from_zero(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (email, token) = user(&app).await;
    subscribe(&app, &email, "price_pro_monthly", 29, 1).await;
    assert_eq!(
        used(&record(&app, &token, "calls", 50, "old-period").await),
        50
    );
    assert_eq!(
        error_code(&record(&app, &token, "calls", 1, "full").await),
        "LIMIT_EXCEEDED"
    );
    // Stripe renews the subscription: the next period begins as this one ends.
    store_from(
        &app,
        &email,
        "active",
        "price_pro_monthly",
        Duration::zero(),
        Duration::days(30),
        false,
    )
    .await;
    let fresh = record(&app, &token, "calls", 1, "new-period").await;
    assert_eq!(used(&fresh), 1, "{fresh}");
}

async fn an_upgrade_raises_the_limit_at_once(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (email, token) = user(&app).await;
    assert_eq!(used(&record(&app, &token, "calls", 5, "free-5").await), 5);
    assert_eq!(
        error_code(&record(&app, &token, "calls", 1, "free-6").await),
        "LIMIT_EXCEEDED"
    );
    subscribe(&app, &email, "price_pro_monthly", 1, 29).await;
    assert_eq!(used(&record(&app, &token, "calls", 50, "pro-50").await), 50);
    assert_eq!(
        error_code(&record(&app, &token, "calls", 1, "pro-51").await),
        "LIMIT_EXCEEDED"
    );
    // Within the same period, a plan change keeps the count and lifts the limit.
    switch_price(&app, &email, "price_studio_monthly").await;
    let studio = record(&app, &token, "calls", 1, "studio-51").await;
    assert_eq!(used(&studio), 51, "{studio}");
    assert!(studio["data"]["recordUsage"]["max"].is_null(), "unlimited");
}

async fn bad_usage_calls_are_refused_and_change_nothing(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (_, token) = user(&app).await;
    let huge = "k".repeat(10 * 1024);
    let cases: [(&str, i64, &str, &str); 8] = [
        ("no_such_limit", 1, "a", "limit"),
        ("api_keys", 1, "b", "limit"),
        ("calls", 0, "c", "amount"),
        ("calls", -1, "d", "amount"),
        ("calls", 1_000_001, "e", "amount"),
        ("calls", 1 << 40, "f", "amount"),
        ("calls", 1, "", "idempotencyKey"),
        ("calls", 1, &huge, "idempotencyKey"),
    ];
    for (limit, amount, key, field) in cases {
        let body = record(&app, &token, limit, amount, key).await;
        assert_eq!(
            error_code(&body),
            "BAD_USER_INPUT",
            "{limit} {amount}: {body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // Anonymous, and a key of the wrong shape.
    assert_eq!(
        error_code(
            &app.gql(RECORD, json!({"l": "calls", "a": 1, "k": "x"}), None)
                .await
        ),
        "UNAUTHENTICATED"
    );
    let wrong = app
        .gql(
            RECORD,
            json!({"l": "calls", "a": 1, "k": "x"}),
            Some("ent_not-a-key"),
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    // Nothing was counted by any of them.
    assert_eq!(used(&record(&app, &token, "calls", 1, "g").await), 1);
}

async fn usage_reports_what_was_counted(db: Db) {
    let Some((app, _plans)) = spawn(db).await else {
        return;
    };
    let (email, token) = user(&app).await;
    subscribe(&app, &email, "price_pro_monthly", 10, 20).await;
    record(&app, &token, "calls", 7, "u1").await;
    let body = app
        .gql(
            "{ usage { limits { name used limit resetsAt } } }",
            json!({}),
            Some(&token),
        )
        .await;
    let limits = body["data"]["usage"]["limits"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let calls = limits.iter().find(|l| l["name"] == "calls").unwrap();
    assert_eq!(
        (calls["used"].as_i64(), calls["limit"].as_i64()),
        (Some(7), Some(50))
    );
    assert!(calls["resetsAt"].is_string());
    let requests = limits
        .iter()
        .find(|l| l["name"] == "monthly_requests")
        .unwrap();
    assert_eq!(requests["used"], 0);
    let keys = limits.iter().find(|l| l["name"] == "api_keys").unwrap();
    assert!(keys["resetsAt"].is_null(), "a cap has no period");
}
