//! `entitle sync --customer cus_… | --all`: re-read customers from Stripe
//! through the server's own sync engine, with the server's wiring.

use crate::{app::services::Services, billing::sync::Cause, config::Config, db};

pub async fn run(customer: Option<String>, all: bool) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    // The running server (or `entitle migrate`) owns the schema.
    config.database.migrate_on_start = false;
    let services = Services::build(&config, 2).await?;
    anyhow::ensure!(
        services.billing.is_configured(),
        "STRIPE_SECRET_KEY is not set: nothing to sync from"
    );
    let conn = &services.db;
    let users = match (customer, all) {
        (Some(c), _) => db::users::by_stripe_customer(conn, &c)
            .await?
            .map(|u| vec![u])
            .ok_or_else(|| anyhow::anyhow!("no user has the Stripe customer {c}"))?,
        (None, true) => db::users::with_stripe_customer(conn).await?,
        (None, false) => anyhow::bail!("give --customer cus_… or --all"),
    };
    let (mut ok, mut failed) = (0, 0);
    for user in users {
        let Some(customer) = user.stripe_customer_id.as_deref() else {
            continue;
        };
        match services
            .billing
            .sync_customer(user.id, customer, &Cause::sync())
            .await
        {
            Ok(n) => {
                ok += 1;
                println!("{customer}: {n} subscription(s) stored");
            }
            Err(e) => {
                failed += 1;
                eprintln!("{customer}: {}", e.message());
            }
        }
    }
    println!("synced {ok} customer(s), {failed} failed");
    anyhow::ensure!(failed == 0, "{failed} customer(s) could not be synced");
    Ok(())
}
