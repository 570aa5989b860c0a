//! Billing meters, meter events and their summaries, driven with async-stripe (the client
//! Entitle reports usage with): what was sent, what was refused, what was counted.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::{Value, json};
use stripe::{RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_meter::{
    CreateBillingMeter, CreateBillingMeterCustomerMapping, CreateBillingMeterCustomerMappingType,
    CreateBillingMeterDefaultAggregation, CreateBillingMeterDefaultAggregationFormula,
    CreateBillingMeterValueSettings, DeactivateBillingMeter, ListBillingMeter,
    ReactivateBillingMeter, RetrieveBillingMeter,
};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_meter_event_summary::{
    ListIdBillingMeterEventSummary, ListIdBillingMeterEventSummaryValueGroupingWindow,
};
use stripe_billing::{
    BillingMeterResourceAggregationSettingsFormula,
    BillingMeterResourceCustomerMappingSettingsType, BillingMeterStatus,
};
use stripe_core::customer::CreateCustomer;

const HOUR: i64 = 3_600;

fn stripe_error(e: StripeError) -> (u16, stripe::ApiErrors) {
    match e {
        StripeError::Stripe(err, status) => (status, *err),
        other => panic!("expected a Stripe error object, got {other:?}"),
    }
}

async fn refused(
    client: &stripe::Client,
    event: CreateBillingMeterEvent,
) -> (u16, stripe::ApiErrors) {
    stripe_error(event.send(client).await.unwrap_err())
}

async fn customer(client: &stripe::Client) -> String {
    let c = CreateCustomer::new().send(client).await.unwrap();
    c.id.as_str().to_string()
}

async fn sum_meter(client: &stripe::Client, event_name: &str) -> String {
    let meter = CreateBillingMeter::new(
        CreateBillingMeterDefaultAggregation::new(CreateBillingMeterDefaultAggregationFormula::Sum),
        "Overage",
        event_name,
    )
    .send(client)
    .await
    .unwrap();
    meter.id.as_str().to_string()
}

fn usage(customer: &str, value: &str) -> HashMap<String, String> {
    HashMap::from([
        ("stripe_customer_id".to_string(), customer.to_string()),
        ("value".to_string(), value.to_string()),
    ])
}

/// The start of the hour two hours ago, on the simulated clock: events in the two hours
/// after it are in the past, and summary ranges from it are aligned.
fn two_hours_ago(sim: &stripe_sim::Sim) -> i64 {
    let now = sim.shared().with(|st| st.now());
    now - now.rem_euclid(HOUR) - 2 * HOUR
}

async fn total(client: &stripe::Client, meter: &str, customer: &str, start: i64, end: i64) -> f64 {
    let list = ListIdBillingMeterEventSummary::new(meter, customer, end, start)
        .send(client)
        .await
        .unwrap();
    assert_eq!(list.data.len(), 1, "one summary for the whole range");
    list.data[0].aggregated_value
}

#[tokio::test]
async fn a_meter_is_created_listed_read_and_deactivated_through_async_stripe() {
    let sim = start_sim().await;
    let client = client(&sim);
    let meter = CreateBillingMeter::new(
        CreateBillingMeterDefaultAggregation::new(CreateBillingMeterDefaultAggregationFormula::Sum),
        "API overage",
        "api_overage",
    )
    .send(&client)
    .await
    .unwrap();
    assert!(meter.id.as_str().starts_with("mtr_test_"));
    assert_eq!(meter.event_name, "api_overage");
    assert_eq!(meter.display_name, "API overage");
    assert_eq!(
        meter.default_aggregation.formula,
        BillingMeterResourceAggregationSettingsFormula::Sum
    );
    assert_eq!(
        meter.customer_mapping.event_payload_key,
        "stripe_customer_id"
    );
    assert_eq!(
        meter.customer_mapping.type_,
        BillingMeterResourceCustomerMappingSettingsType::ById
    );
    assert_eq!(meter.value_settings.event_payload_key, "value");
    assert_eq!(meter.status, BillingMeterStatus::Active);
    assert_eq!(meter.event_time_window, None);

    let other = CreateBillingMeter::new(
        CreateBillingMeterDefaultAggregation::new(
            CreateBillingMeterDefaultAggregationFormula::Count,
        ),
        "Seats",
        "seats",
    )
    .customer_mapping(CreateBillingMeterCustomerMapping::new(
        "customer",
        CreateBillingMeterCustomerMappingType::ById,
    ))
    .value_settings(CreateBillingMeterValueSettings::new("seats"))
    .send(&client)
    .await
    .unwrap();
    assert_eq!(other.customer_mapping.event_payload_key, "customer");
    assert_eq!(other.value_settings.event_payload_key, "seats");

    let list = ListBillingMeter::new().send(&client).await.unwrap();
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![other.id.as_str(), meter.id.as_str()],
        "newest first"
    );
    let read = RetrieveBillingMeter::new(meter.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(read.event_name, "api_overage");

    // An event name belongs to one meter.
    let again = CreateBillingMeter::new(
        CreateBillingMeterDefaultAggregation::new(CreateBillingMeterDefaultAggregationFormula::Sum),
        "Again",
        "api_overage",
    )
    .send(&client)
    .await
    .unwrap_err();
    assert_eq!(stripe_error(again).0, 400);

    // A deactivated meter takes no events; reactivated, it does again.
    let cus = customer(&client).await;
    let off = DeactivateBillingMeter::new(meter.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(off.status, BillingMeterStatus::Inactive);
    assert!(off.status_transitions.deactivated_at.is_some());
    let refused = CreateBillingMeterEvent::new("api_overage", usage(&cus, "1"))
        .send(&client)
        .await
        .unwrap_err();
    let (status, err) = stripe_error(refused);
    assert_eq!(status, 400);
    assert_eq!(err.param.as_deref(), Some("event_name"));
    let on = ReactivateBillingMeter::new(meter.id.clone())
        .send(&client)
        .await
        .unwrap();
    assert_eq!(on.status, BillingMeterStatus::Active);
    CreateBillingMeterEvent::new("api_overage", usage(&cus, "1"))
        .send(&client)
        .await
        .unwrap();
    assert_eq!(sim.meter_events().len(), 1);
    verify_all_events(&sim);
}

#[tokio::test]
async fn events_are_summed_per_customer_over_a_range_and_per_hour() {
    let sim = start_sim().await;
    let client = client(&sim);
    let meter = sum_meter(&client, "overage").await;
    let (ada, bob) = (customer(&client).await, customer(&client).await);
    let start = two_hours_ago(&sim);
    for (who, value, at) in [
        (&ada, "5", start + 10),
        (&ada, "7", start + HOUR - 1),
        (&ada, "-2", start + HOUR + 30),
        (&bob, "100", start + 20),
    ] {
        let event = CreateBillingMeterEvent::new("overage", usage(who, value))
            .timestamp(at)
            .send(&client)
            .await
            .unwrap();
        assert_eq!(event.event_name, "overage");
        assert_eq!(event.timestamp, at);
        assert_eq!(event.payload["value"], value);
        assert!(!event.identifier.is_empty(), "an identifier is made up");
    }
    let end = start + 2 * HOUR;
    assert_eq!(total(&client, &meter, &ada, start, end).await, 10.0);
    assert_eq!(total(&client, &meter, &bob, start, end).await, 100.0);
    // [start, start + 1 h) holds the first two of Ada's events only: the end is exclusive.
    assert_eq!(
        total(&client, &meter, &ada, start, start + HOUR).await,
        12.0
    );

    let hourly = ListIdBillingMeterEventSummary::new(meter.as_str(), ada.as_str(), end, start)
        .value_grouping_window(ListIdBillingMeterEventSummaryValueGroupingWindow::Hour)
        .send(&client)
        .await
        .unwrap();
    let windows: Vec<(i64, i64, f64)> = hourly
        .data
        .iter()
        .map(|s| (s.start_time, s.end_time, s.aggregated_value))
        .collect();
    assert_eq!(
        windows,
        vec![(start + HOUR, end, -2.0), (start, start + HOUR, 12.0)],
        "newest window first"
    );
    assert!(hourly.data.iter().all(|s| s.meter == meter));

    // What was billed, without async-stripe: the Rust accessor and the control route.
    let billed = sim.meter_events();
    assert_eq!(billed.len(), 4);
    assert_eq!(billed[0].customer, ada);
    assert_eq!(billed[0].value, Some(5));
    assert_eq!(billed[0].timestamp, start + 10);
    assert_eq!(billed[0].meter, meter);
    let url = format!("{}/_sim/meter_events?customer={bob}", sim.base_url());
    let listed: Value = http().get(url).send().await.unwrap().json().await.unwrap();
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["value"], 100);
    assert_eq!(data[0]["event_name"], "overage");
    assert_eq!(data[0]["identifier"], billed[3].identifier);
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_duplicate_identifier_is_refused_and_counted_once() {
    let sim = start_sim().await;
    let client = client(&sim);
    let meter = sum_meter(&client, "overage").await;
    let cus = customer(&client).await;
    let start = two_hours_ago(&sim);
    let send = |value: &str| {
        CreateBillingMeterEvent::new("overage", usage(&cus, value))
            .identifier("usage-2026-05-01-cus")
            .timestamp(start + 60)
    };
    let first = send("3").send(&client).await.unwrap();
    assert_eq!(first.identifier, "usage-2026-05-01-cus");
    let (status, err) = stripe_error(send("3").send(&client).await.unwrap_err());
    assert_eq!(status, 400);
    assert_eq!(err.type_, stripe::ApiErrorsType::InvalidRequestError);
    assert!(
        err.message
            .as_deref()
            .unwrap_or_default()
            .contains("already exists with identifier usage-2026-05-01-cus"),
        "{err:?}"
    );
    // Another value under the same identifier is refused as well.
    assert!(send("30").send(&client).await.is_err());
    assert_eq!(sim.meter_events().len(), 1);
    assert_eq!(
        total(&client, &meter, &cus, start, start + 2 * HOUR).await,
        3.0
    );

    // A request retried with the same Idempotency-Key replays the first answer, once.
    let keyed = || {
        CreateBillingMeterEvent::new("overage", usage(&cus, "4"))
            .identifier("usage-keyed")
            .timestamp(start + 120)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(
                "report-usage-keyed".to_string().try_into().unwrap(),
            ))
    };
    let a = keyed().send(&client).await.unwrap();
    let b = keyed().send(&client).await.unwrap();
    assert_eq!((a.identifier, a.created), (b.identifier, b.created));
    assert_eq!(sim.meter_events().len(), 2);

    // Stripe promises uniqueness for at least 24 hours; the simulator forgets an identifier
    // 24 hours (of its clock) after it was received.
    sim.advance(std::time::Duration::from_secs(25 * HOUR as u64))
        .unwrap();
    CreateBillingMeterEvent::new("overage", usage(&cus, "1"))
        .identifier("usage-2026-05-01-cus")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(sim.meter_events().len(), 3);
    verify_all_events(&sim);
}

#[tokio::test]
async fn unknown_event_names_customers_and_bad_values_are_refused_and_count_nothing() {
    let sim = start_sim().await;
    let client = client(&sim);
    sum_meter(&client, "overage").await;
    let cus = customer(&client).await;
    let now = sim.shared().with(|st| st.now());

    let (status, err) = refused(
        &client,
        CreateBillingMeterEvent::new("nope", usage(&cus, "1")),
    )
    .await;
    assert_eq!((status, err.param.as_deref()), (400, Some("event_name")));

    let (status, err) = refused(
        &client,
        CreateBillingMeterEvent::new("overage", usage("cus_missing", "1")),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err.code, Some(stripe::ApiErrorsCode::ResourceMissing));
    assert_eq!(err.param.as_deref(), Some("payload[stripe_customer_id]"));

    let no_value = HashMap::from([("stripe_customer_id".to_string(), cus.clone())]);
    let (status, err) = refused(&client, CreateBillingMeterEvent::new("overage", no_value)).await;
    assert_eq!(
        (status, err.param.as_deref()),
        (400, Some("payload[value]"))
    );
    assert_eq!(err.code, Some(stripe::ApiErrorsCode::ParameterMissing));

    let (status, err) = refused(
        &client,
        CreateBillingMeterEvent::new("overage", usage(&cus, "1.5")),
    )
    .await;
    assert_eq!(
        (status, err.param.as_deref()),
        (400, Some("payload[value]"))
    );

    let old =
        CreateBillingMeterEvent::new("overage", usage(&cus, "1")).timestamp(now - 36 * 86_400);
    let (status, err) = refused(&client, old).await;
    assert_eq!((status, err.param.as_deref()), (400, Some("timestamp")));
    let ahead = CreateBillingMeterEvent::new("overage", usage(&cus, "1")).timestamp(now + 600);
    let (status, err) = refused(&client, ahead).await;
    assert_eq!((status, err.param.as_deref()), (400, Some("timestamp")));

    let long =
        CreateBillingMeterEvent::new("overage", usage(&cus, "1")).identifier("x".repeat(101));
    let (status, err) = refused(&client, long).await;
    assert_eq!((status, err.param.as_deref()), (400, Some("identifier")));

    assert!(sim.meter_events().is_empty(), "nothing was counted");
    // A timestamp just inside the limits is accepted.
    CreateBillingMeterEvent::new("overage", usage(&cus, "1"))
        .timestamp(now - 34 * 86_400)
        .send(&client)
        .await
        .unwrap();
    assert_eq!(sim.meter_events().len(), 1);
    verify_all_events(&sim);
}

#[tokio::test]
async fn summaries_want_aligned_ranges_and_a_known_meter_and_customer() {
    let sim = start_sim().await;
    let client = client(&sim);
    let meter = sum_meter(&client, "overage").await;
    let cus = customer(&client).await;
    let start = two_hours_ago(&sim);
    let list = |meter: &str, customer: &str, start: i64, end: i64| {
        ListIdBillingMeterEventSummary::new(meter, customer, end, start)
    };
    let err = list(&meter, &cus, start + 1, start + HOUR)
        .send(&client)
        .await;
    let (status, err) = stripe_error(err.unwrap_err());
    assert_eq!((status, err.param.as_deref()), (400, Some("start_time")));
    let err = list(&meter, &cus, start + HOUR, start).send(&client).await;
    assert_eq!(stripe_error(err.unwrap_err()).0, 400);
    let daily = list(&meter, &cus, start, start + HOUR)
        .value_grouping_window(ListIdBillingMeterEventSummaryValueGroupingWindow::Day)
        .send(&client)
        .await;
    assert_eq!(
        stripe_error(daily.unwrap_err()).0,
        400,
        "a day window wants days"
    );
    let err = list("mtr_test_nope", &cus, start, start + HOUR)
        .send(&client)
        .await;
    assert_eq!(stripe_error(err.unwrap_err()).0, 404);
    let err = list(&meter, "cus_nope", start, start + HOUR)
        .send(&client)
        .await;
    assert_eq!(stripe_error(err.unwrap_err()).0, 404);
    // No events: one summary of 0 for the range, none per window.
    assert_eq!(total(&client, &meter, &cus, start, start + HOUR).await, 0.0);
    let hourly = list(&meter, &cus, start, start + HOUR)
        .value_grouping_window(ListIdBillingMeterEventSummaryValueGroupingWindow::Hour)
        .send(&client)
        .await
        .unwrap();
    assert!(hourly.data.is_empty());
    verify_all_events(&sim);
}

#[tokio::test]
async fn count_last_and_pre_aggregated_meters_aggregate_as_stripe_does() {
    let sim = start_sim().await;
    let client = client(&sim);
    let cus = customer(&client).await;
    let start = two_hours_ago(&sim);
    let make = |formula, name: &'static str| {
        CreateBillingMeter::new(
            CreateBillingMeterDefaultAggregation::new(formula),
            name,
            name,
        )
    };
    let count = make(CreateBillingMeterDefaultAggregationFormula::Count, "calls")
        .send(&client)
        .await
        .unwrap();
    let last = make(CreateBillingMeterDefaultAggregationFormula::Last, "seats")
        .send(&client)
        .await
        .unwrap();
    let hourly = make(CreateBillingMeterDefaultAggregationFormula::Sum, "hourly")
        .event_time_window(stripe_billing::BillingMeterEventTimeWindow::Hour)
        .send(&client)
        .await
        .unwrap();
    assert_eq!(
        hourly.event_time_window,
        Some(stripe_billing::BillingMeterEventTimeWindow::Hour)
    );
    let only_customer = HashMap::from([("stripe_customer_id".to_string(), cus.clone())]);
    for at in [start + 1, start + 2, start + HOUR] {
        CreateBillingMeterEvent::new("calls", only_customer.clone())
            .timestamp(at)
            .send(&client)
            .await
            .unwrap();
    }
    for (value, at) in [
        ("4", start + 100),
        ("9", start + HOUR + 5),
        ("6", start + 50),
    ] {
        CreateBillingMeterEvent::new("seats", usage(&cus, value))
            .timestamp(at)
            .send(&client)
            .await
            .unwrap();
        // Pre-aggregated: each event carries the hour's total so far; the last one received
        // in an hour replaces the others.
        CreateBillingMeterEvent::new("hourly", usage(&cus, value))
            .timestamp(at)
            .send(&client)
            .await
            .unwrap();
    }
    let end = start + 2 * HOUR;
    let id = |m: &stripe_billing::BillingMeter| m.id.as_str().to_string();
    assert_eq!(total(&client, &id(&count), &cus, start, end).await, 3.0);
    assert_eq!(
        total(&client, &id(&last), &cus, start, end).await,
        9.0,
        "the latest by timestamp"
    );
    assert_eq!(
        total(&client, &id(&hourly), &cus, start, end).await,
        6.0 + 9.0,
        "the last received of the first hour (6) and the second hour's (9)"
    );
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_outage_of_the_meter_events_route_is_a_retryable_500_and_counts_nothing() {
    let sim = start_sim().await;
    let client = client(&sim);
    sum_meter(&client, "overage").await;
    let cus = customer(&client).await;
    sim.set_api_chaos(stripe_sim::ApiChaos {
        fail_next: 2,
        path_prefix: Some("/v1/billing/meter_events".into()),
        ..Default::default()
    });
    // Other routes are not affected, and do not use up the failures.
    customer(&client).await;

    let (status, err) = stripe_error(
        CreateBillingMeterEvent::new("overage", usage(&cus, "5"))
            .identifier("u-1")
            .send(&client)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 500);
    assert_eq!(err.type_, stripe::ApiErrorsType::ApiError);
    let raw = http()
        .post(format!("{}/v1/billing/meter_events", sim.base_url()))
        .bearer_auth("sk_test_outage")
        .form(&[
            ("event_name", "overage"),
            ("payload[stripe_customer_id]", cus.as_str()),
            ("payload[value]", "5"),
            ("identifier", "u-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 500);
    assert_eq!(raw.headers()["stripe-should-retry"], "true");
    assert!(sim.meter_events().is_empty(), "nothing was counted");

    // The outage is over: the retry with the same identifier is counted, once.
    CreateBillingMeterEvent::new("overage", usage(&cus, "5"))
        .identifier("u-1")
        .send(&client)
        .await
        .unwrap();
    assert_eq!(sim.meter_events().len(), 1);

    // The same through the control API.
    let set = control(
        &sim,
        "api/chaos",
        json!({"fail_next": 1, "fail_status": 503, "path_prefix": "/v1/billing/meter_events"}),
    )
    .await;
    assert_eq!(set["path_prefix"], "/v1/billing/meter_events");
    customer(&client).await;
    let (status, _) = stripe_error(
        CreateBillingMeterEvent::new("overage", usage(&cus, "1"))
            .send(&client)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 503);
    assert_eq!(sim.meter_events().len(), 1);
    verify_all_events(&sim);
}

#[tokio::test]
async fn the_sim_helper_makes_a_meter_that_takes_events() {
    let sim = start_sim().await;
    let client = client(&sim);
    let meter = sim.create_meter("overage").unwrap();
    assert!(
        sim.create_meter("overage").is_err(),
        "one meter an event name"
    );
    let cus = customer(&client).await;
    CreateBillingMeterEvent::new("overage", usage(&cus, "2"))
        .send(&client)
        .await
        .unwrap();
    let events = sim.meter_events();
    assert_eq!(
        (events[0].meter.as_str(), events[0].value),
        (meter.as_str(), Some(2))
    );
    verify_all_events(&sim);
}
