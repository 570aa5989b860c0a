//! Rate limits and query limits.

use serde_json::{Value, json};

use crate::{
    helpers::{Db, GQL, PASSWORD, error_code, spawn_app, spawn_app_with, unique_email},
    on_both_databases,
};

on_both_databases!(
    logins_are_rate_limited_per_email,
    auth_mutations_are_rate_limited_per_client_address,
    queries_deeper_than_the_limit_are_refused,
    graphiqls_introspection_query_fits_within_the_limits,
    introspection_and_graphiql_are_off_in_production,
    misspelt_fields_get_no_suggestions_when_introspection_is_off,
);

async fn login_as(app: &crate::helpers::TestApp, email: &str, client: &str) -> Value {
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("accept", GQL)
        .header("x-forwarded-for", client)
        .json(&json!({
            "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            "variables": { "e": email, "p": "wrong password" },
        }))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

async fn logins_are_rate_limited_per_email(db: Db) {
    let Some(app) = spawn_app_with(db, &[("ENTITLE_AUTH_RATE_PER_EMAIL", "3")]).await else {
        return;
    };
    let email = unique_email("victim");
    app.register(&email).await; // the first attempt of the burst
    for _ in 0..2 {
        assert_eq!(
            error_code(&app.login(&email, "wrong password").await),
            "UNAUTHENTICATED"
        );
    }
    let limited = app.login(&email, PASSWORD).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "{limited}");
    let retry = limited["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((1..=60).contains(&retry), "{limited}");
    // Another account is not affected.
    let other = unique_email("bystander");
    app.register(&other).await;
    assert!(app.login(&other, PASSWORD).await["data"]["login"]["accessToken"].is_string());
}

async fn auth_mutations_are_rate_limited_per_client_address(db: Db) {
    let Some(app) = spawn_app_with(
        db,
        &[
            ("ENTITLE_AUTH_RATE_PER_IP", "4"),
            ("ENTITLE_TRUST_PROXY", "true"),
        ],
    )
    .await
    else {
        return;
    };
    for _ in 0..4 {
        let body = login_as(&app, &unique_email("spray"), "203.0.113.7").await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    let body = login_as(&app, &unique_email("spray"), "203.0.113.7").await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    // refresh is limited too, from the same address.
    let res: Value = app
        .http
        .post(app.url("/graphql"))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({ "query": "mutation { refresh(refreshToken: \"x\") { accessToken } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&res), "RATE_LIMITED", "{res}");
    // Another address is not.
    let body = login_as(&app, &unique_email("spray"), "198.51.100.1").await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

async fn queries_deeper_than_the_limit_are_refused(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    // Introspection nests without end, so it can go deeper than any real query.
    let mut deep = String::from("name");
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let query = format!("{{ __schema {{ types {{ fields {{ type {{ {deep} }} }} }} }} }}");
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("accept", GQL)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{body}"
    );

    // An alias bomb hits the complexity limit.
    let aliases: String = (0..300)
        .map(|i| format!("a{i}: plans {{ name }} "))
        .collect();
    let body = app.gql(&format!("{{ {aliases} }}"), json!({}), None).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{body}"
    );
}

async fn graphiqls_introspection_query_fits_within_the_limits(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let body = app
        .gql(
            include_str!("fixtures/introspection.graphql"),
            json!({}),
            None,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

async fn introspection_and_graphiql_are_off_in_production(db: Db) {
    let Some(app) = spawn_app_with(db, &[("ENTITLE_ENV", "production")]).await else {
        return;
    };
    // async-graphql answers introspection fields with null when it is disabled.
    let body = app
        .gql(
            "{ __schema { queryType { name } } __type(name: \"User\") { name } }",
            json!({}),
            None,
        )
        .await;
    assert!(body["data"]["__schema"].is_null(), "{body}");
    assert!(body["data"]["__type"].is_null(), "{body}");
    let res = app
        .http
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_ne!(res.status().as_u16(), 200, "no GraphiQL in production");
    // Ordinary queries still work.
    assert_eq!(
        app.gql("{ __typename }", json!({}), None).await["data"]["__typename"],
        "Query"
    );
}

async fn misspelt_fields_get_no_suggestions_when_introspection_is_off(db: Db) {
    let Some(prod) = spawn_app_with(db, &[("ENTITLE_ENV", "production")]).await else {
        return;
    };
    let Some(dev) = spawn_app_with(db, &[]).await else {
        return;
    };
    for query in [
        "{ subscriptio { status } }",
        "{ me { emai } }",
        "{ entitlements { featurs } }",
    ] {
        let body = prod.gql(query, json!({}), None).await;
        let text = body.to_string();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            !text.contains("Did you mean"),
            "production leaks the schema: {body}"
        );
        for hint in ["\"subscription\"", "\"email\"", "\"features\""] {
            assert!(!text.contains(hint), "{hint} in {body}");
        }
        // Where introspection is on (development), the hints are there.
        let hinted = dev.gql(query, json!({}), None).await;
        assert!(hinted.to_string().contains("Did you mean"), "{hinted}");
    }
}
