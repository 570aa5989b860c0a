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
                    .table(TokenFamilies::Table)
                    .col(pk_uuid(TokenFamilies::Id))
                    .col(integer(TokenFamilies::UserId))
                    .col(timestamp_with_time_zone(TokenFamilies::CreatedAt))
                    .col(timestamp_with_time_zone(TokenFamilies::LastUsedAt))
                    .col(timestamp_with_time_zone(TokenFamilies::ExpiresAt))
                    .col(timestamp_with_time_zone_null(TokenFamilies::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_token_families_user")
                            .from(TokenFamilies::Table, TokenFamilies::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_token_families_user")
                    .table(TokenFamilies::Table)
                    .col(TokenFamilies::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TokenFamilies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum TokenFamilies {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}
