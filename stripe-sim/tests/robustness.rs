//! Client input that must not crash the simulator or leak between clients, and the HTTP
//! layer's own rejections answered as Stripe error objects. Raw HTTP where async-stripe cannot
//! send the request (a wrong method, a huge body), async-stripe where it can.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use stripe::StripeError;
use stripe_core::customer::RetrieveCustomer;
use stripe_sim::{Catalog, Sim, SimConfig};

async fn post_form(
    sim: &Sim,
    api_key: &str,
    path: &str,
    idempotency_key: Option<&str>,
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = http()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(api_key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path} answered {status} with a non-JSON body ({e}): {text}"));
    (status, headers, value)
}

fn assert_stripe_error(status: StatusCode, body: &Value, want: u16) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

// ------------------------------------------------------------------ idempotency

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_api_key_that_sent_them() {
    let sim = start_sim().await;
    let body = "email=shared%40example.com";
    let (s1, h1, a) = post_form(&sim, "sk_test_alice", "/v1/customers", Some("k1"), body).await;
    let (s2, h2, b) = post_form(&sim, "sk_test_bob", "/v1/customers", Some("k1"), body).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_ne!(a["id"], b["id"], "bob must not get alice's cached customer");
    assert!(h1.get("idempotent-replayed").is_none());
    assert!(h2.get("idempotent-replayed").is_none());
    // Each key still replays for its own client.
    let (_, h3, a2) = post_form(&sim, "sk_test_alice", "/v1/customers", Some("k1"), body).await;
    assert_eq!(a2, a);
    assert_eq!(h3["idempotent-replayed"], "true");
    let created = sim
        .events()
        .iter()
        .filter(|e| e["type"] == "customer.created")
        .count();
    assert_eq!(created, 2);
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_replay_is_marked_and_the_same_key_on_another_endpoint_is_an_idempotency_error() {
    let sim = start_sim().await;
    let key = "sk_test_replay";
    let (status, first_headers, first) =
        post_form(&sim, key, "/v1/customers", Some("same"), "email=a%40b.c").await;
    assert_eq!(status, StatusCode::OK);
    assert!(first_headers.get("idempotent-replayed").is_none());
    let (status, headers, replay) =
        post_form(&sim, key, "/v1/customers", Some("same"), "email=a%40b.c").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(headers["idempotency-key"], "same");
    assert_eq!(replay, first);

    let (status, _, err) = post_form(
        &sim,
        key,
        &format!("/v1/customers/{}", first["id"].as_str().unwrap()),
        Some("same"),
        "email=a%40b.c",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["type"], "idempotency_error", "{err}");
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_refused_request_is_not_saved_so_the_corrected_one_may_reuse_its_key() {
    let sim = start_sim().await;
    let key = "sk_test_fix";
    // Fails validation (no mode): nothing is saved under the key.
    let (status, _, err) = post_form(
        &sim,
        key,
        "/v1/checkout/sessions",
        Some("fix-me"),
        "line_items[0][price]=price_pro_monthly",
    )
    .await;
    assert_stripe_error(status, &err, 400);
    assert_eq!(err["error"]["param"], "mode");
    let body = "mode=subscription&line_items[0][price]=price_pro_monthly";
    let (status, headers, session) =
        post_form(&sim, key, "/v1/checkout/sessions", Some("fix-me"), body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert!(headers.get("idempotent-replayed").is_none());
    // The success is saved and replayed.
    let (_, headers, again) =
        post_form(&sim, key, "/v1/checkout/sessions", Some("fix-me"), body).await;
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(again["id"], session["id"]);
    verify_all_events(&sim);
}

// ------------------------------------------------------------------ input that used to panic

#[tokio::test]
async fn a_line_item_quantity_outside_1_to_999999_is_a_400_and_creates_no_session() {
    let sim = start_sim().await;
    for quantity in ["0", "1000000", "18446744073709551615", "-1", "x"] {
        let body = format!(
            "mode=subscription&line_items[0][price]=price_pro_monthly&line_items[0][quantity]={quantity}"
        );
        let (status, _, err) =
            post_form(&sim, "sk_test_q", "/v1/checkout/sessions", None, &body).await;
        assert_stripe_error(status, &err, 400);
        assert_eq!(err["error"]["param"], "line_items[0][quantity]", "{err}");
    }
    assert_eq!(sim.shared().with(|st| st.sessions.len()), 0);
    let body =
        "mode=subscription&line_items[0][price]=price_pro_monthly&line_items[0][quantity]=999999";
    let (status, _, session) =
        post_form(&sim, "sk_test_q", "/v1/checkout/sessions", None, body).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert!(session["amount_total"].as_i64().unwrap() > 0);

    let (_, _, customer) = post_form(&sim, "sk_test_q", "/v1/customers", None, "").await;
    let body = format!(
        "customer={}&items[0][price]=price_pro_monthly&items[0][quantity]=0",
        customer["id"].as_str().unwrap()
    );
    let (status, _, err) = post_form(&sim, "sk_test_q", "/v1/subscriptions", None, &body).await;
    assert_stripe_error(status, &err, 400);
    assert_eq!(err["error"]["param"], "items[0][quantity]");
    let body = format!(
        "customer={}&items[0][price]=price_pro_monthly&trial_period_days=99999999999",
        customer["id"].as_str().unwrap()
    );
    let (status, _, err) = post_form(&sim, "sk_test_q", "/v1/subscriptions", None, &body).await;
    assert_stripe_error(status, &err, 400);
    assert_eq!(err["error"]["param"], "trial_period_days");
    verify_all_events(&sim);
}

#[tokio::test]
async fn an_amount_that_overflows_is_a_400_not_a_panic() {
    let catalog = Catalog::from_toml(
        r#"
        [[products]]
        id = "prod_big"
        name = "Big"
        [[products.prices]]
        id = "price_big"
        unit_amount = 9223372036854775807
        interval = "month"
        "#,
    )
    .unwrap();
    let sim = Sim::start(SimConfig {
        catalog,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let body = "mode=subscription&line_items[0][price]=price_big&line_items[0][quantity]=2";
    let (status, _, err) =
        post_form(&sim, "sk_test_big", "/v1/checkout/sessions", None, body).await;
    assert_stripe_error(status, &err, 400);
    assert_eq!(sim.shared().with(|st| st.sessions.len()), 0);
    // Still serving.
    let (status, _, _) = post_form(&sim, "sk_test_big", "/v1/customers", None, "").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_deeply_nested_form_key_is_a_400_and_the_simulator_keeps_serving() {
    let sim = start_sim().await;
    // ~900 KB of `[a]`: under the body limit, far over the nesting limit.
    let body = format!("metadata{}=v", "[a]".repeat(300_000));
    for key in [None, Some("deep")] {
        let (status, _, err) = post_form(&sim, "sk_test_deep", "/v1/customers", key, &body).await;
        assert_stripe_error(status, &err, 400);
    }
    let (status, _, err) = post_form(
        &sim,
        "sk_test_deep",
        "/v1/customers",
        None,
        &vec!["metadata[k]=v"; 1001].join("&"),
    )
    .await;
    assert_stripe_error(status, &err, 400);
    let (status, _, customer) = post_form(
        &sim,
        "sk_test_deep",
        "/v1/customers",
        None,
        "metadata[a][b]=ok",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    verify_all_events(&sim);
}

#[tokio::test]
async fn a_clock_advance_that_overflows_is_a_400_and_leaves_the_clock_alone() {
    let sim = start_sim().await;
    let clock = || async {
        http()
            .get(format!("{}/_sim/clock", sim.base_url()))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = clock().await["offset_seconds"].clone();
    for body in [
        json!({"days": u64::MAX}),
        json!({"seconds": u64::MAX}),
        json!({"seconds": i64::MAX as u64}),
        json!({"days": 213_503_982_334_601u64}),
        json!({"to": u64::MAX}),
        json!({"to": 253_402_300_800u64}),
        json!({"days": -1}),
    ] {
        let response = http()
            .post(format!("{}/_sim/clock/advance", sim.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let err: Value = response.json().await.unwrap();
        assert_stripe_error(status, &err, 400);
    }
    assert_eq!(clock().await["offset_seconds"], before);
    verify_all_events(&sim);
}

// ------------------------------------------------------------------ axum's own rejections

#[tokio::test]
async fn rejections_by_the_http_layer_under_v1_are_stripe_error_objects() {
    let sim = start_sim().await;
    let base = sim.base_url();
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.bearer_auth("sk_test_rej").send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("not a Stripe error object ({status}): {text}"));
        (status, body)
    };
    // A method the route does not serve: Stripe calls it an unrecognized URL.
    let (status, body) = send(http().put(format!("{base}/v1/customers"))).await;
    assert_stripe_error(status, &body, 404);
    assert!(body["error"]["message"].as_str().unwrap().contains("PUT"));
    // A body over the limit, with and without an idempotency key.
    let big = "a=".to_string() + &"x".repeat(3 << 20);
    let (status, body) = send(
        http()
            .post(format!("{base}/v1/customers"))
            .body(big.clone()),
    )
    .await;
    assert_stripe_error(status, &body, 400);
    let (status, body) = send(
        http()
            .post(format!("{base}/v1/customers"))
            .header("idempotency-key", "big")
            .body(big),
    )
    .await;
    assert_stripe_error(status, &body, 400);
    // A path segment that is not UTF-8 cannot be extracted.
    let (status, body) = send(http().get(format!("{base}/v1/customers/%FF"))).await;
    assert_stripe_error(status, &body, 400);
    // Unknown routes, including /v1 itself.
    for path in ["/v1", "/v1/", "/v1/nope", "/v1/customers/cus_1/nope"] {
        let (status, body) = send(http().get(format!("{base}{path}"))).await;
        assert_stripe_error(status, &body, 404);
    }
    // async-stripe sees a Stripe error, not a decoding failure.
    let err = RetrieveCustomer::new("%FF")
        .send(&client(&sim))
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Stripe(_, _)), "{err:?}");
    verify_all_events(&sim);
}
