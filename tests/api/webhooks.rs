//! POST /webhooks/stripe: verification, the inbox, and processing that
//! follows Stripe's state, with stripe-sim delivering real signed events.

use std::time::Duration;

use entitle::db;
use entity::EventStatus;
use sea_orm::Database;
use serde_json::{Value, json};
use stripe_sim::{Chaos, Sim};

use crate::{
    helpers::{Db, TestApp, unique_email},
    on_both_databases,
    sim::{SECRET, eventually, pay, spawn_with_sim, start_checkout},
};

on_both_databases!(
    only_authentic_events_are_stored_and_duplicates_once,
    webhooks_alone_carry_a_checkout_a_cancellation_and_its_end,
    a_failed_renewal_is_past_due_and_keeps_the_plan_for_now,
    duplicated_reordered_deliveries_end_in_stripes_state,
    a_plan_swap_changes_the_features,
    stripes_entitlements_api_can_be_the_source_of_features,
    processing_that_fails_while_stripe_is_down_is_retried_and_converges,
    a_deleted_customer_loses_the_plan,
    an_event_our_typed_client_could_not_parse_is_still_stored_and_handled,
    events_signed_only_with_the_other_secret_of_a_rotation_are_not_lost,
);

async fn with_sim(db: Db, deliver: bool) -> Option<(TestApp, Sim)> {
    spawn_with_sim(db, deliver, &[]).await
}

async fn post_event(app: &TestApp, body: &str, signature: Option<String>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn stored(app: &TestApp, id: &str) -> Option<entity::stripe_events::Model> {
    let conn = Database::connect(&app.db_url).await.unwrap();
    let row = db::stripe_events::by_id(&conn, id).await.unwrap();
    conn.close().await.ok();
    row
}

async fn only_authentic_events_are_stored_and_duplicates_once(db: Db) {
    let Some((app, _sim)) = with_sim(db, false).await else {
        return;
    };
    let event = json!({
        "id": "evt_test_1", "object": "event", "type": "invoice.paid", "created": now(),
        "api_version": stripe_sim::API_VERSION, "livemode": false,
        "data": { "object": { "object": "invoice", "id": "in_1", "customer": "cus_nobody" } }
    })
    .to_string();
    let sign = |body: &str, secret: &str, t: i64| {
        stripe_sim::signature::header(body, &[secret.to_owned()], t)
    };

    let refused = [
        ("no signature", None),
        (
            "another secret",
            Some(sign(&event, "whsec_attacker", now())),
        ),
        ("too old", Some(sign(&event, SECRET, now() - 301))),
        ("garbage header", Some("t=abc,v1=zz".to_owned())),
    ];
    for (why, signature) in refused {
        let (status, body) = post_event(&app, &event, signature).await;
        assert_eq!(status, 400, "{why}: {body}");
    }
    // A tampered body under a valid signature of the original.
    let tampered = event.replace("in_1", "in_2");
    assert_eq!(
        post_event(&app, &tampered, Some(sign(&event, SECRET, now())))
            .await
            .0,
        400
    );
    assert!(
        stored(&app, "evt_test_1").await.is_none(),
        "nothing refused is stored"
    );

    // Signed, but not an event.
    let not_event = r#"{"hello":"world"}"#;
    assert_eq!(
        post_event(&app, not_event, Some(sign(not_event, SECRET, now())))
            .await
            .0,
        400
    );

    // Authentic: stored raw, acknowledged; again: acknowledged as a duplicate.
    let (status, body) = post_event(&app, &event, Some(sign(&event, SECRET, now()))).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, json!(false)),
        "{body}"
    );
    let row = stored(&app, "evt_test_1")
        .await
        .expect("stored before the answer");
    assert_eq!(row.payload, event);
    assert_eq!(row.r#type, "invoice.paid");
    assert_eq!(row.customer_id.as_deref(), Some("cus_nobody"));
    // Signed with the older of the two configured secrets (a rotation) is fine too.
    let (status, body) = post_event(&app, &event, Some(sign(&event, "whsec_old_one", now()))).await;
    assert_eq!(
        (status, body["duplicate"].clone()),
        (200, json!(true)),
        "{body}"
    );
}

