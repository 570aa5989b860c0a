//! API keys as credentials: a key authenticates as its owner with a narrower
//! scope, an unknown or revoked one is refused, and a revocation reaches
//! every instance through the change feed.

use std::collections::BTreeSet;

use chrono::Duration;
use serde_json::{Value, json};

use crate::{
    access::{UNCACHED, store},
    helpers::{Db, TestApp, error_code, spawn_another_instance, spawn_app_with, unique_email},
    on_both_databases,
    sim::eventually,
    ws,
};

on_both_databases!(
    an_api_key_authenticates_as_its_owner_with_the_keys_scope,
    unknown_malformed_and_revoked_keys_are_unauthenticated,
    a_revoked_key_is_refused_at_once_and_on_other_instances,
    a_keys_last_use_is_recorded_about_once_a_minute,
    an_api_key_authenticates_a_websocket_until_it_is_revoked,
);

/// A signed-in owner on `pro` (which grants `api_access`), and one of their keys.
async fn owner_with_key(app: &TestApp) -> (String, String, String) {
    let email = unique_email("keyholder");
    let reg = app.register(&email).await;
    let token = reg["accessToken"].as_str().unwrap().to_owned();
    store(
        app,
        &email,
        "active",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;
    let key = create_key(app, &token).await;
    (email, token, key)
}

async fn create_key(app: &TestApp, token: &str) -> String {
    let created = app
        .gql(
            "mutation { createApiKey(name: \"backend\") { secret apiKey { id } } }",
            json!({}),
            Some(token),
        )
        .await;
    created["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned()
}

async fn key_id(app: &TestApp, token: &str) -> String {
    let keys = app.gql("{ apiKeys { id } }", json!({}), Some(token)).await;
    keys["data"]["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn revoke(app: &TestApp, token: &str, id: &str) {
    let body = app
        .gql(
            "mutation($id: ID!) { revokeApiKey(id: $id) }",
            json!({ "id": id }),
            Some(token),
        )
        .await;
    assert_eq!(body["data"]["revokeApiKey"], true, "{body}");
}

/// Every root field, with an operation that reaches it, and whether a key may
/// use it. The test below also checks that this table names every root field
/// of the schema, so a new field must say what keys may do with it.
const ROOT_FIELDS: &[(&str, &str, bool)] = &[
    ("Query.me", "{ me { email } }", true),
    ("Query.subscription", "{ subscription { status } }", true),
    ("Query.entitlements", "{ entitlements { plan } }", true),
    ("Query.usage", "{ usage { limits { name used } } }", true),
    ("Query.plans", "{ plans { name } }", true),
    ("Query.apiKeys", "{ apiKeys { id } }", false),
    ("Query.billingHistory", "{ billingHistory { at } }", false),
    (
        "Mutation.recordUsage",
        "mutation { recordUsage(limit: \"monthly_requests\", idempotencyKey: \"scope-1\") { used } }",
        true,
    ),
    (
        "Mutation.register",
        "mutation { register(email: \"x@example.com\", password: \"long enough pw\") { accessToken } }",
        false,
    ),
    (
        "Mutation.login",
        "mutation { login(email: \"x@example.com\", password: \"long enough pw\") { accessToken } }",
        false,
    ),
    (
        "Mutation.refresh",
        "mutation { refresh(refreshToken: \"x\") { accessToken } }",
        false,
    ),
    (
        "Mutation.logout",
        "mutation { logout(refreshToken: \"x\") }",
        false,
    ),
    (
        "Mutation.createCheckout",
        "mutation { createCheckout(plan: \"pro\", interval: MONTHLY, successUrl: \"http://app.test/ok\", cancelUrl: \"http://app.test/no\") { url } }",
        false,
    ),
    (
        "Mutation.createPortal",
        "mutation { createPortal(returnUrl: \"http://app.test/\") { url } }",
        false,
    ),
    (
        "Mutation.syncCheckout",
        "mutation { syncCheckout(sessionId: \"cs_test_1\") { status } }",
        false,
    ),
    (
        "Mutation.createApiKey",
        "mutation { createApiKey(name: \"k\") { secret } }",
        false,
    ),
    (
        "Mutation.revokeApiKey",
        "mutation { revokeApiKey(id: \"x\") }",
        false,
    ),
    // Account recovery: the owner's, never a key's.
    (
        "Mutation.changePassword",
        "mutation { changePassword(currentPassword: \"x\", newPassword: \"long enough pw\") }",
        false,
    ),
    (
        "Mutation.requestPasswordReset",
        "mutation { requestPasswordReset(email: \"x@example.com\") }",
        false,
    ),
    (
        "Mutation.resetPassword",
        "mutation { resetPassword(token: \"x\", newPassword: \"long enough pw\") }",
        false,
    ),
    (
        "Mutation.requestEmailVerification",
        "mutation { requestEmailVerification }",
        false,
    ),
    (
        "Mutation.verifyEmail",
        "mutation { verifyEmail(token: \"x\") }",
        false,
    ),
    (
        "Mutation.deleteAccount",
        "mutation { deleteAccount(password: \"x\") }",
        false,
    ),
    // Operator fields: a key never carries a role.
    (
        "Query.customer",
        "{ customer(email: \"x@example.com\") { user { id } } }",
        false,
    ),
    (
        "Query.webhookEvents",
        "{ webhookEvents { hasNextPage } }",
        false,
    ),
    (
        "Mutation.grantPlan",
        "mutation { grantPlan(userId: \"x\", plan: \"pro\", until: \"2099-01-01T00:00:00Z\", reason: \"r\") { id } }",
        false,
    ),
    (
        "Mutation.revokeGrant",
        "mutation { revokeGrant(id: \"x\", reason: \"r\") { id } }",
        false,
    ),
    (
        "Mutation.replayEvent",
        "mutation { replayEvent(id: \"evt_x\") { id } }",
        false,
    ),
    (
        "Mutation.syncCustomer",
        "mutation { syncCustomer(userId: \"x\") { id } }",
        false,
    ),
    (
        "Mutation.revokeSessions",
        "mutation { revokeSessions(userId: \"x\", reason: \"r\") }",
        false,
    ),
    (
        "Mutation.setRole",
        "mutation { setRole(userId: \"x\", role: ADMIN) { id } }",
        false,
    ),
];

/// `Type.field` for every field of the root types in the checked-in SDL.
fn root_fields_of_the_schema() -> BTreeSet<String> {
    let sdl = entitle::graphql::sdl();
    let mut out = BTreeSet::new();
    let mut root: Option<&str> = None;
    let mut in_description = false;
    for line in sdl.lines() {
        let t = line.trim();
        if t == "\"\"\"" {
            in_description = !in_description;
            continue;
        }
        if in_description || t.starts_with('"') {
            continue;
        }
        if let Some(name) = t.strip_prefix("type ").and_then(|r| r.strip_suffix(" {")) {
            root = ["Query", "Mutation"].into_iter().find(|r| *r == name);
        } else if t == "}" {
            root = None;
        } else if let Some(r) = root
            && let Some((field, _)) = t.split_once(['(', ':'])
            && field.chars().all(|c| c.is_ascii_alphanumeric())
        {
            out.insert(format!("{r}.{field}"));
        }
    }
    out
}

async fn an_api_key_authenticates_as_its_owner_with_the_keys_scope(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let listed: BTreeSet<String> = ROOT_FIELDS.iter().map(|(f, _, _)| f.to_string()).collect();
    assert_eq!(
        listed,
        root_fields_of_the_schema(),
        "ROOT_FIELDS must list every root field"
    );
    let (email, _, key) = owner_with_key(&app).await;
    let me = app
        .gql(
            "{ me { email } entitlements { plan } }",
            json!({}),
            Some(&key),
        )
        .await;
    assert_eq!(me["data"]["me"]["email"], email.as_str(), "{me}");
    assert_eq!(me["data"]["entitlements"]["plan"], "pro", "{me}");
    for (field, query, allowed) in ROOT_FIELDS {
        let body = app.gql(query, json!({}), Some(&key)).await;
        let code = body["errors"][0]["extensions"]["code"].as_str();
        if *allowed {
            assert!(body.get("errors").is_none(), "{field} with a key: {body}");
        } else {
            assert_eq!(code, Some("FORBIDDEN"), "{field} with a key: {body}");
            assert_eq!(
                body["errors"][0]["path"][0],
                field.split('.').nth(1).unwrap()
            );
        }
    }
}

async fn unknown_malformed_and_revoked_keys_are_unauthenticated(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let (_, token, key) = owner_with_key(&app).await;
    let id = key_id(&app, &token).await;
    revoke(&app, &token, &id).await;
    let mut unknown = key.clone();
    unknown.replace_range(
        10..14,
        if &key[10..14] == "AAAA" {
            "BBBB"
        } else {
            "AAAA"
        },
    );
    for bad in [key.as_str(), unknown.as_str(), "ent_short", "ent_", "ent_é"] {
        let body = app.gql("{ me { email } }", json!({}), Some(bad)).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{bad}: {body}");
        if bad.is_ascii() {
            assert_eq!(
                body["errors"][0]["message"], "unknown or revoked API key",
                "{bad}"
            );
        }
    }
    // Public fields stay public, and signing in still works with a stale key.
    let body = app.gql("{ plans { name } }", json!({}), Some(&key)).await;
    assert!(body.get("errors").is_none(), "{body}");
}

async fn me_with(app: &TestApp, key: &str) -> Value {
    app.gql("{ me { email } }", json!({}), Some(key)).await
}

async fn a_revoked_key_is_refused_at_once_and_on_other_instances(db: Db) {
    // The rows cache is on (ten minutes): only the change feed can make an
    // instance forget that the key was active.
    let cached = &[("ENTITLE_USER_CACHE_TTL_MS", "600000")];
    let Some(first) = spawn_app_with(db, cached).await else {
        return;
    };
    let (email, token, key) = owner_with_key(&first).await;
    let other = matches!(db, Db::Postgres).then_some(());
    let second = match other {
        Some(()) => Some(spawn_another_instance(&first, cached).await),
        None => None,
    };
    // Both instances have seen the key active, and cached it so.
    assert_eq!(
        me_with(&first, &key).await["data"]["me"]["email"],
        email.as_str()
    );
    if let Some(second) = &second {
        assert_eq!(
            me_with(second, &key).await["data"]["me"]["email"],
            email.as_str()
        );
    }
    revoke(&first, &token, &key_id(&first, &token).await).await;
    assert_eq!(error_code(&me_with(&first, &key).await), "UNAUTHENTICATED");
    if let Some(second) = &second {
        eventually("the other instance refuses the revoked key", || async {
            let body = me_with(second, &key).await;
            (body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED").then_some(())
        })
        .await;
    }
    // A key created after the others were cached works everywhere at once too.
    let fresh = create_key(&first, &token).await;
    for app in [Some(&first), second.as_ref()].into_iter().flatten() {
        eventually("a new key is accepted", || async {
            me_with(app, &fresh)
                .await
                .get("errors")
                .is_none()
                .then_some(())
        })
        .await;
    }
}

async fn a_keys_last_use_is_recorded_about_once_a_minute(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let (_, token, key) = owner_with_key(&app).await;
    let last_used = || async {
        let body = app
            .gql("{ apiKeys { lastUsedAt } }", json!({}), Some(&token))
            .await;
        body["data"]["apiKeys"][0]["lastUsedAt"].clone()
    };
    assert_eq!(last_used().await, Value::Null, "never used yet");
    me_with(&app, &key).await;
    let first = eventually("lastUsedAt is written", || async {
        let v = last_used().await;
        (!v.is_null()).then_some(v)
    })
    .await;
    for _ in 0..5 {
        me_with(&app, &key).await;
    }
    // Within the minute, further uses write nothing.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(last_used().await, first);
}

async fn an_api_key_authenticates_a_websocket_until_it_is_revoked(db: Db) {
    let Some(app) = spawn_app_with(db, UNCACHED).await else {
        return;
    };
    let (email, token, key) = owner_with_key(&app).await;
    let mut socket = ws::connect(&app).await;
    ws::init(
        &mut socket,
        json!({ "authorization": format!("Bearer {key}") }),
    )
    .await;
    assert_eq!(ws::next_json(&mut socket).await["type"], "connection_ack");
    let next = ws::subscribe(&mut socket, "1", "{ me { email } }").await;
    assert_eq!(
        next["payload"]["data"]["me"]["email"],
        email.as_str(),
        "{next}"
    );
    assert_eq!(ws::next_json(&mut socket).await["type"], "complete");
    // Revoked on this instance: the connection's next operation is refused.
    revoke(&app, &token, &key_id(&app, &token).await).await;
    let refused = ws::subscribe(&mut socket, "2", "{ me { email } }").await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    // A key that is revoked already cannot open a connection.
    let mut late = ws::connect(&app).await;
    ws::init(
        &mut late,
        json!({ "authorization": format!("Bearer {key}") }),
    )
    .await;
    match ws::next_frame(&mut late).await {
        ws::Frame::Closed(Some((_, reason))) => assert_eq!(reason, "unknown or revoked API key"),
        ws::Frame::Closed(None) => panic!("closed without a reason"),
        ws::Frame::Json(v) => panic!("expected the connection to be refused, got {v}"),
    }
}
