use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .col(string(StripeEvents::Id).primary_key())
                    .col(string(StripeEvents::Type))
                    .col(string_null(StripeEvents::ApiVersion))
                    .col(timestamp_with_time_zone(StripeEvents::Created))
                    .col(boolean(StripeEvents::Livemode))
                    .col(string_null(StripeEvents::CustomerId))
                    .col(text(StripeEvents::Payload))
                    .col(timestamp_with_time_zone(StripeEvents::ReceivedAt))
                    .col(string(StripeEvents::Status))
                    .col(integer(StripeEvents::Attempts).default(0))
                    .col(text_null(StripeEvents::LastError))
                    .col(timestamp_with_time_zone(StripeEvents::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(StripeEvents::LockedUntil))
                    .col(timestamp_with_time_zone_null(StripeEvents::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        // The worker looks for due events by status and time.
        manager
            .create_index(
                Index::create()
                    .name("idx_stripe_events_due")
                    .table(StripeEvents::Table)
                    .col(StripeEvents::Status)
                    .col(StripeEvents::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StripeEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    Type,
    ApiVersion,
    Created,
    Livemode,
    CustomerId,
    Payload,
    ReceivedAt,
    Status,
    Attempts,
    LastError,
    NextAttemptAt,
    LockedUntil,
    ProcessedAt,
}
