use serde_json::{Value, json};

use super::merged;
use crate::state::{State, Subscription, SubscriptionItem};

impl State {
    fn render_item(&self, sub: &Subscription, item: &SubscriptionItem) -> Value {
        json!({
            "id": item.id,
            "object": "subscription_item",
            "billing_thresholds": null,
            "created": item.created,
            "current_period_end": sub.period_end,
            "current_period_start": sub.period_start,
            "discounts": [],
            "metadata": item.metadata,
            "plan": self.render_plan(&item.price),
            "price": self.render_price(&item.price),
            "quantity": item.quantity,
            "subscription": sub.id,
            "tax_rates": [],
        })
    }

    pub fn render_subscription(&self, id: &str) -> Value {
        let s = &self.subscriptions[id];
        let items: Vec<Value> = s.items.iter().map(|i| self.render_item(s, i)).collect();
        let cancel_at = if s.cancel_at_period_end {
            json!(s.period_end)
        } else {
            Value::Null
        };
        let on_trial_end_failure = if s.pause_on_trial_end_failure {
            "pause"
        } else {
            "create_invoice"
        };
        let varying = json!({
            "id": s.id,
            "object": "subscription",
            "billing_cycle_anchor": s.billing_cycle_anchor,
            "cancel_at": cancel_at,
            "cancel_at_period_end": s.cancel_at_period_end,
            "canceled_at": s.canceled_at,
            "cancellation_details": {
                "comment": null,
                "feedback": null,
                "reason": s.cancellation_reason,
            },
            "created": s.created,
            "currency": self.catalog.currency,
            "customer": s.customer,
            "ended_at": s.ended_at,
            "items": {
                "object": "list",
                "data": items,
                "has_more": false,
                "total_count": s.items.len(),
                "url": format!("/v1/subscription_items?subscription={}", s.id),
            },
            "latest_invoice": s.latest_invoice,
            "metadata": s.metadata,
            "start_date": s.start_date,
            "status": s.status.as_str(),
            "trial_end": s.trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method": on_trial_end_failure}},
            "trial_start": s.trial_start,
        });
        merged(varying, subscription_constants())
    }
}

/// The subscription's fields that are the same for every subscription the simulator makes.
fn subscription_constants() -> Value {
    json!({
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor_config": null,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": null,
        "collection_method": "charge_automatically",
        "days_until_due": null,
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "livemode": false,
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {
            "payment_method_options": null,
            "payment_method_types": null,
            "save_default_payment_method": "off"
        },
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "test_clock": null,
        "transfer_data": null,
    })
}
