use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::feature_name;
use crate::state::State;

impl State {
    pub(crate) fn render_entitlement(&self, customer: &str, key: &str) -> Value {
        json!({
            "id": format!("ent_test_{}_{}", &customer[4..], key),
            "object": "entitlements.active_entitlement",
            "feature": format!("feat_{key}"),
            "livemode": false,
            "lookup_key": key,
        })
    }

    pub fn render_feature(&self, key: &str) -> Value {
        json!({
            "id": format!("feat_{key}"),
            "object": "entitlements.feature",
            "active": true,
            "livemode": false,
            "lookup_key": key,
            "metadata": {},
            "name": feature_name(key),
        })
    }

    pub(crate) fn entitlement_list(&self, customer: &str, keys: &BTreeSet<String>) -> Value {
        json!({
            "object": "list",
            "data": keys.iter().map(|k| self.render_entitlement(customer, k)).collect::<Vec<_>>(),
            "has_more": false,
            "url": format!("/v1/customer/{customer}/entitlements"),
        })
    }
}
