//! `ApiError` is the GraphQL boundary: every error a client sees carries a
//! stable `extensions.code`, and internal causes are logged here, once, and
//! never sent.

use async_graphql::ErrorExtensions;

/// The stable codes a client can switch on. Documented in README.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const ENTITLEMENT_REQUIRED: &str = "ENTITLEMENT_REQUIRED";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
    pub const STRIPE_UNAVAILABLE: &str = "STRIPE_UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";
}

/// Deliberately not `Display`: async-graphql converts any `Display` error into
/// a GraphQL error with its text and no code. Without it, `?` in a resolver
/// can only go through our `From` below.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(&'static str),
    Forbidden(&'static str),
    /// `field` names the argument at fault, so a form can show the message in place.
    BadUserInput {
        field: &'static str,
        message: String,
    },
    Conflict(&'static str),
    /// The caller's plan lacks a feature, or is at a limit. `plans` are the
    /// plans that would allow it, for an upgrade prompt.
    EntitlementRequired {
        need: Entitlement,
        plans: Vec<String>,
    },
    RateLimited {
        retry_after_secs: u64,
    },
    /// A metered limit would be passed: nothing was counted.
    LimitExceeded(LimitExceeded),
    /// Stripe did not answer, or not in time, or refused our credentials.
    /// Retryable; the cause is logged, never sent.
    StripeUnavailable(anyhow::Error),
    Internal(anyhow::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entitlement {
    Feature(&'static str),
    /// More of a plan limit than the plan allows (`max`).
    Limit {
        name: &'static str,
        max: u32,
    },
}

/// What `LIMIT_EXCEEDED` tells the client, in `extensions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The limit's name.
    pub limit: String,
    /// Counted so far in the period.
    pub used: u64,
    pub max: u64,
    /// When the period ends and the count starts from zero.
    pub resets_at: chrono::DateTime<chrono::Utc>,
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

impl ApiError {
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field,
            message: message.into(),
        }
    }

    /// What the client reads: never an internal cause.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m) | Self::Forbidden(m) | Self::Conflict(m) => (*m).to_owned(),
            Self::BadUserInput { message, .. } => message.clone(),
            Self::EntitlementRequired { need, .. } => match need {
                Entitlement::Feature(f) => format!("your plan does not include `{f}`"),
                Entitlement::Limit { name, max } => {
                    format!("your plan allows at most {max} of `{name}`")
                }
            },
            Self::RateLimited { retry_after_secs } => {
                format!("too many attempts; retry in {retry_after_secs} s")
            }
            Self::LimitExceeded(e) => format!(
                "`{}` is at its limit of {} for this period (resets at {})",
                e.limit,
                e.max,
                e.resets_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Self::StripeUnavailable(_) => {
                "billing is unavailable right now; try again shortly".to_owned()
            }
            Self::Internal(_) => "internal error".to_owned(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::BadUserInput { .. } => code::BAD_USER_INPUT,
            Self::Conflict(_) => code::CONFLICT,
            Self::EntitlementRequired { .. } => code::ENTITLEMENT_REQUIRED,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::LimitExceeded(_) => code::LIMIT_EXCEEDED,
            Self::StripeUnavailable(_) => code::STRIPE_UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        match &err {
            // The only place an internal cause is written down; the client gets the code.
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error")
            }
            ApiError::StripeUnavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "stripe unavailable")
            }
            _ => {}
        }
        let code = err.code();
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", code);
            match &err {
                ApiError::BadUserInput { field, .. } => ext.set("field", *field),
                ApiError::StripeUnavailable(_) => ext.set("retryable", true),
                ApiError::RateLimited { retry_after_secs } => {
                    ext.set("retryAfter", *retry_after_secs)
                }
                ApiError::LimitExceeded(e) => {
                    ext.set("limit", e.limit.as_str());
                    ext.set("used", e.used);
                    ext.set("max", e.max);
                    // As the DateTime scalar writes it.
                    ext.set("resetsAt", e.resets_at.to_rfc3339());
                }
                ApiError::EntitlementRequired { need, plans } => {
                    match need {
                        Entitlement::Feature(f) => ext.set("feature", *f),
                        Entitlement::Limit { name, max } => {
                            ext.set("limit", *name);
                            ext.set("max", *max);
                        }
                    }
                    ext.set("plans", plans.clone());
                }
                _ => {}
            }
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err: async_graphql::Error =
            ApiError::Internal(anyhow::anyhow!("password authentication failed for user x")).into();
        assert_eq!(err.message, "internal error");
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
    }

    #[test]
    fn rate_limit_errors_carry_a_retry_hint() {
        let err: async_graphql::Error = ApiError::RateLimited {
            retry_after_secs: 7,
        }
        .into();
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("RATE_LIMITED"))
        );
        assert_eq!(
            ext.get("retryAfter"),
            Some(&async_graphql::Value::from(7u64))
        );
    }
}
