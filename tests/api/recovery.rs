//! Accounts people can live with: a verified address, a changed or reset
//! password, a closed account. Mail goes over SMTP to a sink on loopback,
//! and the tests follow the links' tokens.

use std::time::{Duration, Instant};

use chrono::Duration as Days;
use entitle::{clock::Clock, db, domain::Email};
use sea_orm::Database;
use serde_json::{Value, json};

use crate::{
    helpers::{
        Db, PASSWORD, SmtpSink, TestApp, error_code, spawn_app_configured, token_in, unique_email,
    },
    on_both_databases,
    sim::{eventually, pay, spawn_with_sim, start_checkout},
};
use stripe_sim::Chaos;

on_both_databases!(
    a_registration_mails_a_link_that_verifies_the_address,
    a_reset_link_works_once_and_signs_every_session_out,
    a_reset_link_expires_after_30_minutes,
    a_reset_request_looks_the_same_for_an_unknown_address,
    a_reset_racing_a_login_leaves_no_session_of_the_old_password,
    changing_the_password_keeps_this_session_and_ends_the_others,
    a_checkout_can_wait_for_a_verified_address,
    deleting_an_account_cancels_stripe_and_erases_the_person,
    without_smtp_mail_is_written_to_files,
);

const APP_URL: &str = "https://app.test";
const NEW_PASSWORD: &str = "an entirely new passphrase";

/// A server mailing through a sink, on `clock`.
async fn spawn(db: Db, extra: &[(&str, &str)], clock: &Clock) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let mut overrides = vec![
        ("ENTITLE_SMTP_URL", url.as_str()),
        ("ENTITLE_APP_URL", APP_URL),
    ];
    overrides.extend_from_slice(extra);
    let clock = clock.clone();
    let app = spawn_app_configured(db, &overrides, |c| c.clock = clock).await?;
    Some((app, sink))
}

async fn ok(app: &TestApp, query: &str, vars: Value, token: Option<&str>) -> Value {
    let body = app.gql(query, vars, token).await;
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> Value {
    app.gql(
        "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
        json!({ "t": token, "p": password }),
        None,
    )
    .await
}

async fn request_reset(app: &TestApp, email: &str) -> Value {
    app.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
        None,
    )
    .await
}

async fn a_registration_mails_a_link_that_verifies_the_address(db: Db) {
    let Some((app, sink)) = spawn(db, &[], &Clock::default()).await else {
        return;
    };
    let email = unique_email("verify");
    let token = app.register(&email).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mail = sink.nth_to(&email, 1).await;
    assert!(
        mail.contains("Subject: Confirm your email address"),
        "{mail}"
    );
    assert!(
        mail.contains("text/plain") && mail.contains("text/html"),
        "{mail}"
    );
    let me = "{ me { emailVerified } }";
    assert_eq!(
        ok(&app, me, json!({}), Some(&token)).await["me"]["emailVerified"],
        false
    );
    let link = token_in(&mail, &format!("{APP_URL}/verify-email"));
    let verify = "mutation($t: String!) { verifyEmail(token: $t) }";
    ok(&app, verify, json!({ "t": link }), None).await;
    assert_eq!(
        ok(&app, me, json!({}), Some(&token)).await["me"]["emailVerified"],
        true
    );
    let again = app.gql(verify, json!({ "t": link }), None).await;
    assert_eq!(
        error_code(&again),
        "BAD_USER_INPUT",
        "a link works once: {again}"
    );
    // Asking again once verified sends nothing.
    ok(
        &app,
        "mutation { requestEmailVerification }",
        json!({}),
        Some(&token),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.mails().iter().filter(|m| m.contains(&email)).count(),
        1
    );
}

