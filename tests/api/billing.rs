//! Checkout, portal and the success-page sync, against stripe-sim over HTTP.

use serde_json::{Value, json};
use stripe_sim::Sim;

use crate::{
    helpers::{Db, TestApp, error_code, spawn_app_with, unique_email},
    on_both_databases,
    sim::{APP, pay, spawn_with_sim},
};

on_both_databases!(
    a_checkout_synced_from_the_success_page_grants_the_plan_at_once,
    concurrent_checkouts_create_one_stripe_customer,
    redirects_off_the_allow_list_and_unknown_plans_are_refused,
    only_the_sessions_own_user_may_sync_it,
    stripe_being_down_or_unconfigured_is_stripe_unavailable,
    a_slow_stripe_is_stripe_unavailable_within_the_timeout,
    a_price_stripe_does_not_know_is_an_internal_error_not_the_users,
    a_user_who_paid_but_never_came_back_cannot_check_out_twice,
);

async fn with_sim(db: Db) -> Option<(TestApp, Sim)> {
    spawn_with_sim(db, false, &[]).await
}

const CHECKOUT: &str = "mutation($plan: String!, $interval: BillingInterval!, $ok: String!, $cancel: String!) { createCheckout(plan: $plan, interval: $interval, successUrl: $ok, cancelUrl: $cancel) { url sessionId } }";

async fn checkout(app: &TestApp, token: &str, plan: &str, ok: &str) -> Value {
    app.gql(
        CHECKOUT,
        json!({ "plan": plan, "interval": "MONTHLY", "ok": ok, "cancel": format!("{APP}/pricing") }),
        Some(token),
    )
    .await
}

const SYNC: &str = "mutation($id: String!) { syncCheckout(sessionId: $id) { id status plan interval grantsAccess } }";

