use serde_json::json;

use crate::{
    helpers::{Db, PASSWORD, error_code, spawn_app, unique_email},
    on_both_databases,
};

on_both_databases!(
    a_new_user_registers_logs_in_and_reads_me,
    registering_a_taken_email_is_a_conflict,
    a_wrong_password_and_an_unknown_email_get_the_same_error,
    malformed_emails_and_short_passwords_are_bad_input,
    anonymous_callers_get_a_null_me_and_the_free_plan,
    plans_list_the_catalogue,
);

async fn a_new_user_registers_logs_in_and_reads_me(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let email = unique_email("Ada");
    let reg = app.register(&email).await;
    assert_eq!(reg["user"]["email"], email.to_lowercase());
    assert_eq!(reg["expiresIn"], 900);
    assert_eq!(reg["tokenType"], "Bearer");
    let user_id = reg["user"]["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&user_id).expect("the public id is a uuid");

    let me = app
        .gql(
            "{ me { id email createdAt } }",
            json!({}),
            reg["accessToken"].as_str(),
        )
        .await;
    assert_eq!(me["data"]["me"]["email"], email.to_lowercase(), "{me}");
    assert_eq!(me["data"]["me"]["id"], user_id);

    // The email is matched case-insensitively at login.
    let login = app.login(&email.to_uppercase(), PASSWORD).await;
    let session = &login["data"]["login"];
    assert_eq!(session["user"]["id"], user_id, "{login}");
    assert_ne!(session["refreshToken"], reg["refreshToken"]);
    let me = app
        .gql(
            "{ me { email } }",
            json!({}),
            session["accessToken"].as_str(),
        )
        .await;
    assert_eq!(me["data"]["me"]["email"], email.to_lowercase());
}

async fn registering_a_taken_email_is_a_conflict(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let email = unique_email("taken");
    app.register(&email).await;
    for variant in [email.clone(), format!("  {}  ", email.to_uppercase())] {
        let body = app.try_register(&variant, PASSWORD).await;
        assert_eq!(error_code(&body), "CONFLICT", "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_error(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let email = unique_email("known");
    app.register(&email).await;
    let wrong_password = app.login(&email, "not the password").await;
    let unknown_email = app.login(&unique_email("nobody"), PASSWORD).await;
    assert_eq!(error_code(&wrong_password), "UNAUTHENTICATED");
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown_email["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        unknown_email["errors"][0]["extensions"]
    );
}

async fn malformed_emails_and_short_passwords_are_bad_input(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for (email, password, field) in [
        ("not-an-email", PASSWORD, "email"),
        ("a@localhost", PASSWORD, "email"),
        ("ok@example.com", "short", "password"),
    ] {
        let body = app.try_register(email, password).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let too_long = "x".repeat(257);
    let body = app.try_register(&unique_email("long"), &too_long).await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "password",
        "{body}"
    );
}

async fn anonymous_callers_get_a_null_me_and_the_free_plan(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let body = app
        .gql(
            "{ me { email } subscription { status } entitlements { plan features limits { name value unlimited } } }",
            json!({}),
            None,
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["data"]["me"].is_null());
    assert!(body["data"]["subscription"].is_null());
    assert_eq!(body["data"]["entitlements"]["plan"], "free");
    assert_eq!(body["data"]["entitlements"]["features"], json!([]));
    assert_eq!(
        body["data"]["entitlements"]["limits"],
        json!([
            { "name": "api_keys", "value": 0, "unlimited": false },
            { "name": "monthly_requests", "value": 1000, "unlimited": false }
        ])
    );

    // A signed-in user without a subscription is on the free plan too.
    let reg = app.register(&unique_email("free")).await;
    let body = app
        .gql(
            "{ subscription { status } entitlements { plan } }",
            json!({}),
            reg["accessToken"].as_str(),
        )
        .await;
    assert!(body["data"]["subscription"].is_null(), "{body}");
    assert_eq!(body["data"]["entitlements"]["plan"], "free");
}

async fn plans_list_the_catalogue(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let body = app
        .gql(
            "{ plans { name features trialDays prices { interval priceId } limits { name value unlimited } } }",
            json!({}),
            None,
        )
        .await;
    let plans = body["data"]["plans"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let names: Vec<&str> = plans.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["free", "pro", "studio"]);
    assert_eq!(plans[0]["prices"], json!([]));
    assert_eq!(
        plans[1]["prices"],
        json!([
            { "interval": "MONTHLY", "priceId": "price_pro_monthly" },
            { "interval": "YEARLY", "priceId": "price_pro_yearly" }
        ])
    );
    assert_eq!(plans[1]["trialDays"], 14);
    let studio_requests = plans[2]["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "monthly_requests")
        .unwrap();
    assert_eq!(
        studio_requests,
        &json!({ "name": "monthly_requests", "value": null, "unlimited": true })
    );
}
