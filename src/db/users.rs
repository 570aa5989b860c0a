use chrono::Utc;
use entity::{Role, users};
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
        role: Set(Role::User),
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

/// Records the user's Stripe customer unless one is recorded already, or the
/// account is closed (a late webhook must not link it again); returns the
/// customer id that is recorded afterwards.
pub async fn set_stripe_customer(
    db: &impl ConnectionTrait,
    user_id: i32,
    customer_id: &str,
) -> Result<Option<String>, DbErr> {
    use sea_orm::sea_query::Expr;
    users::Entity::update_many()
        .col_expr(users::Column::StripeCustomerId, Expr::value(customer_id))
        .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::StripeCustomerId.is_null())
        .filter(users::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    Ok(by_id(db, user_id).await?.and_then(|u| u.stripe_customer_id))
}

/// Locks the user's row until the transaction ends (PostgreSQL; SQLite
/// serialises writers by itself).
pub async fn lock(db: &impl ConnectionTrait, user_id: i32) -> Result<Option<users::Model>, DbErr> {
    use sea_orm::QuerySelect;
    users::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn by_stripe_customer(
    db: &impl ConnectionTrait,
    customer_id: &str,
) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::StripeCustomerId.eq(customer_id))
        .one(db)
        .await
}

/// Forgets a Stripe customer that was deleted, if it is still the user's.
pub async fn clear_stripe_customer(
    db: &impl ConnectionTrait,
    user_id: i32,
    customer_id: &str,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    users::Entity::update_many()
        .col_expr(
            users::Column::StripeCustomerId,
            Expr::value(Option::<String>::None),
        )
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::StripeCustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every user who has a Stripe customer, for `entitle sync --all`.
pub async fn with_stripe_customer(db: &impl ConnectionTrait) -> Result<Vec<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::StripeCustomerId.is_not_null())
        .all(db)
        .await
}

pub async fn by_pid(db: &impl ConnectionTrait, pid: Uuid) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find()
        .filter(users::Column::Pid.eq(pid))
        .one(db)
        .await
}

/// Every user with the role, oldest first.
pub async fn with_role(db: &impl ConnectionTrait, role: Role) -> Result<Vec<users::Model>, DbErr> {
    use sea_orm::QueryOrder;
    users::Entity::find()
        .filter(users::Column::Role.eq(role))
        .order_by_asc(users::Column::Id)
        .all(db)
        .await
}

/// Every admin, locked until the transaction ends (PostgreSQL; SQLite
/// serialises writers by itself), so two demotions cannot both see another
/// admin left.
pub async fn lock_admins(db: &impl ConnectionTrait) -> Result<Vec<users::Model>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    users::Entity::find()
        .filter(users::Column::Role.eq(Role::Admin))
        .order_by_asc(users::Column::Id)
        .lock_exclusive()
        .all(db)
        .await
}

pub async fn set_role(db: &impl ConnectionTrait, user_id: i32, role: Role) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    users::Entity::update_many()
        .col_expr(users::Column::Role, Expr::value(role))
        .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every user, oldest first (for `entitle users list`).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<users::Model>, DbErr> {
    use sea_orm::QueryOrder;
    users::Entity::find()
        .order_by_asc(users::Column::Id)
        .all(db)
        .await
}

pub async fn set_password(
    db: &impl ConnectionTrait,
    user_id: i32,
    password_hash: String,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(users::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_verified(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Erases what identifies the person (the address, the password hash, the
/// Stripe link) and keeps the row as a tombstone, so rows that refer to it
/// (the audit trail) keep a pseudonymous reference. The email column holds a
/// placeholder no address can equal, so the address can register again.
pub async fn tombstone(
    db: &impl ConnectionTrait,
    user: &users::Model,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    users::Entity::update_many()
        .col_expr(
            users::Column::Email,
            Expr::value(format!("deleted:{}", user.pid)),
        )
        .col_expr(users::Column::PasswordHash, Expr::value(String::new()))
        .col_expr(
            users::Column::StripeCustomerId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(users::Column::Role, Expr::value(Role::User))
        .col_expr(users::Column::DeletedAt, Expr::value(now))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(user.id))
        .exec(db)
        .await?;
    Ok(())
}
