//! graphql-transport-ws with authentication through connectionParams.

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::{
    helpers::{Db, JWT_SECRET, TestApp, spawn_app, unique_email},
    on_both_databases,
};

on_both_databases!(
    a_websocket_client_authenticates_with_connection_params,
    a_websocket_client_with_a_bad_token_is_refused,
    operations_on_a_connection_whose_token_expired_are_refused,
);

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(app: &TestApp) -> Ws {
    let mut req = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws connects");
    ws
}

pub(crate) enum Frame {
    Json(Value),
    Closed(Option<(u16, String)>),
}

/// The next text frame as JSON, or the close, skipping pings.
pub(crate) async fn next_frame(ws: &mut Ws) -> Frame {
    let deadline = std::time::Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => return Frame::Json(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(c))) => {
                return Frame::Closed(c.map(|c| (u16::from(c.code), c.reason.to_string())));
            }
            None | Some(Err(_)) => return Frame::Closed(None),
            _ => continue,
        }
    }
}

pub(crate) async fn next_json(ws: &mut Ws) -> Value {
    match next_frame(ws).await {
        Frame::Json(v) => v,
        Frame::Closed(c) => panic!("expected a message, the server closed: {c:?}"),
    }
}

pub(crate) async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

pub(crate) async fn init(ws: &mut Ws, payload: Value) {
    send(ws, json!({ "type": "connection_init", "payload": payload })).await;
}

pub(crate) async fn subscribe(ws: &mut Ws, id: &str, query: &str) -> Value {
    send(
        ws,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    next_json(ws).await
}

async fn a_websocket_client_authenticates_with_connection_params(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("ws")).await;
    for payload in [
        json!({ "authToken": reg["accessToken"] }),
        json!({ "authorization": format!("Bearer {}", reg["accessToken"].as_str().unwrap()) }),
    ] {
        let mut ws = connect(&app).await;
        init(&mut ws, payload).await;
        assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
        let next = subscribe(&mut ws, "1", "{ me { email } entitlements { plan } }").await;
        assert_eq!(next["type"], "next", "{next}");
        assert_eq!(
            next["payload"]["data"]["me"]["email"], reg["user"]["email"],
            "{next}"
        );
        assert_eq!(next["payload"]["data"]["entitlements"]["plan"], "free");
        assert_eq!(next_json(&mut ws).await["type"], "complete");
        // Validation errors carry a code here too.
        let bad = subscribe(&mut ws, "2", "{ noSuchField }").await;
        assert_eq!(
            bad["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}"
        );
    }
    // Without connectionParams the connection is anonymous.
    let mut ws = connect(&app).await;
    init(&mut ws, json!({})).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let next = subscribe(&mut ws, "1", "{ me { email } }").await;
    assert!(next["payload"]["data"]["me"].is_null(), "{next}");
}

async fn a_websocket_client_with_a_bad_token_is_refused(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for payload in [
        json!({ "authorization": "Bearer forged.token.here" }),
        json!({ "authToken": 42 }),
    ] {
        let mut ws = connect(&app).await;
        init(&mut ws, payload.clone()).await;
        match next_frame(&mut ws).await {
            Frame::Closed(Some((code, reason))) => {
                assert_eq!(code, 1002, "{payload}");
                assert_eq!(reason, "invalid or expired access token");
            }
            Frame::Closed(None) => panic!("closed without a close frame"),
            Frame::Json(v) => panic!("expected a refusal for {payload}, got {v}"),
        }
    }
}

async fn operations_on_a_connection_whose_token_expired_are_refused(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("late")).await;
    // Expired a second ago: inside the 5 s leeway, so the connection opens,
    // but every operation on it is past the token's life.
    let now = jsonwebtoken::get_current_timestamp();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": reg["user"]["id"], "exp": now - 1, "iat": now - 900, "iss": "entitle", "aud": "entitle-api" }),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let mut ws = connect(&app).await;
    init(&mut ws, json!({ "authToken": token })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    let next = subscribe(&mut ws, "1", "{ me { email } }").await;
    assert_eq!(
        next["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{next}"
    );
    assert!(
        next["payload"]["data"]["me"].is_null(),
        "no data for an expired token: {next}"
    );
}

/// A connection of `token`'s user subscribed to `entitlementsChanged`, once
/// the server has read the subscription (a ping's pong comes after it).
pub async fn subscribe_entitlements(app: &TestApp, token: &str) -> Ws {
    let mut ws = connect(app).await;
    init(&mut ws, json!({ "authToken": token })).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_ack");
    send(
        &mut ws,
        json!({ "id": "live", "type": "subscribe",
                "payload": { "query": "subscription { entitlementsChanged { plan features } }" } }),
    )
    .await;
    send(&mut ws, json!({ "type": "ping" })).await;
    loop {
        let msg = next_json(&mut ws).await;
        assert_ne!(msg["type"], "error", "{msg}");
        if msg["type"] == "pong" {
            return ws;
        }
    }
}

/// The first `entitlementsChanged` pushed on `ws` with `plan`, within 30 s.
pub async fn next_entitlements(ws: &mut Ws, plan: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout_at(deadline, next_json(ws))
            .await
            .expect("a push in time");
        let pushed = &msg["payload"]["data"]["entitlementsChanged"];
        if msg["type"] == "next" && pushed["plan"] == plan {
            return pushed.clone();
        }
    }
}
