//! graphql-transport-ws on `/graphql/ws`: the connection authenticates once,
//! in `connection_init`, and its operations run with that caller until the
//! token expires.

use std::sync::{Arc, OnceLock};

use async_graphql::{
    Data, ErrorExtensions, Request, ServerError, http::ALL_WEBSOCKET_PROTOCOLS,
    parser::types::OperationType,
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
    response::Response,
};

use futures_util::{
    StreamExt,
    stream::{self, BoxStream},
};

use super::{
    caller::RequestMeta,
    execute::{ensure_code, first_code},
    pipeline::operation_type,
    schema::EntitleSchema,
};
use crate::{
    app::state::AppState,
    auth::{Authenticator, Caller, extractor::ClientIp},
    error::code,
    telemetry::metrics,
};

/// graphql-transport-ws. The credential comes in `connectionParams` as
/// `{ "authorization": "Bearer …" }` or `{ "authToken": "…" }` (an access
/// token or an API key); an invalid one refuses the connection, so the client
/// refreshes and reconnects. Once the token expires, or the key is revoked,
/// new operations on the connection are refused the same way.
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
                auth: state.auth.clone(),
                caller: caller.clone(),
            };
            GraphQLWebSocket::new(stream, executor, protocol)
                .on_connection_init(move |params| async move {
                    let found = match authorization(&params) {
                        Ok(value) => state.auth.caller(value.as_deref()).await,
                        // Present but not a string: a client bug, not an anonymous caller.
                        Err(()) => Caller::InvalidToken,
                    };
                    if let Some((code, message)) = refusal(found) {
                        return Err(async_graphql::Error::new(message)
                            .extend_with(|_, e| e.set("code", code)));
                    }
                    let _ = caller.set(found);
                    let mut data = Data::default();
                    data.insert(RequestMeta {
                        caller: found,
                        client_ip,
                    });
                    Ok(data)
                })
                .serve()
        })
}

/// The `Authorization` value the connection presents, if any; `authToken`
/// carries a bare token.
fn authorization(params: &serde_json::Value) -> Result<Option<String>, ()> {
    let field = |name: &str| params.get(name).filter(|v| !v.is_null());
    match (
        field("authorization").or_else(|| field("Authorization")),
        field("authToken"),
    ) {
        (Some(serde_json::Value::String(h)), _) => Ok(Some(h.clone())),
        (None, Some(serde_json::Value::String(t))) => Ok(Some(format!("Bearer {t}"))),
        (None, None) => Ok(None),
        _ => Err(()),
    }
}

/// Why a connection with this caller is refused, if it is.
fn refusal(caller: Caller) -> Option<(&'static str, &'static str)> {
    match caller {
        Caller::InvalidToken => Some((code::UNAUTHENTICATED, "invalid or expired access token")),
        Caller::InvalidKey => Some((code::UNAUTHENTICATED, "unknown or revoked API key")),
        Caller::Unverified => Some((code::INTERNAL, "internal error")),
        _ => None,
    }
}

/// Runs WebSocket operations: refuses them once the connection's token has
/// expired or its key was revoked, and gives every error a code, as the
/// HTTP handler does.
#[derive(Clone)]
struct WsExecutor {
    schema: EntitleSchema,
    auth: Authenticator,
    caller: Arc<OnceLock<Caller>>,
}

impl WsExecutor {
    async fn refused(&self) -> Option<async_graphql::Response> {
        let caller = self.caller.get()?;
        if self.auth.still_valid(caller).await {
            return None;
        }
        let message = match caller {
            Caller::ApiKey(_) => "the API key was revoked",
            _ => "the access token has expired; reconnect with a fresh one",
        };
        let mut err = ServerError::new(message, None);
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code::UNAUTHENTICATED);
        Some(async_graphql::Response::from_errors(vec![err]))
    }
}

/// The operation's type, for the metrics (WebSocket requests are not
/// parsed ahead of execution, so this parses them once more; they are few).
fn kind_of(request: &Request) -> &'static str {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return "invalid";
    };
    match operation_type(&doc, request.operation_name.as_deref()) {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "invalid",
    }
}

fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for err in &mut response.errors {
        ensure_code(err);
    }
    response
}

impl async_graphql::Executor for WsExecutor {
    async fn execute(&self, request: Request) -> async_graphql::Response {
        if let Some(refused) = self.refused().await {
            return refused;
        }
        let kind = kind_of(&request);
        let response = with_codes(self.schema.execute(request).await);
        metrics::graphql_operation(kind, first_code(&response.errors));
        response
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let this = self.clone();
        stream::once(async move {
            match this.refused().await {
                Some(refused) => stream::once(async { refused }).boxed(),
                None => {
                    metrics::graphql_operation(kind_of(&request), "OK");
                    this.schema
                        .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                        .map(with_codes)
                        .boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}
