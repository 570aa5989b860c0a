//! Operator fields, guarded by role (`@requiresRole`): `support` reads any
//! customer and the webhook inbox; `admin` changes things. Every change is
//! `operators::Operators`'s, which audits it.

use async_graphql::{Context, ID, Object};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entity::{Role as RoleRow, users};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::history::billing_changes;
use crate::{
    db::{self, stripe_events::EventCursor},
    domain::{
        Email,
        access::{Access, SubscriptionFacts, decide},
    },
    error::{ApiError, ApiResult},
    graphql::{
        caller::{AccessRules, access_of, signed_in_id},
        guards::{RequireRole, requiresRole},
        loaders::Loaders,
        views::{
            BillingChange, BillingSubscription, EntitlementSource, Entitlements, Grant,
            OperatorActionEntry, Role, User, WebhookEvent, WebhookEventPage, WebhookEventStatus,
        },
    },
    operators::{Actor, Operators, reason},
};

/// A customer as support sees them.
pub struct Customer {
    user: users::Model,
    access: Access,
}

#[Object]
impl Customer {
    async fn user(&self) -> User {
        User::from(&self.user)
    }

    /// Every subscription Entitle has stored for them, with what it grants now.
    async fn subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<BillingSubscription>> {
        let rules = ctx.data_unchecked::<AccessRules>();
        let subs = ctx
            .data_unchecked::<Loaders>()
            .subscriptions_of(self.user.pid)
            .await?;
        Ok(subs
            .iter()
            .map(|s| {
                let decision = decide(Some(&SubscriptionFacts::from(s)), Utc::now(), &rules.policy);
                BillingSubscription::new(s, &rules.catalog, decision)
            })
            .collect())
    }

    /// What they may use now.
    async fn entitlements(&self) -> Entitlements {
        Entitlements::from(&self.access.plan)
    }

    /// Where their features and limits come from.
    async fn sources(&self) -> Vec<EntitlementSource> {
        self.access
            .sources
            .iter()
            .map(EntitlementSource::from)
            .collect()
    }

    /// Every comp grant they were given, newest first.
    async fn grants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Grant>> {
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let rows = db::grants::of_user(db, self.user.id)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(Grant::from).collect())
    }

    /// Their last `last` subscription changes, oldest first.
    async fn billing_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100, validator(minimum = 1, maximum = 500))] last: i32,
    ) -> async_graphql::Result<Vec<BillingChange>> {
        Ok(billing_changes(ctx, self.user.id, last).await?)
    }

    /// The last `last` webhook events of their Stripe customer, newest first.
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 500))] last: i32,
    ) -> async_graphql::Result<Vec<WebhookEvent>> {
        let Some(customer) = &self.user.stripe_customer_id else {
            return Ok(Vec::new());
        };
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let rows = db::stripe_events::of_customer(db, customer, u64::try_from(last).unwrap_or(50))
            .await
            .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(WebhookEvent::from).collect())
    }

    /// The last `last` operator actions on them, newest first.
    async fn operator_actions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 500))] last: i32,
    ) -> async_graphql::Result<Vec<OperatorActionEntry>> {
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let rows =
            db::operator_actions::on_user(db, self.user.pid, u64::try_from(last).unwrap_or(50))
                .await
                .map_err(ApiError::from)?;
        Ok(rows.into_iter().map(OperatorActionEntry::from).collect())
    }
}

fn user_id(raw: &str, field: &'static str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::bad_input(field, "not a user id"))
}

/// The user named by a public id, read fresh; `BAD_USER_INPUT` when none.
async fn target(ctx: &Context<'_>, raw: &str) -> ApiResult<users::Model> {
    let pid = user_id(raw, "userId")?;
    db::users::by_pid(ctx.data_unchecked::<DatabaseConnection>(), pid)
        .await?
        .ok_or_else(|| ApiError::bad_input("userId", "no such user"))
}

fn actor(ctx: &Context<'_>) -> ApiResult<Actor> {
    Ok(Actor(Some(signed_in_id(ctx)?)))
}

fn encode_cursor(e: &entity::stripe_events::Model) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", e.received_at.to_rfc3339(), e.id))
}

fn decode_cursor(raw: &str) -> ApiResult<EventCursor> {
    let bad = || ApiError::bad_input("after", "not a cursor from this list");
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(EventCursor {
        received_at: DateTime::parse_from_rfc3339(at)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        id: id.to_owned(),
    })
}

#[derive(Default)]
pub struct OperatorQuery;

