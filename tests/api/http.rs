//! GraphQL over HTTP: media types, status codes and methods.

use serde_json::Value;

use crate::{
    helpers::{Db, GQL, TestApp, spawn_app, spawn_app_with},
    on_both_databases,
};

on_both_databases!(
    the_response_media_type_follows_accept,
    a_document_that_fails_validation_is_400_only_under_graphql_response_json,
    bodies_that_are_not_graphql_requests_are_400,
    unsupported_content_types_are_415,
    queries_run_over_get_but_mutations_do_not,
    browsers_get_graphiql_at_the_graphql_url,
    only_configured_origins_pass_cors,
);

async fn post(app: &TestApp, accept: Option<&str>, body: &str) -> (u16, String, Value) {
    let mut req = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, res.json().await.unwrap_or(Value::Null))
}

const TYPENAME: &str = r#"{"query":"{ __typename }"}"#;

async fn the_response_media_type_follows_accept(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for (accept, want) in [
        (Some("application/json"), "application/json"),
        (Some(GQL), GQL),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GQL,
        ),
        (
            Some("application/json, application/graphql-response+json;q=0.5"),
            "application/json",
        ),
        (None, GQL),
        (Some("*/*"), GQL),
    ] {
        let (status, ct, body) = post(&app, accept, TYPENAME).await;
        assert_eq!(status, 200, "Accept {accept:?}");
        assert!(ct.starts_with(want), "Accept {accept:?} gave {ct}");
        assert_eq!(body["data"]["__typename"], "Query");
    }
    let (status, _, body) = post(&app, Some("text/csv"), TYPENAME).await;
    assert_eq!(status, 406, "{body}");
}

async fn a_document_that_fails_validation_is_400_only_under_graphql_response_json(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for doc in [
        r#"{"query":"{ me { "}"#,
        r#"{"query":"{ noSuchField }"}"#,
        r#"{"query":"query A { __typename } query B { __typename }"}"#,
    ] {
        let (status, _, body) = post(&app, Some(GQL), doc).await;
        assert_eq!(status, 400, "{doc}: {body}");
        assert!(
            body.get("data").is_none(),
            "no data entry when nothing executed: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );

        let (status, ct, body) = post(&app, Some("application/json"), doc).await;
        assert_eq!(status, 200, "{doc}: {body}");
        assert!(ct.starts_with("application/json"));
        assert!(body["errors"][0]["message"].is_string(), "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
    // A field error during execution is still 200, with data and the error.
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("accept", GQL)
        .bearer_auth("not-a-valid-token")
        .json(&serde_json::json!({ "query": "{ me { email } plans { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["data"]["me"].is_null(), "{body}");
    assert_eq!(body["data"]["plans"][0]["name"], "free", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["path"],
        serde_json::json!(["me"]),
        "{body}"
    );
}

async fn bodies_that_are_not_graphql_requests_are_400(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for body in [
        "{not json",
        "[]",
        r#"{"query": 42}"#,
        r#"{"variables": {}}"#,
        r#"{"query":"{ __typename }","variables":"nope"}"#,
        "\u{0}\u{1}",
    ] {
        for accept in ["application/json", GQL] {
            let (status, _, res) = post(&app, Some(accept), body).await;
            assert_eq!(status, 400, "{body:?} under {accept}: {res}");
            assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
    }
    // Bodies over the limit are refused before they are parsed.
    let huge = format!(
        r#"{{"query":"{{ __typename }}","variables":{{"x":"{}"}}}}"#,
        "a".repeat(300_000)
    );
    let (status, _, _) = post(&app, Some(GQL), &huge).await;
    assert_eq!(status, 413);
}

async fn unsupported_content_types_are_415(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for ct in [
        None,
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/json; charset=latin1"),
    ] {
        let mut req = app
            .http
            .post(app.url("/graphql"))
            .header("accept", GQL)
            .body(TYPENAME);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 415, "Content-Type {ct:?}");
    }
}

async fn queries_run_over_get_but_mutations_do_not(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[
            (
                "query",
                "query($b: Boolean!) { __typename plans @include(if: $b) { name } }",
            ),
            ("variables", r#"{"b":true}"#),
        ])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    assert_eq!(body["data"]["plans"][0]["name"], "free", "{body}");

    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", r#"mutation { logout(refreshToken: "x") }"#)])
        .header("accept", GQL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(res.headers()["allow"], "POST");

    let res = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }"), ("variables", "{broken")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let res = app
        .http
        .get(app.url("/graphql"))
        .header("accept", GQL)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400, "a GET without a query");
}

async fn browsers_get_graphiql_at_the_graphql_url(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let res = app
        .http
        .get(app.url("/graphql"))
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("http") && !csp.contains("ws:"),
        "no outside origin: {csp}"
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains("graphiql") && html.contains("/graphql/ws"),
        "{html}"
    );
    assert!(
        !html.contains("https://") && !html.contains("unpkg"),
        "no CDN: {html}"
    );
    // Everything the page loads is served here, as what it is.
    for (name, kind) in [
        ("react.production.min.js", "text/javascript"),
        ("react-dom.production.min.js", "text/javascript"),
        ("graphiql.min.js", "text/javascript"),
        ("graphiql.min.css", "text/css"),
        ("graphiql.js", "text/javascript"),
        ("page.css", "text/css"),
    ] {
        assert!(html.contains(&format!("/graphql/assets/{name}")), "{name}");
        let res = app
            .http
            .get(app.url(&format!("/graphql/assets/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{name}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{name}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
    let missing = app
        .http
        .get(app.url("/graphql/assets/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

async fn only_configured_origins_pass_cors(db: Db) {
    let Some(app) =
        spawn_app_with(db, &[("ENTITLE_CORS_ORIGINS", "https://app.example.com")]).await
    else {
        return;
    };
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}
