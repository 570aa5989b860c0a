//! One compact line per request, at info: method, route (the matched
//! pattern, never the raw path or its query string, which could carry
//! variables), status, latency, request id, each once. Events logged while
//! the request runs (an internal error's cause) carry the request id too
//! (`telemetry::format::in_request`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, Response},
};
use futures_util::future::BoxFuture;
use tower::{Layer, Service};

use tower_http::request_id::{MakeRequestId, RequestId};

use crate::telemetry::format::in_request;

/// Set on every request that lacks one and echoed on the response, so a
/// client's report can be found in the log.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids in the shape of a UUID: 64 random bits drawn once per process,
/// then a counter. Unique across instances without asking the kernel for
/// randomness on every request, as a v4 UUID does; they are labels, not
/// secrets.
#[derive(Clone)]
pub struct RequestIds {
    process: u64,
    next: Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self {
            process: uuid::Uuid::new_v4().as_u64_pair().0,
            next: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = uuid::Uuid::from_u64_pair(self.process, n);
        let mut buf = uuid::Uuid::encode_buffer();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf))
            .ok()
            .map(RequestId::new)
    }
}

/// The access log, as a layer: it wraps the service below it without
/// cloning it per request, as `middleware::from_fn` would.
#[derive(Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

#[derive(Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, B> Service<Request> for AccessLog<S>
where
    S: Service<Request, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<B>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let id: Box<str> = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .into();
        let answer = in_request(Box::clone(&id), self.inner.call(req));
        Box::pin(async move {
            let res = answer.await?;
            let latency = start.elapsed();
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let status = res.status().as_u16();
            crate::telemetry::metrics::http_request(route, status, latency);
            tracing::info!(
                target: "entitle::access",
                method = method.as_str(),
                route,
                status,
                latency_ms = (latency.as_secs_f64() * 1000.0),
                request_id = &*id,
            );
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn request_ids_never_repeat_within_or_across_processes() {
        let req = axum::http::Request::new(());
        let (mut a, mut b) = (RequestIds::default(), RequestIds::default());
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            for ids in [&mut a, &mut b] {
                let id = ids.make_request_id(&req).unwrap();
                let text = id.header_value().to_str().unwrap().to_owned();
                assert!(uuid::Uuid::parse_str(&text).is_ok(), "{text}");
                assert!(seen.insert(text));
            }
        }
        // A clone (tower clones the layer's maker) shares the counter.
        let mut c = a.clone();
        let next = c.make_request_id(&req).unwrap();
        assert!(seen.insert(next.header_value().to_str().unwrap().to_owned()));
    }
}
