//! Customers: `POST /v1/customers`, updates with merged metadata, and deletion (which cancels
//! the customer's subscriptions, as Stripe does).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::params::{IntoMetadata, merge_metadata, metadata_param, str_param};
use super::{Cause, Customer, State, new_id};
use crate::error::{ApiError, ApiResult};

impl State {
    pub fn customer(&self, id: &str) -> ApiResult<&Customer> {
        self.customers
            .get(id)
            .ok_or_else(|| ApiError::missing("customer", id, Some("id")))
    }

    /// A customer that exists and is not deleted; `param` names it in the 404.
    pub(crate) fn live_customer(&self, id: &str, param: &str) -> ApiResult<&Customer> {
        match self.customers.get(id) {
            Some(c) if !c.deleted => Ok(c),
            _ => Err(ApiError::missing("customer", id, Some(param))),
        }
    }

    pub fn create_customer(&mut self, p: &Value, cause: &Cause) -> ApiResult<Value> {
        let now = self.now();
        let seq = self.next_seq();
        let customer = Customer {
            id: new_id("cus"),
            seq,
            created: now,
            email: str_param(p, "email"),
            name: str_param(p, "name"),
            description: str_param(p, "description"),
            metadata: metadata_param(p, "metadata")?.into_metadata(),
            deleted: false,
            card_declines: false,
            reported_entitlements: BTreeSet::new(),
        };
        let id = customer.id.clone();
        self.customers.insert(id.clone(), customer);
        let body = self.render_customer(&id);
        self.emit("customer.created", body.clone(), None, cause, now);
        Ok(body)
    }

    pub fn update_customer(&mut self, id: &str, p: &Value, cause: &Cause) -> ApiResult<Value> {
        self.live_customer(id, "id")?;
        let before = self.render_customer(id);
        let metadata = metadata_param(p, "metadata")?;
        let c = self.customers.get_mut(id).expect("checked above");
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(email) = p.get("email") {
            c.email = text(email);
        }
        if let Some(name) = p.get("name") {
            c.name = text(name);
        }
        if let Some(d) = p.get("description") {
            c.description = text(d);
        }
        if let Some(metadata) = metadata {
            merge_metadata(&mut c.metadata, metadata);
        }
        let after = self.render_customer(id);
        let now = self.now();
        self.emit_if_changed(&["customer.updated"], &before, after.clone(), cause, now);
        Ok(after)
    }

    /// Deleting a customer cancels its subscriptions at once, as Stripe does.
    pub fn delete_customer(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        self.live_customer(id, "id")?;
        let now = self.now();
        let subs: Vec<String> = self
            .subscriptions
            .values()
            .filter(|s| s.customer == id && !s.status.is_terminal())
            .map(|s| s.id.clone())
            .collect();
        for sub in subs {
            self.end_subscription(&sub, now, "cancellation_requested", cause);
        }
        let body = self.render_customer(id);
        self.customers.get_mut(id).expect("checked").deleted = true;
        self.emit("customer.deleted", body, None, cause, now);
        Ok(json!({"id": id, "object": "customer", "deleted": true}))
    }
}
