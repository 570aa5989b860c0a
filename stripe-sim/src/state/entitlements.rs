//! Active entitlements: the features of the products of a customer's `trialing`, `active` and
//! `past_due` subscriptions, listed on request and reported by
//! `entitlements.active_entitlement_summary.updated` whenever they change.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::params::str_param;
use super::{Cause, State};
use crate::error::{ApiError, ApiResult};

impl State {
    /// The feature lookup keys a customer is entitled to now.
    pub fn entitlement_keys(&self, customer: &str) -> BTreeSet<String> {
        self.subscriptions
            .values()
            .filter(|s| s.customer == customer && s.status.grants_entitlements())
            .flat_map(|s| s.items.iter())
            .filter_map(|i| self.catalog.price(&i.price).map(|(product, _)| product))
            .flat_map(|p| p.features.iter().cloned())
            .collect()
    }

    pub fn list_active_entitlements(&self, q: &Value) -> ApiResult<Value> {
        let customer = str_param(q, "customer").ok_or_else(|| ApiError::required("customer"))?;
        self.customer(&customer)
            .map_err(|_| ApiError::missing("customer", &customer, Some("customer")))?;
        let keys: Vec<String> = self.entitlement_keys(&customer).into_iter().collect();
        let mut page = self.page(q, keys, "/v1/entitlements/active_entitlements", |st, k| {
            st.render_entitlement(&customer, k)
        });
        if let Some(expand) = q.get("expand").and_then(Value::as_array)
            && expand.iter().any(|e| e == "data.feature")
            && let Some(data) = page["data"].as_array_mut()
        {
            for ent in data {
                let key = ent["lookup_key"].as_str().unwrap_or_default().to_string();
                ent["feature"] = self.render_feature(&key);
            }
        }
        Ok(page)
    }

    /// Emits `entitlements.active_entitlement_summary.updated` if the customer's features
    /// changed since the last summary.
    pub(crate) fn sync_entitlements(&mut self, customer: &str, cause: &Cause, at: i64) {
        let keys = self.entitlement_keys(customer);
        let Some(c) = self.customers.get(customer) else {
            return;
        };
        if c.reported_entitlements == keys {
            return;
        }
        let previous = self.entitlement_list(customer, &c.reported_entitlements);
        let body = json!({
            "object": "entitlements.active_entitlement_summary",
            "customer": customer,
            "entitlements": self.entitlement_list(customer, &keys),
            "livemode": false,
        });
        self.customers
            .get_mut(customer)
            .expect("exists")
            .reported_entitlements = keys;
        self.emit(
            "entitlements.active_entitlement_summary.updated",
            body,
            Some(json!({"entitlements": previous})),
            cause,
            at,
        );
    }
}
