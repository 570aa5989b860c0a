use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Accounts people can live with: a verified address, a deleted account's
/// tombstone, and single-use tokens for password resets and address
/// verification (only their hashes stored).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Users::EmailVerifiedAt, Users::DeletedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(timestamp_with_time_zone_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AccountTokens::Table)
                    .col(pk_uuid(AccountTokens::Id))
                    .col(integer(AccountTokens::UserId))
                    .col(string_len(AccountTokens::Purpose, 32))
                    .col(string_len_uniq(AccountTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(AccountTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(AccountTokens::UsedAt))
                    .col(timestamp_with_time_zone(AccountTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_tokens_user")
                            .from(AccountTokens::Table, AccountTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_tokens_user")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountTokens::Table).to_owned())
            .await?;
        for column in [Users::DeletedAt, Users::EmailVerifiedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AccountTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}
