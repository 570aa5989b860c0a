//! Stripe's order and shape of events (Checkout's incomplete → active, plan swaps), the
//! simulated clock catching up on its own, chaos settings taken when events are emitted, and
//! redirects counted as failed deliveries.

mod common;

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use common::*;
use serde_json::{Value, json};
use stripe_billing::SubscriptionStatus;
use stripe_billing::subscription::{
    RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems,
};
use stripe_core::customer::CreateCustomer;
use stripe_sim::{Catalog, Chaos, Sim, SimConfig};

const DAY: i64 = 86_400;

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_checkout_subscription_is_created_incomplete_then_activated_by_its_paid_invoice() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let before = sim.events().len();
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    let events: Vec<Value> = sim.events().split_off(before);
    let kinds = types(&events);
    let pos = |kind: &str| kinds.iter().position(|k| k == kind).unwrap();
    let created = &events[pos("customer.subscription.created")];
    let paid = &events[pos("invoice.paid")];
    let updated = &events[pos("customer.subscription.updated")];
    assert!(
        pos("customer.subscription.created") < pos("invoice.paid")
            && pos("invoice.paid") < pos("customer.subscription.updated")
            && pos("customer.subscription.updated") < pos("checkout.session.completed"),
        "{kinds:?}"
    );
    assert_eq!(created["data"]["object"]["status"], "incomplete");
    assert_eq!(
        created["data"]["object"]["latest_invoice"], paid["data"]["object"]["id"],
        "created already names the invoice"
    );
    assert_eq!(updated["data"]["object"]["status"], "active");
    assert_eq!(
        updated["data"]["previous_attributes"],
        json!({"status": "incomplete"})
    );
    assert_eq!(updated["data"]["object"]["id"], sub.as_str());
    receiver
        .wait_for("checkout.session.completed", |_| true)
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_checkout_with_a_trial_is_created_trialing_with_a_zero_invoice() {
    let sim = start_sim().await;
    let client = client(&sim);
    subscribe(&sim, &client, "price_pro_monthly", Some(7)).await;
    let events = sim.events();
    let created = events
        .iter()
        .find(|e| e["type"] == "customer.subscription.created")
        .unwrap();
    let paid = events.iter().find(|e| e["type"] == "invoice.paid").unwrap();
    assert_eq!(created["data"]["object"]["status"], "trialing");
    assert_eq!(
        created["data"]["object"]["latest_invoice"],
        paid["data"]["object"]["id"]
    );
    assert_eq!(paid["data"]["object"]["amount_paid"], 0);
    assert!(
        !types(&events).contains(&"customer.subscription.updated".to_string()),
        "no incomplete step for a trial"
    );
    verify_all_events(&sim);
}

