//! `entitle events list|replay`: what arrived from Stripe, and queueing
//! events to be processed again by the running server.

use entity::EventStatus;

use super::EventsAction;
use crate::{config, db};

pub fn parse_status(raw: &str) -> Result<EventStatus, String> {
    EventStatus::parse(raw).ok_or_else(|| {
        let names: Vec<&str> = EventStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

pub async fn run(action: EventsAction) -> anyhow::Result<()> {
    let conn = db::connect(&config::database_url_from_env(), 1).await?;
    match action {
        EventsAction::List { status, limit } => {
            let rows = db::stripe_events::newest(&conn, status, limit).await?;
            println!(
                "{:<32} {:<48} {:<10} {:>8}  last error",
                "id", "type", "status", "attempts"
            );
            for r in rows {
                let error: String = r.last_error.unwrap_or_default().chars().take(120).collect();
                println!(
                    "{:<32} {:<48} {:<10} {:>8}  {error}",
                    r.id,
                    r.r#type,
                    r.status.as_str(),
                    r.attempts,
                );
            }
        }
        EventsAction::Replay { id, failed } => {
            let n = match (id, failed) {
                (Some(id), _) => db::stripe_events::requeue(&conn, Some(&id)).await?,
                (None, true) => db::stripe_events::requeue(&conn, None).await?,
                (None, false) => anyhow::bail!("give an event id or --failed"),
            };
            println!("{n} event(s) queued; the running server processes them shortly");
        }
    }
    Ok(())
}
