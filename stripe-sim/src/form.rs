//! Stripe's form encoding: `application/x-www-form-urlencoded` bodies (and query strings) whose
//! keys use bracket syntax (`line_items[0][price]`, `metadata[user_id]`, `expand[]`), parsed
//! into a nested JSON value so handlers can read them like a JSON body.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// The deepest bracket nesting accepted (`a[b][c]` is 2); Stripe's own parameters nest at most
/// four deep.
pub const MAX_DEPTH: usize = 8;
/// The most `key=value` pairs accepted in one body or query string.
pub const MAX_PAIRS: usize = 1_000;

/// Parses a form-encoded string into a nested JSON object.
///
/// Every leaf is a string, as on the wire. A path segment made only of digits, or an empty
/// segment (`expand[]`), makes the parent an array; numbered entries are ordered by their index.
/// A key nested deeper than [`MAX_DEPTH`] or more than [`MAX_PAIRS`] pairs is a 400
/// `invalid_request_error`, as Stripe answers an unparseable request.
pub fn parse(input: &str) -> ApiResult<Value> {
    let mut root = Value::Object(Map::new());
    for (n, pair) in input.split('&').filter(|p| !p.is_empty()).enumerate() {
        if n >= MAX_PAIRS {
            return Err(ApiError::bad_request(format!(
                "Too many parameters: stripe-sim accepts at most {MAX_PAIRS} per request."
            )));
        }
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key);
        let value = decode(raw_value);
        let path = split_key(&key).ok_or_else(|| {
            let shown: String = key.chars().take(60).collect();
            ApiError::bad_request(format!(
                "Invalid parameter '{shown}…': parameters may nest at most {MAX_DEPTH} levels \
                 deep."
            ))
        })?;
        if path.is_empty() || path[0].is_empty() {
            continue;
        }
        insert(&mut root, &path, value);
    }
    Ok(finish(root))
}

/// Percent-decodes one component, treating `+` as a space.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `a[b][0][c]` → `["a", "b", "0", "c"]`; `expand[]` → `["expand", ""]`. `None` when nested
/// deeper than [`MAX_DEPTH`].
fn split_key(key: &str) -> Option<Vec<String>> {
    let Some(open) = key.find('[') else {
        return Some(vec![key.to_string()]);
    };
    let mut parts = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        if parts.len() > MAX_DEPTH {
            return None;
        }
        match stripped.find(']') {
            Some(close) => {
                parts.push(stripped[..close].to_string());
                rest = &stripped[close + 1..];
            }
            None => {
                // An unbalanced bracket: keep the remainder as a literal segment.
                parts.push(stripped.to_string());
                rest = "";
            }
        }
    }
    Some(parts)
}

/// While building, arrays are objects keyed by index (or by a fresh counter for `[]`), with a
/// marker so `finish` can turn them into ordered arrays.
const ARRAY_MARK: &str = "\u{0}array";

/// Walks (and builds) the path iteratively: no recursion, no copy of the path per level.
fn insert(root: &mut Value, path: &[String], value: String) {
    let mut node = root;
    let mut head = path[0].clone();
    for i in 0..path.len() {
        let Value::Object(map) = node else { return };
        let rest = &path[i + 1..];
        if rest.is_empty() {
            map.insert(head, Value::String(value));
            return;
        }
        let child = map.entry(head).or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            // `a=1&a[b]=2`: the nested form wins, as in Stripe's parser.
            *child = Value::Object(Map::new());
        }
        let next = &rest[0];
        let is_index = next.is_empty() || next.bytes().all(|b| b.is_ascii_digit());
        head = if is_index {
            let Value::Object(child_map) = &mut *child else {
                return;
            };
            child_map.insert(ARRAY_MARK.to_string(), Value::Bool(true));
            if next.is_empty() {
                // `[]` appends: a leaf gets its own slot, a nested `[][x]` reuses the last slot
                // unless that slot already has `x`.
                let count = child_map.len() - 1;
                if rest.len() > 1 {
                    let last = count.saturating_sub(1);
                    let last_key = format!("{last:020}");
                    let reuse = child_map
                        .get(&last_key)
                        .and_then(Value::as_object)
                        .is_some_and(|o| !o.contains_key(&rest[1]));
                    if reuse {
                        last_key
                    } else {
                        format!("{count:020}")
                    }
                } else {
                    format!("{count:020}")
                }
            } else {
                format!("{:020}", next.parse::<u64>().unwrap_or(0))
            }
        } else {
            next.clone()
        };
        node = child;
    }
}

