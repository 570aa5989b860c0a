//! Events and their delivery: every webhook the simulator sends is checked by a receiver with
//! async-stripe's own `Webhook::construct_event` (signature, tolerance and typed parsing).

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use stripe_billing::SubscriptionStatus;
use stripe_billing::subscription::{
    CreateSubscription, CreateSubscriptionItems, RetrieveSubscription, UpdateSubscription,
};
use stripe_core::customer::{CreateCustomer, UpdateCustomer};
use stripe_sim::Chaos;

const DAY: Duration = Duration::from_secs(86_400);

async fn status(client: &stripe::Client, sub: &str) -> SubscriptionStatus {
    RetrieveSubscription::new(sub)
        .send(client)
        .await
        .unwrap()
        .status
}

#[tokio::test]
async fn a_paid_checkout_sends_every_stripe_event_signed_and_parseable_by_async_stripe() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;

    let completed = receiver
        .wait_for("checkout.session.completed", |_| true)
        .await;
    let invoice = receiver.wait_for("invoice.paid", |_| true).await;
    receiver.wait_for("customer.created", |_| true).await;
    receiver
        .wait_for("customer.subscription.created", |_| true)
        .await;
    let summary = receiver
        .wait_for("entitlements.active_entitlement_summary.updated", |_| true)
        .await;
    receiver.assert_all_verified_and_typed();

    let envelope = &completed.raw;
    assert_eq!(envelope["object"], "event");
    assert_eq!(envelope["api_version"], stripe_sim::API_VERSION);
    assert_eq!(envelope["livemode"], false);
    assert_eq!(envelope["pending_webhooks"], 1);
    assert!(envelope["created"].is_i64());
    assert!(
        envelope["request"]["id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(envelope["data"]["object"]["subscription"], sub.as_str());
    assert_eq!(
        invoice.raw["data"]["object"]["parent"]["subscription_details"]["subscription"],
        sub.as_str()
    );
    assert_eq!(summary.raw["data"]["object"]["customer"], customer.as_str());
    assert_eq!(
        summary.raw["data"]["object"]["entitlements"]["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        summary.raw["data"]["previous_attributes"]["entitlements"]["data"],
        json!([])
    );
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_customer_update_event_carries_previous_attributes() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let c = CreateCustomer::new()
        .email("old@example.com")
        .send(&client)
        .await
        .unwrap();
    UpdateCustomer::new(c.id.clone())
        .email("new@example.com")
        .send(&client)
        .await
        .unwrap();
    let updated = receiver.wait_for("customer.updated", |_| true).await;
    assert_eq!(updated.raw["data"]["object"]["email"], "new@example.com");
    assert_eq!(
        updated.raw["data"]["previous_attributes"],
        json!({"email": "old@example.com"})
    );
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_renewal_moves_the_item_period_forward_and_sends_invoice_paid() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    let before = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    let old_end = before.items.data[0].current_period_end;

    sim.advance(32 * DAY).unwrap();

    let after = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(after.status, SubscriptionStatus::Active);
    assert_eq!(after.items.data[0].current_period_start, old_end);
    assert!(after.items.data[0].current_period_end > old_end + 27 * 86_400);
    let renewal = receiver
        .wait_for("invoice.paid", |e| {
            e["data"]["object"]["billing_reason"] == "subscription_cycle"
        })
        .await;
    assert_eq!(renewal.raw["created"], old_end);
    // The invoice itself covers the period that ended; its line pays for the new one.
    let invoice = &renewal.raw["data"]["object"];
    assert_eq!(
        invoice["period_start"],
        before.items.data[0].current_period_start
    );
    assert_eq!(invoice["period_end"], old_end);
    assert_eq!(invoice["lines"]["data"][0]["period"]["start"], old_end);
    assert_eq!(
        invoice["lines"]["data"][0]["period"]["end"],
        after.items.data[0].current_period_end
    );
    let updated = receiver
        .wait_for("customer.subscription.updated", |e| e["created"] == old_end)
        .await;
    // Only the changed nested keys: the items' data (their periods), not the whole list.
    let previous = &updated.raw["data"]["previous_attributes"];
    assert_eq!(
        previous["items"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["data"],
        "{previous}"
    );
    assert_eq!(
        previous["latest_invoice"],
        json!(
            before
                .latest_invoice
                .as_ref()
                .unwrap()
                .id()
                .as_ref()
                .unwrap()
                .as_str()
        )
    );
    // Stripe's order: the subscription moves to the new period, then the invoice is paid.
    let renewal_events: Vec<String> = sim
        .events()
        .iter()
        .filter(|e| e["created"] == old_end)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        renewal_events[..2],
        ["customer.subscription.updated", "invoice.paid"],
        "{renewal_events:?}"
    );
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_declined_renewal_goes_past_due_and_is_canceled_when_every_retry_fails() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    control(
        &sim,
        &format!("customers/{customer}/card"),
        json!({"declines": true}),
    )
    .await;

    sim.advance(31 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::PastDue);
    receiver.wait_for("invoice.payment_failed", |_| true).await;

    sim.advance(20 * DAY).unwrap();
    let canceled = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    let deleted = receiver
        .wait_for("customer.subscription.deleted", |_| true)
        .await;
    assert_eq!(
        deleted.raw["data"]["object"]["cancellation_details"]["reason"],
        "payment_failed"
    );
    let failures = receiver
        .received()
        .into_iter()
        .filter(|r| r.kind == "invoice.payment_failed")
        .count();
    assert_eq!(failures, 4, "the first attempt and three retries");
    receiver
        .wait_for("entitlements.active_entitlement_summary.updated", |e| {
            e["data"]["object"]["entitlements"]["data"] == json!([])
        })
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn with_final_failure_set_to_unpaid_the_retries_end_in_unpaid() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    control(
        &sim,
        "settings",
        json!({"final_failure": "unpaid", "retry_schedule_days": [1, 2]}),
    )
    .await;
    control(
        &sim,
        &format!("customers/{customer}/card"),
        json!({"declines": true}),
    )
    .await;
    sim.advance(40 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Unpaid);
    receiver
        .wait_for("customer.subscription.updated", |e| {
            e["data"]["object"]["status"] == "unpaid"
        })
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_successful_retry_brings_a_past_due_subscription_back_to_active() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    sim.fail_next_payments(1);
    sim.advance(31 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::PastDue);
    sim.advance(3 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Active);
    let paid = receiver
        .wait_for("invoice.paid", |e| {
            e["data"]["object"]["attempt_count"] == 2
        })
        .await;
    assert_eq!(paid.raw["data"]["object"]["status"], "paid");
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn cancel_at_period_end_ends_the_subscription_when_the_period_ends() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_yearly", None).await;
    UpdateSubscription::new(sub.as_str())
        .cancel_at_period_end(true)
        .send(&client)
        .await
        .unwrap();
    let scheduled = receiver
        .wait_for("customer.subscription.updated", |e| {
            e["data"]["previous_attributes"]["cancel_at_period_end"] == false
        })
        .await;
    assert_eq!(
        scheduled.raw["data"]["object"]["cancel_at_period_end"],
        true
    );
    sim.advance(200 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Active);
    sim.advance(200 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Canceled);
    receiver
        .wait_for("customer.subscription.deleted", |_| true)
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_trial_warns_three_days_before_its_end_and_then_charges() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", Some(7)).await;
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Trialing);
    sim.advance(5 * DAY).unwrap();
    receiver
        .wait_for("customer.subscription.trial_will_end", |_| true)
        .await;
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Trialing);
    sim.advance(3 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Active);
    receiver
        .wait_for("invoice.paid", |e| {
            e["data"]["object"]["amount_paid"] == 1200
        })
        .await;
    receiver
        .wait_for("customer.subscription.updated", |e| {
            e["data"]["previous_attributes"]["status"] == "trialing"
        })
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn pausing_and_resuming_send_paused_and_resumed_events() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    control(&sim, &format!("subscriptions/{sub}/pause"), json!({})).await;
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Paused);
    receiver
        .wait_for("customer.subscription.paused", |_| true)
        .await;
    let resumed = stripe_billing::subscription::ResumeSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(resumed.status, SubscriptionStatus::Active);
    receiver
        .wait_for("customer.subscription.resumed", |_| true)
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn all_eight_subscription_statuses_are_reachable() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let mut seen = std::collections::BTreeSet::new();

    let (_, trial) = subscribe(&sim, &client, "price_pro_monthly", Some(30)).await;
    seen.insert(status(&client, &trial).await.as_str().to_string());

    let (_, active) = subscribe(&sim, &client, "price_pro_yearly", None).await;
    seen.insert(status(&client, &active).await.as_str().to_string());
    control(&sim, &format!("subscriptions/{active}/pause"), json!({})).await;
    seen.insert(status(&client, &active).await.as_str().to_string());

    let (_, canceled) = subscribe(&sim, &client, "price_studio_monthly", None).await;
    stripe_billing::subscription::CancelSubscription::new(canceled.as_str())
        .send(&client)
        .await
        .unwrap();
    seen.insert(status(&client, &canceled).await.as_str().to_string());

    let (late_payer, past_due) = subscribe(&sim, &client, "price_studio_monthly", None).await;
    control(&sim, "settings", json!({"final_failure": "unpaid"})).await;
    control(
        &sim,
        &format!("customers/{late_payer}/card"),
        json!({"declines": true}),
    )
    .await;

    let customer = CreateCustomer::new().send(&client).await.unwrap();
    sim.fail_next_payments(1);
    let incomplete = CreateSubscription::new()
        .customer(customer.id.as_str())
        .items(vec![CreateSubscriptionItems {
            price: Some("price_pro_monthly".into()),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    seen.insert(incomplete.status.as_str().to_string());
    receiver
        .wait_for("invoice.payment_failed", |e| {
            e["data"]["object"]["billing_reason"] == "subscription_create"
        })
        .await;

    sim.advance(DAY).unwrap();
    seen.insert(
        status(&client, incomplete.id.as_str())
            .await
            .as_str()
            .to_string(),
    );

    sim.advance(31 * DAY).unwrap();
    seen.insert(status(&client, &past_due).await.as_str().to_string());
    sim.advance(20 * DAY).unwrap();
    seen.insert(status(&client, &past_due).await.as_str().to_string());

    let expected: std::collections::BTreeSet<String> = stripe_sim::Status::ALL
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    assert_eq!(seen, expected);
    receiver
        .wait_for("customer.subscription.updated", |e| {
            e["data"]["object"]["status"] == "incomplete_expired"
        })
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_delivery_answered_with_500_is_retried_until_it_gets_a_2xx() {
    let (sim, receiver) = start_with_receiver().await;
    receiver.fail_next(2);
    CreateCustomer::new().send(&client(&sim)).await.unwrap();
    let deliveries = eventually("three attempts", || {
        let d = sim.deliveries();
        (d.len() == 3).then_some(d)
    })
    .await;
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.attempt, d.status, d.succeeded))
            .collect::<Vec<_>>(),
        vec![
            (1, Some(500), false),
            (2, Some(500), false),
            (3, Some(200), true)
        ]
    );
    assert!(deliveries[0].will_retry);
    let ids: Vec<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the same event each time"
    );
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_delivery_that_never_succeeds_stops_after_the_configured_attempts() {
    let (sim, receiver) = start_with_receiver().await;
    receiver.fail_next(100);
    CreateCustomer::new().send(&client(&sim)).await.unwrap();
    let deliveries = eventually("the last attempt", || {
        let d = sim.deliveries();
        d.iter().any(|d| !d.will_retry).then_some(d)
    })
    .await;
    assert_eq!(deliveries.len(), fast_retries().max_attempts as usize);
    assert!(deliveries.iter().all(|d| !d.succeeded));
    verify_all_events(&sim);
}

