//! Stripe's error object (`{"error": {"type", "message", "param", "code"}}`) and the status codes
//! Stripe pairs with each kind of error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    pub decline_code: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            decline_code: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 404 `resource_missing`, worded as Stripe words it (`No such customer: 'cus_x'`).
    pub fn missing(what: &str, id: &str, param: Option<&str>) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {what}: '{id}'"),
        );
        e.code = Some("resource_missing");
        e.param = param.map(str::to_string);
        e
    }

    /// 400 for a request Stripe would refuse (`parameter_missing`, `parameter_invalid_…`).
    pub fn invalid(message: impl Into<String>, param: &str, code: &'static str) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.param = Some(param.to_string());
        e.code = Some(code);
        e
    }

    pub fn required(param: &str) -> Self {
        Self::invalid(
            format!("Missing required param: {param}."),
            param,
            "parameter_missing",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
    }

    pub fn idempotency(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "idempotency_error", message)
    }

    /// 409 `idempotency_key_in_use`: another request with the same key is still running.
    pub fn idempotency_key_in_use(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::CONFLICT, "invalid_request_error", message);
        e.code = Some("idempotency_key_in_use");
        e
    }

    /// An error with any status, as `invalid_request_error` (for rejections by the HTTP layer).
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, "invalid_request_error", message)
    }

    /// 402 `card_error` / `card_declined`, as a declined payment is reported.
    pub fn card_declined() -> Self {
        let mut e = Self::new(
            StatusCode::PAYMENT_REQUIRED,
            "card_error",
            "Your card was declined.",
        );
        e.code = Some("card_declined");
        e.decline_code = Some("generic_decline");
        e
    }

    pub fn not_found_route(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). stripe-sim serves only the part of \
                 the Stripe API that Entitle uses; see its README."
            ),
        )
    }

    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({
            "type": self.kind,
            "message": self.message,
        });
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        if let Some(code) = self.code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(decline) = self.decline_code {
            error["decline_code"] = json!(decline);
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