fn finish(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if map.contains_key(ARRAY_MARK) {
                let mut entries: Vec<(String, Value)> =
                    map.into_iter().filter(|(k, _)| k != ARRAY_MARK).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Array(entries.into_iter().map(|(_, v)| finish(v)).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, finish(v))).collect())
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_keys_become_string_fields() {
        assert_eq!(
            parse("email=a%40b.com&name=Ada+Lovelace").unwrap(),
            json!({"email": "a@b.com", "name": "Ada Lovelace"})
        );
    }

    #[test]
    fn bracketed_keys_nest_objects() {
        assert_eq!(
            parse("metadata[user_id]=42&subscription_data[metadata][plan]=pro").unwrap(),
            json!({"metadata": {"user_id": "42"}, "subscription_data": {"metadata": {"plan": "pro"}}})
        );
    }

    #[test]
    fn numbered_segments_build_ordered_arrays_of_objects() {
        assert_eq!(
            parse("line_items[1][price]=b&line_items[0][price]=a&line_items[0][quantity]=2")
                .unwrap(),
            json!({"line_items": [{"price": "a", "quantity": "2"}, {"price": "b"}]})
        );
    }

    #[test]
    fn percent_encoded_brackets_from_serde_qs_are_understood() {
        assert_eq!(
            parse("line_items%5B0%5D%5Bprice%5D=price_pro_monthly&expand%5B0%5D=subscription")
                .unwrap(),
            json!({"line_items": [{"price": "price_pro_monthly"}], "expand": ["subscription"]})
        );
    }

    #[test]
    fn empty_brackets_append_to_an_array() {
        assert_eq!(
            parse("expand[]=a&expand[]=b").unwrap(),
            json!({"expand": ["a", "b"]})
        );
        assert_eq!(
            parse("items[][price]=p1&items[][quantity]=1&items[][price]=p2").unwrap(),
            json!({"items": [{"price": "p1", "quantity": "1"}, {"price": "p2"}]})
        );
    }

    #[test]
    fn deep_paths_mix_arrays_and_objects() {
        assert_eq!(
            parse("a[b][0][c]=v&a[b][0][d][e]=w").unwrap(),
            json!({"a": {"b": [{"c": "v", "d": {"e": "w"}}]}})
        );
    }

    #[test]
    fn empty_input_and_empty_values_are_tolerated() {
        assert_eq!(parse("").unwrap(), json!({}));
        assert_eq!(parse("a=&&b").unwrap(), json!({"a": "", "b": ""}));
    }

    #[test]
    fn nesting_deeper_than_the_cap_is_a_400_not_a_stack_overflow() {
        let ok = format!("a{}=v", "[a]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("a{}=v", "[a]".repeat(MAX_DEPTH + 1));
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(e.kind, "invalid_request_error");
        // A body the size the API accepts, nested all the way: refused quickly, no abort.
        let huge = format!("a{}=v", "[a]".repeat(300_000));
        assert!(parse(&huge).is_err());
    }

    #[test]
    fn more_pairs_than_the_cap_are_refused() {
        let ok = vec!["a[]=1"; MAX_PAIRS].join("&");
        assert_eq!(
            parse(&ok).unwrap()["a"].as_array().unwrap().len(),
            MAX_PAIRS
        );
        let too_many = vec!["a[]=1"; MAX_PAIRS + 1].join("&");
        assert!(parse(&too_many).is_err());
    }

    #[test]
    fn malformed_percent_sequences_are_kept_literally() {
        assert_eq!(
            parse("a=100%25&b=%zz&c=%4").unwrap(),
            json!({"a": "100%", "b": "%zz", "c": "%4"})
        );
    }
}
