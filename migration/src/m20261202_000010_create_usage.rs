use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Metered usage: one counter per user, limit and period, changed only by a
/// conditional increment; and one record per accepted `recordUsage` call,
/// unique on the caller's idempotency key.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageCounters::Table)
                    .col(integer(UsageCounters::UserId))
                    .col(string_len(UsageCounters::LimitName, 64))
                    .col(timestamp_with_time_zone(UsageCounters::PeriodStart))
                    .col(timestamp_with_time_zone(UsageCounters::PeriodEnd))
                    .col(big_integer(UsageCounters::Used))
                    .col(timestamp_with_time_zone(UsageCounters::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(UsageCounters::UserId)
                            .col(UsageCounters::LimitName)
                            .col(UsageCounters::PeriodStart),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_usage_counters_user")
                            .from(UsageCounters::Table, UsageCounters::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageRecords::Table)
                    .col(pk_uuid(UsageRecords::Id))
                    .col(integer(UsageRecords::UserId))
                    .col(string_len(UsageRecords::IdempotencyKey, 255))
                    .col(string_len(UsageRecords::LimitName, 64))
                    .col(big_integer(UsageRecords::Amount))
                    .col(big_integer(UsageRecords::Used))
                    .col(big_integer_null(UsageRecords::Max))
                    .col(big_integer(UsageRecords::Overage))
                    .col(timestamp_with_time_zone(UsageRecords::PeriodStart))
                    .col(timestamp_with_time_zone(UsageRecords::ResetsAt))
                    .col(timestamp_with_time_zone(UsageRecords::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_usage_records_user")
                            .from(UsageRecords::Table, UsageRecords::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_records_user_key")
                    .table(UsageRecords::Table)
                    .col(UsageRecords::UserId)
                    .col(UsageRecords::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsageRecords::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UsageCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UsageCounters {
    Table,
    UserId,
    LimitName,
    PeriodStart,
    PeriodEnd,
    Used,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UsageRecords {
    Table,
    Id,
    UserId,
    IdempotencyKey,
    LimitName,
    Amount,
    Used,
    Max,
    Overage,
    PeriodStart,
    ResetsAt,
    CreatedAt,
}
