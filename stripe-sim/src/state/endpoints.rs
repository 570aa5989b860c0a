//! Webhook endpoints registered through the API, the control API or at start.

use std::collections::BTreeMap;

use serde_json::Value;

use super::params::{IntoMetadata, metadata_param, str_param};
use super::{API_VERSION, State, new_id};
use crate::error::{ApiError, ApiResult};
use crate::events::{WebhookEndpoint, render_new_endpoint};

impl State {
    pub fn add_endpoint(
        &mut self,
        url: String,
        secret: Option<String>,
        enabled_events: Vec<String>,
    ) -> WebhookEndpoint {
        let endpoint = WebhookEndpoint {
            id: new_id("we"),
            created: self.now(),
            url,
            enabled_events,
            description: None,
            metadata: BTreeMap::new(),
            secrets: vec![
                secret.unwrap_or_else(|| format!("whsec_{}", uuid::Uuid::new_v4().simple())),
            ],
            api_version: Some(API_VERSION.into()),
        };
        self.endpoints.push(endpoint.clone());
        endpoint
    }

    pub fn create_endpoint(&mut self, p: &Value) -> ApiResult<Value> {
        let url = str_param(p, "url").ok_or_else(|| ApiError::required("url"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiError::invalid(
                "Invalid URL: URL must be a valid http(s) URL.",
                "url",
                "url_invalid",
            ));
        }
        let events: Vec<String> = match p.get("enabled_events") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => return Err(ApiError::required("enabled_events")),
        };
        let mut endpoint = self.add_endpoint(url, None, events);
        endpoint.description = str_param(p, "description");
        endpoint.metadata = metadata_param(p, "metadata")?.into_metadata();
        if let Some(v) = str_param(p, "api_version") {
            endpoint.api_version = Some(v);
        }
        let last = self.endpoints.last_mut().expect("just pushed");
        *last = endpoint.clone();
        Ok(render_new_endpoint(&endpoint))
    }
}
