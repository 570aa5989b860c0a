//! The bare stack, for `benches/run` to compare Entitle with: async-graphql
//! behind the stock `async_graphql_axum::GraphQL` service on axum and tokio,
//! the same versions as Entitle (one lockfile), and nothing else: no layers,
//! no logging, no data, one trivial field.
//!
//!     cargo build --release --example baseline -p entitle
//!     target/release/examples/baseline 8099          # or BASELINE_PORT=8099
//!
//! Binds 127.0.0.1 and serves `POST /graphql` (and `GET /graphql?query=…`,
//! which `benches/run` uses to wait until it is up). The runtime is built as
//! Entitle's `main` builds it: multi-threaded, one worker per core.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use async_graphql_axum::GraphQL;
use axum::{Router, routing::post_service};

struct Query;

#[Object]
impl Query {
    /// Never asked by the benchmark; async-graphql needs one field.
    async fn ok(&self) -> bool {
        true
    }
}

fn port() -> u16 {
    let arg = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BASELINE_PORT").ok());
    match arg.as_deref().map(str::parse) {
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("baseline: the port must be a number");
            std::process::exit(2);
        }
        None => 8099,
    }
}

fn main() {
    let port = port();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(async move {
            let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
            let graphql = GraphQL::new(schema);
            let app = Router::new().route(
                "/graphql",
                post_service(graphql.clone()).get_service(graphql),
            );
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap_or_else(|e| {
                    eprintln!("baseline: cannot listen on 127.0.0.1:{port}: {e}");
                    std::process::exit(1);
                });
            axum::serve(listener, app).await.expect("serve");
        });
}
