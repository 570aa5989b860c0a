use std::collections::HashMap;

use entity::{SubscriptionStatus, subscriptions, users};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Every subscription of each of the users (by public id), in one query.
pub async fn by_user_pids(
    db: &impl ConnectionTrait,
    pids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<subscriptions::Model>>, DbErr> {
    let rows = subscriptions::Entity::find()
        .find_also_related(users::Entity)
        .filter(users::Column::Pid.is_in(pids.iter().copied()))
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<subscriptions::Model>> = HashMap::new();
    for (sub, user) in rows {
        if let Some(user) = user {
            out.entry(user.pid).or_default().push(sub);
        }
    }
    Ok(out)
}

/// Inserts or replaces the row of one Stripe subscription (keyed by its Stripe id).
pub async fn upsert(db: &impl ConnectionTrait, row: subscriptions::Model) -> Result<(), DbErr> {
    use sea_orm::{ActiveValue::Set, sea_query::OnConflict};
    let active = subscriptions::ActiveModel {
        id: Set(row.id),
        user_id: Set(row.user_id),
        stripe_subscription_id: Set(row.stripe_subscription_id),
        stripe_customer_id: Set(row.stripe_customer_id),
        status: Set(row.status),
        price_id: Set(row.price_id),
        current_period_start: Set(row.current_period_start),
        current_period_end: Set(row.current_period_end),
        trial_end: Set(row.trial_end),
        cancel_at_period_end: Set(row.cancel_at_period_end),
        cancel_at: Set(row.cancel_at),
        canceled_at: Set(row.canceled_at),
        created_at: Set(row.created_at),
        updated_at: Set(row.updated_at),
        synced_at: Set(row.synced_at),
    };
    use subscriptions::Column as C;
    subscriptions::Entity::insert(active)
        .on_conflict(
            OnConflict::column(C::StripeSubscriptionId)
                .update_columns([
                    C::Status,
                    C::PriceId,
                    C::CurrentPeriodStart,
                    C::CurrentPeriodEnd,
                    C::TrialEnd,
                    C::CancelAtPeriodEnd,
                    C::CancelAt,
                    C::CanceledAt,
                    C::UpdatedAt,
                    C::SyncedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn by_stripe_id(
    db: &impl ConnectionTrait,
    stripe_subscription_id: &str,
) -> Result<Option<subscriptions::Model>, DbErr> {
    subscriptions::Entity::find()
        .filter(subscriptions::Column::StripeSubscriptionId.eq(stripe_subscription_id))
        .one(db)
        .await
}

pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Vec<subscriptions::Model>, DbErr> {
    subscriptions::Entity::find()
        .filter(subscriptions::Column::UserId.eq(user_id))
        .all(db)
        .await
}

/// Marks every subscription of a (deleted) customer canceled.
pub async fn cancel_all_of_customer(
    db: &impl ConnectionTrait,
    customer_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    subscriptions::Entity::update_many()
        .col_expr(
            subscriptions::Column::Status,
            Expr::value(SubscriptionStatus::Canceled),
        )
        .col_expr(subscriptions::Column::UpdatedAt, Expr::value(now))
        .col_expr(subscriptions::Column::SyncedAt, Expr::value(now))
        .filter(subscriptions::Column::StripeCustomerId.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A customer's subscriptions that are not canceled yet.
pub async fn not_canceled_of_customer(
    db: &impl ConnectionTrait,
    customer_id: &str,
) -> Result<Vec<subscriptions::Model>, DbErr> {
    subscriptions::Entity::find()
        .filter(subscriptions::Column::StripeCustomerId.eq(customer_id))
        .filter(subscriptions::Column::Status.ne(SubscriptionStatus::Canceled))
        .all(db)
        .await
}
