//! Operators by role: who may read and change what, comp grants that hold
//! until they end, replays, and an audit row for every action.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use entitle::{db, domain::Email};
use entity::Role;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::{
    access::store,
    helpers::{
        Db, TestApp, error_code, spawn_another_instance, spawn_app, spawn_app_with, unique_email,
    },
    on_both_databases,
    sim::eventually,
};

on_both_databases!(
    every_operator_field_answers_each_kind_of_caller_as_it_should,
    a_grant_gives_its_plan_and_ends_at_request_time,
    a_revoked_grant_and_a_demotion_apply_on_the_next_request_everywhere,
    every_action_leaves_an_audit_row_that_outlives_the_account,
    the_last_admin_cannot_be_demoted_even_by_two_at_once,
    webhook_events_page_newest_first_by_status,
    replay_re_applies_a_failed_event,
    the_cli_bootstraps_the_first_admin,
);

/// A registered user with `role` (set as `entitle users set-role` does), and their token.
pub async fn with_role(app: &TestApp, role: Role) -> (String, String, String) {
    let email = unique_email(role.as_str());
    let reg = app.register(&email).await;
    let conn = Database::connect(&app.db_url).await.unwrap();
    let user = db::users::by_email(&conn, &Email::parse(&email).unwrap())
        .await
        .unwrap()
        .unwrap();
    db::users::set_role(&conn, user.id, role).await.unwrap();
    conn.close().await.ok();
    let token = reg["accessToken"].as_str().unwrap().to_owned();
    let pid = reg["user"]["id"].as_str().unwrap().to_owned();
    (email, token, pid)
}

/// Stores a failed webhook event straight into the inbox.
async fn stored_event(app: &TestApp, id: &str, status: &str, at: chrono::DateTime<Utc>) {
    let conn = Database::connect(&app.db_url).await.unwrap();
    let sql = format!(
        "INSERT INTO stripe_events (id, type, api_version, created, livemode, customer_id, payload, \
         received_at, status, attempts, last_error, next_attempt_at, locked_until, processed_at) \
         VALUES ('{id}', 'invoice.paid', NULL, '{t}', false, 'cus_nobody', '{{}}', '{t}', '{status}', 3, \
         'Stripe was down', '{far}', NULL, NULL)",
        t = at.to_rfc3339(),
        far = (at + Duration::days(1)).to_rfc3339(),
    );
    conn.execute_unprepared(&sql).await.unwrap();
    conn.close().await.ok();
}

/// Every operator field, an operation that reaches it, and the least role it needs.
fn operator_fields(target: &str) -> Vec<(&'static str, String, Role)> {
    let until = (Utc::now() + Duration::days(30)).to_rfc3339();
    vec![
        ("customer", format!("{{ customer(id: \"{target}\") {{ user {{ email }} }} }}"), Role::Support),
        ("webhookEvents", "{ webhookEvents(first: 5) { nodes { id } } }".into(), Role::Support),
        (
            "grantPlan",
            format!("mutation {{ grantPlan(userId: \"{target}\", plan: \"pro\", until: \"{until}\", reason: \"partner\") {{ id }} }}"),
            Role::Admin,
        ),
        (
            "revokeGrant",
            "mutation { revokeGrant(id: \"00000000-0000-0000-0000-000000000000\", reason: \"r\") { id } }".into(),
            Role::Admin,
        ),
        ("replayEvent", "mutation { replayEvent(id: \"evt_replay_me\") { id } }".into(), Role::Admin),
        ("syncCustomer", format!("mutation {{ syncCustomer(userId: \"{target}\") {{ id }} }}"), Role::Admin),
        (
            "revokeSessions",
            format!("mutation {{ revokeSessions(userId: \"{target}\", reason: \"lost laptop\") }}"),
            Role::Admin,
        ),
        ("setRole", format!("mutation {{ setRole(userId: \"{target}\", role: USER) {{ role }} }}"), Role::Admin),
    ]
}

