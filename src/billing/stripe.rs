//! Every call Entitle makes to Stripe, through async-stripe, and what a
//! client may know of its failures. Nothing else in the crate speaks to
//! Stripe, so the mapping of Stripe's errors lives here once.

use anyhow::anyhow;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::{
    billing_meter_event::CreateBillingMeterEvent,
    billing_portal_session::CreateBillingPortalSession,
    subscription::{CancelSubscription, ListSubscription, ListSubscriptionStatus},
};
use stripe_checkout::{
    CheckoutSession, CheckoutSessionMode,
    checkout_session::{
        CreateCheckoutSession, CreateCheckoutSessionLineItems,
        CreateCheckoutSessionSubscriptionData, RetrieveCheckoutSession,
    },
};
use stripe_core::customer::CreateCustomer;
use stripe_misc::entitlements_active_entitlement::ListEntitlementsActiveEntitlement;

use crate::{
    config::StripeConfig,
    error::{ApiError, ApiResult},
};

/// The Stripe client, when `STRIPE_SECRET_KEY` is set.
pub struct StripeApi {
    client: Option<stripe::Client>,
}

/// What a hosted checkout session is made of.
pub struct CheckoutRequest<'a> {
    pub customer: &'a str,
    /// The user's public id, so the session (and its subscription) name them.
    pub user_pid: &'a str,
    pub plan: &'a str,
    pub price: &'a str,
    pub trial_days: Option<u32>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

