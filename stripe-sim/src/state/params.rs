//! Reading Stripe's request parameters (form bodies, parsed by `form` into JSON whose leaves
//! are strings): strings, numbers, booleans, metadata, quantities and price lines, each bad
//! one refused with the 400 Stripe answers.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};

/// The quantities Stripe accepts on a line item or subscription item.
pub const MAX_QUANTITY: u64 = 999_999;

pub fn str_param(p: &Value, key: &str) -> Option<String> {
    p.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub fn parse_u64(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

pub fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// An optional boolean: `true` or `false`, anything else a 400.
pub(crate) fn bool_param(p: &Value, key: &str) -> ApiResult<Option<bool>> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => parse_bool(v)
            .map(Some)
            .ok_or_else(|| ApiError::invalid("Invalid boolean", key, "parameter_invalid_boolean")),
    }
}

/// An optional trial length `p[key]`, called `param` in errors: whole days from 1 to 730.
pub(crate) fn trial_days_param(p: &Value, key: &str, param: &str) -> ApiResult<Option<u32>> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => parse_u64(v)
            .filter(|d| (1..=730).contains(d))
            .map(|d| Some(d as u32))
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("{param} must be between 1 and 730."),
                    param,
                    "parameter_invalid_integer",
                )
            }),
    }
}

/// An optional parameter that must be one of `choices`; the matching choice.
pub(crate) fn choice_param<'a>(
    v: Option<&Value>,
    param: &str,
    choices: &[&'a str],
) -> ApiResult<Option<&'a str>> {
    let Some(v) = v else {
        return Ok(None);
    };
    let given = v.as_str().unwrap_or_default();
    match choices.iter().find(|c| **c == given) {
        Some(choice) => Ok(Some(choice)),
        None => Err(ApiError::invalid(
            format!("Invalid {param}: must be one of {}", choices.join(", ")),
            param,
            "parameter_invalid_string",
        )),
    }
}

/// An optional number `p[key]` as `parse` reads it; anything else a 400 `message`.
pub(crate) fn number_param<T>(
    p: &Value,
    key: &str,
    parse: fn(&Value) -> Option<T>,
    message: impl FnOnce() -> String,
) -> ApiResult<Option<T>> {
    match p.get(key) {
        None => Ok(None),
        Some(v) => parse(v)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(message(), key, "parameter_invalid_integer")),
    }
}

/// An optional whole number (negative too), as form bodies carry it: a string of digits.
pub(crate) fn int_param(p: &Value, key: &str) -> ApiResult<Option<i64>> {
    number_param(p, key, parse_i64, || {
        format!("Invalid {key}: must be an integer")
    })
}

pub fn parse_i64(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// A quantity parameter: a whole number in 1..=999,999.
pub(crate) fn quantity_param(item: &Value, param: &str) -> ApiResult<Option<u64>> {
    match item.get("quantity") {
        None => Ok(None),
        Some(q) => parse_u64(q)
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("Invalid {param}: must be an integer between 1 and {MAX_QUANTITY}."),
                    param,
                    "parameter_invalid_integer",
                )
            }),
    }
}

/// The `key[i][price]`, `key[i][quantity]` lines of a request (`line_items`, `items`): at
/// least one, each with a price of the catalogue and a quantity (default 1).
pub(crate) fn price_lines(
    p: &Value,
    key: &str,
    catalog: &Catalog,
) -> ApiResult<Vec<(String, u64)>> {
    let items = match p.get(key) {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(ApiError::required(key)),
    };
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let param = format!("{key}[{i}][price]");
        let price = str_param(item, "price").ok_or_else(|| ApiError::required(&param))?;
        if catalog.price(&price).is_none() {
            return Err(ApiError::missing("price", &price, Some(&param)));
        }
        let quantity = quantity_param(item, &format!("{key}[{i}][quantity]"))?.unwrap_or(1);
        lines.push((price, quantity));
    }
    Ok(lines)
}

/// `metadata[k]=v` pairs; an empty string value unsets a key (Stripe's convention), and
/// `metadata=` (empty) clears all of them.
pub(crate) fn metadata_param(
    p: &Value,
    key: &str,
) -> ApiResult<Option<BTreeMap<String, Option<String>>>> {
    match p.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(BTreeMap::new())),
        Some(Value::Object(m)) => Ok(Some(
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
                    (k.clone(), v)
                })
                .collect(),
        )),
        Some(_) => Err(ApiError::invalid(
            "Invalid object",
            key,
            "parameter_invalid_object",
        )),
    }
}

pub(crate) fn merge_metadata(
    target: &mut BTreeMap<String, String>,
    update: BTreeMap<String, Option<String>>,
) {
    if update.is_empty() {
        target.clear();
    }
    for (k, v) in update {
        match v {
            Some(v) => {
                target.insert(k, v);
            }
            None => {
                target.remove(&k);
            }
        }
    }
}

pub(crate) trait IntoMetadata {
    fn into_metadata(self) -> BTreeMap<String, String>;
}

impl IntoMetadata for Option<BTreeMap<String, Option<String>>> {
    fn into_metadata(self) -> BTreeMap<String, String> {
        self.map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect()
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_with_an_empty_value_unsets_the_key() {
        let mut m: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string()), ("b".into(), "2".into())].into();
        let update = metadata_param(&json!({"metadata": {"a": "", "c": "3"}}), "metadata")
            .unwrap()
            .unwrap();
        merge_metadata(&mut m, update);
        assert_eq!(
            m,
            [("b".to_string(), "2".to_string()), ("c".into(), "3".into())].into()
        );
    }
}