/// The fields of the SDL that carry `@requiresRole`, with the role named.
fn role_guarded_fields() -> BTreeSet<(String, String)> {
    entitle::graphql::sdl()
        .lines()
        .filter_map(|l| {
            if l.trim_start().starts_with("directive") {
                return None;
            }
            let (head, tail) = l.split_once("@requiresRole(role: ")?;
            let field = head.trim().split(['(', ':']).next()?.to_owned();
            Some((field, tail.split(')').next()?.to_owned()))
        })
        .collect()
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

async fn every_operator_field_answers_each_kind_of_caller_as_it_should(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let (_, _, target) = with_role(&app, Role::User).await;
    let fields = operator_fields(&target);
    let listed: BTreeSet<(String, String)> = fields
        .iter()
        .map(|(f, _, r)| (f.to_string(), r.as_str().to_uppercase()))
        .collect();
    assert_eq!(
        listed,
        role_guarded_fields(),
        "the table covers every @requiresRole field"
    );
    stored_event(&app, "evt_replay_me", "failed", Utc::now()).await;
    let (admin_email, admin, _) = with_role(&app, Role::Admin).await;
    let (_, support, _) = with_role(&app, Role::Support).await;
    let (_, user, _) = with_role(&app, Role::User).await;
    store(
        &app,
        &admin_email,
        "active",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;
    let created = app
        .gql(
            "mutation { createApiKey(name: \"ops\") { secret } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let admins_key = created["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let callers: [(&str, Option<&str>, Role); 5] = [
        ("anonymous", None, Role::User),
        ("an admin's API key", Some(&admins_key), Role::User),
        ("a user", Some(&user), Role::User),
        ("support", Some(&support), Role::Support),
        ("an admin", Some(&admin), Role::Admin),
    ];
    for (field, query, needs) in &fields {
        for (who, token, role) in &callers {
            let body = app.gql(query, json!({}), *token).await;
            let got = code(&body);
            let want = match (*token, role >= needs) {
                (None, _) => Some("UNAUTHENTICATED"),
                (Some(_), false) => Some("FORBIDDEN"),
                (Some(_), true) => None,
            };
            match want {
                Some(want) => {
                    assert_eq!(got, Some(want), "{field} by {who}: {body}");
                    assert!(
                        body["data"].is_null() || body["data"][field].is_null(),
                        "{body}"
                    );
                }
                None => assert!(
                    !matches!(got, Some("UNAUTHENTICATED" | "FORBIDDEN")),
                    "{field} by {who}: {body}"
                ),
            }
        }
    }
    // Refused callers learn nothing, not even whether a user exists.
    for email in [admin_email.as_str(), "nobody-at-all@example.com"] {
        let q = format!("{{ customer(email: \"{email}\") {{ user {{ id }} }} }}");
        let body = app.gql(&q, json!({}), Some(&user)).await;
        assert_eq!(
            body["errors"][0]["message"],
            "this needs an operator role you do not have"
        );
    }
}

async fn customer(app: &TestApp, token: &str, id: &str) -> Value {
    let q = "query($id: ID!) { customer(id: $id) { user { email role } entitlements { plan features } \
             sources { kind plan reference } grants { id plan active } operatorActions { action actor reason } } }";
    app.gql(q, json!({ "id": id }), Some(token)).await
}

/// The error code of reading a customer, if any.
async fn read_code(app: &TestApp, token: &str, pid: &str) -> Option<String> {
    code(&customer(app, token, pid).await).map(str::to_owned)
}

async fn grant(
    app: &TestApp,
    admin: &str,
    user: &str,
    plan: &str,
    until: chrono::DateTime<Utc>,
) -> Value {
    app.gql(
        "mutation($u: ID!, $p: String!, $t: DateTime!) { grantPlan(userId: $u, plan: $p, until: $t, reason: \"partner deal\") { id plan active until } }",
        json!({ "u": user, "p": plan, "t": until.to_rfc3339() }),
        Some(admin),
    )
    .await
}

async fn plan_of(app: &TestApp, token: &str) -> String {
    let body = app
        .gql("{ entitlements { plan } }", json!({}), Some(token))
        .await;
    body["data"]["entitlements"]["plan"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn a_grant_gives_its_plan_and_ends_at_request_time(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let (_, admin, _) = with_role(&app, Role::Admin).await;
    let (email, user, pid) = with_role(&app, Role::User).await;
    assert_eq!(plan_of(&app, &user).await, "free");
    let body = grant(&app, &admin, &pid, "pro", Utc::now() + Duration::seconds(3)).await;
    assert_eq!(body["data"]["grantPlan"]["active"], true, "{body}");
    assert_eq!(
        plan_of(&app, &user).await,
        "pro",
        "at once, though the rows are cached"
    );
    // Ends at its time with nothing announcing it: decided per request.
    eventually("the grant ends", || async {
        (plan_of(&app, &user).await == "free").then_some(())
    })
    .await;
    // With a subscription too: the union of features, the highest limits.
    store(
        &app,
        &email,
        "active",
        "price_pro_monthly",
        Duration::days(20),
        false,
    )
    .await;
    let body = grant(
        &app,
        &admin,
        &pid,
        "studio",
        Utc::now() + Duration::days(30),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let seen = customer(&app, &admin, &pid).await;
    let c = &seen["data"]["customer"];
    assert!(
        c["entitlements"]["features"]
            .as_array()
            .unwrap()
            .contains(&json!("priority_support")),
        "{seen}"
    );
    let kinds: Vec<&str> = c["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"GRANT"), "{seen}");
    // Bad grants are refused.
    for (plan, until, field) in [
        ("nope", Utc::now() + Duration::days(1), "plan"),
        ("free", Utc::now() + Duration::days(1), "plan"),
        ("pro", Utc::now() - Duration::days(1), "until"),
    ] {
        let body = grant(&app, &admin, &pid, plan, until).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
}

async fn a_revoked_grant_and_a_demotion_apply_on_the_next_request_everywhere(db: Db) {
    // Rows cached for ten minutes: only the change feed can make an instance see a change.
    let cached = &[("ENTITLE_USER_CACHE_TTL_MS", "600000")];
    let Some(first) = spawn_app_with(db, cached).await else {
        return;
    };
    let other = match db {
        Db::Postgres => Some(spawn_another_instance(&first, cached).await),
        Db::Sqlite => None,
    };
    let second = other.as_ref().unwrap_or(&first);
    let (_, admin, _) = with_role(&first, Role::Admin).await;
    let (_, user, pid) = with_role(&first, Role::User).await;
    let (_, support, support_pid) = with_role(&first, Role::Support).await;
    assert_eq!(plan_of(second, &user).await, "free");
    let g = grant(&first, &admin, &pid, "pro", Utc::now() + Duration::days(30)).await;
    let id = g["data"]["grantPlan"]["id"].as_str().unwrap().to_owned();
    eventually("the grant is seen", || async {
        (plan_of(second, &user).await == "pro").then_some(())
    })
    .await;
    let revoked = first
        .gql(
            "mutation($id: ID!) { revokeGrant(id: $id, reason: \"deal ended\") { active revokedAt } }",
            json!({ "id": id }),
            Some(&admin),
        )
        .await;
    assert_eq!(revoked["data"]["revokeGrant"]["active"], false, "{revoked}");
    eventually("the revocation is seen", || async {
        (plan_of(second, &user).await == "free").then_some(())
    })
    .await;
    let again = first
        .gql(
            "mutation($id: ID!) { revokeGrant(id: $id, reason: \"twice\") { id } }",
            json!({ "id": id }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    // Support reads a customer on the second instance, is demoted on the first.
    assert_eq!(read_code(second, &support, &pid).await, None);
    let demoted = first
        .gql(
            "mutation($u: ID!) { setRole(userId: $u, role: USER) { role } }",
            json!({ "u": support_pid }),
            Some(&admin),
        )
        .await;
    assert_eq!(demoted["data"]["setRole"]["role"], "USER", "{demoted}");
    eventually("the demotion is seen", || async {
        (read_code(second, &support, &pid).await.as_deref() == Some("FORBIDDEN")).then_some(())
    })
    .await;
}

async fn every_action_leaves_an_audit_row_that_outlives_the_account(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let (_, admin, admin_pid) = with_role(&app, Role::Admin).await;
    let (email, _, pid) = with_role(&app, Role::User).await;
    let g = grant(&app, &admin, &pid, "pro", Utc::now() + Duration::days(3)).await;
    let gid = g["data"]["grantPlan"]["id"].as_str().unwrap().to_owned();
    for (q, vars) in [
        (
            "mutation($id: ID!) { revokeGrant(id: $id, reason: \"over\") { id } }",
            json!({ "id": gid }),
        ),
        (
            "mutation($u: ID!) { revokeSessions(userId: $u, reason: \"stolen phone\") }",
            json!({ "u": pid }),
        ),
        (
            "mutation($u: ID!) { setRole(userId: $u, role: SUPPORT) { role } }",
            json!({ "u": pid }),
        ),
    ] {
        let body = app.gql(q, vars, Some(&admin)).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let seen = customer(&app, &admin, &pid).await;
    let actions = seen["data"]["customer"]["operatorActions"]
        .as_array()
        .unwrap()
        .clone();
    let names: BTreeSet<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["GRANT_PLAN", "REVOKE_GRANT", "REVOKE_SESSIONS", "SET_ROLE"]),
        "{seen}"
    );
    assert!(
        actions.iter().all(|a| a["actor"] == admin_pid.as_str()),
        "{seen}"
    );
    assert!(
        actions.iter().any(|a| a["reason"] == "stolen phone"),
        "{seen}"
    );
    // The rows name accounts by public id only, and stay when the account goes.
    let conn = Database::connect(&app.db_url).await.unwrap();
    let user = db::users::by_email(&conn, &Email::parse(&email).unwrap())
        .await
        .unwrap()
        .unwrap();
    conn.execute_unprepared(&format!("DELETE FROM users WHERE id = {}", user.id))
        .await
        .unwrap();
    let target: uuid::Uuid = pid.parse().unwrap();
    let kept = db::operator_actions::on_user(&conn, target, 50)
        .await
        .unwrap();
    assert_eq!(kept.len(), 4);
    assert!(kept.iter().all(|a| !a.detail.contains(&email)));
    conn.close().await.ok();
}

async fn the_last_admin_cannot_be_demoted_even_by_two_at_once(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let (_, a, a_pid) = with_role(&app, Role::Admin).await;
    let set = |token: String, pid: String, role: &'static str| {
        let app = &app;
        async move {
            app.gql(
                &format!("mutation($u: ID!) {{ setRole(userId: $u, role: {role}) {{ role }} }}"),
                json!({ "u": pid }),
                Some(&token),
            )
            .await
        }
    };
    assert_eq!(
        code(&set(a.clone(), a_pid.clone(), "USER").await),
        Some("CONFLICT")
    );
    let (_, b, b_pid) = with_role(&app, Role::Admin).await;
    // Each demotes the other at the same moment: exactly one may win.
    let (x, y) = tokio::join!(
        set(a.clone(), b_pid.clone(), "USER"),
        set(b.clone(), a_pid.clone(), "USER")
    );
    let won = [&x, &y]
        .iter()
        .filter(|r| r.get("errors").is_none())
        .count();
    assert_eq!(won, 1, "{x} {y}");
    let conn = Database::connect(&app.db_url).await.unwrap();
    assert_eq!(
        db::users::with_role(&conn, Role::Admin)
            .await
            .unwrap()
            .len(),
        1
    );
    conn.close().await.ok();
}

async fn webhook_events_page_newest_first_by_status(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let (_, support, _) = with_role(&app, Role::Support).await;
    let t0 = Utc::now() - Duration::hours(1);
    for i in 0..5 {
        stored_event(
            &app,
            &format!("evt_f{i}"),
            "failed",
            t0 + Duration::seconds(i),
        )
        .await;
    }
    stored_event(&app, "evt_p0", "pending", t0 + Duration::seconds(10)).await;
    let q = "query($a: String) { webhookEvents(status: FAILED, first: 2, after: $a) { nodes { id status lastError attempts } endCursor hasNextPage } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let body = app.gql(q, json!({ "a": after }), Some(&support)).await;
        let page = &body["data"]["webhookEvents"];
        for n in page["nodes"].as_array().unwrap_or_else(|| panic!("{body}")) {
            assert_eq!(n["status"], "FAILED");
            assert_eq!(n["lastError"], "Stripe was down");
            seen.push(n["id"].as_str().unwrap().to_owned());
        }
        if page["hasNextPage"] != true {
            assert!(page["endCursor"].is_null());
            break;
        }
        after = page["endCursor"].clone();
    }
    assert_eq!(seen, ["evt_f4", "evt_f3", "evt_f2", "evt_f1", "evt_f0"]);
    let bad = app
        .gql(q, json!({ "a": "not-a-cursor" }), Some(&support))
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
}

async fn replay_re_applies_a_failed_event(db: Db) {
    let Some((app, sim)) = crate::sim::spawn_with_sim(db, true, &[]).await else {
        return;
    };
    let (_, admin, _) = with_role(&app, Role::Admin).await;
    let (_, user, pid) = with_role(&app, Role::User).await;
    let session = crate::sim::start_checkout(&app, &user, "pro").await;
    // Stripe cannot list subscriptions: every sync the webhooks cause fails.
    sim.set_api_chaos(stripe_sim::ApiChaos {
        fail_next: 1_000_000,
        path_prefix: Some("/v1/subscriptions".into()),
        ..Default::default()
    });
    crate::sim::pay(&sim, &session).await;
    let failed_query =
        "{ webhookEvents(status: FAILED, first: 50) { nodes { id type attempts } } }";
    let failed = eventually("a failed event", || async {
        let body = app.gql(failed_query, json!({}), Some(&admin)).await;
        body["data"]["webhookEvents"]["nodes"]
            .as_array()
            .and_then(|n| {
                n.iter()
                    .find(|e| e["type"] == "checkout.session.completed")
                    .cloned()
            })
    })
    .await;
    assert_eq!(plan_of(&app, &user).await, "free");
    sim.set_api_chaos(stripe_sim::ApiChaos::default());
    let replayed = app
        .gql(
            "mutation($id: ID!) { replayEvent(id: $id) { id status attempts } }",
            json!({ "id": failed["id"] }),
            Some(&admin),
        )
        .await;
    let event = &replayed["data"]["replayEvent"];
    assert_eq!(
        (event["status"].as_str(), event["attempts"].as_i64()),
        (Some("PENDING"), Some(0)),
        "{replayed}"
    );
    eventually("the replayed event applies", || async {
        (plan_of(&app, &user).await == "pro").then_some(())
    })
    .await;
    let seen = customer(&app, &admin, &pid).await;
    let actions = seen["data"]["customer"]["operatorActions"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        actions.iter().any(|a| a["action"] == "REPLAY_EVENT"),
        "{seen}"
    );
    let unknown = app
        .gql(
            "mutation { replayEvent(id: \"evt_nope\") { id } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT");
}

async fn the_cli_bootstraps_the_first_admin(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let email = unique_email("founder");
    let reg = app.register(&email).await;
    let env = [
        ("DATABASE_URL", app.db_url.as_str()),
        ("JWT_SECRET", crate::helpers::JWT_SECRET),
    ];
    let run = |args: &[&str]| {
        let out = crate::binary::entitle(args, &env).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = run(&["users", "set-role", &email, "admin"]);
    assert!(ok, "{stdout}{stderr}");
    let (ok, listed, _) = run(&["users", "list", "--role", "admin"]);
    assert!(
        ok && listed.contains(reg["user"]["id"].as_str().unwrap()),
        "{listed}"
    );
    // The API sees the role on the next request.
    let token = reg["accessToken"].as_str().unwrap();
    let me = app.gql("{ me { role } }", json!({}), Some(token)).await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN", "{me}");
    let (ok, _, stderr) = run(&["users", "set-role", &email, "user"]);
    assert!(
        !ok && stderr.contains("the last admin cannot be demoted"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["users", "set-role", &email, "emperor"]);
    assert!(
        !ok && stderr.contains("one of user, support, admin"),
        "{stderr}"
    );
}