async fn swap(client: &stripe::Client, sub: &str, price: &str) {
    let current = RetrieveSubscription::new(sub).send(client).await.unwrap();
    UpdateSubscription::new(sub)
        .items(vec![UpdateSubscriptionItems {
            id: Some(current.items.data[0].id.as_str().to_string()),
            price: Some(price.to_string()),
            ..Default::default()
        }])
        .send(client)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_swap_within_the_interval_keeps_the_period_and_a_swap_across_resets_it() {
    let sim = start_sim().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    sim.advance(Duration::from_secs(10 * DAY as u64)).unwrap();
    let start = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    macro_rules! period {
        ($s:expr) => {
            (
                $s.items.data[0].current_period_start,
                $s.items.data[0].current_period_end,
            )
        };
    }
    macro_rules! invoice_id {
        ($e:expr) => {
            $e.as_ref()
                .and_then(|i| i.id().as_ref().map(|id| id.as_str().to_string()))
        };
    }

    swap(&client, &sub, "price_studio_monthly").await;
    let same = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(period!(same), period!(start), "same interval: same period");
    assert_eq!(
        invoice_id!(same.latest_invoice),
        invoice_id!(start.latest_invoice),
        "no new invoice"
    );

    swap(&client, &sub, "price_studio_yearly").await;
    let yearly = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    let now = sim.shared().with(|st| st.now());
    let (new_start, new_end) = period!(yearly);
    assert!(new_start > period!(start).0 && new_start <= now);
    assert!(new_end >= new_start + 365 * DAY, "a year from now");
    assert_eq!(yearly.billing_cycle_anchor, new_start);
    assert_eq!(yearly.status, SubscriptionStatus::Active);
    let events = sim.events();
    let invoice = events
        .iter()
        .rev()
        .find(|e| e["type"] == "invoice.paid")
        .unwrap();
    assert_eq!(
        invoice["data"]["object"]["billing_reason"],
        "subscription_update"
    );
    // previous_attributes names the old price inside items, not the whole items list.
    let updated = events
        .iter()
        .rev()
        .find(|e| e["type"] == "customer.subscription.updated")
        .unwrap();
    let previous = &updated["data"]["previous_attributes"];
    assert_eq!(
        previous["items"]["data"][0]["price"]["id"],
        "price_studio_monthly"
    );
    assert!(previous["items"].get("url").is_none(), "{previous}");
    verify_all_events(&sim);
}

#[tokio::test]
async fn due_work_is_applied_on_the_next_access_without_an_explicit_advance() {
    let sim = start_sim().await;
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    let first = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    let end = first.items.data[0].current_period_end;
    // Time passes (as the wall clock would) without anyone calling advance.
    let before_now = sim.shared().with(|st| {
        st.clock_offset += 40 * DAY;
        st.clock_offset
    });
    // That very access caught up: the renewal happened at the period end, and the clock
    // was not moved back to it.
    let after = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(after.items.data[0].current_period_start, end);
    assert!(sim.shared().with(|st| st.clock_offset) >= before_now);
    let renewals = sim
        .events()
        .iter()
        .filter(|e| {
            e["type"] == "invoice.paid"
                && e["data"]["object"]["billing_reason"] == "subscription_cycle"
        })
        .count();
    assert_eq!(renewals, 1);
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_advance_past_the_step_cap_stops_and_says_so_and_skips_nothing() {
    let catalog = Catalog::from_toml(
        r#"
        [[products]]
        id = "prod_daily"
        name = "Daily"
        features = ["f"]
        [[products.prices]]
        id = "price_daily"
        unit_amount = 100
        interval = "day"
        "#,
    )
    .unwrap();
    let sim = Sim::start(SimConfig {
        catalog,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = client(&sim);
    let (_, sub) = subscribe(&sim, &client, "price_daily", None).await;
    let start = sim.shared().with(|st| st.now());
    let days = stripe_sim::state::MAX_STEPS as u64 + 500;
    let err = sim
        .advance(Duration::from_secs(days * DAY as u64))
        .unwrap_err();
    assert_eq!(err.status, 400);
    assert!(err.message.contains("Advance again"), "{}", err.message);
    let stopped = sim.shared().with(|st| st.now());
    assert!(
        stopped < start + days as i64 * DAY,
        "the clock stopped early"
    );
    // Going on from there applies the rest: one renewal a day, none skipped.
    sim.advance(Duration::from_secs(0)).unwrap();
    let now = sim
        .advance(Duration::from_secs(
            days * DAY as u64 - (stopped - start) as u64,
        ))
        .unwrap();
    assert!(now >= start + days as i64 * DAY);
    let renewals = sim
        .events()
        .iter()
        .filter(|e| {
            e["type"] == "invoice.paid"
                && e["data"]["object"]["billing_reason"] == "subscription_cycle"
        })
        .count();
    assert_eq!(renewals as u64, days);
    let s = RetrieveSubscription::new(sub.as_str())
        .send(&client)
        .await
        .unwrap();
    assert!(s.items.data[0].current_period_end > now);
}

#[tokio::test]
async fn chaos_applies_as_it_was_when_events_were_emitted_and_unholding_releases() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    // Emitted under `duplicate`: delivered twice even though chaos is off by the time the
    // dispatcher gets to it.
    sim.set_chaos(Chaos {
        duplicate: true,
        ..Chaos::default()
    });
    let c = CreateCustomer::new().send(&client).await.unwrap();
    sim.set_chaos(Chaos::default());
    eventually("the duplicated delivery", || {
        (receiver.received().len() == 2).then_some(())
    })
    .await;
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| r.raw["data"]["object"]["id"] == c.id.as_str())
    );

    // Held, then chaos set to `{}` over HTTP: released without a release call.
    sim.set_chaos(Chaos {
        hold: true,
        ..Chaos::default()
    });
    CreateCustomer::new().send(&client).await.unwrap();
    CreateCustomer::new().send(&client).await.unwrap();
    assert_eq!(receiver.received().len(), 2, "held back");
    control(&sim, "chaos", json!({})).await;
    eventually("the held events", || {
        (receiver.received().len() == 4).then_some(())
    })
    .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_redirect_is_a_failed_delivery_and_is_not_followed() {
    let sim = start_sim().await;
    let target = Receiver::start(&[SECRET]).await;
    let to = target.url.clone();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let to = to.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", to)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sim.add_webhook_endpoint(&url, Some(SECRET));
    CreateCustomer::new().send(&client(&sim)).await.unwrap();
    let attempts = eventually("every attempt", || {
        let d = sim.deliveries();
        (d.len() == fast_retries().max_attempts as usize).then_some(d)
    })
    .await;
    for d in &attempts {
        assert_eq!(d.status, Some(307));
        assert!(!d.succeeded);
    }
    assert!(!attempts.last().unwrap().will_retry);
    assert!(target.received().is_empty(), "the redirect was followed");
    server.abort();
    verify_all_events(&sim);
}
