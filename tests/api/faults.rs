//! Faults: the server killed while webhooks arrive, the database going away
//! and coming back, and two instances racing over the same events.

use std::{
    collections::HashSet,
    net::SocketAddr,
    process::{Child, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_orm::{Database, EntityTrait};
use serde_json::json;
use stripe_sim::{Chaos, RetryPolicy, Sim, SimConfig};
use tokio::net::{TcpListener, TcpStream};

use crate::{
    helpers::{Db, JWT_SECRET, TestApp, error_code, fresh_database, unique_email},
    on_both_databases,
    sim::{
        APP, SECRET, assert_subscriptions_match_stripe, emitted_ids, eventually,
        every_event_applied, paying_users,
    },
};

on_both_databases!(a_server_killed_while_webhooks_arrive_loses_no_event_and_ends_in_stripes_state);

/// Webhooks in flight to a process that is SIGKILLed and started again:
/// stripe-sim retries what failed, as Stripe does.
async fn a_server_killed_while_webhooks_arrive_loses_no_event_and_ends_in_stripes_state(db: Db) {
    let Some((db_url, _guard)) = fresh_database(db).await else {
        return;
    };
    let sim = Sim::start(SimConfig {
        retry: RetryPolicy {
            max_attempts: 12,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let base = sim.base_url();
    let log = std::env::temp_dir().join(format!("entitle-kill-{}.log", uuid::Uuid::new_v4()));
    let start = || {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        crate::binary::entitle(
            &["serve"],
            &[
                ("DATABASE_URL", db_url.as_str()),
                ("ENTITLE_BIND", &addr.to_string()),
                ("JWT_SECRET", JWT_SECRET),
                ("STRIPE_SECRET_KEY", "sk_test_entitle"),
                ("STRIPE_API_BASE", &base),
                ("STRIPE_WEBHOOK_SECRETS", SECRET),
                ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", APP),
                ("ENTITLE_AUTH_RATE_PER_IP", "1000"),
                // Short, so an event claimed by the killed process is taken up soon.
                ("ENTITLE_WEBHOOK_LEASE_SECS", "2"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
    };
    let mut server = KillOnDrop(start());
    let app = TestApp::external(addr, &db_url);
    wait_ready(&app).await;
    sim.add_webhook_endpoint(&app.url("/webhooks/stripe"), Some(SECRET));

    // Six customers pay and half a year of renewals passes while Stripe
    // holds the events; then they arrive all at once, and the server dies.
    sim.set_chaos(Chaos {
        hold: true,
        ..Chaos::default()
    });
    let tokens = paying_users(&app, &sim, 6, "pro").await;
    sim.advance(Duration::from_secs(182 * 86_400)).unwrap();
    let emitted = emitted_ids(&sim);
    sim.set_chaos(Chaos {
        concurrent: true,
        max_in_flight: 8,
        shuffle: true,
        ..Chaos::default()
    });
    eventually("a third of the events answered", || async {
        (acked(&sim).len() * 3 >= emitted.len()).then_some(())
    })
    .await;
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let acked = acked(&sim);
    assert!(
        acked.len() < emitted.len(),
        "the kill came while events were still arriving"
    );

    // Nothing was answered 2xx without being stored.
    let conn = Database::connect(&db_url).await.unwrap();
    let stored: HashSet<String> = entity::stripe_events::Entity::find()
        .all(&conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "answered 2xx but not stored: {lost:?}");

    // Started again, the server takes every event exactly once more.
    server = KillOnDrop(start());
    wait_ready(&app).await;
    every_event_applied(&conn, &emitted).await;
    assert_subscriptions_match_stripe(&conn, &sim, 6).await;
    // Applying an event twice (once by the killed process, once after) is
    // harmless: one real change, one audit row.
    for token in &tokens {
        let history = app
            .gql(
                "{ billingHistory { toStatus } entitlements { plan } }",
                json!({}),
                Some(token),
            )
            .await;
        assert_eq!(history["data"]["entitlements"]["plan"], "pro", "{history}");
        assert_eq!(
            history["data"]["billingHistory"],
            json!([{ "toStatus": "ACTIVE" }]),
            "{history}"
        );
    }
    conn.close().await.ok();
    drop(server);
    let _ = std::fs::remove_file(&log);
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Event ids stripe-sim got a 2xx for.
fn acked(sim: &Sim) -> HashSet<String> {
    sim.deliveries()
        .into_iter()
        .filter(|d| d.succeeded)
        .map(|d| d.event_id)
        .collect()
}

async fn wait_ready(app: &TestApp) {
    eventually("the server to be ready", || async {
        let res = app.http.get(app.url("/readyz")).send().await.ok()?;
        res.status().is_success().then_some(())
    })
    .await;
}

/// A TCP proxy in front of PostgreSQL that can cut every connection and
/// refuse new ones, as a database failover or a network partition does.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is closed at once
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().unwrap().push(link.abort_handle());
                }
            }
        });
        Proxy {
            addr,
            up,
            links,
            accept,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// PostgreSQL only: SQLite is a file in the server's own process and has no
/// outage of this kind to simulate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_fails_cleanly_and_recovers_by_itself() {
    let Some((db_url, _guard)) = fresh_database(Db::Postgres).await else {
        return;
    };
    let upstream: SocketAddr = {
        let host = db_url.split('@').nth(1).unwrap().split('/').next().unwrap();
        tokio::net::lookup_host(host).await.unwrap().next().unwrap()
    };
    let proxy = Proxy::start(upstream).await;
    let proxied_url = db_url.replacen(&upstream.to_string(), &proxy.addr.to_string(), 1);
    assert_ne!(
        proxied_url, db_url,
        "the database URL goes through the proxy"
    );
    let app = crate::helpers::spawn_at(
        &proxied_url,
        &[
            ("STRIPE_WEBHOOK_SECRETS", SECRET),
            ("ENTITLE_DB_MAX_CONNECTIONS", "3"),
        ],
    )
    .await;
    let reg = app.register(&unique_email("outage")).await;
    let token = reg["accessToken"].as_str().unwrap().to_owned();
    let me = "{ me { email } }";
    let event = |id: &str| {
        json!({
            "id": id, "object": "event", "type": "invoice.paid",
            "created": chrono::Utc::now().timestamp(),
            "api_version": stripe_sim::API_VERSION, "livemode": false,
            "data": { "object": { "object": "invoice", "id": "in_1", "customer": "cus_nobody" } }
        })
        .to_string()
    };
    let post_event = |body: String| {
        let app = &app;
        async move {
            let sig = stripe_sim::signature::header(
                &body,
                &[SECRET.to_owned()],
                chrono::Utc::now().timestamp(),
            );
            app.http
                .post(app.url("/webhooks/stripe"))
                .header("content-type", "application/json")
                .header("stripe-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let ready = || async {
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };

    assert_eq!(ready().await, 200);
    proxy.cut();

    // Each answer comes within the pool's bounds (5 s to connect or
    // acquire); the test's timeout turns a hang into a failure.
    let bounded = Duration::from_secs(20);
    let status = tokio::time::timeout(bounded, post_event(event("evt_during_outage")))
        .await
        .expect("the webhook is answered in time");
    assert_eq!(status, 503, "Stripe must retry an event we could not store");
    let body = tokio::time::timeout(bounded, app.gql(me, json!({}), Some(&token)))
        .await
        .expect("the query is answered in time");
    assert_eq!(error_code(&body), "INTERNAL", "{body}");
    let text = body.to_string().to_lowercase();
    for leak in [
        "sqlx",
        "connection",
        "postgres",
        "pool",
        "io error",
        "sea_orm",
    ] {
        assert!(
            !text.contains(leak),
            "internal text `{leak}` reached the client: {body}"
        );
    }
    assert_eq!(
        tokio::time::timeout(bounded, ready())
            .await
            .expect("readyz answers"),
        503
    );

    // The database comes back; nobody restarts anything.
    proxy.restore();
    eventually("readiness again", || async {
        (ready().await == 200).then_some(())
    })
    .await;
    let body = app.gql(me, json!({}), Some(&token)).await;
    assert!(body["data"]["me"]["email"].is_string(), "{body}");
    // Stripe's retry of the refused event is stored now, and applied.
    assert_eq!(post_event(event("evt_during_outage")).await, 200);
    let conn = Database::connect(&db_url).await.unwrap();
    let row = entitle::db::stripe_events::by_id(&conn, "evt_during_outage")
        .await
        .unwrap()
        .expect("stored after the outage");
    assert_eq!(row.r#type, "invoice.paid");
    conn.close().await.ok();
}

/// Two instances on one PostgreSQL, each receiving every event (Stripe
/// sends to both endpoints), duplicated, shuffled and concurrent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_receiving_the_same_events_agree_on_one_state() {
    let Some((first, sim)) = crate::sim::spawn_with_sim(Db::Postgres, false, &[]).await else {
        return;
    };
    let base = sim.base_url();
    let secrets = format!("whsec_old_one,{SECRET}");
    let second = crate::helpers::spawn_another_instance(
        &first,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_entitle"),
            ("STRIPE_API_BASE", &base),
            ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", APP),
            // Only the change feed can make this instance see a change in time.
            ("ENTITLE_USER_CACHE_TTL_MS", "600000"),
            ("STRIPE_WEBHOOK_SECRETS", &secrets),
        ],
    )
    .await;
    sim.add_webhook_endpoint(&first.url("/webhooks/stripe"), Some(SECRET));
    sim.add_webhook_endpoint(&second.url("/webhooks/stripe"), Some(SECRET));
    sim.set_chaos(Chaos {
        hold: true,
        ..Chaos::default()
    });

    let tokens = paying_users(&first, &sim, 5, "pro").await;
    // The first customer listens on both instances.
    // The second instance reads (and caches) everyone's free plan now.
    for token in &tokens {
        assert_eq!(plan_on(&second, token).await, "free");
    }
    let mut on_first = crate::ws::subscribe_entitlements(&first, &tokens[0]).await;
    let mut on_second = crate::ws::subscribe_entitlements(&second, &tokens[0]).await;
    sim.advance(Duration::from_secs(92 * 86_400)).unwrap();
    let emitted = emitted_ids(&sim);
    sim.set_chaos(Chaos {
        shuffle: true,
        duplicate: true,
        concurrent: true,
        max_in_flight: 16,
        ..Chaos::default()
    });

    for (name, ws) in [("first", &mut on_first), ("second", &mut on_second)] {
        let pushed = crate::ws::next_entitlements(ws, "pro").await;
        assert_eq!(
            pushed["features"],
            json!(["advanced_analytics", "api_access"]),
            "instance {name}"
        );
    }
    let conn = Database::connect(&first.db_url).await.unwrap();
    every_event_applied(&conn, &emitted).await;
    // Whichever instance applied each change, the other's cache let go of it.
    for token in &tokens {
        for app in [&first, &second] {
            eventually("the new plan on both instances", || async {
                (plan_on(app, token).await == "pro").then_some(())
            })
            .await;
        }
    }
    let delivered: HashSet<(String, String)> = sim
        .deliveries()
        .into_iter()
        .filter(|d| d.succeeded)
        .map(|d| (d.endpoint_id, d.event_id))
        .collect();
    assert_eq!(
        delivered.len(),
        2 * emitted.len(),
        "each instance got every event"
    );
    assert_subscriptions_match_stripe(&conn, &sim, 5).await;
    for token in &tokens {
        for app in [&first, &second] {
            let body = app
                .gql(
                    "{ billingHistory { toStatus toPlan } }",
                    json!({}),
                    Some(token),
                )
                .await;
            assert_eq!(
                body["data"]["billingHistory"],
                json!([{ "toStatus": "ACTIVE", "toPlan": "pro" }]),
                "one real change, one audit row: {body}"
            );
        }
    }
    conn.close().await.ok();
}

/// The plan `entitlements` names for the token's user, on `app`.
async fn plan_on(app: &TestApp, token: &str) -> String {
    let body = app
        .gql("{ entitlements { plan } }", json!({}), Some(token))
        .await;
    body["data"]["entitlements"]["plan"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}
