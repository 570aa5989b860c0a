//! GraphiQL, served by Entitle itself: the page, its bootstrap and the
//! vendored production builds (pinned versions, licences beside them; see
//! `graphiql/README.md`), compiled into the binary, so it works with the
//! network unplugged. The page is sent with a Content-Security-Policy that
//! allows nothing from another origin: it cannot load a script from a CDN,
//! and no script from elsewhere runs where users paste their tokens.

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// No outside origin for anything. The one inline style GraphiQL's dialogs
/// add is allowed by its hash (its text depends only on `page.css` zeroing
/// the body's margins); fonts and a few images are data URIs in its CSS.
pub const CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-nzTgYzXYDNe6BAHiiI7NNlfK8n/auuOAhh2t92YvuXo='; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &[u8] = include_bytes!("graphiql/index.html");

/// `/graphql/assets/<name>`: what is served under each name, and as what.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("graphiql.js", JS, include_bytes!("graphiql/graphiql.js")),
    ("page.css", CSS, include_bytes!("graphiql/page.css")),
    (
        "react.production.min.js",
        JS,
        include_bytes!("graphiql/vendor/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JS,
        include_bytes!("graphiql/vendor/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        JS,
        include_bytes!("graphiql/vendor/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_bytes!("graphiql/vendor/graphiql.min.css"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

fn with_headers(mut res: Response, content_type: &'static str) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The page, for a browser's `GET /graphql`.
pub fn page() -> Response {
    let mut res = with_headers(PAGE.into_response(), "text/html; charset=utf-8");
    // The same URL answers JSON to other Accept headers.
    let h = res.headers_mut();
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// `GET /graphql/assets/{name}` (only while GraphiQL is on).
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            let mut res = with_headers(bytes.into_response(), content_type);
            // The files change only with a new binary; an hour bounds a stale copy.
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            res
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_loads_only_what_is_served_here() {
        let page = std::str::from_utf8(super::PAGE).unwrap();
        for (at, rest) in page
            .match_indices("/graphql/assets/")
            .map(|(i, _)| (i, &page[i..]))
        {
            let name = rest["/graphql/assets/".len()..].split('"').next().unwrap();
            assert!(
                super::ASSETS.iter().any(|(n, _, _)| *n == name),
                "{name} (at {at}) is not served"
            );
        }
        assert!(
            !page.contains("https://") && !page.contains("http://"),
            "no outside URL"
        );
    }
}
