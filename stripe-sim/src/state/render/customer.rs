use serde_json::{Value, json};

use crate::state::{State, Status};

impl State {
    pub fn render_customer(&self, id: &str) -> Value {
        let c = &self.customers[id];
        if c.deleted {
            return json!({"id": c.id, "object": "customer", "deleted": true});
        }
        json!({
            "id": c.id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": c.created,
            "currency": self.catalog.currency,
            "default_source": null,
            "delinquent": self.subscriptions.values().any(|s| s.customer == c.id
                && matches!(s.status, Status::PastDue | Status::Unpaid)),
            "description": c.description,
            "discount": null,
            "email": c.email,
            "invoice_prefix": c.id[4..12].to_uppercase(),
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": null,
                "footer": null,
                "rendering_options": null
            },
            "livemode": false,
            "metadata": c.metadata,
            "name": c.name,
            "next_invoice_sequence": 1,
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        })
    }
}
