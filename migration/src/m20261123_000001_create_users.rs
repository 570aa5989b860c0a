use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(uuid_uniq(Users::Pid))
                    .col(string_uniq(Users::Email))
                    .col(string(Users::PasswordHash))
                    .col(string_null(Users::StripeCustomerId).unique_key())
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Pid,
    Email,
    PasswordHash,
    StripeCustomerId,
    CreatedAt,
    UpdatedAt,
    /// Added by m20261202_000015.
    EmailVerifiedAt,
    /// Added by m20261202_000015.
    DeletedAt,
}