#[tokio::test]
async fn chaos_duplicate_delivers_each_event_twice_with_the_same_id() {
    let (sim, receiver) = start_with_receiver().await;
    sim.set_chaos(Chaos {
        duplicate: true,
        ..Chaos::default()
    });
    CreateCustomer::new().send(&client(&sim)).await.unwrap();
    let both = eventually("two deliveries", || {
        let r = receiver.received();
        (r.len() == 2).then_some(r)
    })
    .await;
    assert_eq!(both[0].id, both[1].id);
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn chaos_reorder_delivers_the_events_of_an_action_in_reverse_order() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let customer = CreateCustomer::new().send(&client).await.unwrap();
    receiver.wait_for("customer.created", |_| true).await;
    sim.set_chaos(Chaos {
        reorder: true,
        ..Chaos::default()
    });
    let sub = CreateSubscription::new()
        .customer(customer.id.as_str())
        .items(vec![CreateSubscriptionItems {
            price: Some("price_pro_monthly".into()),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    let kinds = eventually("the batch", || {
        let k = receiver.kinds();
        (k.len() == 4).then_some(k)
    })
    .await;
    assert_eq!(
        kinds,
        vec![
            "customer.created",
            "entitlements.active_entitlement_summary.updated",
            "invoice.paid",
            "customer.subscription.created",
        ]
    );
    let emitted: Vec<String> = sim
        .events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        emitted[1], "customer.subscription.created",
        "emitted in order"
    );
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn chaos_concurrent_and_delayed_delivery_still_delivers_every_event() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let customer = CreateCustomer::new().send(&client).await.unwrap();
    receiver.wait_for("customer.created", |_| true).await;
    sim.set_chaos(Chaos {
        concurrent: true,
        delay_ms: 40,
        ..Chaos::default()
    });
    let before = sim.events().len();
    CreateSubscription::new()
        .customer(customer.id.as_str())
        .items(vec![CreateSubscriptionItems {
            price: Some("price_pro_monthly".into()),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    let emitted = sim.events().len() - before;
    assert!(emitted >= 3, "one action, several events");
    let expected = sim.events().len();
    eventually("every event delivered and recorded", || {
        (receiver.received().len() == expected && sim.deliveries().len() == expected).then_some(())
    })
    .await;
    let batch: Vec<_> = sim
        .deliveries()
        .into_iter()
        .filter(|d| d.event_type != "customer.created")
        .collect();
    assert_eq!(batch.len(), emitted);
    for d in &batch {
        // delay_ms: each request went out at least that long after its job began.
        assert!(
            d.started_ms - d.scheduled_ms >= 40,
            "no delay before {}: {d:?}",
            d.event_type
        );
        assert!(d.at_ms >= d.started_ms);
    }
    // concurrent: every job of the batch had begun before the first of them finished, so they
    // were all under way at once (one after the other, each would begin after the previous
    // one's answer, which itself comes at least delay_ms after that job began).
    let last_begun = batch.iter().map(|d| d.scheduled_ms).max().unwrap();
    let first_done = batch.iter().map(|d| d.at_ms).min().unwrap();
    assert!(
        last_begun < first_done,
        "deliveries did not overlap: {batch:#?}"
    );
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn during_a_secret_rotation_each_delivery_is_signed_with_both_secrets() {
    let (sim, receiver) = start_with_receiver().await;
    let new_secret = "whsec_rotated_secret";
    let rotated = Receiver::start(&[new_secret]).await;
    sim.add_webhook_endpoint(&rotated.url, Some(SECRET));
    sim.set_chaos(Chaos {
        extra_secret: Some(new_secret.into()),
        ..Chaos::default()
    });
    CreateCustomer::new().send(&client(&sim)).await.unwrap();
    let old = receiver.wait_for("customer.created", |_| true).await;
    let new = rotated.wait_for("customer.created", |_| true).await;
    assert_eq!(old.signature.matches("v1=").count(), 2);
    assert_eq!(old.verified_by, Ok(0));
    assert_eq!(new.verified_by, Ok(0), "the new secret alone verifies too");
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_receiver_with_a_stale_secret_rejects_deliveries_signed_only_with_the_new_one() {
    let (sim, receiver) = start_with_receiver().await;
    sim.set_chaos(Chaos {
        extra_secret: Some("whsec_unknown_to_receiver".into()),
        only_extra_secret: true,
        ..Chaos::default()
    });
    CreateCustomer::new().send(&client(&sim)).await.unwrap();
    let r = receiver.wait_for("customer.created", |_| true).await;
    assert!(
        matches!(r.verified_by, Err(ref e) if e.contains("BadSignature")),
        "{:?}",
        r.verified_by
    );
    let first = eventually("a failed delivery", || sim.deliveries().first().cloned()).await;
    assert_eq!(first.status, Some(400));
    verify_all_events(&sim);
}

#[tokio::test]
async fn the_control_api_lists_events_and_deliveries_with_their_outcomes() {
    let (sim, receiver) = start_with_receiver().await;
    let c = CreateCustomer::new().send(&client(&sim)).await.unwrap();
    receiver.wait_for("customer.created", |_| true).await;
    let http = http();
    let deliveries: Value = http
        .get(format!(
            "{}/_sim/deliveries?type=customer.created",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &deliveries["data"][0];
    assert_eq!(first["status"], 200);
    assert_eq!(first["succeeded"], true);
    assert_eq!(first["url"], receiver.url.as_str());
    let events: Value = http
        .get(format!("{}/_sim/events", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["data"][0]["data"]["object"]["id"], c.id.as_str());
    // Resending delivers the same event again.
    let id = events["data"][0]["id"].as_str().unwrap().to_string();
    control(&sim, &format!("events/{id}/resend"), json!({})).await;
    eventually("the resend", || {
        (receiver.received().len() == 2).then_some(())
    })
    .await;
    assert_eq!(receiver.received()[1].id, id);
    verify_all_events(&sim);
}

#[tokio::test]
async fn held_events_are_delivered_on_release_shuffled_duplicated_and_in_parallel() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    sim.set_chaos(Chaos {
        hold: true,
        ..Chaos::default()
    });
    for _ in 0..3 {
        subscribe(&sim, &client, "price_pro_monthly", None).await;
    }
    let emitted = sim.events().len();
    assert!(emitted >= 12);
    assert!(receiver.received().is_empty(), "held back");
    assert!(sim.deliveries().is_empty());

    sim.set_chaos(Chaos {
        shuffle: true,
        duplicate: true,
        concurrent: true,
        max_in_flight: 4,
        ..Chaos::default()
    });
    sim.release_held();
    let received = eventually("every event twice", || {
        let r = receiver.received();
        (r.len() == 2 * emitted).then_some(r)
    })
    .await;
    let mut ids: Vec<&str> = received.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), emitted, "each event exactly twice");
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn deleting_a_customer_cancels_its_subscriptions_and_expiring_a_session_is_reported() {
    use stripe_checkout::checkout_session::{
        CreateCheckoutSession, CreateCheckoutSessionLineItems, ExpireCheckoutSession,
    };
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    let open = CreateCheckoutSession::new()
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
    ExpireCheckoutSession::new(open.id.clone())
        .send(&client)
        .await
        .unwrap();
    stripe_core::customer::DeleteCustomer::new(customer.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Canceled);
    receiver
        .wait_for("checkout.session.expired", |_| true)
        .await;
    receiver
        .wait_for("customer.subscription.deleted", |_| true)
        .await;
    let deleted = receiver.wait_for("customer.deleted", |_| true).await;
    assert_eq!(deleted.raw["data"]["object"]["id"], customer.as_str());
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_unpaid_checkout_session_expires_after_a_day_of_simulated_time() {
    use stripe_checkout::checkout_session::{
        CreateCheckoutSession, CreateCheckoutSessionLineItems, RetrieveCheckoutSession,
    };
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let session = CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_pro_monthly".into()),
            quantity: Some(1),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    sim.advance(Duration::from_secs(23 * 3600)).unwrap();
    let still_open = RetrieveCheckoutSession::new(session.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(
        still_open.status,
        Some(stripe_checkout::CheckoutSessionStatus::Open)
    );
    sim.advance(Duration::from_secs(3600)).unwrap();
    let expired = receiver
        .wait_for("checkout.session.expired", |_| true)
        .await;
    assert_eq!(expired.raw["data"]["object"]["id"], session.id.as_str());
    assert_eq!(expired.raw["created"], session.expires_at);
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_renewal_that_needs_authentication_is_paid_on_the_hosted_invoice_page() {
    use stripe_billing::invoice::RetrieveInvoice;
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    control(&sim, "payments/require_action", json!({"count": 1})).await;
    sim.advance(31 * DAY).unwrap();
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::PastDue);
    let action = receiver
        .wait_for("invoice.payment_action_required", |_| true)
        .await;
    let invoice_id = action.raw["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = action.raw["data"]["object"]["hosted_invoice_url"]
        .as_str()
        .unwrap()
        .to_string();
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Pay (authenticate)"), "{page}");
    let paid = http().post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Active);
    let invoice = RetrieveInvoice::new(invoice_id.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(invoice.status, Some(stripe_billing::InvoiceStatus::Paid));
    receiver
        .wait_for("invoice.paid", |e| {
            e["data"]["object"]["id"] == invoice_id.as_str()
        })
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn paying_the_open_invoice_of_an_unpaid_subscription_through_the_api_reactivates_it() {
    use stripe_billing::invoice::PayInvoice;
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    control(&sim, "settings", json!({"final_failure": "unpaid"})).await;
    control(
        &sim,
        &format!("customers/{customer}/card"),
        json!({"declines": true}),
    )
    .await;
    sim.advance(60 * DAY).unwrap();
    let unpaid = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(unpaid.status, SubscriptionStatus::Unpaid);
    let invoice = unpaid.latest_invoice.unwrap().id().clone().unwrap();
    let declined = PayInvoice::new(invoice.clone())
        .send(&client)
        .await
        .unwrap_err();
    assert!(matches!(declined, stripe::StripeError::Stripe(_, 402)));

    control(
        &sim,
        &format!("customers/{customer}/card"),
        json!({"declines": false}),
    )
    .await;
    let paid = PayInvoice::new(invoice.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(paid.status, Some(stripe_billing::InvoiceStatus::Paid));
    assert_eq!(status(&client, &sub).await, SubscriptionStatus::Active);
    receiver
        .wait_for("customer.subscription.updated", |e| {
            e["data"]["object"]["status"] == "active"
                && e["data"]["previous_attributes"]["status"] == "unpaid"
        })
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}
