//! Bad input from a broken or hostile client, one table of cases: each gets a
//! clear error with a stable code, nothing of the server's insides, quickly,
//! and the server is still up afterwards.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{Database, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::{
    helpers::{GQL, TestApp, error_code, unique_email},
    on_both_databases,
    sim::{SECRET, spawn_with_sim},
};

on_both_databases!(every_bad_input_gets_a_clear_error_and_the_server_stays_up);

/// Where a case is sent.
#[derive(Clone, Copy, Debug)]
enum To {
    Graphql,
    /// `/webhooks/stripe`, with a valid `Stripe-Signature` over the body.
    SignedWebhook,
}

/// What the answer must say.
#[derive(Debug)]
enum Want {
    /// `errors[0].extensions.code` and a piece of `errors[0].message`.
    Graphql(&'static str, &'static str),
    /// The webhook's JSON `{ "error": … }`, exactly.
    Webhook(&'static str),
}

/// What must hold once the case is answered, besides the server being up.
#[derive(Debug)]
enum Then {
    Nothing,
    /// This refresh token must now be refused: its family was revoked.
    RefreshRefused(String),
}

struct Case {
    name: &'static str,
    to: To,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    status: u16,
    want: Want,
    then: Then,
}

impl Case {
    fn graphql(name: &'static str, body: impl Into<Vec<u8>>, status: u16, want: Want) -> Self {
        Case {
            name,
            to: To::Graphql,
            headers: Vec::new(),
            body: body.into(),
            status,
            want,
            then: Then::Nothing,
        }
    }

    fn webhook(name: &'static str, body: impl Into<Vec<u8>>, status: u16, want: Want) -> Self {
        Case {
            to: To::SignedWebhook,
            ..Case::graphql(name, body, status, want)
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn then(mut self, then: Then) -> Self {
        self.then = then;
        self
    }
}

fn query(query: &str) -> Vec<u8> {
    json!({ "query": query }).to_string().into_bytes()
}

fn query_with(query: &str, variables: Value) -> Vec<u8> {
    json!({ "query": query, "variables": variables })
        .to_string()
        .into_bytes()
}

/// `v1=` of Stripe's scheme (HMAC-SHA256 of `"{t}.{body}"`) over raw bytes,
/// which need not be UTF-8; stripe-sim's helper takes a `&str`.
fn stripe_signature(body: &[u8], t: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn jwt(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    )
}

/// Ten fragments, each spreading the one before ten times: 10^10 selections
/// once expanded, from a document of a few hundred bytes.
fn fragment_bomb() -> String {
    let mut doc = String::from("{ ...F10 } fragment F0 on Query { __typename }");
    for i in 1..=10 {
        doc.push_str(&format!(" fragment F{i} on Query {{"));
        for _ in 0..10 {
            doc.push_str(&format!(" ...F{}", i - 1));
        }
        doc.push_str(" }");
    }
    doc
}

const NOT_AN_OBJECT: &str = "the body must be a JSON object";
const NOT_AN_EVENT: &str = "the body is not a Stripe event";
const BAD_TOKEN: &str = "invalid or expired access token";
const BAD_REFRESH: &str = "invalid or expired refresh token";
const TOO_LARGE: &str = "request body is too large";
/// A query that takes a string variable `$s` (which `__type` looks up).
const TYPE_BY_S: &str = "query($s: String) { __type(name: $s) { name } }";

/// Text that must never reach a client: it would be a leaked cause.
const INTERNAL: &[&str] = &[
    "sqlx",
    "sea_orm",
    "sea-orm",
    "SeaORM",
    "DbErr",
    "panicked",
    "backtrace",
    "serde_json",
    "hyper::",
    "axum::",
    ".rs:",
    "/src/",
    "thread '",
];

/// A case's answer must come within this, however large the input.
const QUICKLY: Duration = Duration::from_secs(5);

fn cases(spent_refresh: &str, next_refresh: &str, user_id: &str) -> Vec<Case> {
    use Want::{Graphql, Webhook};
    const BAD: &str = "BAD_USER_INPUT";
    const UNAUTH: &str = "UNAUTHENTICATED";
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        "sub": user_id, "exp": now + 600, "iat": now, "iss": "entitle", "aud": "entitle-api"
    });
    let me = query("{ me { email } }");
    let event = |fields: Value| {
        let mut event = json!({
            "id": "evt_abuse", "object": "event", "type": "invoice.paid",
            "created": chrono::Utc::now().timestamp(), "livemode": false,
            "data": { "object": { "object": "invoice", "id": "in_1", "customer": "cus_1" } }
        });
        for (k, v) in fields.as_object().unwrap() {
            if v.is_null() {
                event.as_object_mut().unwrap().remove(k);
            } else {
                event[k] = v.clone();
            }
        }
        event.to_string()
    };
    let nested = |open: &str, inner: &str, close: &str, levels: usize| {
        format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
    };
    let mut deep_type = String::from("name");
    for _ in 0..20 {
        deep_type = format!("ofType {{ {deep_type} }}");
    }

