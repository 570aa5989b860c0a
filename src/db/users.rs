use chrono::Utc;
use entity::users;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

use crate::domain::Email;

pub async fn insert(
    db: &impl ConnectionTrait,
    email: &Email,
    password_hash: String,
) -> Result<users::Model, DbErr> {
    let now = Utc::now();
    users::ActiveModel {
        pid: Set(Uuid::new_v4()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        stripe_customer_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(db)
        .await
}

pub async fn by_id(db: &impl ConnectionTrait, id: i32) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find_by_id(id).one(db).await
}

/// One query for many public ids (the DataLoader's batch).
pub async fn by_pids(db: &impl ConnectionTrait, pids: &[Uuid]) -> Result<Vec<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::Pid.is_in(pids.iter().copied()))
        .all(db)
        .await
}
