//! graphql-transport-ws with authentication through connectionParams.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::{
    helpers::{Db, TestApp, spawn_app, unique_email},
    on_both_databases,
};

on_both_databases!(
    a_websocket_client_authenticates_with_connection_params,
    a_websocket_client_with_a_bad_token_is_refused
);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp) -> Ws {
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

/// The next text frame as JSON, skipping pings; `None` when the server closes.
async fn next_json(ws: &mut Ws) -> Option<Value> {
    let deadline = std::time::Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a frame in time")?;
        match msg {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            _ => continue,
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

async fn a_websocket_client_authenticates_with_connection_params(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("ws")).await;
    let mut ws = connect(&app).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authToken": reg["accessToken"] } }),
    )
    .await;
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "connection_ack");
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { email } entitlements { plan } }" } }),
    )
    .await;
    let next = next_json(&mut ws).await.unwrap();
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["me"]["email"], reg["user"]["email"],
        "{next}"
    );
    assert_eq!(next["payload"]["data"]["entitlements"]["plan"], "free");
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "complete");
}

async fn a_websocket_client_with_a_bad_token_is_refused(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let mut ws = connect(&app).await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer forged.token.here" } }),
    )
    .await;
    assert_eq!(
        next_json(&mut ws).await,
        None,
        "the connection is closed, not acknowledged"
    );
}