async fn state(app: &TestApp, token: &str) -> Value {
    app.gql(
        "{ entitlements { plan } subscription { id status plan cancelAtPeriodEnd grantsAccess } }",
        json!({}),
        Some(token),
    )
    .await["data"]
        .clone()
}

async fn start_paid_checkout(app: &TestApp, sim: &Sim, token: &str, plan: &str) {
    let session = start_checkout(app, token, plan).await;
    pay(sim, &session).await;
}

async fn webhooks_alone_carry_a_checkout_a_cancellation_and_its_end(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    let reg = app.register(&unique_email("hooked")).await;
    let token = reg["accessToken"].as_str().unwrap();
    start_paid_checkout(&app, &sim, token, "pro").await;

    // No syncCheckout: the webhooks alone grant the plan.
    let now = eventually("the checkout's webhooks", || async {
        let s = state(&app, token).await;
        (s["entitlements"]["plan"] == "pro").then_some(s)
    })
    .await;
    let sub_id = now["subscription"]["id"].as_str().unwrap().to_owned();
    let key = app
        .gql(
            "mutation { createApiKey(name: \"ci\") { secret } }",
            json!({}),
            Some(token),
        )
        .await;
    assert!(
        key["data"]["createApiKey"]["secret"].is_string(),
        "the guarded field answers: {key}"
    );

    // The customer cancels at the period end in Stripe (the portal's button).
    let client = stripe::ClientBuilder::new("sk_test_entitle")
        .url(sim.base_url())
        .build()
        .unwrap();
    stripe_billing::subscription::UpdateSubscription::new(sub_id.as_str())
        .cancel_at_period_end(true)
        .send(&client)
        .await
        .unwrap();
    eventually("the cancellation's webhook", || async {
        let s = state(&app, token).await;
        (s["subscription"]["cancelAtPeriodEnd"] == true).then_some(())
    })
    .await;
    assert_eq!(
        state(&app, token).await["entitlements"]["plan"],
        "pro",
        "paid until the period ends"
    );

    // The period ends (the 14-day trial): Stripe deletes the subscription.
    sim.advance(Duration::from_secs(15 * 86_400)).unwrap();
    let after = eventually("the deletion's webhook", || async {
        let s = state(&app, token).await;
        (s["subscription"]["status"] == "CANCELED").then_some(s)
    })
    .await;
    assert_eq!(after["entitlements"]["plan"], "free", "{after}");

    // The audit trail: one row per real change, each naming its event.
    let history = app
        .gql(
            "{ billingHistory { fromStatus toStatus toPlan source eventId } }",
            json!({}),
            Some(token),
        )
        .await;
    let rows = history["data"]["billingHistory"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    let statuses: Vec<(Value, Value)> = rows
        .iter()
        .map(|r| (r["fromStatus"].clone(), r["toStatus"].clone()))
        .collect();
    assert_eq!(
        statuses.first().map(|s| s.0.clone()),
        Some(Value::Null),
        "{history}"
    );
    assert_eq!(
        statuses.last().map(|s| s.1.clone()),
        Some(json!("CANCELED")),
        "{history}"
    );
    assert!(
        statuses.iter().all(|(from, to)| from != to),
        "only real changes: {history}"
    );
    // `last` keeps the newest.
    let newest = app
        .gql(
            "{ billingHistory(last: 1) { toStatus } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(
        newest["data"]["billingHistory"],
        json!([{ "toStatus": "CANCELED" }]),
        "{newest}"
    );
    assert!(
        rows.iter().all(|r| r["source"] == "webhook"
            && r["eventId"].as_str().is_some_and(|e| e.starts_with("evt_"))),
        "{history}"
    );

    // Every delivery was answered 2xx and processed; nothing failed.
    let conn = Database::connect(&app.db_url).await.unwrap();
    use sea_orm::EntityTrait;
    let rows = entity::stripe_events::Entity::find()
        .all(&conn)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r.status != EventStatus::Failed),
        "{:?}",
        rows.iter()
            .map(|r| (&r.r#type, &r.status, &r.last_error))
            .collect::<Vec<_>>()
    );
    assert!(
        sim.deliveries()
            .iter()
            .all(|d| d.status.is_some_and(|s| (200..300).contains(&s))),
        "every delivery acknowledged"
    );
    conn.close().await.ok();
}

async fn a_failed_renewal_is_past_due_and_keeps_the_plan_for_now(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    let reg = app.register(&unique_email("declined")).await;
    let token = reg["accessToken"].as_str().unwrap();
    // studio has no trial: it renews after a month.
    start_paid_checkout(&app, &sim, token, "studio").await;
    eventually("active on studio", || async {
        let s = state(&app, token).await;
        (s["subscription"]["status"] == "ACTIVE").then_some(())
    })
    .await;
    sim.fail_next_payments(1);
    sim.advance(Duration::from_secs(31 * 86_400)).unwrap();
    let s = eventually("past_due", || async {
        let s = state(&app, token).await;
        (s["subscription"]["status"] == "PAST_DUE").then_some(s)
    })
    .await;
    assert_eq!(
        s["entitlements"]["plan"], "studio",
        "the past_due policy keeps the plan for now: {s}"
    );
    assert_eq!(s["subscription"]["grantsAccess"], true);
}

async fn duplicated_reordered_deliveries_end_in_stripes_state(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    sim.set_chaos(Chaos {
        duplicate: true,
        reorder: true,
        concurrent: true,
        ..Chaos::default()
    });
    let reg = app.register(&unique_email("chaos")).await;
    let token = reg["accessToken"].as_str().unwrap();
    start_paid_checkout(&app, &sim, token, "pro").await;
    let s = eventually("the plan despite chaos", || async {
        let s = state(&app, token).await;
        (s["entitlements"]["plan"] == "pro" && s["subscription"]["status"] == "TRIALING")
            .then_some(s)
    })
    .await;
    assert_eq!(s["subscription"]["grantsAccess"], true);
    // Each event id is stored once, however often it was delivered.
    let delivered: Vec<String> = sim
        .deliveries()
        .iter()
        .map(|d| d.event_id.clone())
        .collect();
    let mut unique = delivered.clone();
    unique.sort();
    unique.dedup();
    assert!(delivered.len() > unique.len(), "chaos delivered duplicates");
    let conn = Database::connect(&app.db_url).await.unwrap();
    use sea_orm::EntityTrait;
    let rows = entity::stripe_events::Entity::find()
        .all(&conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), unique.len());
    conn.close().await.ok();
    // However the events arrived, the one real change is recorded once.
    let history = app
        .gql(
            "{ billingHistory { fromStatus toStatus } }",
            json!({}),
            Some(token),
        )
        .await;
    assert_eq!(
        history["data"]["billingHistory"],
        json!([{ "fromStatus": null, "toStatus": "TRIALING" }]),
        "{history}"
    );
}

