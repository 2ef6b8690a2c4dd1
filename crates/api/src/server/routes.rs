//! The `/v1` handlers: thin glue between HTTP and the store / read models.

use super::extract::{Path, Query};
use super::policy;
use super::problem::ApiError;
use super::state::{AppState, Caller};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kroniek_core::access::{may_append, shown, Shown};
use kroniek_core::catalogue::Category;
use kroniek_core::record::Record;
use kroniek_core::store::Store;
use kroniek_core::types::Date;
use kroniek_core::{canonical, AppendOutcome, ProposedEvent, Refusal, Rule, StreamName};
use kroniek_projections::views::TimelineFilter;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// `POST /v1/events`: one event or an array (one atomic batch).
pub async fn append(
    State(state): Shared,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.limits.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large(format!("the request body is over {limit} bytes")))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ApiError::bad_request("the body is not UTF-8").with("rule", Rule::MalformedField.id())
    })?;
    let value = canonical::parse_strict(text).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid JSON: {e}"))
            .with("rule", Rule::MalformedField.id())
    })?;
    let items = match value {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        _ => {
            return Err(ApiError::bad_request(
                "send one event (a JSON object) or an array of events",
            )
            .with("rule", Rule::MalformedField.id()))
        }
    };
    if items.is_empty() {
        return Err(
            ApiError::bad_request("the batch is empty").with("rule", Rule::MalformedField.id())
        );
    }
    if items.len() > state.limits.max_batch {
        return Err(ApiError::too_large(format!(
            "{} events in one batch; at most {} are allowed",
            items.len(),
            state.limits.max_batch
        )));
    }
    for (index, item) in items.iter().enumerate() {
        let category = item
            .get("stream")
            .and_then(Value::as_str)
            .and_then(|s| s.split('/').next())
            .and_then(Category::from_name);
        if let Some(c) = category {
            if !may_append(caller.role, c) {
                return Err(ApiError::forbidden(format!(
                    "the {} role may not append to {} streams",
                    caller.role.as_str(),
                    c.name()
                ))
                .with("index", index));
            }
        }
    }
    let events: Vec<Result<ProposedEvent, Refusal>> =
        items.into_iter().map(ProposedEvent::parse).collect();
    let actor = caller.actor();
    let st = state.clone();
    let outcome = blocking(move || {
        let outcome = st.store.append_iter(events, &actor, &mut |_| {})?;
        st.catch_up()?;
        Ok(outcome)
    })
    .await?;
    Ok(match outcome {
        AppendOutcome::Appended { first, count, head } => (
            StatusCode::CREATED,
            Json(json!({"first": first, "count": count, "positions": (first..first + count).collect::<Vec<_>>(), "head": {"count": head.count, "hash": head.hash_hex()}})),
        )
            .into_response(),
        AppendOutcome::AlreadyRecorded { positions, head } => {
            (StatusCode::OK, Json(json!({"count": 0, "positions": positions, "head": {"count": head.count, "hash": head.hash_hex()}}))).into_response()
        }
    })
}

/// The records as `caller` may see them, as a JSON array of export lines.
fn records_response(
    store: &Store,
    caller: &Caller,
    records: &[Record],
) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(records.len() * 512 + 2);
    body.push(b'[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let line = match shown(caller.role, r) {
            Shown::Withheld => r.withheld_line(),
            Shown::Record { personal } => store.export_line(r, personal)?,
        };
        body.extend_from_slice(&line);
    }
    body.push(b']');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Range {
    from: Option<u64>,
    limit: Option<u64>,
}

