use serde_json::{Value, json};

use super::feature_name;
use crate::state::State;

impl State {
    pub fn render_price(&self, price_id: &str) -> Value {
        let (product, price) = self.catalog.price(price_id).expect("catalogue price");
        json!({
            "id": price.id,
            "object": "price",
            "active": true,
            "billing_scheme": "per_unit",
            "created": 1_700_000_000,
            "currency": self.catalog.currency,
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": price.lookup_key,
            "metadata": {},
            "nickname": price.nickname,
            "product": product.id,
            "recurring": {
                "interval": price.interval.as_str(),
                "interval_count": price.interval_count,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed"
            },
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": price.unit_amount,
            "unit_amount_decimal": price.unit_amount.to_string(),
        })
    }

    pub(crate) fn render_plan(&self, price_id: &str) -> Value {
        let (product, price) = self.catalog.price(price_id).expect("catalogue price");
        json!({
            "id": price.id,
            "object": "plan",
            "active": true,
            "amount": price.unit_amount,
            "amount_decimal": price.unit_amount.to_string(),
            "billing_scheme": "per_unit",
            "created": 1_700_000_000,
            "currency": self.catalog.currency,
            "interval": price.interval.as_str(),
            "interval_count": price.interval_count,
            "livemode": false,
            "metadata": {},
            "meter": null,
            "nickname": price.nickname,
            "product": product.id,
            "tiers_mode": null,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        })
    }

    pub fn render_product(&self, product_id: &str) -> Value {
        let p = self.catalog.product(product_id).expect("catalogue product");
        json!({
            "id": p.id,
            "object": "product",
            "active": true,
            "created": 1_700_000_000,
            "default_price": p.prices.first().map(|pr| pr.id.clone()),
            "description": p.description,
            "images": [],
            "livemode": false,
            "marketing_features": p.features.iter().map(|f| json!({"name": feature_name(f)})).collect::<Vec<_>>(),
            "metadata": {},
            "name": p.name,
            "package_dimensions": null,
            "shippable": null,
            "statement_descriptor": null,
            "tax_code": null,
            "type": "service",
            "unit_label": null,
            "updated": 1_700_000_000,
            "url": null,
        })
    }
}
