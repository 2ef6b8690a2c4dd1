//! Paging of the lists that grow with the ledger (`/v1/timeline`, `/v1/members`,
//! `/v1/events`, `/v1/streams/{stream}`): `limit` (default 100, at most 1,000), a cursor from
//! the page before, and the next page's address in an RFC 8288 `Link: <…>; rel="next"` header.

use super::problem::ApiError;
use axum::http::{header, HeaderValue, Uri};
use axum::response::Response;

/// A page's size when none is asked for.
pub const DEFAULT_LIMIT: u64 = 100;
/// The largest page.
pub const MAX_LIMIT: u64 = 1000;

/// The page size asked for: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(asked: Option<u64>) -> Result<usize, ApiError> {
    match asked.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        n => Err(ApiError::bad_request(format!(
            "limit={n}: a page holds 1 to {MAX_LIMIT} entries (default {DEFAULT_LIMIT}); follow the Link header's rel=\"next\" for more"
        ))
        .with("field", "limit")),
    }
}

/// The request's address with `set` replacing those parameters (others kept as sent).
pub fn next_address(uri: &Uri, set: &[(&str, String)]) -> String {
    let mut pairs: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            !set.iter().any(|(k, _)| *k == key)
        })
        .map(str::to_owned)
        .collect();
    pairs.extend(set.iter().map(|(k, v)| format!("{k}={}", encode(v))));
    format!("{}?{}", uri.path(), pairs.join("&"))
}

/// Percent-encodes what is not unreserved (RFC 3986) in a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Adds `Link: <next>; rel="next"` to a response when there is a next page.
pub fn with_next(mut response: Response, next: Option<String>) -> Response {
    if let Some(address) = next {
        if let Ok(v) = HeaderValue::from_str(&format!("<{address}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    response
}

/// A timeline cursor: the last entry's date and position, `DATE~POSITION`.
pub fn timeline_cursor(date: &str, position: u64) -> String {
    format!("{date}~{position}")
}

/// Reads a timeline cursor.
pub fn parse_timeline_cursor(cursor: &str) -> Result<(String, u64), ApiError> {
    cursor
        .split_once('~')
        .and_then(|(d, p)| Some((d.to_owned(), p.parse::<u64>().ok()?)))
        .filter(|(d, _)| kroniek_core::types::Date::parse(d).is_ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "cursor={cursor} is not a timeline cursor: use the one in the Link header of the page before"
            ))
            .with("field", "cursor")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_address_keeps_the_filters_and_replaces_the_cursor() {
        let uri: Uri = "/v1/timeline?body=alv&cursor=2020-01-01~3&limit=2"
            .parse()
            .unwrap();
        assert_eq!(
            next_address(&uri, &[("cursor", "2021-05-06~17".into())]),
            "/v1/timeline?body=alv&limit=2&cursor=2021-05-06~17"
        );
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn limits_outside_one_to_a_thousand_are_refused() {
        assert_eq!(limit(None).ok(), Some(100));
        assert_eq!(limit(Some(1000)).ok(), Some(1000));
        assert!(limit(Some(0)).is_err() && limit(Some(1001)).is_err());
        assert_eq!(
            parse_timeline_cursor("2020-01-02~5").ok(),
            Some(("2020-01-02".into(), 5))
        );
        assert!(parse_timeline_cursor("bogus").is_err());
    }
}
