use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(pk_uuid(AuditLog::Id))
                    .col(integer(AuditLog::UserId))
                    .col(string(AuditLog::StripeSubscriptionId))
                    .col(string_null(AuditLog::StripeEventId))
                    .col(string_null(AuditLog::FromStatus))
                    .col(string(AuditLog::ToStatus))
                    .col(string_null(AuditLog::FromPrice))
                    .col(string(AuditLog::ToPrice))
                    .col(string(AuditLog::Source))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_log_user")
                            .from(AuditLog::Table, AuditLog::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_user")
                    .table(AuditLog::Table)
                    .col(AuditLog::UserId)
                    .col(AuditLog::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    UserId,
    StripeSubscriptionId,
    StripeEventId,
    FromStatus,
    ToStatus,
    FromPrice,
    ToPrice,
    Source,
    At,
}