async fn a_checkout_synced_from_the_success_page_grants_the_plan_at_once(db: Db) {
    let Some((app, sim)) = with_sim(db).await else {
        return;
    };
    let reg = app.register(&unique_email("buyer")).await;
    let token = reg["accessToken"].as_str().unwrap();

    let body = checkout(
        &app,
        token,
        "pro",
        &format!("{APP}/welcome?cs={{CHECKOUT_SESSION_ID}}"),
    )
    .await;
    let started = &body["data"]["createCheckout"];
    let session = started["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert!(session.starts_with("cs_"));
    assert!(
        started["url"]
            .as_str()
            .unwrap()
            .starts_with(&sim.base_url())
    );

    // Not paid yet: nothing to sync, still free.
    let early = app.gql(SYNC, json!({ "id": session }), Some(token)).await;
    assert!(early["data"]["syncCheckout"].is_null(), "{early}");
    assert_eq!(
        app.gql("{ entitlements { plan } }", json!({}), Some(token))
            .await["data"]["entitlements"]["plan"],
        "free"
    );

    pay(&sim, session).await;
    let synced = app.gql(SYNC, json!({ "id": session }), Some(token)).await;
    let sub = &synced["data"]["syncCheckout"];
    assert_eq!(sub["plan"], "pro", "{synced}");
    assert_eq!(sub["interval"], "MONTHLY");
    assert_eq!(sub["status"], "TRIALING", "pro has a 14-day trial");
    assert_eq!(sub["grantsAccess"], true);

    let now = app
        .gql(
            "{ entitlements { plan features } subscription { id status } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(now["data"]["entitlements"]["plan"], "pro", "{now}");
    assert_eq!(now["data"]["subscription"]["id"], sub["id"]);
    let key = app
        .gql(
            "mutation { createApiKey(name: \"ci\") { secret } }",
            json!({}),
            Some(token),
        )
        .await;
    assert!(
        key["data"]["createApiKey"]["secret"].is_string(),
        "the guarded field now answers: {key}"
    );

    // A second checkout is refused: the portal changes a subscription.
    let again = checkout(&app, token, "studio", &format!("{APP}/welcome")).await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    let portal = app
        .gql(
            "mutation($r: String!) { createPortal(returnUrl: $r) { url } }",
            json!({ "r": format!("{APP}/account") }),
            Some(token),
        )
        .await;
    let url = portal["data"]["createPortal"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{portal}"));
    assert!(
        url.starts_with(&format!("{}/portal/", sim.base_url())),
        "{url}"
    );

    // Syncing twice changes nothing.
    let twice = app.gql(SYNC, json!({ "id": session }), Some(token)).await;
    assert_eq!(twice["data"]["syncCheckout"], *sub);
}

async fn concurrent_checkouts_create_one_stripe_customer(db: Db) {
    let Some((app, sim)) = with_sim(db).await else {
        return;
    };
    let reg = app.register(&unique_email("racer")).await;
    let token = reg["accessToken"].as_str().unwrap();
    let ok = format!("{APP}/ok");
    let (a, b, c) = tokio::join!(
        checkout(&app, token, "pro", &ok),
        checkout(&app, token, "pro", &ok),
        checkout(&app, token, "studio", &ok)
    );
    for r in [&a, &b, &c] {
        assert!(r["data"]["createCheckout"]["sessionId"].is_string(), "{r}");
    }
    let customers: Vec<Value> = sim
        .events()
        .into_iter()
        .filter(|e| e["type"] == "customer.created")
        .collect();
    assert_eq!(
        customers.len(),
        1,
        "one Stripe customer per user: {customers:?}"
    );
    let customer = &customers[0]["data"]["object"];
    assert_eq!(customer["metadata"]["user_id"], reg["user"]["id"]);
    assert_eq!(customer["email"], reg["user"]["email"]);
}

async fn redirects_off_the_allow_list_and_unknown_plans_are_refused(db: Db) {
    let Some((app, _sim)) = with_sim(db).await else {
        return;
    };
    let reg = app.register(&unique_email("picky")).await;
    let token = reg["accessToken"].as_str().unwrap();
    for (plan, ok, field) in [
        ("pro", "https://evil.example/steal", "successUrl"),
        ("pro", "javascript:alert(1)", "successUrl"),
        ("pro", "http://app.test.evil.example/", "successUrl"),
        ("enterprise", "http://app.test/ok", "plan"),
        ("free", "http://app.test/ok", "interval"),
    ] {
        let body = checkout(&app, token, plan, ok).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{plan} {ok}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // No portal before there is a customer.
    let portal = app
        .gql(
            "mutation { createPortal(returnUrl: \"http://app.test/account\") { url } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(error_code(&portal), "FORBIDDEN", "{portal}");
    // Anonymous callers cannot start a checkout.
    let anonymous = app
        .gql(CHECKOUT, json!({ "plan": "pro", "interval": "MONTHLY", "ok": "http://app.test/ok", "cancel": "http://app.test/" }), None)
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

async fn only_the_sessions_own_user_may_sync_it(db: Db) {
    let Some((app, sim)) = with_sim(db).await else {
        return;
    };
    let buyer = app.register(&unique_email("owner")).await;
    let thief = app.register(&unique_email("thief")).await;
    let body = checkout(
        &app,
        buyer["accessToken"].as_str().unwrap(),
        "pro",
        "http://app.test/ok",
    )
    .await;
    let session = body["data"]["createCheckout"]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    pay(&sim, &session).await;
    let stolen = app
        .gql(
            SYNC,
            json!({ "id": session }),
            thief["accessToken"].as_str(),
        )
        .await;
    assert_eq!(error_code(&stolen), "FORBIDDEN", "{stolen}");
    let thief_now = app
        .gql(
            "{ entitlements { plan } }",
            json!({}),
            thief["accessToken"].as_str(),
        )
        .await;
    assert_eq!(thief_now["data"]["entitlements"]["plan"], "free");
    let unknown = app
        .gql(
            SYNC,
            json!({ "id": "cs_does_not_exist" }),
            thief["accessToken"].as_str(),
        )
        .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT", "{unknown}");
    let malformed = app
        .gql(
            SYNC,
            json!({ "id": "sub_123" }),
            thief["accessToken"].as_str(),
        )
        .await;
    assert_eq!(error_code(&malformed), "BAD_USER_INPUT", "{malformed}");
}

async fn stripe_being_down_or_unconfigured_is_stripe_unavailable(db: Db) {
    // Nothing listens on the discard port: every call fails at once.
    let Some(down) = spawn_app_with(
        db,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_entitle"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9/"),
            ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", APP),
        ],
    )
    .await
    else {
        return;
    };
    let reg = down.register(&unique_email("patient")).await;
    let body = checkout(
        &down,
        reg["accessToken"].as_str().unwrap(),
        "pro",
        "http://app.test/ok",
    )
    .await;
    assert_eq!(error_code(&body), "STRIPE_UNAVAILABLE", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["retryable"], true);
    assert!(
        !body.to_string().contains("127.0.0.1:9"),
        "no transport detail leaks: {body}"
    );

    let Some(unconfigured) = spawn_app_with(db, &[("ENTITLE_ALLOWED_REDIRECT_ORIGINS", APP)]).await
    else {
        return;
    };
    let reg = unconfigured.register(&unique_email("early")).await;
    let body = checkout(
        &unconfigured,
        reg["accessToken"].as_str().unwrap(),
        "pro",
        "http://app.test/ok",
    )
    .await;
    assert_eq!(error_code(&body), "STRIPE_UNAVAILABLE", "{body}");
}

async fn a_price_stripe_does_not_know_is_an_internal_error_not_the_users(db: Db) {
    let dir = std::env::temp_dir().join(format!("entitle-plans-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let plans = dir.join("plans.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plans.toml")).unwrap();
    std::fs::write(
        &plans,
        shipped.replace("price_pro_monthly", "price_retired_long_ago"),
    )
    .unwrap();
    let Some((app, _sim)) =
        spawn_with_sim(db, false, &[("ENTITLE_PLANS", plans.to_str().unwrap())]).await
    else {
        return;
    };
    let reg = app.register(&unique_email("misconfigured")).await;
    let body = checkout(
        &app,
        reg["accessToken"].as_str().unwrap(),
        "pro",
        "http://app.test/ok",
    )
    .await;
    assert_eq!(error_code(&body), "INTERNAL", "{body}");
    assert!(
        !body.to_string().contains("price_retired"),
        "no configuration detail leaks: {body}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

async fn a_slow_stripe_is_stripe_unavailable_within_the_timeout(db: Db) {
    let Some((app, sim)) = spawn_with_sim(db, false, &[("STRIPE_TIMEOUT_SECS", "1")]).await else {
        return;
    };
    sim.set_api_chaos(stripe_sim::ApiChaos {
        latency_ms: 30_000,
        ..Default::default()
    });
    let reg = app.register(&unique_email("slow")).await;
    // The 1 s client timeout answers long before the 30 s Stripe would take.
    let body = checkout(
        &app,
        reg["accessToken"].as_str().unwrap(),
        "pro",
        "http://app.test/ok",
    )
    .await;
    assert_eq!(error_code(&body), "STRIPE_UNAVAILABLE", "{body}");
}

async fn a_user_who_paid_but_never_came_back_cannot_check_out_twice(db: Db) {
    let Some((app, sim)) = with_sim(db).await else {
        return;
    };
    let reg = app.register(&unique_email("wanderer")).await;
    let token = reg["accessToken"].as_str().unwrap();
    let body = checkout(&app, token, "pro", "http://app.test/ok").await;
    let session = body["data"]["createCheckout"]["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    pay(&sim, &session).await;
    // The success page never ran syncCheckout. A second checkout asks Stripe
    // first, finds the subscription, stores it, and refuses.
    let again = checkout(&app, token, "studio", "http://app.test/ok").await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    let now = app
        .gql(
            "{ entitlements { plan } subscription { plan } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(now["data"]["entitlements"]["plan"], "pro", "{now}");
    assert_eq!(now["data"]["subscription"]["plan"], "pro");
}

mod healing {
    use serde_json::json;

    use super::checkout;
    use crate::sim::pay;
    use crate::{
        helpers::{Db, unique_email},
        on_both_databases,
    };

    on_both_databases!(missed_webhooks_are_healed_by_entitle_sync);

    async fn missed_webhooks_are_healed_by_entitle_sync(db: Db) {
        // A short cache TTL: on SQLite the server learns of another
        // process's write only when it expires.
        let Some((app, sim)) =
            crate::sim::spawn_with_sim(db, false, &[("ENTITLE_USER_CACHE_TTL_MS", "2000")]).await
        else {
            return;
        };
        let reg = app.register(&unique_email("healed")).await;
        let token = reg["accessToken"].as_str().unwrap();
        let body = checkout(&app, token, "pro", "http://app.test/ok").await;
        pay(
            &sim,
            body["data"]["createCheckout"]["sessionId"]
                .as_str()
                .unwrap(),
        )
        .await;
        // No webhook endpoint and no success page: Entitle has not heard.
        let before = app
            .gql("{ entitlements { plan } }", json!({}), Some(token))
            .await;
        assert_eq!(before["data"]["entitlements"]["plan"], "free");

        let (url, base) = (app.db_url.clone(), sim.base_url());
        let out = tokio::task::spawn_blocking(move || {
            let env = [
                ("DATABASE_URL", url.as_str()),
                ("STRIPE_SECRET_KEY", "sk_test_entitle"),
                ("STRIPE_API_BASE", base.as_str()),
            ];
            crate::binary::entitle(&["sync", "--all"], &env)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("synced 1 customer(s), 0 failed"),
            "{stdout}"
        );
        // On PostgreSQL the sync's NOTIFY reaches the server at once; a
        // SQLite server learns of another process's write when its rows
        // cache expires (ENTITLE_USER_CACHE_TTL_MS).
        crate::sim::eventually("the healed plan", || async {
            let after = app
                .gql("{ entitlements { plan } }", json!({}), Some(token))
                .await;
            (after["data"]["entitlements"]["plan"] == "pro").then_some(())
        })
        .await;
    }
}
