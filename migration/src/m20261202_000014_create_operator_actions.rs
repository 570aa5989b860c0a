use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every operator action, by whom, on whom, why and when. No foreign keys:
/// the rows outlive the accounts they name, which they name only by their
/// public (pseudonymous) ids.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OperatorActions::Table)
                    .col(pk_uuid(OperatorActions::Id))
                    .col(uuid_null(OperatorActions::Actor))
                    .col(string_len(OperatorActions::Action, 32))
                    .col(uuid_null(OperatorActions::TargetUser))
                    .col(string_len_null(OperatorActions::Target, 255))
                    .col(string_len_null(OperatorActions::Reason, 500))
                    .col(text(OperatorActions::Detail))
                    .col(timestamp_with_time_zone(OperatorActions::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_operator_actions_target")
                    .table(OperatorActions::Table)
                    .col(OperatorActions::TargetUser)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OperatorActions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OperatorActions {
    Table,
    Id,
    Actor,
    Action,
    TargetUser,
    Target,
    Reason,
    Detail,
    At,
}
