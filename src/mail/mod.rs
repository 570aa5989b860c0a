//! Mail: messages are rendered from templates (`templates.rs`) and written
//! to the outbox in the transaction that causes them; the outbox worker
//! sends each through SMTP (`ENTITLE_SMTP_URL`), or, with no SMTP server
//! configured (development), writes it as a file to `ENTITLE_MAIL_DIR`. A
//! mail is never logged: it carries a single-use token.

pub mod templates;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use entity::OutboxKind;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, SinglePart},
};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{billing::stripe::SendFailure, config::MailConfig, db};

/// One message, as the outbox keeps it until it is sent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Writes `mail` to the outbox, inside the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    mail: &Mail,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let payload = serde_json::to_string(mail).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    db::outbox::enqueue(db, Uuid::new_v4(), OutboxKind::Email, payload, now).await
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// One `.eml` file per message (development without SMTP).
    Dir { dir: PathBuf, from: Mailbox },
}

impl Mailer {
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("ENTITLE_MAIL_FROM is not an address: {e}"))?;
        Ok(match &config.smtp_url {
            Some(url) => Self::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_str())
                    .map_err(|e| anyhow::anyhow!("ENTITLE_SMTP_URL: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
                from,
            },
            None => {
                tracing::warn!(
                    dir = %config.dir.display(),
                    "ENTITLE_SMTP_URL is not set: mail is written to files, not sent"
                );
                Self::Dir {
                    dir: config.dir.clone(),
                    from,
                }
            }
        })
    }

    /// Sends (or writes) the outbox row `id`'s mail. Its Message-ID comes from
    /// the row, so a resend after a crash is recognisably the same message.
    pub async fn send(&self, id: Uuid, mail: &Mail) -> Result<(), SendFailure> {
        let from = match self {
            Self::Smtp { from, .. } | Self::Dir { from, .. } => from.clone(),
        };
        let message = build(id, from, mail).map_err(SendFailure::Refused)?;
        match self {
            Self::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendFailure::Refused(format!("smtp: {e}"))),
                Err(e) => Err(SendFailure::Transient(format!("smtp: {e}"))),
            },
            Self::Dir { dir, .. } => {
                let write = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(dir.join(format!("{id}.eml")), message.formatted()).await
                };
                write
                    .await
                    .map_err(|e| SendFailure::Transient(format!("mail dir {}: {e}", dir.display())))
            }
        }
    }
}

/// The message: a plain-text and an HTML part, each in the transfer
/// encoding lettre finds best for it (long lines make it quoted-printable).
fn build(id: Uuid, from: Mailbox, mail: &Mail) -> Result<Message, String> {
    let to: Mailbox = mail.to.parse().map_err(|e| format!("recipient: {e}"))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{id}@entitle>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(mail.text.clone()))
                .singlepart(SinglePart::html(mail.html.clone())),
        )
        .map_err(|e| format!("building the message: {e}"))
}
