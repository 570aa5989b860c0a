//! Operations: health endpoints, migrations, and the checked-in SDL.

use migration::{Migrator, MigratorTrait};
use sea_orm::Database;

use crate::{
    helpers::{Db, spawn_app},
    on_both_databases,
};

on_both_databases!(health_and_readiness_answer, migrations_go_down_and_up_again);

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let generated = entitle::graphql::sdl();
    assert!(
        on_disk == generated,
        "schema.graphql is out of date: run `cargo run -q -- schema > schema.graphql`"
    );
    // The billing object must not collide with the root type of GraphQL subscriptions.
    assert!(generated.contains("type BillingSubscription"));
}

#[test]
fn every_feature_the_sdl_marks_is_checked_against_the_catalogue_at_start() {
    let sdl = entitle::graphql::sdl();
    let mut marked: Vec<&str> = sdl
        .split("@requiresFeature(feature: \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    marked.sort_unstable();
    marked.dedup();
    let mut listed = entitle::graphql::guards::GUARDED_FEATURES.to_vec();
    listed.sort_unstable();
    assert!(!marked.is_empty());
    assert_eq!(
        marked, listed,
        "GUARDED_FEATURES must list every @requiresFeature"
    );
}

#[tokio::test]
async fn a_catalogue_that_does_not_grant_a_guarded_feature_stops_the_start() {
    let dir = std::env::temp_dir().join(format!("entitle-plans-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let plans = dir.join("plans.toml");
    std::fs::write(
        &plans,
        "[[plans]]\nname = \"free\"\n[[plans]]\nname = \"pro\"\nfeatures = [\"advanced_analytics\"]\nprices = { monthly = \"price_x\" }\n",
    )
    .unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.join("e.db").display());
    let config = crate::helpers::test_config(&db, &[("ENTITLE_PLANS", plans.to_str().unwrap())]);
    let err = match entitle::Application::build(config).await {
        Ok(_) => panic!("the server must refuse this catalogue"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("feature `api_access` is required by the API but no plan grants it"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

async fn health_and_readiness_answer(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for path in ["/healthz", "/readyz"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert!(
            res.headers().contains_key("x-request-id"),
            "{path} has a request id"
        );
    }
}

async fn migrations_go_down_and_up_again(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let conn = Database::connect(&app.db_url).await.unwrap();
    let applied = Migrator::get_applied_migrations(&conn).await.unwrap().len();
    assert_eq!(
        applied,
        Migrator::migrations().len(),
        "serve applies every migration"
    );
    Migrator::down(&conn, None)
        .await
        .expect("every migration reverts");
    assert!(
        Migrator::get_applied_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::up(&conn, None).await.expect("and applies again");
    assert_eq!(
        Migrator::get_pending_migrations(&conn).await.unwrap().len(),
        0
    );
    conn.close().await.ok();
}