mod chaos {
    use std::time::Duration;

    use sea_orm::Database;
    use serde_json::json;
    use stripe_sim::Chaos;

    use super::{start_paid_checkout, state, with_sim};
    use crate::sim::eventually;
    use crate::{
        helpers::{Db, unique_email},
        on_both_databases,
    };

    on_both_databases!(two_hundred_events_shuffled_duplicated_and_concurrent_end_in_stripes_state);

    async fn two_hundred_events_shuffled_duplicated_and_concurrent_end_in_stripes_state(db: Db) {
        let Some((app, sim)) = with_sim(db, true).await else {
            return;
        };
        // Hold every event while seven customers subscribe and a year of
        // monthly renewals passes, then let them all loose at once.
        sim.set_chaos(Chaos {
            hold: true,
            ..Chaos::default()
        });
        let mut tokens = Vec::new();
        for i in 0..7 {
            let reg = app.register(&unique_email(&format!("chaos{i}"))).await;
            let token = reg["accessToken"].as_str().unwrap().to_owned();
            start_paid_checkout(&app, &sim, &token, "studio").await;
            tokens.push(token);
        }
        sim.advance(Duration::from_secs(365 * 86_400)).unwrap();
        let emitted_ids = crate::sim::emitted_ids(&sim);
        let emitted = emitted_ids.len();
        assert!(
            emitted >= 200,
            "the scenario emits at least 200 events, got {emitted}"
        );
        sim.set_chaos(Chaos {
            shuffle: true,
            duplicate: true,
            concurrent: true,
            max_in_flight: 16,
            ..Chaos::default()
        });

        // Converges on what Stripe holds: every event stored once, every
        // subscription as in Stripe, each user on studio.
        eventually("every delivery", || async {
            let delivered = sim.deliveries().iter().filter(|d| d.succeeded).count();
            (delivered >= 2 * emitted).then_some(())
        })
        .await;
        let conn = Database::connect(&app.db_url).await.unwrap();
        crate::sim::every_event_applied(&conn, &emitted_ids).await;
        crate::sim::assert_subscriptions_match_stripe(&conn, &sim, 7).await;
        for token in &tokens {
            let s = state(&app, token).await;
            assert_eq!(s["entitlements"]["plan"], "studio", "{s}");
            // Renewals change neither status nor plan: one audit row, however
            // many times and in whatever order the events came.
            let history = app
                .gql("{ billingHistory { toStatus } }", json!({}), Some(token))
                .await;
            assert_eq!(
                history["data"]["billingHistory"],
                json!([{ "toStatus": "ACTIVE" }]),
                "{history}"
            );
        }
        conn.close().await.ok();
    }
}