    vec![
        // Bodies that are not GraphQL requests.
        Case::graphql(
            "malformed JSON",
            r#"{"query": "{ __typename }""#,
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        Case::graphql("JSON null", "null", 400, Graphql(BAD, NOT_AN_OBJECT)),
        Case::graphql(
            "variables that are a list",
            r#"{"query":"{ __typename }","variables":[1,2]}"#,
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        Case::graphql(
            "a 2 MiB body",
            query_with("{ __typename }", json!({ "pad": "a".repeat(2 << 20) })),
            413,
            Graphql(BAD, TOO_LARGE),
        ),
        Case::graphql(
            "invalid UTF-8 bytes around the JSON",
            [b"\xff\xfe".as_slice(), &query("{ __typename }")].concat(),
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        Case::graphql(
            "invalid UTF-8 inside a variable's string",
            [
                &br#"{"query":"{ __typename }","variables":{"s":""#[..],
                b"\xc3\x28",
                br#""}}"#,
            ]
            .concat(),
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        Case::graphql(
            "an encoded surrogate inside the query string",
            [
                &br#"{"query":"{ __type(name: \""#[..],
                b"\xed\xa0\x80",
                br#"\") { name } }"}"#,
            ]
            .concat(),
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        Case::graphql(
            "a lone surrogate escape in a variable",
            format!(r#"{{"query":"{TYPE_BY_S}","variables":{{"s":"\ud800"}}}}"#),
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        // Documents that would cost more than they look.
        Case::graphql(
            "deeper than the depth limit",
            query(&format!(
                "{{ __type(name: \"Query\") {{ fields {{ type {{ {deep_type} }} }} }} }}"
            )),
            400,
            Graphql(BAD, "nested too deep"),
        ),
        Case::graphql(
            "selections nested 10,000 levels",
            query(&nested("{ a ", "", "}", 10_000)),
            400,
            // pest's stack guard ("stack limit reached") or, where frames are
            // smaller, the parser's own bound ("recursion limit exceeded").
            Graphql(BAD, "limit"),
        ),
        Case::graphql(
            "a list value nested 10,000 levels",
            query(&format!(
                "{{ __type(name: {}) {{ name }} }}",
                nested("[", "\"x\"", "]", 10_000)
            )),
            400,
            Graphql(BAD, "limit"),
        ),
        Case::graphql(
            "5,000 aliases of __typename",
            query(&format!(
                "{{ {} }}",
                (0..5000)
                    .map(|i| format!("a{i}: __typename "))
                    .collect::<String>()
            )),
            400,
            Graphql(BAD, "Query is too large"),
        ),
        Case::graphql(
            "5,000 aliases of me { email }",
            query(&format!(
                "{{ {} }}",
                (0..5000)
                    .map(|i| format!("a{i}: me {{ email }} "))
                    .collect::<String>()
            )),
            400,
            Graphql(BAD, "Query is too large"),
        ),
        Case::graphql(
            "a fragment bomb (10^10 once expanded)",
            query(&fragment_bomb()),
            400,
            Graphql(BAD, "Query is too large"),
        ),
        Case::graphql(
            "a fragment cycle that fans out",
            query(concat!(
                "{ ...A } fragment A on Query { __typename ...B ...B }",
                " fragment B on Query { ...A ...A }"
            )),
            400,
            Graphql(BAD, "spreads itself"),
        ),
        // No batching: an array is not a request, however many it holds.
        Case::graphql(
            "a batch of 1,000 requests",
            serde_json::to_vec(&vec![json!({ "query": "{ __typename }" }); 1000]).unwrap(),
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        // Variables.
        Case::graphql(
            "a 900 KB string variable",
            query_with(TYPE_BY_S, json!({ "s": "x".repeat(900_000) })),
            413,
            Graphql(BAD, TOO_LARGE),
        ),
        Case::graphql(
            "a 200 KB email within the body limit",
            query_with(
                r#"mutation($e: String!) {
                    register(email: $e, password: "long enough password") { accessToken }
                }"#,
                json!({ "e": format!("{}@example.com", "x".repeat(200_000)) }),
            ),
            200,
            Graphql(BAD, "longer than 254"),
        ),
        Case::graphql(
            "variables nested 10,000 levels",
            format!(
                r#"{{"query":"{TYPE_BY_S}","variables":{{"s":{}}}}}"#,
                nested(r#"{"a":"#, "1", "}", 10_000)
            ),
            400,
            Graphql(BAD, NOT_AN_OBJECT),
        ),
        // Tokens (tokens.rs has the full set; these only show the server lives).
        Case::graphql(
            "a JWT signed with another secret",
            me.clone(),
            200,
            Graphql(UNAUTH, BAD_TOKEN),
        )
        .header(
            "authorization",
            format!(
                "Bearer {}",
                jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    &claims,
                    &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!"),
                )
                .unwrap()
            ),
        ),
        Case::graphql(
            "an alg: none JWT",
            me.clone(),
            200,
            Graphql(UNAUTH, BAD_TOKEN),
        )
        .header(
            "authorization",
            format!(
                "Bearer {}",
                jwt(&json!({ "alg": "none", "typ": "JWT" }), &claims, "")
            ),
        ),
        Case::graphql(
            "a JWT whose header is not JSON",
            me.clone(),
            200,
            Graphql(UNAUTH, BAD_TOKEN),
        )
        .header(
            "authorization",
            format!(
                "Bearer {}.{}.c2ln",
                B64.encode("{not json"),
                B64.encode(claims.to_string())
            ),
        ),
        Case::graphql(
            "an Authorization header that is not ASCII",
            me.clone(),
            200,
            Graphql(UNAUTH, BAD_TOKEN),
        )
        .header("authorization", b"Bearer \xff\xfe".to_vec()),
        Case::graphql(
            "a spent refresh token presented again",
            query_with(
                "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
                json!({ "t": spent_refresh }),
            ),
            200,
            Graphql(UNAUTH, BAD_REFRESH),
        )
        .then(Then::RefreshRefused(next_refresh.to_owned())),
        // Validly signed webhooks whose body is not an event: refused, nothing stored.
        Case::webhook(
            "a signed body that is not JSON",
            "hello, Stripe",
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed JSON array",
            format!("[{}]", event(json!({}))),
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed object that is not an event",
            event(json!({ "object": "invoice" })),
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed event with no id",
            event(json!({ "id": null })),
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed event with invalid UTF-8",
            event(json!({ "type": "invoice.paid" }))
                .replacen("invoice.paid", "invoice.paid\u{1}", 1)
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xff } else { b })
                .collect::<Vec<u8>>(),
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed event whose id holds a NUL",
            event(json!({ "id": "evt_nul\u{0}" })),
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed event whose customer holds a control character",
            event(
                json!({ "data": { "object": { "object": "invoice", "customer": "cus_\u{1}" } } }),
            ),
            400,
            Webhook(NOT_AN_EVENT),
        ),
        Case::webhook(
            "a signed 2 MiB body",
            vec![b' '; 2 << 20],
            413,
            Webhook("the body is too large"),
        ),
    ]
}

async fn every_bad_input_gets_a_clear_error_and_the_server_stays_up(db: crate::helpers::Db) {
    let Some((app, _sim)) = spawn_with_sim(db, false, &[]).await else {
        return;
    };
    let reg = app.register(&unique_email("abuse")).await;
    let spent = reg["refreshToken"].as_str().unwrap();
    let rotated = app.refresh(spent).await;
    let next = rotated["data"]["refresh"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{rotated}"));
    // A client that gives up rather than hang the test when the server does,
    // and opens a new connection per request: the server closes one whose
    // body it refused unread (413), and a pooled connection reused in that
    // moment fails on the client's side, not the server's.
    let http = reqwest::Client::builder()
        .timeout(QUICKLY * 2)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let conn = Database::connect(&app.db_url).await.unwrap();

    for case in cases(spent, next, reg["user"]["id"].as_str().unwrap()) {
        let name = case.name;
        let mut req = match case.to {
            To::Graphql => http
                .post(app.url("/graphql"))
                .header("accept", GQL)
                .header("content-type", "application/json"),
            To::SignedWebhook => http
                .post(app.url("/webhooks/stripe"))
                .header("content-type", "application/json")
                .header(
                    "stripe-signature",
                    stripe_signature(&case.body, chrono::Utc::now().timestamp()),
                ),
        };
        for (k, v) in case.headers {
            req = req.header(k, reqwest::header::HeaderValue::from_bytes(&v).unwrap());
        }
        let started = Instant::now();
        let res = req
            .body(case.body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: no answer: {e}"));
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let raw = res.bytes().await.unwrap();
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&raw);
        let shown = abbreviated(&text);
        assert!(took < QUICKLY, "{name}: answered after {took:?}");
        assert_eq!(status, case.status, "{name}: {shown}");
        for leak in INTERNAL {
            assert!(!text.contains(leak), "{name} leaks {leak:?}: {shown}");
        }
        match case.want {
            Want::Graphql(code, message) => {
                assert!(
                    content_type.starts_with(GQL),
                    "{name}: {content_type}: {shown}"
                );
                let body: Value = serde_json::from_slice(&raw)
                    .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {shown}"));
                assert_eq!(error_code(&body), code, "{name}: {shown}");
                let said = body["errors"][0]["message"].as_str().unwrap_or_default();
                assert!(said.contains(message), "{name}: {shown}");
                // Refused before execution, or executed with the field's error.
                assert_eq!(body.get("data").is_some(), status == 200, "{name}: {shown}");
            }
            Want::Webhook(error) => {
                assert!(content_type.starts_with("application/json"), "{name}");
                let body: Value = serde_json::from_slice(&raw)
                    .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {shown}"));
                assert_eq!(body, json!({ "error": error }), "{name}");
            }
        }
        match case.then {
            Then::Nothing => {}
            Then::RefreshRefused(token) => {
                let after = app.refresh(&token).await;
                assert_eq!(
                    error_code(&after),
                    "UNAUTHENTICATED",
                    "{name}: the family must be revoked: {after}"
                );
            }
        }
        assert_eq!(
            entity::stripe_events::Entity::find()
                .count(&conn)
                .await
                .unwrap(),
            0,
            "{name}: nothing refused is stored"
        );
        still_up(&app, name).await;
    }

    // The signing above is Stripe's: the same request with a real event is stored.
    let event = json!({
        "id": "evt_abuse_control", "object": "event", "type": "invoice.paid",
        "created": chrono::Utc::now().timestamp(), "livemode": false,
        "data": { "object": { "object": "invoice", "id": "in_1", "customer": "cus_1" } }
    })
    .to_string();
    let t = chrono::Utc::now().timestamp();
    assert_eq!(
        stripe_signature(event.as_bytes(), t),
        stripe_sim::signature::header(&event, &[SECRET.to_owned()], t)
    );
    let res = http
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", stripe_signature(event.as_bytes(), t))
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        entity::stripe_events::Entity::find()
            .count(&conn)
            .await
            .unwrap(),
        1
    );
    conn.close().await.ok();
}

/// The start and the end of a long answer, for failure messages.
fn abbreviated(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 800 {
        return text.to_owned();
    }
    let head: String = chars[..400].iter().collect();
    let tail: String = chars[chars.len() - 400..].iter().collect();
    format!("{head} … ({} characters) … {tail}", chars.len())
}

async fn still_up(app: &TestApp, after: &str) {
    let health = app.http.get(app.url("/healthz")).send().await;
    assert!(
        health.is_ok_and(|r| r.status().as_u16() == 200),
        "/healthz after {after}"
    );
    let body = app.gql("{ __typename }", json!({}), None).await;
    assert_eq!(body["data"]["__typename"], "Query", "after {after}: {body}");
}
