//! What operators do, by role: each action changes what it changes and
//! writes its row in the operator audit trail, in one transaction, and
//! announces the user's change on the feed where access data changed (so
//! every instance sees it on the next request, and `entitlementsChanged`
//! pushes). The GraphQL operator fields and `entitle users` both come here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{OperatorAction, Role, grants, operator_actions, stripe_events, users};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    billing::{Billing, sync::Cause},
    changes::ChangeFeed,
    db,
    domain::Catalog,
    error::{ApiError, ApiResult},
};

/// The longest reason an operator may give.
pub const MAX_REASON: usize = 500;

/// Who acts: an operator (public id), or `None` from the command line.
#[derive(Clone, Copy, Debug)]
pub struct Actor(pub Option<Uuid>);

#[derive(Clone)]
pub struct Operators {
    pub db: DatabaseConnection,
    pub billing: Billing,
    pub changes: ChangeFeed,
    pub catalog: Arc<Catalog>,
    /// Wakes the webhook worker for a replayed event.
    pub webhook_wake: Arc<Notify>,
}

/// A reason as given: trimmed, 1 to [`MAX_REASON`] characters.
pub fn reason(raw: &str) -> ApiResult<String> {
    let r = raw.trim();
    if r.is_empty() || r.chars().count() > MAX_REASON {
        return Err(ApiError::bad_input(
            "reason",
            format!("give a reason of 1 to {MAX_REASON} characters"),
        ));
    }
    Ok(r.to_owned())
}

/// One row of the operator audit trail.
struct Audit<'a> {
    actor: Actor,
    action: OperatorAction,
    target_user: Option<Uuid>,
    target: Option<String>,
    reason: Option<&'a str>,
    detail: serde_json::Value,
}

async fn audit(db: &impl ConnectionTrait, a: Audit<'_>, at: DateTime<Utc>) -> ApiResult<()> {
    tracing::info!(
        actor = ?a.actor.0,
        action = a.action.as_str(),
        target_user = ?a.target_user,
        target = ?a.target,
        "operator action"
    );
    db::operator_actions::insert(
        db,
        operator_actions::Model {
            id: Uuid::new_v4(),
            actor: a.actor.0,
            action: a.action,
            target_user: a.target_user,
            target: a.target,
            reason: a.reason.map(str::to_owned),
            detail: a.detail.to_string(),
            at,
        },
    )
    .await?;
    Ok(())
}

impl Operators {
    /// Commits, telling the feed of `changed` (evicting its rows everywhere).
    async fn commit(&self, txn: DatabaseTransaction, changed: Option<Uuid>) -> ApiResult<()> {
        let announced = match changed {
            Some(pid) => Some(self.changes.announce(&txn, pid).await?),
            None => None,
        };
        txn.commit().await?;
        self.changes.committed(announced);
        Ok(())
    }

