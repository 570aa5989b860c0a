//! Which media type a GraphQL-over-HTTP answer takes, from `Accept`, and
//! which request bodies are accepted, from `Content-Type`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept`. With no `Accept`, the
/// specification (after its 2025-01-01 watershed) says to assume
/// `application/graphql-response+json`; on a tie it is preferred too.
/// `None` when the client accepts neither.
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(MediaType::GraphqlResponseJson);
    };
    // For each candidate: the q of the most specific matching range.
    let mut best: [(u8, f32); 2] = [(0, 0.0), (0, 0.0)];
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").map(|v| v.trim().parse::<f32>()))
            .next()
            .map_or(1.0, |v| v.unwrap_or(0.0));
        for (i, candidate) in ["application/graphql-response+json", "application/json"]
            .iter()
            .enumerate()
        {
            let specificity = if media == *candidate {
                3
            } else if media == "application/*" {
                2
            } else if media == "*/*" {
                1
            } else {
                0
            };
            if specificity > best[i].0 {
                best[i] = (specificity, q);
            }
        }
    }
    let (gql, json) = (best[0].1, best[1].1);
    if gql <= 0.0 && json <= 0.0 {
        None
    } else if gql >= json {
        Some(MediaType::GraphqlResponseJson)
    } else {
        Some(MediaType::Json)
    }
}

pub fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|p| match p.trim().split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_the_response_media_type() {
        use MediaType::*;
        let cases = [
            (None, Some(GraphqlResponseJson)),
            (Some(""), Some(GraphqlResponseJson)),
            (Some("application/json"), Some(Json)),
            (
                Some("application/graphql-response+json"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/graphql-response+json;q=0.5, application/json"),
                Some(Json),
            ),
            (Some("*/*"), Some(GraphqlResponseJson)),
            (Some("application/*"), Some(GraphqlResponseJson)),
            (Some("application/json, */*;q=0.1"), Some(Json)),
            (Some("text/html"), None),
            (Some("application/xml, text/plain"), None),
            (Some("application/json;q=0"), None),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(accept), want, "Accept: {accept:?}");
        }
    }

    #[test]
    fn only_json_request_bodies_are_accepted() {
        for (ct, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON;charset=\"UTF-8\"", true),
            ("application/json; charset=latin1", false),
            ("text/plain", false),
            ("application/graphql", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            assert_eq!(is_json_content_type(ct), ok, "{ct}");
        }
    }
}
