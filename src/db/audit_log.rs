use entity::audit_log::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

pub async fn insert(db: &impl ConnectionTrait, row: audit_log::Model) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: Set(row.id),
        user_id: Set(row.user_id),
        stripe_subscription_id: Set(row.stripe_subscription_id),
        stripe_event_id: Set(row.stripe_event_id),
        from_status: Set(row.from_status),
        to_status: Set(row.to_status),
        from_price: Set(row.from_price),
        to_price: Set(row.to_price),
        source: Set(row.source),
        at: Set(row.at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A user's last `limit` changes, oldest first.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: i32,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbErr> {
    let mut rows = audit_log::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_desc(Column::At)
        .limit(limit)
        .all(db)
        .await?;
    rows.reverse();
    Ok(rows)
}