    /// A comp plan for `target` until `until`, whatever Stripe says.
    pub async fn grant_plan(
        &self,
        actor: Actor,
        target: &users::Model,
        plan: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> ApiResult<grants::Model> {
        let plan = self
            .catalog
            .plan(plan)
            .ok_or_else(|| ApiError::bad_input("plan", "no such plan"))?;
        if plan.name == self.catalog.free_plan().name {
            return Err(ApiError::bad_input(
                "plan",
                "everyone has the free plan already",
            ));
        }
        let now = Utc::now();
        if until <= now {
            return Err(ApiError::bad_input(
                "until",
                "a grant must end in the future",
            ));
        }
        let txn = db::begin_write(&self.db).await?;
        let grant = db::grants::insert(
            &txn,
            grants::Model {
                id: Uuid::new_v4(),
                user_id: target.id,
                plan: plan.name.clone(),
                starts_at: now,
                until,
                reason: reason.to_owned(),
                granted_by: actor.0,
                created_at: now,
                revoked_at: None,
                revoked_by: None,
                revoke_reason: None,
            },
        )
        .await?;
        let detail = json!({ "plan": grant.plan, "until": until.to_rfc3339() });
        let row = Audit {
            actor,
            action: OperatorAction::GrantPlan,
            target_user: Some(target.pid),
            target: Some(grant.id.to_string()),
            reason: Some(reason),
            detail,
        };
        audit(&txn, row, now).await?;
        self.commit(txn, Some(target.pid)).await?;
        Ok(grant)
    }

    /// Ends a grant now. `CONFLICT` when it was revoked already.
    pub async fn revoke_grant(
        &self,
        actor: Actor,
        id: Uuid,
        reason: &str,
    ) -> ApiResult<grants::Model> {
        let now = Utc::now();
        let txn = db::begin_write(&self.db).await?;
        let grant = db::grants::by_id(&txn, id)
            .await?
            .ok_or_else(|| ApiError::bad_input("id", "no such grant"))?;
        if !db::grants::revoke(&txn, id, actor.0, reason, now).await? {
            return Err(ApiError::Conflict("this grant is revoked already"));
        }
        let target = db::users::by_id(&txn, grant.user_id).await?.map(|u| u.pid);
        let row = Audit {
            actor,
            action: OperatorAction::RevokeGrant,
            target_user: target,
            target: Some(id.to_string()),
            reason: Some(reason),
            detail: json!({ "plan": grant.plan }),
        };
        audit(&txn, row, now).await?;
        self.commit(txn, target).await?;
        Ok(db::grants::by_id(&self.db, id).await?.unwrap_or(grant))
    }

    /// Queues a stored webhook event to be processed again now.
    pub async fn replay_event(&self, actor: Actor, id: &str) -> ApiResult<stripe_events::Model> {
        let now = Utc::now();
        let txn = db::begin_write(&self.db).await?;
        let Some(event) = db::stripe_events::by_id(&txn, id).await? else {
            return Err(ApiError::bad_input("id", "no such webhook event"));
        };
        if db::stripe_events::requeue(&txn, Some(id)).await? == 0 {
            return Err(ApiError::Conflict(
                "a worker is processing this event right now",
            ));
        }
        // Shown on the customer it is about, when we know them.
        let owner = match event.customer_id.as_deref() {
            Some(c) => db::users::by_stripe_customer(&txn, c).await?.map(|u| u.pid),
            None => None,
        };
        let row = Audit {
            actor,
            action: OperatorAction::ReplayEvent,
            target_user: owner,
            target: Some(id.to_owned()),
            reason: None,
            detail: json!({}),
        };
        audit(&txn, row, now).await?;
        self.commit(txn, None).await?;
        self.webhook_wake.notify_one();
        db::stripe_events::by_id(&self.db, id)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a replayed event vanished")))
    }

    /// Re-reads the user's Stripe customer through the sync engine.
    pub async fn sync_customer(
        &self,
        actor: Actor,
        target: &users::Model,
    ) -> ApiResult<Vec<entity::subscriptions::Model>> {
        let customer = target.stripe_customer_id.as_deref().ok_or_else(|| {
            ApiError::bad_input("userId", "this user has no Stripe customer to sync")
        })?;
        let listed = self
            .billing
            .sync_customer(target.id, customer, &Cause::sync())
            .await?;
        let row = Audit {
            actor,
            action: OperatorAction::SyncCustomer,
            target_user: Some(target.pid),
            target: Some(customer.to_owned()),
            reason: None,
            detail: json!({ "subscriptions": listed }),
        };
        audit(&self.db, row, Utc::now()).await?;
        Ok(db::subscriptions::of_user(&self.db, target.id).await?)
    }

    /// Ends every session (refresh-token family) of the user; how many were live.
    pub async fn revoke_sessions(
        &self,
        actor: Actor,
        target: &users::Model,
        reason: &str,
    ) -> ApiResult<u64> {
        let now = Utc::now();
        let txn = db::begin_write(&self.db).await?;
        let revoked = db::token_families::revoke_all_of_user(&txn, target.id, now).await?;
        let row = Audit {
            actor,
            action: OperatorAction::RevokeSessions,
            target_user: Some(target.pid),
            target: None,
            reason: Some(reason),
            detail: json!({ "sessions": revoked }),
        };
        audit(&txn, row, now).await?;
        self.commit(txn, None).await?;
        Ok(revoked)
    }

    /// Sets the user's role. The last admin cannot be demoted (`CONFLICT`):
    /// the admins are locked first, so two demotions cannot both pass.
    pub async fn set_role(
        &self,
        actor: Actor,
        target: &users::Model,
        role: Role,
    ) -> ApiResult<users::Model> {
        let now = Utc::now();
        let txn = db::begin_write(&self.db).await?;
        let admins = db::users::lock_admins(&txn).await?;
        let was_admin = admins.iter().any(|a| a.id == target.id);
        if was_admin && role != Role::Admin && admins.len() <= 1 {
            return Err(ApiError::Conflict("the last admin cannot be demoted"));
        }
        let before = db::users::by_id(&txn, target.id)
            .await?
            .map_or(Role::User, |u| u.role);
        db::users::set_role(&txn, target.id, role).await?;
        let row = Audit {
            actor,
            action: OperatorAction::SetRole,
            target_user: Some(target.pid),
            target: None,
            reason: None,
            detail: json!({ "from": before.as_str(), "to": role.as_str() }),
        };
        audit(&txn, row, now).await?;
        // The role is cached with the user's row: every instance forgets it.
        self.commit(txn, Some(target.pid)).await?;
        db::users::by_id(&self.db, target.id)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the user vanished")))
    }
}
