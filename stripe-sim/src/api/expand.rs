//! `expand[]`: ids replaced by the objects they name, for the paths the simulator knows.

use serde_json::Value;

use crate::state::State;

fn expand_list(p: &Value) -> Vec<String> {
    match p.get("expand") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Replaces ids by objects for the `expand[]` paths in `p`.
pub(super) fn expand(st: &State, mut obj: Value, p: &Value) -> Value {
    for path in expand_list(p) {
        match path.as_str() {
            "customer" => expand_id(&mut obj, &path, |id| {
                st.customers
                    .contains_key(id)
                    .then(|| st.render_customer(id))
            }),
            "subscription" => expand_id(&mut obj, &path, |id| {
                st.subscriptions
                    .contains_key(id)
                    .then(|| st.render_subscription(id))
            }),
            "latest_invoice" | "invoice" => expand_id(&mut obj, &path, |id| {
                st.invoices.contains_key(id).then(|| st.render_invoice(id))
            }),
            "items.data.price.product" => expand_products(st, &mut obj),
            "data.items.data.price.product" => {
                if let Some(list) = obj["data"].as_array_mut() {
                    for sub in list {
                        expand_products(st, sub);
                    }
                }
            }
            _ => {}
        }
    }
    obj
}

/// Replaces the id in `obj[field]` by the object `render` finds for it, if it finds one.
fn expand_id(obj: &mut Value, field: &str, render: impl Fn(&str) -> Option<Value>) {
    let full = obj[field].as_str().and_then(render);
    if let Some(full) = full {
        obj[field] = full;
    }
}

/// A subscription's `items.data[].price.product`.
fn expand_products(st: &State, sub: &mut Value) {
    if let Some(items) = sub["items"]["data"].as_array_mut() {
        for item in items {
            if let Some(pid) = item["price"]["product"].as_str().map(str::to_string)
                && st.catalog.product(&pid).is_some()
            {
                item["price"]["product"] = st.render_product(&pid);
            }
        }
    }
}
