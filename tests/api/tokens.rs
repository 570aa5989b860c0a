use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::{
    helpers::{Db, JWT_SECRET, PASSWORD, error_code, spawn_app, unique_email},
    on_both_databases,
};

on_both_databases!(
    expired_tampered_foreign_and_unsigned_tokens_are_unauthenticated,
    a_refresh_rotates_both_tokens,
    reusing_a_refresh_token_revokes_its_whole_family,
    two_concurrent_refreshes_with_one_token_let_exactly_one_through,
    logout_revokes_the_session,
);

fn sign(claims: &Value, secret: &str, alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn expired_tampered_foreign_and_unsigned_tokens_are_unauthenticated(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("tok")).await;
    let good = reg["accessToken"].as_str().unwrap();
    let sub = reg["user"]["id"].as_str().unwrap();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |exp: u64, aud: &str| json!({ "sub": sub, "exp": exp, "iat": now - 10, "iss": "entitle", "aud": aud });
    // The same claims, but a different payload signed by nobody.
    let (head, _, sig) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    };
    let tampered = format!(
        "{head}.{}.{sig}",
        B64.encode(claims(now + 86_400, "entitle-api").to_string())
    );
    let bad_tokens = [
        (
            "expired",
            sign(
                &claims(now - 3600, "entitle-api"),
                JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        ("tampered", tampered),
        (
            "wrong audience",
            sign(
                &claims(now + 600, "another-api"),
                JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        (
            "wrong key",
            sign(
                &claims(now + 600, "entitle-api"),
                "some-other-secret-of-32-bytes-or-more",
                Algorithm::HS256,
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
                B64.encode(claims(now + 600, "entitle-api").to_string())
            ),
        ),
        ("not a jwt", "garbage".to_string()),
    ];
    for (why, token) in &bad_tokens {
        for query in [
            "{ me { email } }",
            "{ entitlements { plan } }",
            "{ subscription { status } }",
        ] {
            let body = app.gql(query, json!({}), Some(token)).await;
            assert_eq!(
                error_code(&body),
                "UNAUTHENTICATED",
                "{why} on {query}: {body}"
            );
        }
    }
    // The good token still works, and a client that still sends a stale token can sign in.
    let me = app.gql("{ me { email } }", json!({}), Some(good)).await;
    assert!(me["data"]["me"]["email"].is_string(), "{me}");
    let login = app
        .gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": reg["user"]["email"], "p": PASSWORD }),
            Some(&bad_tokens[0].1),
        )
        .await;
    assert!(login["data"]["login"]["accessToken"].is_string(), "{login}");
}

async fn a_refresh_rotates_both_tokens(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("rot")).await;
    let first = reg["refreshToken"].as_str().unwrap();
    let body = app.refresh(first).await;
    let next = &body["data"]["refresh"];
    let second = next["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert_ne!(second, first);
    assert_eq!(next["user"]["email"], reg["user"]["email"]);
    let me = app
        .gql("{ me { email } }", json!({}), next["accessToken"].as_str())
        .await;
    assert_eq!(me["data"]["me"]["email"], reg["user"]["email"]);
    // The new refresh token works in turn.
    let third = app.refresh(second).await;
    assert!(
        third["data"]["refresh"]["refreshToken"].is_string(),
        "{third}"
    );
    // An unknown token is refused.
    assert_eq!(error_code(&app.refresh("made-up").await), "UNAUTHENTICATED");
}

async fn reusing_a_refresh_token_revokes_its_whole_family(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let email = unique_email("reuse");
    let reg = app.register(&email).await;
    let other_session = app.login(&email, PASSWORD).await["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let stolen = reg["refreshToken"].as_str().unwrap();
    let body = app.refresh(stolen).await;
    let legit = body["data"]["refresh"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // The old token is presented again: refused, and the family is revoked.
    let reuse = app.refresh(stolen).await;
    assert_eq!(error_code(&reuse), "UNAUTHENTICATED", "{reuse}");
    let after = app.refresh(&legit).await;
    assert_eq!(
        error_code(&after),
        "UNAUTHENTICATED",
        "the family must be revoked: {after}"
    );
    // Another session of the same user is a different family and lives on.
    let other = app.refresh(&other_session).await;
    assert!(
        other["data"]["refresh"]["refreshToken"].is_string(),
        "{other}"
    );
}

async fn two_concurrent_refreshes_with_one_token_let_exactly_one_through(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("race")).await;
    let token = reg["refreshToken"].as_str().unwrap();
    let (a, b) = tokio::join!(app.refresh(token), app.refresh(token));
    let winners: Vec<&str> = [&a, &b]
        .iter()
        .filter_map(|r| r["data"]["refresh"]["refreshToken"].as_str())
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "one token must be spent exactly once: {a} {b}"
    );
    let loser = if a["data"]["refresh"].is_null() {
        &a
    } else {
        &b
    };
    assert_eq!(error_code(loser), "UNAUTHENTICATED");
    // The loser counts as reuse, so the winner's new token is revoked with its family.
    assert_eq!(
        error_code(&app.refresh(winners[0]).await),
        "UNAUTHENTICATED"
    );
}

async fn logout_revokes_the_session(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("bye")).await;
    let token = reg["refreshToken"].as_str().unwrap();
    let logout = |t: String| {
        let app = &app;
        async move {
            app.gql(
                "mutation($t: String!) { logout(refreshToken: $t) }",
                json!({ "t": t }),
                None,
            )
            .await
        }
    };
    assert_eq!(logout(token.to_owned()).await["data"]["logout"], true);
    assert_eq!(error_code(&app.refresh(token).await), "UNAUTHENTICATED");
    // Logging out again, or with an unknown token, is not an error.
    assert_eq!(logout(token.to_owned()).await["data"]["logout"], true);
    assert_eq!(logout("unknown".to_owned()).await["data"]["logout"], true);
}

mod pruning {
    use chrono::{Duration, Utc};
    use entitle::db;
    use sea_orm::Database;
    use uuid::Uuid;

    use crate::{
        helpers::{Db, spawn_app, unique_email},
        on_both_databases,
    };

    on_both_databases!(expired_refresh_tokens_are_pruned_and_live_ones_kept);

    async fn expired_refresh_tokens_are_pruned_and_live_ones_kept(db: Db) {
        let Some(app) = spawn_app(db).await else {
            return;
        };
        let reg = app.register(&unique_email("prune")).await;
        let conn = Database::connect(&app.db_url).await.unwrap();
        let live = entitle::auth::refresh::hash(reg["refreshToken"].as_str().unwrap());
        let user = db::refresh_tokens::by_hash(&conn, &live)
            .await
            .unwrap()
            .unwrap()
            .user_id;
        let now = Utc::now();
        db::refresh_tokens::insert(
            &conn,
            Uuid::new_v4(),
            user,
            Uuid::new_v4(),
            "e".repeat(64),
            now - Duration::hours(1),
        )
        .await
        .unwrap();
        assert_eq!(
            db::refresh_tokens::delete_expired(&conn, now)
                .await
                .unwrap(),
            1
        );
        assert!(
            db::refresh_tokens::by_hash(&conn, &"e".repeat(64))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            db::refresh_tokens::by_hash(&conn, &live)
                .await
                .unwrap()
                .is_some()
        );
        // The live session still refreshes.
        assert!(
            app.refresh(reg["refreshToken"].as_str().unwrap()).await["data"]["refresh"].is_object()
        );
        conn.close().await.ok();
    }
}
