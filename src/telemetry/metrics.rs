//! Prometheus metrics, on their own listener (`ENTITLE_METRICS_BIND`, off by
//! default) so they are never public by accident. Counters and histograms are
//! recorded where things happen, through the `metrics` facade (a no-op until
//! a recorder is installed); the webhook backlog, the outbox backlog and the
//! database pool are read when `/metrics` is scraped.

use std::{cell::RefCell, net::SocketAddr, sync::OnceLock, time::Duration};

use anyhow::Context;
use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use chrono::Utc;
use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;

/// Buckets for request and Stripe latencies, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, once installed.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether a recorder is installed: until then every series is a no-op, and
/// the hot paths below skip even building their handles.
fn installed() -> bool {
    HANDLE.get().is_some()
}

/// The process's recorder: installed once, shared by every application the
/// process runs (tests run several).
fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .context("metrics buckets")?
        .build_recorder();
    let h = recorder.handle();
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = HANDLE.set(h);
    }
    HANDLE
        .get()
        .cloned()
        .context("another metrics recorder is installed")
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    db: DatabaseConnection,
}

/// Binds the metrics listener, installing the recorder.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    handle()?;
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (ENTITLE_METRICS_BIND)"))
}

/// Serves `GET /metrics` on `listener` until the process stops.
pub async fn serve(listener: tokio::net::TcpListener, db: DatabaseConnection) {
    let Ok(handle) = handle() else {
        return;
    };
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape { handle, db });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "the metrics listener stopped");
    }
}

async fn scrape(State(s): State<Scrape>) -> impl IntoResponse {
    if let Err(e) = read_gauges(&s.db).await {
        tracing::warn!(error = %e, "reading the metrics gauges");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.handle.render(),
    )
}

/// What is read, not counted: the queues and the pool.
async fn read_gauges(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let (waiting, oldest) = crate::db::stripe_events::backlog(db).await?;
    gauge!("entitle_webhook_backlog").set(waiting as f64);
    let age = oldest.map_or(0.0, |t| (Utc::now() - t).as_seconds_f64().max(0.0));
    gauge!("entitle_webhook_oldest_pending_seconds").set(age);
    gauge!("entitle_outbox_backlog").set(crate::db::outbox::backlog(db).await? as f64);
    gauge!("entitle_db_pool_in_use").set(f64::from(pool_in_use(db)));
    Ok(())
}

fn pool_in_use(db: &DatabaseConnection) -> u32 {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            p.size()
                .saturating_sub(u32::try_from(p.num_idle()).unwrap_or(u32::MAX))
        }
        _ => {
            let p = db.get_sqlite_connection_pool();
            p.size()
                .saturating_sub(u32::try_from(p.num_idle()).unwrap_or(u32::MAX))
        }
    }
}

/// How many labelled series a worker thread keeps handles for; past it
/// (labels no code path here produces in such numbers) a series is looked
/// up in the registry each time, as without the memo.
const MEMO_MAX: usize = 64;

/// An HTTP route and status with their two series.
type HttpSeries = (Box<str>, u16, Counter, Histogram);

thread_local! {
    /// Per worker thread, the handles of the series recorded on every
    /// request. `counter!` with labels allocates the labels, hashes the key
    /// and looks it up in the recorder's registry under its lock, about 1,300
    /// instructions a call in the profile; a kept handle is an atomic add.
    static HTTP: RefCell<Vec<HttpSeries>> = const { RefCell::new(Vec::new()) };
    static OPERATIONS: RefCell<Vec<(&'static str, Box<str>, Counter)>> = const { RefCell::new(Vec::new()) };
}

/// One HTTP request: by matched route and status.
pub fn http_request(route: &str, status: u16, latency: Duration) {
    if !installed() {
        return;
    }
    let new = || {
        let (owned, code) = (route.to_owned(), status.to_string());
        (
            counter!("entitle_http_requests_total", "route" => owned.clone(), "status" => code),
            histogram!("entitle_http_request_duration_seconds", "route" => owned),
        )
    };
    let seconds = latency.as_secs_f64();
    HTTP.with_borrow_mut(|memo| {
        match memo.iter().find(|(r, s, ..)| *s == status && **r == *route) {
            Some((.., count, took)) => {
                count.increment(1);
                took.record(seconds);
            }
            None => {
                let (count, took) = new();
                count.increment(1);
                took.record(seconds);
                if memo.len() < MEMO_MAX {
                    memo.push((route.into(), status, count, took));
                }
            }
        }
    });
}

/// One GraphQL operation: `query`, `mutation`, `subscription` (or
/// `invalid`, when it never ran), and its first error code (`OK` without).
pub fn graphql_operation(kind: &'static str, code: &str) {
    if !installed() {
        return;
    }
    OPERATIONS.with_borrow_mut(|memo| {
        let found = memo.iter().find(|(k, c, _)| *k == kind && **c == *code);
        match found {
            Some((.., counter)) => counter.increment(1),
            None => {
                let counter = counter!("entitle_graphql_operations_total", "type" => kind, "code" => code.to_owned());
                counter.increment(1);
                if memo.len() < MEMO_MAX {
                    memo.push((kind, code.into(), counter));
                }
            }
        }
    });
}

/// A webhook event's fate: `stored`, `duplicate`, `refused`, then
/// `processed`, `ignored` or `failed` per attempt.
pub fn webhook_event(outcome: &'static str) {
    counter!("entitle_webhook_events_total", "outcome" => outcome).increment(1);
}

/// One call to Stripe, and how long it took.
pub fn stripe_request(operation: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    counter!("entitle_stripe_requests_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
    histogram!("entitle_stripe_request_duration_seconds", "operation" => operation)
        .record(took.as_secs_f64());
}

/// A read of the rows cache: `hit` or `miss`.
pub fn rows_cache(hit: bool) {
    if !installed() {
        return;
    }
    // Two fixed series, built once the recorder is there.
    static SERIES: OnceLock<[Counter; 2]> = OnceLock::new();
    let [hits, misses] = SERIES.get_or_init(|| {
        [
            counter!("entitle_rows_cache_total", "result" => "hit"),
            counter!("entitle_rows_cache_total", "result" => "miss"),
        ]
    });
    if hit { hits } else { misses }.increment(1);
}

/// A `recordUsage` call: `counted`, `overage`, `repeated`, `refused`.
pub fn usage_record(limit: &str, outcome: &'static str) {
    counter!("entitle_usage_records_total", "limit" => limit.to_owned(), "outcome" => outcome)
        .increment(1);
}
