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
    a_logout_racing_a_refresh_leaves_no_live_token,
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

async fn logout(app: &crate::helpers::TestApp, token: &str) -> Value {
    app.gql(
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({ "t": token }),
        None,
    )
    .await
}

async fn a_logout_racing_a_refresh_leaves_no_live_token(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let email = unique_email("tabs");
    app.register(&email).await;
    for _ in 0..8 {
        let session = app.login(&email, PASSWORD).await;
        let token = session["data"]["login"]["refreshToken"].as_str().unwrap();
        let (refreshed, out) = tokio::join!(app.refresh(token), logout(&app, token));
        assert_eq!(out["data"]["logout"], true);
        // Whichever ran first, the family is revoked at the end: a token the
        // refresh handed out must not work.
        if let Some(new) = refreshed["data"]["refresh"]["refreshToken"].as_str() {
            let after = app.refresh(new).await;
            assert_eq!(error_code(&after), "UNAUTHENTICATED", "{after}");
        }
    }
}

async fn logout_revokes_the_session(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let reg = app.register(&unique_email("bye")).await;
    // Rotate once, then log out with the newest token: the whole family ends.
    let rotated = app.refresh(reg["refreshToken"].as_str().unwrap()).await;
    let token = rotated["data"]["refresh"]["refreshToken"].as_str().unwrap();
    assert_eq!(logout(&app, token).await["data"]["logout"], true);
    assert_eq!(error_code(&app.refresh(token).await), "UNAUTHENTICATED");
    // Logging out again, or with an unknown token, is not an error.
    assert_eq!(logout(&app, token).await["data"]["logout"], true);
    assert_eq!(logout(&app, "unknown").await["data"]["logout"], true);
}

mod storage {
    use chrono::{Duration, Utc};
    use entitle::db::{self, refresh_tokens::NewToken};
    use sea_orm::{Database, DatabaseConnection, TransactionTrait};
    use uuid::Uuid;

    use crate::{
        helpers::{Db, spawn_app, unique_email},
        on_both_databases,
    };

    on_both_databases!(
        expired_sessions_and_tokens_are_pruned_and_live_ones_kept,
        a_token_is_spent_once_even_by_concurrent_transactions,
    );

    async fn a_token(
        conn: &DatabaseConnection,
        user_id: i32,
        expires_in: Duration,
    ) -> (Uuid, String) {
        let now = Utc::now();
        let family = Uuid::new_v4();
        db::token_families::insert(conn, family, user_id, now, now + expires_in)
            .await
            .unwrap();
        let hash = entitle::auth::opaque::hash(&entitle::auth::opaque::generate());
        let token = NewToken {
            id: Uuid::new_v4(),
            family_id: family,
            user_id,
            token_hash: hash.clone(),
            expires_at: now + expires_in,
        };
        let id = token.id;
        db::refresh_tokens::insert(conn, token, now).await.unwrap();
        (id, hash)
    }

    async fn user_id(conn: &DatabaseConnection, refresh_token: &str) -> i32 {
        let hash = entitle::auth::opaque::hash(refresh_token);
        db::refresh_tokens::by_hash(conn, &hash)
            .await
            .unwrap()
            .unwrap()
            .user_id
    }

    async fn expired_sessions_and_tokens_are_pruned_and_live_ones_kept(db: Db) {
        let Some(app) = spawn_app(db).await else {
            return;
        };
        let reg = app.register(&unique_email("prune")).await;
        let live = reg["refreshToken"].as_str().unwrap();
        let conn = Database::connect(&app.db_url).await.unwrap();
        let user = user_id(&conn, live).await;
        let (_, expired) = a_token(&conn, user, Duration::hours(-1)).await;

        let now = Utc::now();
        assert_eq!(
            db::token_families::delete_dead(&conn, now).await.unwrap(),
            1
        );
        assert_eq!(
            db::refresh_tokens::delete_expired(&conn, now)
                .await
                .unwrap(),
            0,
            "gone with its family"
        );
        assert!(
            db::refresh_tokens::by_hash(&conn, &expired)
                .await
                .unwrap()
                .is_none()
        );
        // The live session still refreshes.
        assert!(app.refresh(live).await["data"]["refresh"].is_object());
        conn.close().await.ok();
    }

    async fn a_token_is_spent_once_even_by_concurrent_transactions(db: Db) {
        let Some(app) = spawn_app(db).await else {
            return;
        };
        let reg = app.register(&unique_email("spend")).await;
        let conn = Database::connect(&app.db_url).await.unwrap();
        let user = user_id(&conn, reg["refreshToken"].as_str().unwrap()).await;
        let (id, _) = a_token(&conn, user, Duration::hours(1)).await;
        let spend = |conn: DatabaseConnection| async move {
            let txn = conn.begin().await.unwrap();
            let won = db::refresh_tokens::spend(&txn, id, Uuid::new_v4(), Utc::now())
                .await
                .unwrap();
            txn.commit().await.unwrap();
            won
        };
        let (a, b) = tokio::join!(spend(conn.clone()), spend(conn.clone()));
        let mut results = [a, b];
        results.sort();
        assert_eq!(results, [false, true]);
        assert!(!spend(conn.clone()).await, "a spent token stays spent");
        conn.close().await.ok();
    }
}
