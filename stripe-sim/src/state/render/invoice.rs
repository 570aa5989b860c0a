use serde_json::{Value, json};

use super::merged;
use crate::state::{Invoice, State, SubscriptionItem, line_amount};

impl State {
    fn render_invoice_line(&self, inv: &Invoice, line_id: &str, item: &SubscriptionItem) -> Value {
        let catalogued = self.catalog.price(&item.price);
        let amount = if inv.amount == 0 {
            0
        } else {
            catalogued
                .and_then(|(_, p)| line_amount(p.unit_amount, item.quantity))
                .unwrap_or(i64::MAX)
        };
        let product_name = catalogued.map_or("", |(p, _)| p.name.as_str());
        json!({
            "id": line_id,
            "object": "line_item",
            "amount": amount,
            "currency": self.catalog.currency,
            "description": format!("{} × {}", item.quantity, product_name),
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": inv.id,
            "livemode": false,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": inv.subscription,
                    "subscription_item": item.id,
                }
            },
            "period": {"end": inv.line_period.1, "start": inv.line_period.0},
            "pretax_credit_amounts": [],
            "pricing": {
                "type": "price_details",
                "price_details": {
                    "price": item.price,
                    "product": catalogued.map(|(p, _)| p.id.clone()),
                },
                "unit_amount_decimal": catalogued.map(|(_, p)| p.unit_amount.to_string()),
            },
            "quantity": item.quantity,
            "subtotal": amount,
            "taxes": [],
        })
    }

    pub fn render_invoice(&self, id: &str) -> Value {
        let inv = &self.invoices[id];
        let lines: Vec<Value> = inv
            .lines
            .iter()
            .map(|(line_id, item)| self.render_invoice_line(inv, line_id, item))
            .collect();
        let paid = inv.status == "paid";
        let customer = self.customers.get(&inv.customer);
        let subscription = self.subscriptions.get(&inv.subscription);
        let varying = json!({
            "id": inv.id,
            "object": "invoice",
            "amount_due": inv.amount,
            "amount_paid": if paid { inv.amount } else { 0 },
            "amount_remaining": if paid { 0 } else { inv.amount },
            "attempt_count": inv.attempt_count,
            "auto_advance": !paid && inv.status == "open",
            "billing_reason": inv.billing_reason,
            "created": inv.created,
            "currency": self.catalog.currency,
            "customer": inv.customer,
            "customer_email": customer.and_then(|c| c.email.clone()),
            "customer_name": customer.and_then(|c| c.name.clone()),
            "effective_at": inv.created,
            "hosted_invoice_url": format!("{}/invoice/{}", self.public_url, inv.id),
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": false,
                "total_count": inv.lines.len(),
                "url": format!("/v1/invoices/{}/lines", inv.id),
            },
            "next_payment_attempt": inv.next_payment_attempt,
            "number": format!("SIM-{:06}", inv.seq),
            "parent": {
                "type": "subscription_details",
                "quote_details": null,
                "subscription_details": {
                    "metadata": subscription.map(|s| s.metadata.clone()),
                    "subscription": inv.subscription,
                }
            },
            "period_end": inv.period_end,
            "period_start": inv.period_start,
            "status": inv.status,
            "status_transitions": {
                "finalized_at": inv.created,
                "marked_uncollectible_at": null,
                "paid_at": inv.paid_at,
                "voided_at": null
            },
            "subtotal": inv.amount,
            "subtotal_excluding_tax": inv.amount,
            "total": inv.amount,
            "total_excluding_tax": inv.amount,
            "webhooks_delivered_at": inv.created,
        });
        merged(varying, invoice_constants())
    }
}

/// The invoice's fields that are the same for every invoice the simulator makes.
fn invoice_constants() -> Value {
    json!({
        "account_country": "US",
        "account_name": "stripe-sim",
        "amount_overpaid": 0,
        "amount_shipping": 0,
        "application": null,
        "attempted": true,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null,
                          "provider": null, "status": null},
        "collection_method": "charge_automatically",
        "custom_fields": null,
        "customer_address": null,
        "customer_phone": null,
        "customer_shipping": null,
        "customer_tax_exempt": "none",
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "due_date": null,
        "ending_balance": 0,
        "footer": null,
        "from_invoice": null,
        "invoice_pdf": null,
        "issuer": {"type": "self"},
        "last_finalization_error": null,
        "latest_revision": null,
        "livemode": false,
        "metadata": {},
        "on_behalf_of": null,
        "payment_settings": {"default_mandate": null, "payment_method_options": null,
                             "payment_method_types": null},
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": null,
        "rendering": null,
        "shipping_cost": null,
        "shipping_details": null,
        "starting_balance": 0,
        "statement_descriptor": null,
        "test_clock": null,
        "total_discount_amounts": [],
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
    })
}