async fn a_plan_swap_changes_the_features(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    let reg = app.register(&unique_email("swapper")).await;
    let token = reg["accessToken"].as_str().unwrap();
    start_paid_checkout(&app, &sim, token, "studio").await;
    let s = eventually("studio", || async {
        let s = state(&app, token).await;
        (s["subscription"]["status"] == "ACTIVE").then_some(s)
    })
    .await;
    let sub_id = s["subscription"]["id"].as_str().unwrap().to_owned();
    let client = stripe::ClientBuilder::new("sk_test_entitle")
        .url(sim.base_url())
        .build()
        .unwrap();
    let sub = stripe_billing::subscription::RetrieveSubscription::new(sub_id.as_str())
        .send(&client)
        .await
        .unwrap();
    // Down from studio to pro (the portal's "switch plan").
    stripe_billing::subscription::UpdateSubscription::new(sub_id.as_str())
        .items(vec![
            stripe_billing::subscription::UpdateSubscriptionItems {
                id: Some(sub.items.data[0].id.as_str().to_owned()),
                price: Some("price_pro_monthly".into()),
                ..Default::default()
            },
        ])
        .send(&client)
        .await
        .unwrap();
    let features = eventually("the swap's webhook", || async {
        let body = app
            .gql("{ entitlements { plan features } }", json!({}), Some(token))
            .await;
        (body["data"]["entitlements"]["plan"] == "pro").then_some(body)
    })
    .await;
    assert_eq!(
        features["data"]["entitlements"]["features"],
        json!(["advanced_analytics", "api_access"])
    );
    let history = app
        .gql(
            "{ billingHistory { fromPlan toPlan } }",
            json!({}),
            Some(token),
        )
        .await;
    let rows = history["data"]["billingHistory"].as_array().unwrap();
    assert_eq!(
        rows.last().unwrap(),
        &json!({ "fromPlan": "studio", "toPlan": "pro" }),
        "{history}"
    );
}

async fn events_signed_only_with_the_other_secret_of_a_rotation_are_not_lost(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    // Mid-rotation: Stripe signs with the secret we configured first only.
    sim.set_chaos(Chaos {
        extra_secret: Some("whsec_old_one".to_owned()),
        only_extra_secret: true,
        ..Chaos::default()
    });
    let reg = app.register(&unique_email("rotated")).await;
    let token = reg["accessToken"].as_str().unwrap();
    start_paid_checkout(&app, &sim, token, "pro").await;
    eventually("the plan through the other secret", || async {
        let s = state(&app, token).await;
        (s["entitlements"]["plan"] == "pro").then_some(())
    })
    .await;
    assert!(
        sim.deliveries().iter().all(|d| d.succeeded),
        "no delivery was refused"
    );
}

mod live {
    use serde_json::json;