#[Object]
impl OperatorQuery {
    /// A customer by email or by id (give exactly one); null when there is none.
    #[graphql(
        guard = "RequireRole(RoleRow::Support)",
        directive = requiresRole::apply(Role::Support)
    )]
    async fn customer(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
        id: Option<ID>,
    ) -> async_graphql::Result<Option<Customer>> {
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let user = match (email, id) {
            (Some(e), None) => {
                let email =
                    Email::parse(&e).map_err(|e| ApiError::bad_input("email", e.to_string()))?;
                db::users::by_email(db, &email)
                    .await
                    .map_err(ApiError::from)?
            }
            (None, Some(id)) => db::users::by_pid(db, user_id(&id, "id")?)
                .await
                .map_err(ApiError::from)?,
            _ => return Err(ApiError::bad_input("email", "give either email or id").into()),
        };
        let Some(user) = user else {
            return Ok(None);
        };
        let access = access_of(
            ctx.data_unchecked::<Loaders>(),
            ctx.data_unchecked::<AccessRules>(),
            Some(user.pid),
        )
        .await?;
        Ok(Some(Customer { user, access }))
    }

    /// Stored webhook events, newest first, optionally of one status (the
    /// failed or pending ones, say), `first` at a time from `after`.
    #[graphql(
        guard = "RequireRole(RoleRow::Support)",
        directive = requiresRole::apply(Role::Support)
    )]
    async fn webhook_events(
        &self,
        ctx: &Context<'_>,
        status: Option<WebhookEventStatus>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<WebhookEventPage> {
        let cursor = after.as_deref().map(decode_cursor).transpose()?;
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let first = u64::try_from(first).unwrap_or(50);
        let mut rows =
            db::stripe_events::page(db, status.map(Into::into), cursor.as_ref(), first + 1)
                .await
                .map_err(ApiError::from)?;
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok(WebhookEventPage {
            end_cursor: rows.last().filter(|_| has_next_page).map(encode_cursor),
            has_next_page,
            nodes: rows.into_iter().map(WebhookEvent::from).collect(),
        })
    }
}

#[derive(Default)]
pub struct OperatorMutation;

#[Object]
impl OperatorMutation {
    /// Gives the user a plan until `until`, whatever Stripe says (with a
    /// subscription too: the union of features, the highest of each limit).
    #[graphql(guard = "RequireRole(RoleRow::Admin)", directive = requiresRole::apply(Role::Admin))]
    async fn grant_plan(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        plan: String,
        until: DateTime<Utc>,
        reason: String,
    ) -> async_graphql::Result<Grant> {
        let reason = self::reason(&reason)?;
        let target = target(ctx, &user_id).await?;
        let grant = ctx
            .data_unchecked::<Operators>()
            .grant_plan(actor(ctx)?, &target, &plan, until, &reason)
            .await?;
        Ok(grant.into())
    }

    /// Ends a grant now.
    #[graphql(guard = "RequireRole(RoleRow::Admin)", directive = requiresRole::apply(Role::Admin))]
    async fn revoke_grant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<Grant> {
        let reason = self::reason(&reason)?;
        let id = Uuid::parse_str(&id).map_err(|_| ApiError::bad_input("id", "not a grant id"))?;
        let grant = ctx
            .data_unchecked::<Operators>()
            .revoke_grant(actor(ctx)?, id, &reason)
            .await?;
        Ok(grant.into())
    }

    /// Queues a stored webhook event (a failed one, say) to be applied again now.
    #[graphql(guard = "RequireRole(RoleRow::Admin)", directive = requiresRole::apply(Role::Admin))]
    async fn replay_event(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<WebhookEvent> {
        let event = ctx
            .data_unchecked::<Operators>()
            .replay_event(actor(ctx)?, &id)
            .await?;
        Ok(event.into())
    }

    /// Re-reads the user's subscriptions from Stripe and stores them.
    #[graphql(guard = "RequireRole(RoleRow::Admin)", directive = requiresRole::apply(Role::Admin))]
    async fn sync_customer(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> async_graphql::Result<Vec<BillingSubscription>> {
        let target = target(ctx, &user_id).await?;
        let rows = ctx
            .data_unchecked::<Operators>()
            .sync_customer(actor(ctx)?, &target)
            .await?;
        let rules = ctx.data_unchecked::<AccessRules>();
        Ok(rows
            .iter()
            .map(|s| {
                let decision = decide(Some(&SubscriptionFacts::from(s)), Utc::now(), &rules.policy);
                BillingSubscription::new(s, &rules.catalog, decision)
            })
            .collect())
    }

    /// Ends every session (refresh-token family) of the user; how many were
    /// live. Access tokens already issued run out on their own (15 minutes).
    #[graphql(guard = "RequireRole(RoleRow::Admin)", directive = requiresRole::apply(Role::Admin))]
    async fn revoke_sessions(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        reason: String,
    ) -> async_graphql::Result<i32> {
        let reason = self::reason(&reason)?;
        let target = target(ctx, &user_id).await?;
        let n = ctx
            .data_unchecked::<Operators>()
            .revoke_sessions(actor(ctx)?, &target, &reason)
            .await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// Sets the user's role; on the next request on every instance.
    /// `CONFLICT` for demoting the last admin.
    #[graphql(guard = "RequireRole(RoleRow::Admin)", directive = requiresRole::apply(Role::Admin))]
    async fn set_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
    ) -> async_graphql::Result<User> {
        let target = target(ctx, &user_id).await?;
        let user = ctx
            .data_unchecked::<Operators>()
            .set_role(actor(ctx)?, &target, role.into())
            .await?;
        Ok(User::from(&user))
    }
}
