//! graphql-transport-ws on `/graphql/ws`: the connection authenticates once,
//! in `connection_init`, and its operations run with that caller until the
//! token expires.

use std::sync::{Arc, OnceLock};

use async_graphql::{Data, ErrorExtensions, Request, ServerError, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
    response::Response,
};

use super::{caller::RequestMeta, execute::ensure_code, loaders::Loaders, schema::EntitleSchema};
use crate::{
    app::state::AppState,
    auth::{Caller, JwtKeys, extractor::ClientIp},
    error::code,
};

/// graphql-transport-ws. The access token comes in `connectionParams` as
/// `{ "authorization": "Bearer …" }` or `{ "authToken": "…" }`; an invalid one
/// refuses the connection, so the client refreshes and reconnects. Once the
/// token expires, new operations on the connection are refused the same way.
pub async fn graphql_ws(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // The same bound as an HTTP body.
        .max_message_size(state.config.http.max_body_bytes)
        .on_upgrade(move |stream| {
            let caller = Arc::new(OnceLock::new());
            let executor = WsExecutor {
                schema: state.schema.clone(),
                caller: caller.clone(),
            };
            GraphQLWebSocket::new(stream, executor, protocol)
                .on_connection_init(move |params| async move {
                    let found = caller_from_params(&state.jwt, &params);
                    if found == Caller::InvalidToken {
                        return Err(async_graphql::Error::new("invalid or expired access token")
                            .extend_with(|_, e| e.set("code", code::UNAUTHENTICATED)));
                    }
                    let _ = caller.set(found);
                    let mut data = Data::default();
                    data.insert(RequestMeta {
                        caller: found,
                        client_ip,
                    });
                    data.insert(Loaders::new(&state.db, state.changes.cache()));
                    Ok(data)
                })
                .serve()
        })
}

fn caller_from_params(jwt: &JwtKeys, params: &serde_json::Value) -> Caller {
    let field = |name: &str| params.get(name).filter(|v| !v.is_null());
    match (
        field("authorization").or_else(|| field("Authorization")),
        field("authToken"),
    ) {
        (Some(serde_json::Value::String(h)), _) => jwt.caller_from_header(Some(h)),
        (None, Some(serde_json::Value::String(t))) => {
            jwt.caller_from_header(Some(&format!("Bearer {t}")))
        }
        (None, None) => Caller::Anonymous,
        // Present but not a string: a client bug, not an anonymous caller.
        _ => Caller::InvalidToken,
    }
}

/// Runs WebSocket operations: refuses them once the connection's token has
/// expired, and gives every error a code, as the HTTP handler does.
#[derive(Clone)]
struct WsExecutor {
    schema: EntitleSchema,
    caller: Arc<OnceLock<Caller>>,
}

impl WsExecutor {
    fn expired(&self) -> bool {
        matches!(self.caller.get(), Some(Caller::User(u)) if u.is_expired())
    }
}

fn expired_response() -> async_graphql::Response {
    let mut err = ServerError::new(
        "the access token has expired; reconnect with a fresh one",
        None,
    );
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code::UNAUTHENTICATED);
    async_graphql::Response::from_errors(vec![err])
}

fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for err in &mut response.errors {
        ensure_code(err);
    }
    response
}

impl async_graphql::Executor for WsExecutor {
    async fn execute(&self, request: Request) -> async_graphql::Response {
        if self.expired() {
            return expired_response();
        }
        with_codes(self.schema.execute(request).await)
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        use futures_util::StreamExt;
        if self.expired() {
            return futures_util::stream::once(async { expired_response() }).boxed();
        }
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(with_codes)
            .boxed()
    }
}