async fn a_reset_link_works_once_and_signs_every_session_out(db: Db) {
    let Some((app, sink)) = spawn(db, &[], &Clock::default()).await else {
        return;
    };
    let email = unique_email("forgot");
    let reg = app.register(&email).await;
    let old_refresh = reg["refreshToken"].as_str().unwrap().to_owned();
    ok(
        &app,
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
        None,
    )
    .await;
    let mail = sink.nth_to(&email, 2).await;
    assert!(mail.contains("Subject: Reset your password"), "{mail}");
    let token = token_in(&mail, &format!("{APP_URL}/reset-password"));
    // A tampered token changes nothing.
    let mut tampered = token.clone();
    tampered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
    assert_eq!(
        error_code(&reset(&app, &tampered, NEW_PASSWORD).await),
        "BAD_USER_INPUT"
    );
    assert!(
        app.login(&email, PASSWORD).await.get("errors").is_none(),
        "the old password still works"
    );
    // The real one sets the password and ends every session.
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await["data"]["resetPassword"],
        true
    );
    assert_eq!(
        error_code(&app.login(&email, PASSWORD).await),
        "UNAUTHENTICATED"
    );
    assert!(
        app.login(&email, NEW_PASSWORD)
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(
        error_code(&app.refresh(&old_refresh).await),
        "UNAUTHENTICATED"
    );
    let again = reset(&app, &token, "yet another passphrase").await;
    assert_eq!(error_code(&again), "BAD_USER_INPUT", "used: {again}");
    assert_eq!(again["errors"][0]["extensions"]["field"], "token");
    assert!(
        app.login(&email, NEW_PASSWORD)
            .await
            .get("errors")
            .is_none(),
        "unchanged by a used link"
    );
    // The sent mail's token is not kept in the outbox.
    let conn = Database::connect(&app.db_url).await.unwrap();
    let rows = db::outbox::of_kind(&conn, entity::OutboxKind::Email)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| !r.payload.contains(&token)), "{rows:?}");
    conn.close().await.ok();
}

async fn a_reset_link_expires_after_30_minutes(db: Db) {
    let clock = Clock::default();
    let Some((app, sink)) = spawn(db, &[], &clock).await else {
        return;
    };
    let email = unique_email("late");
    app.register(&email).await;
    request_reset(&app, &email).await;
    let token = token_in(
        &sink.nth_to(&email, 2).await,
        &format!("{APP_URL}/reset-password"),
    );
    clock.advance(Days::minutes(31));
    let late = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(error_code(&late), "BAD_USER_INPUT", "{late}");
    assert!(
        app.login(&email, PASSWORD).await.get("errors").is_none(),
        "nothing changed"
    );
}

async fn a_reset_request_looks_the_same_for_an_unknown_address(db: Db) {
    let Some((app, sink)) = spawn(
        db,
        &[("ENTITLE_AUTH_RATE_PER_EMAIL", "3")],
        &Clock::default(),
    )
    .await
    else {
        return;
    };
    let known = unique_email("known");
    app.register(&known).await;
    sink.nth_to(&known, 1).await;
    let unknown = unique_email("nobody");
    let timed = |email: String| {
        let app = &app;
        async move {
            let started = Instant::now();
            let body = request_reset(app, &email).await;
            (body, started.elapsed())
        }
    };
    let (a, ta) = timed(known.clone()).await;
    let (b, tb) = timed(unknown.clone()).await;
    assert_eq!(a, b, "the same answer");
    assert_eq!(a["data"]["requestPasswordReset"], true);
    for t in [ta, tb] {
        assert!(
            t >= Duration::from_millis(250),
            "both take the floor: {ta:?} {tb:?}"
        );
    }
    sink.nth_to(&known, 2).await;
    assert!(
        sink.mails().iter().all(|m| !m.contains(&unknown)),
        "no mail to an unknown address"
    );
    // Limited per address, known or not, in the same way.
    for email in [&known, &unknown] {
        let mut codes = Vec::new();
        for _ in 0..3 {
            codes.push(request_reset(&app, email).await["errors"][0]["extensions"]["code"].clone());
        }
        assert!(codes.contains(&json!("RATE_LIMITED")), "{email}: {codes:?}");
    }
}

