//! Overage billed through Stripe: every unit of a limit with a meter goes to
//! Stripe as a meter event through the outbox, exactly once, across a
//! Stripe outage and a restart of Entitle in the middle.

use std::{collections::HashSet, time::Duration};

use entity::{OutboxKind, OutboxStatus};
use sea_orm::Database;
use serde_json::json;
use stripe_sim::ApiChaos;

use crate::{
    helpers::{Db, PlansFile, spawn_another_instance},
    on_both_databases,
    sim::{eventually, pay, spawn_with_sim, start_checkout},
    usage::{PLANS, record},
};

on_both_databases!(overage_reaches_stripe_once_per_unit_across_an_outage_and_a_restart);

async fn overage_reaches_stripe_once_per_unit_across_an_outage_and_a_restart(db: Db) {
    let plans = PlansFile::new(PLANS);
    let config = [
        ("ENTITLE_PLANS", plans.path()),
        ("ENTITLE_OUTBOX_RETRY_MS", "50"),
        ("ENTITLE_OUTBOX_LEASE_SECS", "1"),
    ];
    let Some((first, sim)) = spawn_with_sim(db, true, &config).await else {
        return;
    };
    sim.create_meter("api_requests").expect("a meter");
    let reg = first
        .register(&crate::helpers::unique_email("overage"))
        .await;
    let token = reg["accessToken"].as_str().unwrap().to_owned();
    let session = start_checkout(&first, &token, "pro").await;
    pay(&sim, &session).await;
    let synced = first
        .gql(
            "mutation($s: String!) { syncCheckout(sessionId: $s) { plan } }",
            json!({ "s": session }),
            Some(&token),
        )
        .await;
    assert_eq!(synced["data"]["syncCheckout"]["plan"], "pro", "{synced}");

    // Stripe's meter events are down.
    sim.set_api_chaos(ApiChaos {
        fail_next: 1_000,
        path_prefix: Some("/v1/billing/meter_events".into()),
        ..Default::default()
    });
    let mut overages = Vec::new();
    for i in 0..5 {
        let body = record(&first, &token, "billed", 1, &format!("unit-{i}")).await;
        assert!(
            body.get("errors").is_none(),
            "overage is counted, not refused: {body}"
        );
        overages.push(body["data"]["recordUsage"]["overage"].as_i64().unwrap());
    }
    assert_eq!(overages, [0, 0, 0, 1, 2]);
    let conn = Database::connect(&first.db_url).await.unwrap();
    eventually("the outbox has retried", || async {
        let rows = entitle::db::outbox::of_kind(&conn, OutboxKind::MeterEvent)
            .await
            .unwrap();
        (rows.len() == 5
            && rows
                .iter()
                .all(|r| r.attempts >= 2 && r.status != OutboxStatus::Sent))
        .then_some(())
    })
    .await;
    assert!(sim.meter_events().is_empty(), "nothing reached Stripe yet");

    // Entitle restarts (the first process dies with its claims held), and
    // Stripe comes back.
    let second = spawn_another_instance(&first, &config).await;
    first.stop();
    sim.set_api_chaos(ApiChaos::default());
    let events = eventually("every unit reached Stripe", || async {
        let events = sim.meter_events();
        (events.iter().filter_map(|e| e.value).sum::<i64>() >= 5).then_some(events)
    })
    .await;
    let identifiers: HashSet<&str> = events.iter().map(|e| e.identifier.as_str()).collect();
    assert_eq!((events.len(), identifiers.len()), (5, 5), "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.event_name == "api_requests" && e.value == Some(1))
    );
    assert!(
        identifiers
            .iter()
            .all(|i| i.starts_with("entitle_ur_") && i.len() <= 100)
    );
    eventually("the outbox marks every row sent", || async {
        let rows = entitle::db::outbox::of_kind(&conn, OutboxKind::MeterEvent)
            .await
            .unwrap();
        rows.iter()
            .all(|r| r.status == OutboxStatus::Sent)
            .then_some(())
    })
    .await;
    // Sent rows are not sent again: their attempts stay as they are.
    let before: Vec<i32> = entitle::db::outbox::of_kind(&conn, OutboxKind::MeterEvent)
        .await
        .unwrap()
        .iter()
        .map(|r| r.attempts)
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after: Vec<i32> = entitle::db::outbox::of_kind(&conn, OutboxKind::MeterEvent)
        .await
        .unwrap()
        .iter()
        .map(|r| r.attempts)
        .collect();
    assert_eq!(before, after);
    assert_eq!(sim.meter_events().len(), 5);
    drop(second);
    conn.close().await.ok();
}
