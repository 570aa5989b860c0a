use serde_json::{Value, json};

use super::merged;
use crate::state::State;

impl State {
    pub fn render_session(&self, id: &str) -> Value {
        let s = &self.sessions[id];
        let amount = self.session_amount(s);
        let customer_details = if s.status == "complete" {
            let email = s
                .customer
                .as_ref()
                .and_then(|c| self.customers.get(c))
                .and_then(|c| c.email.clone())
                .or_else(|| s.customer_email.clone());
            json!({"address": null, "email": email, "name": null, "phone": null,
                   "tax_exempt": "none", "tax_ids": []})
        } else {
            Value::Null
        };
        let url = if s.status == "open" {
            json!(format!("{}/checkout/{}", self.public_url, s.id))
        } else {
            Value::Null
        };
        let varying = json!({
            "id": s.id,
            "object": "checkout.session",
            "allow_promotion_codes": s.allow_promotion_codes,
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": s.cancel_url,
            "client_reference_id": s.client_reference_id,
            "created": s.created,
            "currency": self.catalog.currency,
            "customer": s.customer,
            "customer_creation": if s.created_customer { json!("always") } else { Value::Null },
            "customer_details": customer_details,
            "customer_email": s.customer_email,
            "expires_at": s.expires_at,
            "invoice": s.invoice,
            "metadata": s.metadata,
            "payment_status": s.payment_status,
            "status": s.status,
            "subscription": s.subscription,
            "success_url": s.success_url,
            "url": url,
        });
        merged(varying, session_constants())
    }

    pub fn render_portal_session(&self, id: &str) -> Value {
        let s = &self.portal_sessions[id];
        json!({
            "id": s.id,
            "object": "billing_portal.session",
            "configuration": "bpc_stripe_sim_default",
            "created": s.created,
            "customer": s.customer,
            "flow": null,
            "livemode": false,
            "locale": null,
            "on_behalf_of": null,
            "return_url": s.return_url,
            "url": format!("{}/portal/{}", self.public_url, s.id),
        })
    }
}

/// The checkout session's fields that are the same for every session the simulator makes.
fn session_constants() -> Value {
    json!({
        "adaptive_pricing": null,
        "after_expiration": null,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null,
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null,
                        "terms_of_service_acceptance": null},
        "discounts": [],
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "mode": "subscription",
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "always",
        "payment_method_configuration_details": null,
        "payment_method_options": null,
        "payment_method_types": ["card"],
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "submit_type": null,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted_page",
        "wallet_options": null,
    })
}