async fn a_reset_racing_a_login_leaves_no_session_of_the_old_password(db: Db) {
    let Some((app, sink)) = spawn(db, &[], &Clock::default()).await else {
        return;
    };
    for round in 0..4 {
        let email = unique_email(&format!("race{round}"));
        app.register(&email).await;
        request_reset(&app, &email).await;
        let token = token_in(
            &sink.nth_to(&email, 2).await,
            &format!("{APP_URL}/reset-password"),
        );
        let (login, done) = tokio::join!(
            app.login(&email, PASSWORD),
            reset(&app, &token, NEW_PASSWORD)
        );
        assert_eq!(done["data"]["resetPassword"], true, "{done}");
        // A sign-in with the old password may have won the race, but then
        // the reset ended its session: nothing of the old password lives on.
        if let Some(refresh) = login["data"]["login"]["refreshToken"].as_str() {
            assert_eq!(
                error_code(&app.refresh(refresh).await),
                "UNAUTHENTICATED",
                "round {round}"
            );
        }
        assert_eq!(
            error_code(&app.login(&email, PASSWORD).await),
            "UNAUTHENTICATED"
        );
    }
}

async fn changing_the_password_keeps_this_session_and_ends_the_others(db: Db) {
    let Some((app, _sink)) = spawn(db, &[], &Clock::default()).await else {
        return;
    };
    let email = unique_email("change");
    let this = app.register(&email).await;
    let other = app.login(&email, PASSWORD).await["data"]["login"].clone();
    let access = this["accessToken"].as_str().unwrap();
    let claims: Value = {
        use base64::Engine;
        let part = access.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert!(
        claims["sid"].is_string(),
        "access tokens name their session: {claims}"
    );
    let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
    let wrong = app
        .gql(
            change,
            json!({ "c": "not my password", "n": NEW_PASSWORD }),
            Some(access),
        )
        .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT");
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "currentPassword");
    let weak = app
        .gql(change, json!({ "c": PASSWORD, "n": "short" }), Some(access))
        .await;
    assert_eq!(weak["errors"][0]["extensions"]["field"], "newPassword");
    ok(
        &app,
        change,
        json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
        Some(access),
    )
    .await;
    assert!(
        app.refresh(this["refreshToken"].as_str().unwrap())
            .await
            .get("errors")
            .is_none(),
        "this session goes on"
    );
    assert_eq!(
        error_code(&app.refresh(other["refreshToken"].as_str().unwrap()).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&app.login(&email, PASSWORD).await),
        "UNAUTHENTICATED"
    );
    assert!(
        app.login(&email, NEW_PASSWORD)
            .await
            .get("errors")
            .is_none()
    );
}

async fn a_checkout_can_wait_for_a_verified_address(db: Db) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let extra = [
        ("ENTITLE_REQUIRE_VERIFIED_EMAIL", "true"),
        ("ENTITLE_SMTP_URL", url.as_str()),
        ("ENTITLE_APP_URL", APP_URL),
    ];
    let Some((app, _sim)) = spawn_with_sim(db, false, &extra).await else {
        return;
    };
    let email = unique_email("unverified");
    let token = app.register(&email).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let checkout = "mutation { createCheckout(plan: \"pro\", interval: MONTHLY, successUrl: \"http://app.test/ok\", cancelUrl: \"http://app.test/no\") { sessionId } }";
    let refused = app.gql(checkout, json!({}), Some(&token)).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let link = token_in(
        &sink.nth_to(&email, 1).await,
        &format!("{APP_URL}/verify-email"),
    );
    ok(
        &app,
        "mutation($t: String!) { verifyEmail(token: $t) }",
        json!({ "t": link }),
        None,
    )
    .await;
    ok(&app, checkout, json!({}), Some(&token)).await;
}

