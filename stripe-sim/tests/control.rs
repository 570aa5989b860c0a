//! The control API under `/_sim` over HTTP, route by route, plus the portal's resume action
//! and list paging with `starting_after`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use stripe_billing::SubscriptionStatus;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, RetrieveCheckoutSession,
};
use stripe_core::customer::CreateCustomer;
use stripe_sim::Sim;

async fn raw_post(sim: &Sim, path: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/_sim/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn open_session(client: &stripe::Client) -> String {
    let customer = CreateCustomer::new().send(client).await.unwrap();
    CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Subscription)
        .customer(customer.id.as_str())
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_pro_monthly".into()),
            quantity: Some(1),
            ..Default::default()
        }])
        .send(client)
        .await
        .unwrap()
        .id
        .as_str()
        .to_string()
}

#[tokio::test]
async fn health_answers_ok() {
    let sim = start_sim().await;
    let health: Value = http()
        .get(format!("{}/_sim/health", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"ok": true}));
}

#[tokio::test]
async fn failing_a_checkout_keeps_it_open_with_an_error_and_emits_nothing() {
    let sim = start_sim().await;
    let client = client(&sim);
    let id = open_session(&client).await;
    let before = sim.events().len();
    let failed = control(&sim, &format!("checkout/sessions/{id}/fail"), json!({})).await;
    assert_eq!(failed["status"], "open");
    assert_eq!(sim.events().len(), before, "a decline emits nothing");
    let session = RetrieveCheckoutSession::new(id.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(
        session.status,
        Some(stripe_checkout::CheckoutSessionStatus::Open)
    );
    // It can still be paid; a completed one cannot fail any more.
    control(&sim, &format!("checkout/sessions/{id}/complete"), json!({})).await;
    let (status, err) = raw_post(&sim, &format!("checkout/sessions/{id}/fail"), json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["type"], "invalid_request_error");
    let (status, _) = raw_post(&sim, "checkout/sessions/cs_test_nope/fail", json!({})).await;
    assert_eq!(status, 404);
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_endpoint_added_through_the_control_api_uses_its_secret_and_event_filter() {
    let sim = start_sim().await;
    let receiver = Receiver::start(&["whsec_chosen"]).await;
    let added = control(
        &sim,
        "webhook_endpoints",
        json!({"url": receiver.url, "secret": "whsec_chosen",
               "enabled_events": ["customer.updated"]}),
    )
    .await;
    assert_eq!(added["secret"], "whsec_chosen");
    assert_eq!(added["enabled_events"], json!(["customer.updated"]));
    let client = client(&sim);
    let c = CreateCustomer::new().send(&client).await.unwrap();
    stripe_core::customer::UpdateCustomer::new(c.id.as_str())
        .email("x@example.com")
        .send(&client)
        .await
        .unwrap();
    receiver.wait_for("customer.updated", |_| true).await;
    assert_eq!(receiver.kinds(), vec!["customer.updated"], "filtered");
    receiver.assert_all_verified_and_typed();
    let (status, err) = raw_post(&sim, "webhook_endpoints", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["param"], "url");
    verify_all_events(&sim);
}

#[tokio::test]
async fn rolling_a_secret_signs_with_both_until_the_old_one_is_dropped() {
    let sim = start_sim().await;
    let old_only = Receiver::start(&[SECRET]).await;
    let added = control(
        &sim,
        "webhook_endpoints",
        json!({"url": old_only.url, "secret": SECRET}),
    )
    .await;
    let endpoint = added["id"].as_str().unwrap().to_string();
    let rolled = control(
        &sim,
        &format!("webhook_endpoints/{endpoint}/roll_secret"),
        json!({"secret": "whsec_new"}),
    )
    .await;
    assert_eq!(rolled["active_secrets"], 2);
    let client = client(&sim);
    CreateCustomer::new().send(&client).await.unwrap();
    let during = old_only.wait_for("customer.created", |_| true).await;
    assert_eq!(during.signature.matches("v1=").count(), 2);
    assert_eq!(during.verified_by, Ok(0), "the old secret still verifies");
    let payload = during.raw.to_string();
    assert!(
        stripe_webhook::Webhook::construct_event(&payload, &during.signature, "whsec_new").is_ok(),
        "the new secret verifies the same delivery"
    );
    // The roll completes: only the new secret signs, the stale receiver rejects.
    control(
        &sim,
        &format!("webhook_endpoints/{endpoint}/roll_secret"),
        json!({"secret": "whsec_newer", "keep_old": false}),
    )
    .await;
    CreateCustomer::new().send(&client).await.unwrap();
    let after = eventually("the second delivery", || {
        old_only.received().get(1).cloned()
    })
    .await;
    assert_eq!(after.signature.matches("v1=").count(), 1);
    assert!(after.verified_by.is_err());
    let (status, _) = raw_post(&sim, "webhook_endpoints/we_nope/roll_secret", json!({})).await;
    assert_eq!(status, 404);
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_paused_subscription_resumes_through_the_control_api_and_the_portal() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    let status = || async {
        RetrieveSubscription::new(sub.as_str())
            .send(&client)
            .await
            .unwrap()
            .status
    };

    control(&sim, &format!("subscriptions/{sub}/pause"), json!({})).await;
    assert_eq!(status().await, SubscriptionStatus::Paused);
    let resumed = control(&sim, &format!("subscriptions/{sub}/resume"), json!({})).await;
    assert_eq!(resumed["status"], "active");
    receiver
        .wait_for("customer.subscription.resumed", |_| true)
        .await;
    let (code, _) = raw_post(&sim, &format!("subscriptions/{sub}/resume"), json!({})).await;
    assert_eq!(code, 400, "not paused any more");

    // The portal's resume button.
    control(&sim, &format!("subscriptions/{sub}/pause"), json!({})).await;
    let portal = CreateBillingPortalSession::new()
        .customer(customer.as_str())
        .send(&client)
        .await
        .unwrap();
    let page = http()
        .get(&portal.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("resume"), "{page}");
    let r = http()
        .post(format!("{}/action", portal.url))
        .form(&[("subscription", sub.as_str()), ("action", "resume")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(status().await, SubscriptionStatus::Active);
    let resumes = sim
        .events()
        .iter()
        .filter(|e| e["type"] == "customer.subscription.resumed")
        .count();
    assert_eq!(resumes, 2);
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn api_chaos_fails_the_next_requests_and_adds_latency() {
    let sim = start_sim().await;
    let client = client(&sim);
    let set = control(
        &sim,
        "api/chaos",
        json!({"fail_next": 2, "fail_status": 503}),
    )
    .await;
    assert_eq!(set["fail_next"], 2);
    for _ in 0..2 {
        let r = http()
            .post(format!("{}/v1/customers", sim.base_url()))
            .bearer_auth("sk_test_chaos")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["stripe-should-retry"], "true");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["type"], "api_error");
    }
    assert!(
        sim.events().is_empty(),
        "an injected failure changes nothing"
    );
    CreateCustomer::new().send(&client).await.unwrap();

    control(&sim, "api/chaos", json!({"latency_ms": 5_000})).await;
    let current: Value = http()
        .get(format!("{}/_sim/api/chaos", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["latency_ms"], 5_000);
    // The behaviour a client sees when Stripe is slow: its own timeout fires.
    let impatient = stripe::ClientBuilder::new("sk_test_impatient")
        .url(sim.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let slow = CreateCustomer::new().send(&impatient).await;
    assert!(slow.is_err(), "a 5 s answer must trip a 200 ms timeout");
    control(&sim, "api/chaos", json!({})).await;
    CreateCustomer::new()
        .send(&impatient)
        .await
        .expect("fast again once latency is off");
    verify_all_events(&sim);
}

#[tokio::test]
async fn fail_next_declines_the_next_payment_only() {
    let sim = start_sim().await;
    let client = client(&sim);
    let set = control(&sim, "payments/fail_next", json!({"count": 1})).await;
    assert_eq!(set["fail_next_payments"], 1);
    let id = open_session(&client).await;
    let (status, err) =
        raw_post(&sim, &format!("checkout/sessions/{id}/complete"), json!({})).await;
    assert_eq!(status, 402);
    assert_eq!(err["error"]["code"], "card_declined");
    let done = control(&sim, &format!("checkout/sessions/{id}/complete"), json!({})).await;
    assert_eq!(done["status"], "complete");
    verify_all_events(&sim);
}

#[tokio::test]
async fn release_delivers_held_events_while_hold_stays_on() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    control(&sim, "chaos", json!({"hold": true})).await;
    CreateCustomer::new().send(&client).await.unwrap();
    assert!(receiver.received().is_empty());
    let released = control(&sim, "deliveries/release", json!({})).await;
    assert_eq!(released["released"], true);
    receiver.wait_for("customer.created", |_| true).await;
    // Still holding what comes next.
    CreateCustomer::new().send(&client).await.unwrap();
    control(&sim, "deliveries/release", json!({})).await;
    eventually("the second release", || {
        (receiver.received().len() == 2).then_some(())
    })
    .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn lists_page_with_starting_after() {
    let sim = start_sim().await;
    let client = client(&sim);
    let (customer, first) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    // Two more subscriptions for the same customer.
    let mut subs = vec![first];
    for _ in 0..2 {
        let session = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .customer(customer.as_str())
            .line_items(vec![CreateCheckoutSessionLineItems {
                price: Some("price_studio_monthly".into()),
                quantity: Some(1),
                ..Default::default()
            }])
            .send(&client)
            .await
            .unwrap();
        let done = control(
            &sim,
            &format!("checkout/sessions/{}/complete", session.id.as_str()),
            json!({}),
        )
        .await;
        subs.push(done["subscription"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut list = ListSubscription::new()
            .customer(customer.as_str())
            .status(ListSubscriptionStatus::All)
            .limit(2);
        if let Some(a) = &after {
            list = list.starting_after(a.as_str());
        }
        let page = list.send(&client).await.unwrap();
        seen.extend(page.data.iter().map(|s| s.id.as_str().to_string()));
        after = page.data.last().map(|s| s.id.as_str().to_string());
        if !page.has_more {
            break;
        }
        assert!(seen.len() < 10, "paging does not end");
    }
    subs.reverse();
    assert_eq!(seen, subs, "newest first, each once");

    // Events page the same way.
    let all: Value = http()
        .get(format!("{}/v1/events?limit=100", sim.base_url()))
        .bearer_auth("sk_test_page")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let second: Value = http()
        .get(format!(
            "{}/v1/events?limit=3&starting_after={}",
            sim.base_url(),
            ids[2]
        ))
        .bearer_auth("sk_test_page")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Vec<&str> = second["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, ids[3..6]);
    assert_eq!(second["has_more"], ids.len() > 6);
    verify_all_events(&sim);
}