/// `GET /v1/events?from=&limit=`.
pub async fn events(
    State(state): Shared,
    caller: Caller,
    Query(q): Query<Range>,
) -> Result<Response, ApiError> {
    let from = q.from.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).min(1000);
    blocking(move || {
        let records = state.store.read_range(from, limit)?;
        records_response(&state.store, &caller, &records)
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct FromVersion {
    from_version: Option<u64>,
}

/// `GET /v1/streams/{stream}?from_version=` (the stream name holds `/`).
pub async fn stream(
    State(state): Shared,
    caller: Caller,
    Path(stream): Path<String>,
    Query(q): Query<FromVersion>,
) -> Result<Response, ApiError> {
    StreamName::parse(&stream)
        .map_err(|e| ApiError::bad_request(e).with("rule", Rule::MalformedField.id()))?;
    blocking(move || {
        let records = state
            .store
            .read_stream(&stream, q.from_version.unwrap_or(0))?;
        records_response(&state.store, &caller, &records)
    })
    .await
}

/// `GET /v1/head`.
pub async fn head(State(state): Shared, _caller: Caller) -> Json<Value> {
    let h = state.store.head();
    Json(json!({"count": h.count, "hash": h.hash_hex()}))
}

#[derive(Debug, Deserialize)]
pub struct AsOf {
    as_of: Option<String>,
}

fn as_of(state: &AppState, q: &AsOf) -> Result<Date, ApiError> {
    match &q.as_of {
        Some(t) => Date::parse(t).map_err(|e| ApiError::bad_request(e).with("field", "as_of")),
        None => Ok((state.today)()),
    }
}

fn missing(e: kroniek_projections::ProjectionError) -> ApiError {
    match e {
        kroniek_projections::ProjectionError::Unreadable { .. } => ApiError::internal(e),
        other => ApiError::not_found(other.to_string()),
    }
}

/// `GET /v1/bodies/{id}/composition?as_of=`.
pub async fn composition(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/bodies/{id}/composition")?;
    policy::composition_date_allowed(caller.role, q.as_of.is_some())?;
    let d = as_of(&state, &q)?;
    let view = state
        .read()
        .projections
        .composition(&id, d)
        .map_err(missing)?;
    Ok(Json(to_json(policy::composition(caller.role, view))?))
}

/// `GET /v1/bodies/{id}/terms`.
pub async fn terms(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/bodies/{id}/terms")?;
    let view = state.read().projections.terms(&id).map_err(missing)?;
    Ok(Json(to_json(view)?))
}

/// `GET /v1/members/{id}?as_of=`.
pub async fn member(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/members/{id}")?;
    let d = as_of(&state, &q)?;
    let read = state.read();
    let view = read.projections.member(&id, d).map_err(missing)?;
    let view = policy::member(caller.role, &read.projections, view);
    drop(read);
    Ok(Json(to_json(view)?))
}

/// `GET /v1/members?as_of=`: the membership count.
pub async fn members(
    State(state): Shared,
    caller: Caller,
    Query(q): Query<AsOf>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/members")?;
    let d = as_of(&state, &q)?;
    let view = state.read().projections.membership_count(d);
    Ok(Json(to_json(view)?))
}

#[derive(Debug, Deserialize)]
pub struct TimelineQuery {
    body: Option<String>,
    from: Option<String>,
    to: Option<String>,
    category: Option<String>,
}

/// `GET /v1/timeline?body=&from=&to=&category=`.
pub async fn timeline(
    State(state): Shared,
    caller: Caller,
    Query(q): Query<TimelineQuery>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/timeline")?;
    for (name, d) in [("from", &q.from), ("to", &q.to)] {
        if let Some(d) = d {
            Date::parse(d).map_err(|e| ApiError::bad_request(e).with("field", name))?;
        }
    }
    let filter = TimelineFilter {
        body_id: q.body,
        from: q.from,
        to: q.to,
        category: q.category,
    };
    let view = state.read().projections.timeline(&filter);
    Ok(Json(to_json(policy::timeline(caller.role, view))?))
}

/// `GET /v1/elections/{id}`.
pub async fn election(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/elections/{id}")?;
    let view = state.read().projections.election(&id).map_err(missing)?;
    Ok(Json(to_json(policy::election(caller.role, view))?))
}

/// `GET /v1/cases/{id}?as_of=`.
pub async fn case(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/cases/{id}")?;
    let d = as_of(&state, &q)?;
    let view = state.read().projections.case(&id, d).map_err(missing)?;
    Ok(Json(to_json(view)?))
}

/// `GET /v1/conduct?as_of=`.
pub async fn conduct(
    State(state): Shared,
    caller: Caller,
    Query(q): Query<AsOf>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/conduct")?;
    let d = as_of(&state, &q)?;
    let view = state.read().projections.conduct(d);
    Ok(Json(to_json(view)?))
}

/// `GET /healthz`.
pub async fn healthz(State(state): Shared) -> Json<Value> {
    Json(json!({"status": "ok", "events": state.store.head().count}))
}

fn to_json<T: serde::Serialize>(view: T) -> Result<Value, ApiError> {
    serde_json::to_value(view).map_err(ApiError::internal)
}