    use super::{start_paid_checkout, with_sim};
    use crate::{
        helpers::{Db, unique_email},
        on_both_databases,
    };

    on_both_databases!(entitlements_changed_reaches_a_websocket_client_after_a_checkout);

    async fn entitlements_changed_reaches_a_websocket_client_after_a_checkout(db: Db) {
        let Some((app, sim)) = with_sim(db, true).await else {
            return;
        };
        push_after_checkout(&app, &app, &sim).await;
    }

    /// Two instances on one PostgreSQL: the webhook reaches the first, the
    /// client listens on the second, and the change crosses over NOTIFY.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entitlements_changed_crosses_instances_on_postgres() {
        let Some((first, sim)) = with_sim(Db::Postgres, true).await else {
            return;
        };
        let base = sim.base_url();
        let second = crate::helpers::spawn_another_instance(
            &first,
            &[
                ("STRIPE_SECRET_KEY", "sk_test_entitle"),
                ("STRIPE_API_BASE", &base),
                ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", crate::sim::APP),
            ],
        )
        .await;
        push_after_checkout(&first, &second, &sim).await;
    }

    async fn push_after_checkout(
        app: &crate::helpers::TestApp,
        listener: &crate::helpers::TestApp,
        sim: &stripe_sim::Sim,
    ) {
        let reg = app.register(&unique_email("live")).await;
        let token = reg["accessToken"].as_str().unwrap();
        let mut ws = crate::ws::subscribe_entitlements(listener, token).await;
        start_paid_checkout(app, sim, token, "pro").await;
        let pushed = crate::ws::next_entitlements(&mut ws, "pro").await;
        assert_eq!(
            pushed,
            json!({ "plan": "pro", "features": ["advanced_analytics", "api_access"] })
        );
    }
}

