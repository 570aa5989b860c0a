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
