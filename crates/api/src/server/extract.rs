//! `Path` and `Query` extractors whose rejections are problem responses, not plain text.

use super::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Like `axum::extract::Path`, rejecting with a 400 problem.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Like `axum::extract::Query`, rejecting with a 400 problem.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// The largest position or tree size any ledger can have: positions are stored as signed 64-bit
/// integers (PostgreSQL's `bigint`), and the OpenAPI document says `int64`.
pub const MAX_POSITION: u64 = i64::MAX as u64;

/// Checks a position or tree size taken from a request: one past [`MAX_POSITION`] is a 400
/// problem naming the parameter, not a silently empty answer.
pub fn position(name: &str, value: u64) -> Result<u64, ApiError> {
    if value > MAX_POSITION {
        return Err(ApiError::bad_request(format!(
            "{name}={value} is past any ledger's end: positions and sizes are below 2^63"
        ))
        .with("field", name));
    }
    Ok(value)
}

/// `deserialize_with` for an optional position or size in a query string (see [`position`]).
pub fn optional_position<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    use serde::Deserialize;
    let value = Option::<u64>::deserialize(deserializer)?;
    match value {
        Some(v) if v > MAX_POSITION => Err(serde::de::Error::custom(format!(
            "{v} is past any ledger's end: positions and sizes are below 2^63"
        ))),
        other => Ok(other),
    }
}

/// `deserialize_with` for a required position or size in a query string (see [`position`]).
pub fn required_position<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u64, D::Error> {
    use serde::Deserialize;
    let v = u64::deserialize(deserializer)?;
    if v > MAX_POSITION {
        return Err(serde::de::Error::custom(format!(
            "{v} is past any ledger's end: positions and sizes are below 2^63"
        )));
    }
    Ok(v)
}