async fn deleting_an_account_cancels_stripe_and_erases_the_person(db: Db) {
    let Some((app, sim)) = spawn_with_sim(db, true, &[]).await else {
        return;
    };
    let email = unique_email("leaving");
    let reg = app.register(&email).await;
    let (token, refresh) = (
        reg["accessToken"].as_str().unwrap(),
        reg["refreshToken"].as_str().unwrap(),
    );
    let session = start_checkout(&app, token, "pro").await;
    // Stripe's webhooks for all of this arrive only after the account is gone.
    sim.set_chaos(Chaos {
        hold: true,
        ..Chaos::default()
    });
    pay(&sim, &session).await;
    let synced = ok(
        &app,
        "mutation($s: String!) { syncCheckout(sessionId: $s) { id } }",
        json!({ "s": session }),
        Some(token),
    )
    .await;
    let sub_id = synced["syncCheckout"]["id"].as_str().unwrap().to_owned();
    let key = ok(
        &app,
        "mutation { createApiKey(name: \"bye\") { secret } }",
        json!({}),
        Some(token),
    )
    .await;
    let key = key["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let delete = "mutation($p: String!) { deleteAccount(password: $p) }";
    let wrong = app
        .gql(delete, json!({ "p": "not my password" }), Some(token))
        .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT");
    ok(&app, delete, json!({ "p": PASSWORD }), Some(token)).await;
    // Stripe ended the subscription at once.
    let theirs = sim.shared().with(|st| st.render_subscription(&sub_id));
    assert_eq!(theirs["status"], "canceled", "{theirs}");
    // Nothing of the person is left to use.
    assert_eq!(
        error_code(&app.gql("{ me { email } }", json!({}), Some(token)).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&app.gql("{ me { email } }", json!({}), Some(&key)).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(error_code(&app.refresh(refresh).await), "UNAUTHENTICATED");
    assert_eq!(
        error_code(&app.login(&email, PASSWORD).await),
        "UNAUTHENTICATED"
    );
    let conn = Database::connect(&app.db_url).await.unwrap();
    let pid: uuid::Uuid = reg["user"]["id"].as_str().unwrap().parse().unwrap();
    let row = db::users::by_pid(&conn, pid)
        .await
        .unwrap()
        .expect("a tombstone stays");
    assert!(row.deleted_at.is_some());
    assert!(row.password_hash.is_empty());
    // Stripe's late webhooks for the checkout must not link the customer again.
    sim.set_chaos(Chaos::default());
    eventually("the held webhooks answered", || async {
        let sent = sim.deliveries();
        (!sent.is_empty() && sent.iter().all(|d| d.succeeded)).then_some(())
    })
    .await;
    let row = db::users::by_pid(&conn, pid).await.unwrap().unwrap();
    assert_eq!(row.stripe_customer_id, None);
    assert!(!row.email.contains('@'), "{}", row.email);
    // The audit trail keeps its pseudonymous reference.
    assert!(
        !db::audit_log::of_user(&conn, row.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    conn.close().await.ok();
    // The address is free again.
    assert!(
        app.try_register(&email, PASSWORD)
            .await
            .get("errors")
            .is_none()
    );
    let _ = Email::parse(&email).unwrap();
}

async fn without_smtp_mail_is_written_to_files(db: Db) {
    let dir = std::env::temp_dir().join(format!("entitle-mail-{}", uuid::Uuid::new_v4().simple()));
    let dir_str = dir.to_str().unwrap().to_owned();
    let Some(app) = spawn_app_configured(
        db,
        &[
            ("ENTITLE_MAIL_DIR", dir_str.as_str()),
            ("ENTITLE_APP_URL", APP_URL),
        ],
        |_| {},
    )
    .await
    else {
        return;
    };
    let email = unique_email("filed");
    app.register(&email).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mail = loop {
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .find(|m| m.contains(&email))
        });
        if let Some(m) = found {
            break m;
        }
        assert!(Instant::now() < deadline, "no mail file in {dir_str}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        mail.contains(&format!("{APP_URL}/verify-email?token=")),
        "{mail}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
