//! Stripe's form encoding: `application/x-www-form-urlencoded` bodies (and query strings) whose
//! keys use bracket syntax (`line_items[0][price]`, `metadata[user_id]`, `expand[]`), parsed
//! into a nested JSON value so handlers can read them like a JSON body.

use serde_json::{Map, Value};

/// Parses a form-encoded string into a nested JSON object.
///
/// Every leaf is a string, as on the wire. A path segment made only of digits, or an empty
/// segment (`expand[]`), makes the parent an array; numbered entries are ordered by their index.
pub fn parse(input: &str) -> Value {
    let mut root = Value::Object(Map::new());
    for pair in input.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key);
        let value = decode(raw_value);
        let path = split_key(&key);
        if path.is_empty() || path[0].is_empty() {
            continue;
        }
        insert(&mut root, &path, value);
    }
    finish(root)
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

/// `a[b][0][c]` → `["a", "b", "0", "c"]`; `expand[]` → `["expand", ""]`.
fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_string()];
    };
    let mut parts = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
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
    parts
}

/// While building, arrays are objects keyed by index (or by a fresh counter for `[]`), with a
/// marker so `finish` can turn them into ordered arrays.
const ARRAY_MARK: &str = "\u{0}array";

fn insert(node: &mut Value, path: &[String], value: String) {
    let Value::Object(map) = node else { return };
    let (head, rest) = (&path[0], &path[1..]);
    if rest.is_empty() {
        map.insert(head.clone(), Value::String(value));
        return;
    }
    let child = map
        .entry(head.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        // `a=1&a[b]=2`: the nested form wins, as in Stripe's parser.
        *child = Value::Object(Map::new());
    }
    let next = &rest[0];
    let is_index = next.is_empty() || next.bytes().all(|b| b.is_ascii_digit());
    let Value::Object(child_map) = child else {
        return;
    };
    if is_index {
        child_map.insert(ARRAY_MARK.to_string(), Value::Bool(true));
        let index_key = if next.is_empty() {
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
        };
        let mut new_path = vec![index_key];
        new_path.extend_from_slice(&rest[1..]);
        insert(child, &new_path, value);
    } else {
        insert(child, rest, value);
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
            parse("email=a%40b.com&name=Ada+Lovelace"),
            json!({"email": "a@b.com", "name": "Ada Lovelace"})
        );
    }

    #[test]
    fn bracketed_keys_nest_objects() {
        assert_eq!(
            parse("metadata[user_id]=42&subscription_data[metadata][plan]=pro"),
            json!({"metadata": {"user_id": "42"}, "subscription_data": {"metadata": {"plan": "pro"}}})
        );
    }

    #[test]
    fn numbered_segments_build_ordered_arrays_of_objects() {
        assert_eq!(
            parse("line_items[1][price]=b&line_items[0][price]=a&line_items[0][quantity]=2"),
            json!({"line_items": [{"price": "a", "quantity": "2"}, {"price": "b"}]})
        );
    }

    #[test]
    fn percent_encoded_brackets_from_serde_qs_are_understood() {
        assert_eq!(
            parse("line_items%5B0%5D%5Bprice%5D=price_pro_monthly&expand%5B0%5D=subscription"),
            json!({"line_items": [{"price": "price_pro_monthly"}], "expand": ["subscription"]})
        );
    }

    #[test]
    fn empty_brackets_append_to_an_array() {
        assert_eq!(
            parse("expand[]=a&expand[]=b"),
            json!({"expand": ["a", "b"]})
        );
        assert_eq!(
            parse("items[][price]=p1&items[][quantity]=1&items[][price]=p2"),
            json!({"items": [{"price": "p1", "quantity": "1"}, {"price": "p2"}]})
        );
    }

    #[test]
    fn deep_paths_mix_arrays_and_objects() {
        assert_eq!(
            parse("a[b][0][c]=v&a[b][0][d][e]=w"),
            json!({"a": {"b": [{"c": "v", "d": {"e": "w"}}]}})
        );
    }

    #[test]
    fn empty_input_and_empty_values_are_tolerated() {
        assert_eq!(parse(""), json!({}));
        assert_eq!(parse("a=&&b"), json!({"a": "", "b": ""}));
    }

    #[test]
    fn malformed_percent_sequences_are_kept_literally() {
        assert_eq!(
            parse("a=100%25&b=%zz&c=%4"),
            json!({"a": "100%", "b": "%zz", "c": "%4"})
        );
    }
}
