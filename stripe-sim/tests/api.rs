//! Every `/v1` route driven with async-stripe, the client Entitle uses: if the wire format were
//! off, its strict parser would fail these tests.

mod common;

use common::*;
use serde_json::{Value, json};
use stripe::{RequestStrategy, StripeError, StripeRequest};
use stripe_billing::SubscriptionStatus;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
    UpdateSubscription, UpdateSubscriptionItems,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionMode, CheckoutSessionStatus};
use stripe_core::customer::{
    CreateCustomer, DeleteCustomer, RetrieveCustomer, RetrieveCustomerReturned, UpdateCustomer,
};
use stripe_misc::entitlements_active_entitlement::ListEntitlementsActiveEntitlement;
use stripe_misc::webhook_endpoint::{
    CreateWebhookEndpoint, CreateWebhookEndpointEnabledEvents, DeleteWebhookEndpoint,
    ListWebhookEndpoint, RetrieveWebhookEndpoint,
};

fn stripe_error(e: StripeError) -> (u16, stripe::ApiErrors) {
    match e {
        StripeError::Stripe(err, status) => (status, *err),
        other => panic!("expected a Stripe error object, got {other:?}"),
    }
}

#[tokio::test]
async fn customers_are_created_read_updated_and_deleted_through_async_stripe() {
    let sim = start_sim().await;
    let client = client(&sim);
    let created = CreateCustomer::new()
        .email("ada@example.com")
        .name("Ada")
        .metadata([("user_id".to_string(), "42".to_string())])
        .send(&client)
        .await
        .unwrap();
    assert!(created.id.as_str().starts_with("cus_"));
    assert_eq!(created.email.as_deref(), Some("ada@example.com"));
    assert_eq!(created.metadata.as_ref().unwrap()["user_id"], "42");

    let updated = UpdateCustomer::new(created.id.clone())
        .email("lovelace@example.com")
        .metadata([("plan".to_string(), "pro".to_string())])
        .send(&client)
        .await
        .unwrap();
    assert_eq!(updated.email.as_deref(), Some("lovelace@example.com"));
    let metadata = updated.metadata.unwrap();
    assert_eq!(metadata["user_id"], "42", "metadata updates merge");
    assert_eq!(metadata["plan"], "pro");

    match RetrieveCustomer::new(created.id.clone())
        .send(&client)
        .await
        .unwrap()
    {
        RetrieveCustomerReturned::Customer(c) => {
            assert_eq!(c.email.as_deref(), Some("lovelace@example.com"))
        }
        RetrieveCustomerReturned::DeletedCustomer(_) => panic!("not deleted yet"),
    }
    let deleted = DeleteCustomer::new(created.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(deleted.id, created.id);
    assert!(matches!(
        RetrieveCustomer::new(created.id.clone())
            .send(&client)
            .await
            .unwrap(),
        RetrieveCustomerReturned::DeletedCustomer(_)
    ));
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_unknown_customer_is_a_404_resource_missing_error_object() {
    let sim = start_sim().await;
    let err = RetrieveCustomer::new("cus_nope")
        .send(&client(&sim))
        .await
        .unwrap_err();
    let (status, err) = stripe_error(err);
    assert_eq!(status, 404);
    assert_eq!(
        err.code.as_ref().map(|c| c.as_str()),
        Some("resource_missing")
    );
    assert_eq!(err.message.as_deref(), Some("No such customer: 'cus_nope'"));
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_request_without_a_test_secret_key_is_refused_with_401() {
    let sim = start_sim().await;
    for key in ["pk_test_123", "sk_live_123"] {
        let bad = stripe::ClientBuilder::new(key)
            .url(sim.base_url())
            .build()
            .unwrap();
        let (status, err) = stripe_error(CreateCustomer::new().send(&bad).await.unwrap_err());
        assert_eq!(status, 401, "{key}");
        assert_eq!(err.type_, stripe::ApiErrorsType::InvalidRequestError);
    }
    let response = http()
        .get(format!("{}/v1/customers/cus_x", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );
    verify_all_events(&sim);
}

#[tokio::test]
async fn the_same_idempotency_key_and_params_replay_the_first_response() {
    let sim = start_sim().await;
    let client = client(&sim);
    let key = || RequestStrategy::Idempotent("create-ada-1".to_string().try_into().unwrap());
    let first = CreateCustomer::new()
        .email("ada@example.com")
        .customize()
        .request_strategy(key())
        .send(&client)
        .await
        .unwrap();
    let second = CreateCustomer::new()
        .email("ada@example.com")
        .customize()
        .request_strategy(key())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(first.id, second.id, "a replay returns the same customer");
    let created: Vec<Value> = sim
        .events()
        .into_iter()
        .filter(|e| e["type"] == "customer.created")
        .collect();
    assert_eq!(
        created.len(),
        1,
        "the replay did not create a second customer"
    );
    assert_eq!(created[0]["request"]["idempotency_key"], "create-ada-1");
    verify_all_events(&sim);
}

#[tokio::test]
async fn the_same_idempotency_key_with_other_params_is_an_idempotency_error() {
    let sim = start_sim().await;
    let client = client(&sim);
    let key = || RequestStrategy::Idempotent("create-x".to_string().try_into().unwrap());
    CreateCustomer::new()
        .email("a@example.com")
        .customize()
        .request_strategy(key())
        .send(&client)
        .await
        .unwrap();
    let err = CreateCustomer::new()
        .email("b@example.com")
        .customize()
        .request_strategy(key())
        .send(&client)
        .await
        .unwrap_err();
    let (status, err) = stripe_error(err);
    assert_eq!(status, 400);
    assert_eq!(err.type_, stripe::ApiErrorsType::IdempotencyError);
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_subscription_checkout_session_carries_every_parameter_and_a_hosted_url() {
    let sim = start_sim().await;
    let client = client(&sim);
    let customer = CreateCustomer::new().send(&client).await.unwrap();
    let mut data = CreateCheckoutSessionSubscriptionData::new();
    data.trial_period_days = Some(14);
    data.metadata = Some([("user_id".to_string(), "7".to_string())].into());
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer.id.as_str())
        .client_reference_id("user-7")
        .success_url("http://127.0.0.1:1/ok?cs={CHECKOUT_SESSION_ID}")
        .cancel_url("http://127.0.0.1:1/cancel")
        .allow_promotion_codes(true)
        .metadata([("user_id".to_string(), "7".to_string())])
        .subscription_data(data)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_studio_yearly".into()),
            quantity: Some(2),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    assert_eq!(session.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(session.client_reference_id.as_deref(), Some("user-7"));
    assert_eq!(session.allow_promotion_codes, Some(true));
    assert_eq!(session.amount_total, Some(2 * 49_000));
    let url = session.url.clone().expect("a hosted page url");
    assert!(url.starts_with(&sim.base_url()), "{url}");

    let completed = control(
        &sim,
        &format!("checkout/sessions/{}/complete", session.id.as_str()),
        json!({}),
    )
    .await;
    assert_eq!(completed["status"], "complete");

    let fetched = RetrieveCheckoutSession::new(session.id.clone())
        .expand(vec!["subscription".to_string()])
        .send(&client)
        .await
        .unwrap();
    assert_eq!(fetched.status, Some(CheckoutSessionStatus::Complete));
    let sub = match fetched.subscription.unwrap() {
        stripe_types::Expandable::Object(sub) => sub,
        stripe_types::Expandable::Id(id) => panic!("not expanded: {id}"),
    };
    assert_eq!(sub.status, SubscriptionStatus::Trialing);
    assert_eq!(
        sub.metadata["user_id"], "7",
        "subscription_data[metadata] lands on the subscription"
    );
    assert_eq!(sub.items.data[0].quantity, Some(2));
    let trial_end = sub.trial_end.unwrap();
    assert_eq!(sub.items.data[0].current_period_end, trial_end);
    assert_eq!(
        trial_end - sub.items.data[0].current_period_start,
        14 * 86_400
    );
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_checkout_session_for_an_unknown_price_names_the_parameter() {
    let sim = start_sim().await;
    let err = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_nope".into()),
            quantity: Some(1),
            ..Default::default()
        }])
        .send(&client(&sim))
        .await
        .unwrap_err();
    let (status, err) = stripe_error(err);
    assert_eq!(status, 404);
    assert_eq!(err.param.as_deref(), Some("line_items[0][price]"));
    assert_eq!(
        err.code.as_ref().map(|c| c.as_str()),
        Some("resource_missing")
    );
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_billing_portal_session_points_at_the_hosted_portal() {
    let sim = start_sim().await;
    let client = client(&sim);
    let customer = CreateCustomer::new().send(&client).await.unwrap();
    let portal = CreateBillingPortalSession::new()
        .customer(customer.id.as_str())
        .return_url("http://127.0.0.1:1/account")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(portal.customer, customer.id.as_str());
    assert_eq!(
        portal.return_url.as_deref(),
        Some("http://127.0.0.1:1/account")
    );
    assert!(
        portal
            .url
            .starts_with(&format!("{}/portal/", sim.base_url()))
    );
    let page = http().get(&portal.url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    verify_all_events(&sim);
}

#[tokio::test]
async fn subscriptions_are_read_listed_swapped_scheduled_to_cancel_and_deleted() {
    let sim = start_sim().await;
    let client = client(&sim);
    let (customer, sub_id) = subscribe(&sim, &client, "price_pro_monthly", None).await;

    let sub = RetrieveSubscription::new(sub_id.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    let item = &sub.items.data[0];
    assert_eq!(item.price.id.as_str(), "price_pro_monthly");
    assert!(item.current_period_end > item.current_period_start);

    let swapped = UpdateSubscription::new(sub_id.as_str())
        .items(vec![UpdateSubscriptionItems {
            id: Some(item.id.as_str().to_string()),
            price: Some("price_studio_monthly".into()),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    assert_eq!(
        swapped.items.data[0].price.id.as_str(),
        "price_studio_monthly"
    );
    assert_eq!(swapped.items.data.len(), 1);

    let scheduled = UpdateSubscription::new(sub_id.as_str())
        .cancel_at_period_end(true)
        .send(&client)
        .await
        .unwrap();
    assert!(scheduled.cancel_at_period_end);
    assert_eq!(scheduled.status, SubscriptionStatus::Active);

    let canceled = CancelSubscription::new(sub_id.as_str())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    assert!(canceled.ended_at.is_some());

    let default_list = ListSubscription::new()
        .customer(customer.as_str())
        .send(&client)
        .await
        .unwrap();
    assert!(
        default_list.data.is_empty(),
        "canceled ones are hidden without status"
    );
    let all = ListSubscription::new()
        .customer(customer.as_str())
        .status(ListSubscriptionStatus::All)
        .send(&client)
        .await
        .unwrap();
    assert_eq!(all.data.len(), 1);
    assert_eq!(all.data[0].status, SubscriptionStatus::Canceled);
    verify_all_events(&sim);
}

#[tokio::test]
async fn active_entitlements_follow_the_subscribed_product_features() {
    let sim = start_sim().await;
    let client = client(&sim);
    let (customer, sub_id) = subscribe(&sim, &client, "price_studio_monthly", None).await;
    let list = ListEntitlementsActiveEntitlement::new(customer.as_str())
        .expand(vec!["data.feature".to_string()])
        .send(&client)
        .await
        .unwrap();
    match &list.data[0].feature {
        stripe_types::Expandable::Object(feature) => {
            assert_eq!(feature.lookup_key, list.data[0].lookup_key)
        }
        stripe_types::Expandable::Id(id) => panic!("not expanded: {id}"),
    }
    let mut keys: Vec<String> = list.data.iter().map(|e| e.lookup_key.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "advanced_analytics",
            "api_access",
            "priority_support",
            "team_seats"
        ]
    );
    CancelSubscription::new(sub_id.as_str())
        .send(&client)
        .await
        .unwrap();
    let after = ListEntitlementsActiveEntitlement::new(customer.as_str())
        .send(&client)
        .await
        .unwrap();
    assert!(after.data.is_empty());
    verify_all_events(&sim);
}

#[tokio::test]
async fn webhook_endpoints_created_through_the_api_get_a_secret_and_deliveries() {
    let sim = start_sim().await;
    let client = client(&sim);
    let receiver = Receiver::start(&[]).await;
    let endpoint = CreateWebhookEndpoint::new(
        vec![CreateWebhookEndpointEnabledEvents::CustomerCreated],
        receiver.url.clone(),
    )
    .send(&client)
    .await
    .unwrap();
    let secret = endpoint.secret.clone().expect("a secret on creation");
    assert!(secret.starts_with("whsec_"));
    receiver.add_secret(&secret);
    let listed = ListWebhookEndpoint::new().send(&client).await.unwrap();
    assert_eq!(listed.data.len(), 1);
    assert_eq!(listed.data[0].id, endpoint.id);
    assert_eq!(
        listed.data[0].secret, None,
        "the secret is shown only on creation"
    );
    let fetched = RetrieveWebhookEndpoint::new(endpoint.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(fetched.url, receiver.url);
    assert_eq!(fetched.enabled_events, vec!["customer.created".to_string()]);

    CreateCustomer::new().send(&client).await.unwrap();
    receiver.wait_for("customer.created", |_| true).await;
    receiver.assert_all_verified_and_typed();
    assert_eq!(
        receiver.kinds(),
        vec!["customer.created"],
        "only enabled events are sent"
    );

    DeleteWebhookEndpoint::new(endpoint.id.clone())
        .send(&client)
        .await
        .unwrap();
    let listed = ListWebhookEndpoint::new().send(&client).await.unwrap();
    assert!(listed.data.is_empty());
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_unknown_route_answers_a_stripe_404() {
    let sim = start_sim().await;
    let response = http()
        .get(format!("{}/v1/charges", sim.base_url()))
        .bearer_auth("sk_test_x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_injected_api_failure_is_a_retryable_api_error_that_changes_nothing() {
    let sim = start_sim().await;
    let client = client(&sim);
    sim.set_api_chaos(stripe_sim::ApiChaos {
        fail_next: 1,
        fail_status: Some(503),
        latency_ms: 0,
        path_prefix: None,
    });
    let (status, err) = stripe_error(CreateCustomer::new().send(&client).await.unwrap_err());
    assert_eq!(status, 503);
    assert_eq!(err.type_, stripe::ApiErrorsType::ApiError);
    assert!(sim.events().is_empty(), "nothing was created");
    CreateCustomer::new().send(&client).await.unwrap();
    assert_eq!(sim.events().len(), 1);
    verify_all_events(&sim);
}

#[tokio::test]
async fn the_control_api_takes_form_bodies_as_curl_sends_them() {
    let sim = start_sim().await;
    let response = http()
        .post(format!("{}/_sim/chaos", sim.base_url()))
        .form(&[("duplicate", "true"), ("delay_ms", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let chaos: Value = response.json().await.unwrap();
    assert_eq!(chaos["duplicate"], true);
    assert_eq!(chaos["delay_ms"], 5);
    let advanced = control(&sim, "clock/advance", json!({"days": 2})).await;
    let clock: Value = http()
        .get(format!("{}/_sim/clock", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clock["offset_seconds"].as_i64().unwrap() >= 2 * 86_400 - 1);
    assert_eq!(advanced["applied"], 0);
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_open_checkout_session_can_be_expired() {
    let sim = start_sim().await;
    let client = client(&sim);
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_pro_monthly".into()),
            quantity: Some(1),
            ..Default::default()
        }])
        .send(&client)
        .await
        .unwrap();
    let expired = stripe_checkout::checkout_session::ExpireCheckoutSession::new(session.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(expired.status, Some(CheckoutSessionStatus::Expired));
    assert_eq!(expired.url, None);
    let again = stripe_checkout::checkout_session::ExpireCheckoutSession::new(session.id.clone())
        .send(&client)
        .await
        .unwrap_err();
    assert_eq!(stripe_error(again).0, 400);
    verify_all_events(&sim);
}

#[tokio::test]
async fn invoices_prices_products_and_events_read_through_async_stripe() {
    use stripe_billing::invoice::RetrieveInvoice;
    use stripe_core::event::{ListEvent, RetrieveEvent};
    use stripe_product::price::{ListPrice, RetrievePrice};
    use stripe_product::product::RetrieveProduct;

    let sim = start_sim().await;
    let client = client(&sim);
    let (_, sub_id) = subscribe(&sim, &client, "price_studio_yearly", None).await;

    let sub = RetrieveSubscription::new(sub_id.as_str())
        .expand(vec![
            "latest_invoice".to_string(),
            "customer".to_string(),
            "items.data.price.product".to_string(),
        ])
        .send(&client)
        .await
        .unwrap();
    let invoice = match sub.latest_invoice.expect("an invoice") {
        stripe_types::Expandable::Object(invoice) => invoice,
        stripe_types::Expandable::Id(id) => panic!("not expanded: {id:?}"),
    };
    assert!(matches!(sub.customer, stripe_types::Expandable::Object(_)));
    assert!(matches!(
        sub.items.data[0].price.product,
        stripe_types::Expandable::Object(_)
    ));
    let fetched = RetrieveInvoice::new(invoice.id.clone().unwrap())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(fetched.amount_paid, 49_000);
    assert_eq!(fetched.status, Some(stripe_billing::InvoiceStatus::Paid));
    let parent = fetched.parent.unwrap().subscription_details.unwrap();
    assert_eq!(parent.subscription.id().as_str(), sub_id);

    let prices = ListPrice::new()
        .product("prod_pro")
        .send(&client)
        .await
        .unwrap();
    let ids: Vec<&str> = prices.data.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec!["price_pro_monthly", "price_pro_yearly"]);
    let price = RetrievePrice::new("price_pro_yearly")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(price.unit_amount, Some(12_000));
    let product = RetrieveProduct::new("prod_studio")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(product.name, "Studio");

    let events = ListEvent::new()
        .type_("invoice.paid")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(events.data.len(), 1);
    let event = RetrieveEvent::new(events.data[0].id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(event.type_.as_str(), "invoice.paid");
    verify_all_events(&sim);
}
