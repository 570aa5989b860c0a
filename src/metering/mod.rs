//! Metered usage, counted correctly: `recordUsage` adds to the caller's
//! counter for the current period only if the result stays within the plan's
//! limit, in one conditional write that the database decides, in the same
//! transaction as the idempotency record and the meter event to report.
//! Races cannot overshoot or lose an increment; a repeat with the same
//! idempotency key answers the first result and counts nothing; a refused
//! call stores nothing, so a retry after an upgrade can succeed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{OutboxKind, usage_records};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    billing::stripe::MeterEvent,
    db,
    domain::{
        Catalog,
        access::{Access, Decision},
        catalog::Limit,
        usage::{self, Allowance, Period},
    },
    error::{ApiError, ApiResult, LimitExceeded},
    telemetry::metrics,
};

/// One call to `recordUsage`, its input checked.
pub struct UsageCall<'a> {
    pub limit: &'a str,
    pub amount: u32,
    pub idempotency_key: &'a str,
}

#[derive(Clone)]
pub struct Metering {
    db: DatabaseConnection,
    catalog: Arc<Catalog>,
    /// Wakes the outbox worker when a meter event is written.
    outbox: Arc<Notify>,
}

impl Metering {
    pub fn new(db: DatabaseConnection, catalog: Arc<Catalog>, outbox: Arc<Notify>) -> Self {
        Self {
            db,
            catalog,
            outbox,
        }
    }

    /// Records `call` for the user, whose access is `access` (its plan's
    /// limit, its subscription's period and customer).
    pub async fn record(
        &self,
        user: &entity::users::Model,
        access: &Access,
        call: UsageCall<'_>,
    ) -> ApiResult<usage_records::Model> {
        match self.catalog.is_metered(call.limit) {
            None => return Err(ApiError::bad_input("limit", "no plan has this limit")),
            Some(false) => {
                return Err(ApiError::bad_input(
                    "limit",
                    "this limit is a cap, not metered: it is not counted with recordUsage",
                ));
            }
            Some(true) => {}
        }
        // A retry of a call that was counted: answered without a write.
        if let Some(first) =
            db::usage::record_by_key(&self.db, user.id, call.idempotency_key).await?
        {
            metrics::usage_record(call.limit, "repeated");
            return repeat(first, &call);
        }
        let counted = self.count(user, access, &call).await;
        let outcome = match &counted {
            Ok(r) if r.overage > 0 => "overage",
            Ok(_) => "counted",
            Err(ApiError::LimitExceeded(_)) => "refused",
            Err(_) => "failed",
        };
        metrics::usage_record(call.limit, outcome);
        counted
    }

    /// In one transaction: the conditional increment, the idempotency
    /// record, and the meter event to report.
    async fn count(
        &self,
        user: &entity::users::Model,
        access: &Access,
        call: &UsageCall<'_>,
    ) -> ApiResult<usage_records::Model> {
        let now = Utc::now();
        let period = usage::period(access, now);
        let limit = access.plan.limits.get(call.limit);
        let allowance = Allowance::of(limit);
        let txn = db::begin_write(&self.db).await?;
        let counted = db::usage::increment(
            &txn,
            user.id,
            call.limit,
            period,
            call.amount,
            allowance.bound,
            now,
        )
        .await?;
        let Some(used) = counted.and_then(|n| u64::try_from(n).ok()) else {
            txn.rollback().await?;
            return Err(self.exceeded(user.id, call.limit, period, allowance).await);
        };
        let record = usage_records::Model {
            id: Uuid::new_v4(),
            user_id: user.id,
            idempotency_key: call.idempotency_key.to_owned(),
            limit_name: call.limit.to_owned(),
            amount: i64::from(call.amount),
            used: to_i64(used),
            max: allowance.max.map(to_i64),
            overage: to_i64(allowance.overage(used)),
            period_start: period.start,
            resets_at: period.end,
            created_at: now,
        };
        if let Err(e) = db::usage::insert_record(&txn, record.clone()).await {
            txn.rollback().await?;
            return self.raced(e, user.id, call).await;
        }
        let metered = self
            .meter(&txn, limit, customer(user, access), &record, now)
            .await?;
        txn.commit().await?;
        if metered {
            self.outbox.notify_one();
        }
        Ok(record)
    }

    /// Writes the meter event for the record, when the limit names a meter
    /// and there is a Stripe customer to bill; true when it did.
    async fn meter(
        &self,
        txn: &DatabaseTransaction,
        limit: Option<&Limit>,
        customer: Option<&str>,
        record: &usage_records::Model,
        now: DateTime<Utc>,
    ) -> ApiResult<bool> {
        let meter = limit
            .and_then(|l| l.metering.as_ref())
            .and_then(|m| m.meter.as_ref());
        let (Some(meter), Some(customer)) = (meter, customer) else {
            return Ok(false);
        };
        let event = MeterEvent {
            event_name: meter.clone(),
            customer: customer.to_owned(),
            value: u64::try_from(record.amount).unwrap_or_default(),
            identifier: meter_identifier(record.id),
            timestamp: now.timestamp(),
        };
        let payload = serde_json::to_string(&event)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("meter event: {e}")))?;
        db::outbox::enqueue(txn, Uuid::new_v4(), OutboxKind::MeterEvent, payload, now).await?;
        Ok(true)
    }

    async fn exceeded(&self, user_id: i32, limit: &str, period: Period, a: Allowance) -> ApiError {
        let used = match db::usage::used(&self.db, user_id, limit, period.start).await {
            Ok(n) => u64::try_from(n).unwrap_or_default(),
            Err(e) => return e.into(),
        };
        ApiError::LimitExceeded(LimitExceeded {
            limit: limit.to_owned(),
            used,
            max: a.max.unwrap_or_default(),
            resets_at: period.end,
        })
    }

    /// The record insert failed: another call with the same key committed
    /// first (ours was rolled back), or the database failed.
    async fn raced(
        &self,
        err: sea_orm::DbErr,
        user_id: i32,
        call: &UsageCall<'_>,
    ) -> ApiResult<usage_records::Model> {
        if !db::is_unique_violation(&err) {
            return Err(err.into());
        }
        match db::usage::record_by_key(&self.db, user_id, call.idempotency_key).await? {
            Some(first) => repeat(first, call),
            None => Err(err.into()),
        }
    }
}

/// The answer to a repeated idempotency key: the first call's, if this call
/// asks the same; `CONFLICT` when the key was used for something else.
fn repeat(first: usage_records::Model, call: &UsageCall<'_>) -> ApiResult<usage_records::Model> {
    if first.limit_name == call.limit && first.amount == i64::from(call.amount) {
        Ok(first)
    } else {
        Err(ApiError::Conflict(
            "this idempotency key was used for another recordUsage call",
        ))
    }
}

/// The Stripe customer usage is billed to: the granting subscription's, else
/// the user's.
fn customer<'a>(user: &'a entity::users::Model, access: &'a Access) -> Option<&'a str> {
    match &access.subscription {
        Some((sub, Decision::Plan { .. })) => Some(sub.stripe_customer_id.as_str()),
        _ => user.stripe_customer_id.as_deref(),
    }
}

/// Unique across users (a record id), stable across resends, and far under
/// Stripe's 100 characters; never the client's own idempotency key.
pub fn meter_identifier(record: Uuid) -> String {
    format!("entitle_ur_{}", record.simple())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
