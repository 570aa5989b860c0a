//! `entitle migrate up|down|status`.

use migration::{Migrator, MigratorTrait};

use super::MigrateAction;
use crate::{config, db};

pub async fn run(action: MigrateAction) -> anyhow::Result<()> {
    let conn = db::connect(&config::database_url_from_env(), 1).await?;
    match action {
        MigrateAction::Up { steps } => Migrator::up(&conn, steps).await?,
        MigrateAction::Down { steps } => Migrator::down(&conn, Some(steps)).await?,
        MigrateAction::Status => {
            for m in Migrator::get_migration_with_status(&conn).await? {
                println!("{:<8} {}", m.status().to_string(), m.name());
            }
        }
    }
    Ok(())
}
