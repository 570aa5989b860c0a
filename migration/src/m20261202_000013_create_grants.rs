use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Comp plans an admin gave: the plan's entitlements hold until `until`,
/// whatever Stripe says.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .col(pk_uuid(Grants::Id))
                    .col(integer(Grants::UserId))
                    .col(string_len(Grants::Plan, 64))
                    .col(timestamp_with_time_zone(Grants::StartsAt))
                    .col(timestamp_with_time_zone(Grants::Until))
                    .col(string_len(Grants::Reason, 500))
                    .col(uuid_null(Grants::GrantedBy))
                    .col(timestamp_with_time_zone(Grants::CreatedAt))
                    .col(timestamp_with_time_zone_null(Grants::RevokedAt))
                    .col(uuid_null(Grants::RevokedBy))
                    .col(string_len_null(Grants::RevokeReason, 500))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_grants_user")
                            .from(Grants::Table, Grants::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_grants_user")
                    .table(Grants::Table)
                    .col(Grants::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Grants::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    UserId,
    Plan,
    StartsAt,
    Until,
    Reason,
    GrantedBy,
    CreatedAt,
    RevokedAt,
    RevokedBy,
    RevokeReason,
}
