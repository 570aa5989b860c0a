use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeEntitlements::Table)
                    .col(string(StripeEntitlements::CustomerId).primary_key())
                    .col(text(StripeEntitlements::Features))
                    .col(timestamp_with_time_zone(StripeEntitlements::SyncedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StripeEntitlements::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StripeEntitlements {
    Table,
    CustomerId,
    Features,
    SyncedAt,
}