async fn stripes_entitlements_api_can_be_the_source_of_features(db: Db) {
    let Some((app, sim)) = spawn_with_sim(db, true, &[("ENTITLE_FEATURE_SOURCE", "stripe")]).await
    else {
        return;
    };
    let reg = app.register(&unique_email("entitled")).await;
    let token = reg["accessToken"].as_str().unwrap();
    start_paid_checkout(&app, &sim, token, "studio").await;
    // stripe-sim's studio product carries team_seats, which plans.toml's studio
    // does not: seeing it proves the features came from Stripe.
    let body = eventually("Stripe's entitlements", || async {
        let body = app
            .gql(
                "{ entitlements { plan features limits { name value } } }",
                json!({}),
                Some(token),
            )
            .await;
        let features = body["data"]["entitlements"]["features"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        features.iter().any(|f| f == "team_seats").then_some(body)
    })
    .await;
    let e = &body["data"]["entitlements"];
    assert_eq!(e["plan"], "studio");
    assert_eq!(
        e["features"],
        json!([
            "advanced_analytics",
            "api_access",
            "priority_support",
            "team_seats"
        ]),
        "{body}"
    );
    // Limits still come from plans.toml.
    assert_eq!(e["limits"][0], json!({ "name": "api_keys", "value": 50 }));
    // Guards follow the same features.
    let key = app
        .gql(
            "mutation { createApiKey(name: \"ci\") { secret } }",
            json!({}),
            Some(token),
        )
        .await;
    assert!(key["data"]["createApiKey"]["secret"].is_string(), "{key}");
}

async fn processing_that_fails_while_stripe_is_down_is_retried_and_converges(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    let reg = app.register(&unique_email("patient")).await;
    let token = reg["accessToken"].as_str().unwrap();
    let session = start_checkout(&app, token, "pro").await;
    // From now on Stripe answers 500 to the next reads the worker makes.
    sim.set_api_chaos(stripe_sim::ApiChaos {
        fail_next: 3,
        ..Default::default()
    });
    pay(&sim, &session).await;
    let conn = Database::connect(&app.db_url).await.unwrap();
    use sea_orm::EntityTrait;
    // Some event failed, visibly, with the cause.
    let failed = eventually("a failed attempt", || async {
        let rows = entity::stripe_events::Entity::find()
            .all(&conn)
            .await
            .unwrap();
        rows.into_iter()
            .find(|r| r.status == EventStatus::Failed || (r.attempts > 1 && r.last_error.is_some()))
    })
    .await;
    assert!(failed.last_error.is_some());
    // Then the back-off retry succeeds and the state converges.
    eventually("the retry", || async {
        let s = state(&app, token).await;
        let rows = entity::stripe_events::Entity::find()
            .all(&conn)
            .await
            .unwrap();
        (s["entitlements"]["plan"] == "pro"
            && rows
                .iter()
                .all(|r| r.status == EventStatus::Processed || r.status == EventStatus::Ignored))
        .then_some(())
    })
    .await;
    conn.close().await.ok();
}

async fn a_deleted_customer_loses_the_plan(db: Db) {
    let Some((app, sim)) = with_sim(db, true).await else {
        return;
    };
    let reg = app.register(&unique_email("leaver")).await;
    let token = reg["accessToken"].as_str().unwrap();
    start_paid_checkout(&app, &sim, token, "pro").await;
    eventually("pro", || async {
        (state(&app, token).await["entitlements"]["plan"] == "pro").then_some(())
    })
    .await;
    let conn = Database::connect(&app.db_url).await.unwrap();
    let email = entitle::domain::Email::parse(reg["user"]["email"].as_str().unwrap()).unwrap();
    let customer = db::users::by_email(&conn, &email)
        .await
        .unwrap()
        .unwrap()
        .stripe_customer_id
        .unwrap();
    let client = stripe::ClientBuilder::new("sk_test_entitle")
        .url(sim.base_url())
        .build()
        .unwrap();
    stripe_core::customer::DeleteCustomer::new(customer.as_str())
        .send(&client)
        .await
        .unwrap();
    let s = eventually("the deletion", || async {
        let s = state(&app, token).await;
        (s["subscription"]["status"] == "CANCELED").then_some(s)
    })
    .await;
    assert_eq!(s["entitlements"]["plan"], "free", "{s}");
    let history = app
        .gql("{ billingHistory { toStatus } }", json!({}), Some(token))
        .await;
    let last = history["data"]["billingHistory"]
        .as_array()
        .unwrap()
        .last()
        .cloned();
    assert_eq!(last, Some(json!({ "toStatus": "CANCELED" })), "{history}");
    conn.close().await.ok();
}

async fn an_event_our_typed_client_could_not_parse_is_still_stored_and_handled(db: Db) {
    // No deliveries from the simulator: the one event below is all we hear.
    let Some((app, sim)) = with_sim(db, false).await else {
        return;
    };
    let reg = app.register(&unique_email("partial")).await;
    let token = reg["accessToken"].as_str().unwrap();
    let session = start_checkout(&app, token, "pro").await;
    pay(&sim, &session).await;
    assert_eq!(state(&app, token).await["entitlements"]["plan"], "free");
    let conn = Database::connect(&app.db_url).await.unwrap();
    let email = entitle::domain::Email::parse(reg["user"]["email"].as_str().unwrap()).unwrap();
    let customer = db::users::by_email(&conn, &email)
        .await
        .unwrap()
        .unwrap()
        .stripe_customer_id
        .unwrap();
    conn.close().await.ok();

    // A subscription object missing nearly every field async-stripe requires,
    // from an API version it does not know.
    let event = json!({
        "id": "evt_partial", "object": "event", "type": "customer.subscription.updated",
        "created": now(), "api_version": "2099-01-01.future", "livemode": false,
        "data": { "object": { "object": "subscription", "customer": customer } }
    })
    .to_string();
    let sig = stripe_sim::signature::header(&event, &[SECRET.to_owned()], now());
    let (status, _) = post_event(&app, &event, Some(sig)).await;
    assert_eq!(status, 200);
    let row = eventually("processing", || async {
        stored(&app, "evt_partial")
            .await
            .filter(|r| r.status == EventStatus::Processed)
    })
    .await;
    assert_eq!(
        row.customer_id.as_deref(),
        Some(customer.as_str()),
        "read from the raw JSON"
    );
    // Handled: the customer was re-read from Stripe, and the plan applies.
    assert_eq!(state(&app, token).await["entitlements"]["plan"], "pro");
}
