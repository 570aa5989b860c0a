//! The hosted checkout and portal pages, clicked through with a plain HTTP client as a browser
//! would submit their forms.

mod common;

use common::*;
use stripe_billing::SubscriptionStatus;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::RetrieveSubscription;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, RetrieveCheckoutSession,
};

async fn open_session(sim: &stripe_sim::Sim, client: &stripe::Client) -> (String, String) {
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .client_reference_id("user-1")
        .customer_email("grace@example.com")
        .success_url("http://127.0.0.1:1/done?session_id={CHECKOUT_SESSION_ID}")
        .cancel_url("http://127.0.0.1:1/pricing")
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_pro_monthly".into()),
            quantity: Some(1),
            ..Default::default()
        }])
        .send(client)
        .await
        .unwrap();
    let _ = sim;
    (session.id.as_str().to_string(), session.url.unwrap())
}

#[tokio::test]
async fn paying_on_the_hosted_checkout_page_redirects_to_the_success_url_and_subscribes() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (id, url) = open_session(&sim, &client).await;
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Pro"), "{page}");
    assert!(page.contains(&format!("/checkout/{id}/pay")));

    let paid = http().post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("http://127.0.0.1:1/done?session_id={id}").as_str()
    );
    let session = RetrieveCheckoutSession::new(id.as_str())
        .send(&client)
        .await
        .unwrap();
    let customer = session.customer.expect("a customer was created");
    let completed = receiver
        .wait_for("checkout.session.completed", |_| true)
        .await;
    assert_eq!(
        completed.raw["data"]["object"]["customer"],
        customer.id().as_str()
    );
    assert_eq!(
        completed.raw["data"]["object"]["client_reference_id"],
        "user-1"
    );
    let created = receiver.wait_for("customer.created", |_| true).await;
    assert_eq!(created.raw["data"]["object"]["email"], "grace@example.com");
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}

#[tokio::test]
async fn declining_on_the_hosted_checkout_page_leaves_the_session_open_and_shows_the_error() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (id, url) = open_session(&sim, &client).await;
    let declined = http().post(format!("{url}/decline")).send().await.unwrap();
    assert_eq!(declined.status(), 303);
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Your card was declined."));
    let session = RetrieveCheckoutSession::new(id.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(
        session.status,
        Some(stripe_checkout::CheckoutSessionStatus::Open)
    );
    assert!(session.subscription.is_none());

    // A failing card through the control API answers Stripe's 402 card error.
    sim.fail_next_payments(1);
    let response = http()
        .post(format!(
            "{}/_sim/checkout/sessions/{id}/complete",
            sim.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 402);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "card_declined");
    assert!(sim.events().is_empty(), "a declined checkout emits nothing");
    drop(receiver);
    verify_all_events(&sim);
}

#[tokio::test]
async fn the_hosted_portal_cancels_at_period_end_renews_switches_plan_and_cancels_now() {
    let (sim, receiver) = start_with_receiver().await;
    let client = client(&sim);
    let (customer, sub) = subscribe(&sim, &client, "price_pro_monthly", None).await;
    let portal = CreateBillingPortalSession::new()
        .customer(customer.as_str())
        .return_url("http://127.0.0.1:1/account")
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
    assert!(page.contains("Cancel at period end"), "{page}");

    let act = |fields: Vec<(&'static str, String)>| {
        let url = format!("{}/action", portal.url);
        async move {
            let r = http().post(url).form(&fields).send().await.unwrap();
            assert_eq!(r.status(), 303, "portal action answered {}", r.status());
        }
    };
    let request = RetrieveSubscription::new(sub.as_str());
    let retrieve = || request.send(&client);

    act(vec![
        ("subscription", sub.clone()),
        ("action", "cancel_at_period_end".into()),
    ])
    .await;
    assert!(retrieve().await.unwrap().cancel_at_period_end);

    act(vec![
        ("subscription", sub.clone()),
        ("action", "renew".into()),
    ])
    .await;
    assert!(!retrieve().await.unwrap().cancel_at_period_end);

    act(vec![
        ("subscription", sub.clone()),
        ("action", "switch".into()),
        ("price", "price_studio_yearly".into()),
    ])
    .await;
    assert_eq!(
        retrieve().await.unwrap().items.data[0].price.id.as_str(),
        "price_studio_yearly"
    );
    receiver
        .wait_for("entitlements.active_entitlement_summary.updated", |e| {
            e["data"]["object"]["entitlements"]["data"]
                .as_array()
                .is_some_and(|a| a.len() == 4)
        })
        .await;

    act(vec![
        ("subscription", sub.clone()),
        ("action", "cancel_now".into()),
    ])
    .await;
    assert_eq!(
        retrieve().await.unwrap().status,
        SubscriptionStatus::Canceled
    );
    receiver
        .wait_for("customer.subscription.deleted", |_| true)
        .await;
    receiver.assert_all_verified_and_typed();
    verify_all_events(&sim);
}
