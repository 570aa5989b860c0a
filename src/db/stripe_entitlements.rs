use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::stripe_entitlements::{self, Column};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set, sea_query::OnConflict,
};

pub async fn store(
    db: &impl ConnectionTrait,
    customer_id: &str,
    mut features: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    features.sort();
    features.dedup();
    let row = stripe_entitlements::ActiveModel {
        customer_id: Set(customer_id.to_owned()),
        features: Set(features.join("\n")),
        synced_at: Set(now),
    };
    stripe_entitlements::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::CustomerId)
                .update_columns([Column::Features, Column::SyncedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The stored features of many customers, in one query.
pub async fn of_customers(
    db: &impl ConnectionTrait,
    customers: &[String],
) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let rows = stripe_entitlements::Entity::find()
        .filter(Column::CustomerId.is_in(customers.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let features = r
                .features
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            (r.customer_id, features)
        })
        .collect())
}