impl StripeApi {
    pub fn new(config: Option<&StripeConfig>) -> anyhow::Result<Self> {
        let Some(s) = config else {
            tracing::warn!("STRIPE_SECRET_KEY is not set: checkout and portal are off");
            return Ok(Self { client: None });
        };
        let key = String::from_utf8(s.secret_key.expose().to_vec())?;
        let client = stripe::ClientBuilder::new(key)
            .url(s.api_base.clone())
            .timeout(s.timeout)
            .build()
            .map_err(|e| anyhow!("cannot build the Stripe client: {e}"))?;
        Ok(Self {
            client: Some(client),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    /// `STRIPE_UNAVAILABLE` unless a key is configured.
    pub fn require(&self) -> ApiResult<()> {
        self.client().map(|_| ())
    }

    fn client(&self) -> ApiResult<&stripe::Client> {
        self.client
            .as_ref()
            .ok_or_else(|| ApiError::StripeUnavailable(anyhow!("STRIPE_SECRET_KEY is not set")))
    }

    /// Creates the user's Stripe customer. The idempotency key is derived
    /// from the user, so a retry, or a race with another instance, gets the
    /// same customer from Stripe.
    pub async fn create_customer(&self, user: &entity::users::Model) -> ApiResult<String> {
        let client = self.client()?;
        let key: IdempotencyKey = format!("entitle-customer-{}", user.pid)
            .try_into()
            .map_err(|e| ApiError::Internal(anyhow!("idempotency key: {e:?}")))?;
        let mut attempt = 0;
        loop {
            let res = observed(
                "create_customer",
                CreateCustomer::new()
                    .email(user.email.as_str())
                    .metadata([("user_id".to_owned(), user.pid.to_string())])
                    .customize()
                    .request_strategy(RequestStrategy::Idempotent(key.clone()))
                    .send(client),
            )
            .await;
            match res {
                Ok(c) => return Ok(c.id.as_str().to_owned()),
                // Another instance is creating it with the same key right now.
                Err(StripeError::Stripe(_, 409)) if attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => return Err(stripe_error("create a customer", "email", e)),
            }
        }
    }

    /// A hosted checkout session for one subscription; its URL and id.
    pub async fn create_checkout_session(
        &self,
        req: CheckoutRequest<'_>,
    ) -> ApiResult<(String, String)> {
        let client = self.client()?;
        let metadata = || [("user_id".to_owned(), req.user_pid.to_owned())];
        let mut data = CreateCheckoutSessionSubscriptionData::new();
        data.metadata = Some(metadata().into());
        data.trial_period_days = req.trial_days;
        let create = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(req.customer)
            .client_reference_id(req.user_pid)
            .metadata(metadata())
            .line_items(vec![CreateCheckoutSessionLineItems {
                price: Some(req.price.to_owned()),
                quantity: Some(1),
                ..Default::default()
            }])
            .allow_promotion_codes(true)
            .subscription_data(data)
            .success_url(req.success_url)
            .cancel_url(req.cancel_url);
        let session = observed("create_checkout_session", create.send(client))
            .await
            .map_err(|e| match e {
                // A price in plans.toml that Stripe does not have is our
                // configuration error, not the user's.
                StripeError::Stripe(api, 400 | 404)
                    if api
                        .param
                        .as_deref()
                        .is_some_and(|p| p.starts_with("line_items")) =>
                {
                    ApiError::Internal(anyhow!(
                        "Stripe does not know a price of plan `{}` in plans.toml: {:?}",
                        req.plan,
                        api.message
                    ))
                }
                other => stripe_error("create a checkout session", "plan", other),
            })?;
        let url = session.url.ok_or_else(|| {
            ApiError::StripeUnavailable(anyhow!("checkout session without a url"))
        })?;
        Ok((url, session.id.as_str().to_owned()))
    }

    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> ApiResult<String> {
        let create = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url);
        let session = observed("create_portal_session", create.send(self.client()?))
            .await
            .map_err(|e| stripe_error("create a portal session", "returnUrl", e))?;
        Ok(session.url)
    }

    pub async fn checkout_session(&self, id: &str) -> ApiResult<CheckoutSession> {
        let retrieve = RetrieveCheckoutSession::new(id);
        observed("retrieve_checkout_session", retrieve.send(self.client()?))
            .await
            .map_err(|e| stripe_error("retrieve a checkout session", "sessionId", e))
    }

    /// Every subscription of the customer, whatever its status (the first
    /// 100, newest first; a customer has a handful).
    pub async fn subscriptions(
        &self,
        customer: &str,
    ) -> ApiResult<Vec<stripe_billing::Subscription>> {
        let list = ListSubscription::new()
            .customer(customer)
            .status(ListSubscriptionStatus::All)
            .limit(100);
        let list = observed("list_subscriptions", list.send(self.client()?))
            .await
            .map_err(|e| stripe_error("list subscriptions", "customer", e))?;
        Ok(list.data)
    }

    /// Cancels a subscription now (not at the period's end). One Stripe
    /// already ended counts as done.
    pub async fn cancel_subscription(&self, id: &str) -> ApiResult<()> {
        let cancel = CancelSubscription::new(id);
        match observed("cancel_subscription", cancel.send(self.client()?)).await {
            Ok(_) => Ok(()),
            Err(StripeError::Stripe(_, 404)) => Ok(()),
            Err(StripeError::Stripe(api, 400))
                if api.message.as_deref().is_some_and(|m| m.contains("cancel")) =>
            {
                Ok(())
            }
            Err(e) => Err(ApiError::StripeUnavailable(anyhow!(
                "cancel a subscription: {e}"
            ))),
        }
    }

    /// The customer's active entitlements (feature lookup keys) from
    /// Stripe's Entitlements API.
    pub async fn active_entitlements(&self, customer: &str) -> ApiResult<Vec<String>> {
        let list = ListEntitlementsActiveEntitlement::new(customer).limit(100);
        let active = observed("list_active_entitlements", list.send(self.client()?))
            .await
            .map_err(|e| stripe_error("list active entitlements", "customer", e))?;
        Ok(active.data.into_iter().map(|e| e.lookup_key).collect())
    }
}

/// One usage report to a Stripe Billing Meter.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct MeterEvent {
    /// The meter's `event_name`.
    pub event_name: String,
    pub customer: String,
    pub value: u64,
    /// Stripe deduplicates events by it (for about a day): derived from
    /// Entitle's own usage-record id, so a resend is never billed twice.
    pub identifier: String,
    /// When the usage happened (Unix seconds).
    pub timestamp: i64,
}

/// How sending to Stripe failed, for the outbox to decide what follows.
#[derive(Debug)]
pub enum SendFailure {
    /// Stripe down, slow, rate limiting, or refusing our key: try again.
    Transient(String),
    /// Stripe refused this request (a 4xx): retrying as is will not help,
    /// though an operator may fix the cause (create the meter, say).
    Refused(String),
}

impl StripeApi {
    /// Reports usage to a meter. An identifier Stripe has seen already is
    /// success: Stripe has that event.
    pub async fn send_meter_event(&self, ev: &MeterEvent) -> Result<(), SendFailure> {
        let client = self
            .client()
            .map_err(|_| SendFailure::Transient("STRIPE_SECRET_KEY is not set".into()))?;
        let payload = [
            ("stripe_customer_id".to_owned(), ev.customer.clone()),
            ("value".to_owned(), ev.value.to_string()),
        ];
        let create = CreateBillingMeterEvent::new(ev.event_name.as_str(), payload)
            .identifier(ev.identifier.as_str())
            .timestamp(ev.timestamp);
        let res = observed("create_meter_event", create.send(client)).await;
        match res {
            Ok(_) => Ok(()),
            Err(StripeError::Stripe(api, 400))
                if is_duplicate(
                    api.code.as_ref().map(|c| c.as_str()),
                    api.message.as_deref(),
                ) =>
            {
                Ok(())
            }
            Err(StripeError::Stripe(api, status))
                if (400..500).contains(&status) && !matches!(status, 401 | 403 | 409 | 429) =>
            {
                Err(SendFailure::Refused(format!(
                    "Stripe refused the meter event ({status}, {:?}): {:?}",
                    api.code, api.message
                )))
            }
            Err(other) => Err(SendFailure::Transient(format!("meter event: {other}"))),
        }
    }
}

/// Stripe's answer to an identifier it has already accepted.
fn is_duplicate(code: Option<&str>, message: Option<&str>) -> bool {
    let said =
        |s: Option<&str>| s.is_some_and(|s| s.contains("duplicate") || s.contains("already"));
    said(code) || said(message)
}

/// Awaits one Stripe call, recording it in the metrics.
async fn observed<T>(
    operation: &'static str,
    call: impl std::future::Future<Output = Result<T, StripeError>>,
) -> Result<T, StripeError> {
    let started = std::time::Instant::now();
    let res = call.await;
    crate::telemetry::metrics::stripe_request(operation, res.is_ok(), started.elapsed());
    res
}

/// Maps a Stripe failure to what the client may know: Stripe down, slow, or
/// refusing our key is `STRIPE_UNAVAILABLE` (retryable); Stripe refusing the
/// request itself is `BAD_USER_INPUT`. Stripe's own text is logged, not sent.
pub fn stripe_error(what: &'static str, field: &'static str, err: StripeError) -> ApiError {
    match err {
        StripeError::Stripe(api, status)
            if (400..500).contains(&status) && !matches!(status, 401 | 403 | 409 | 429) =>
        {
            tracing::info!(status, code = ?api.code, param = ?api.param, "stripe refused {what}");
            if status == 404 {
                ApiError::bad_input(field, "Stripe has no such object")
            } else {
                ApiError::bad_input(field, "Stripe refused the request")
            }
        }
        other => ApiError::StripeUnavailable(anyhow!("{what}: {other}")),
    }
}
