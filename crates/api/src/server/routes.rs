//! The `/v1` handlers: thin glue between HTTP and the store / read models.

use super::extract::{Path, Query};
use super::paging;
use super::policy;
use super::problem::ApiError;
use super::state::{AppState, Caller};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kroniek_core::access::{may_append, shown, Shown};
use kroniek_core::catalogue::{Category, DecisionCategory};
use kroniek_core::record::Record;
use kroniek_core::store::Store;
use kroniek_core::types::Date;
use kroniek_core::{canonical, AppendOutcome, ProposedEvent, Refusal, Rule, StreamName};
use kroniek_projections::views::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

/// A JSON endpoint's body must say it is JSON (`Content-Type: application/json`, parameters such
/// as `charset=utf-8` allowed): a form post or a plain-text body gets a 415 problem, before the
/// body is read.
fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match media.as_deref() {
        Some("application/json") => Ok(()),
        Some(other) => Err(ApiError::unsupported_media_type(format!(
            "the body is {other}: send JSON with Content-Type: application/json"
        ))),
        None => Err(ApiError::unsupported_media_type(
            "the request has no Content-Type: send JSON with Content-Type: application/json",
        )),
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

#[utoipa::path(post, path = "/v1/events", tag = "ledger", security(("bearer" = [])), request_body(content = Object, description = "One event (DOMAIN.md envelope) or an array of events: one atomic batch"), responses((status = 201, body = super::openapi::AppendResponse), (status = 200, description = "An idempotent retry: the first result", body = super::openapi::AppendResponse), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 409, description = "version-conflict or id-reused", body = super::openapi::Problem), (status = 413, body = super::openapi::Problem), (status = 422, description = "a governance rule", body = super::openapi::Problem), (status = 415, description = "the body is not Content-Type: application/json", body = super::openapi::Problem)))]
/// `POST /v1/events`: one event or an array (one atomic batch).
pub async fn append(
    State(state): Shared,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "POST", "/v1/events")?;
    require_json(&headers)?;
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
    let outcome = state.append(events, actor).await?;
    Ok(match outcome {
        AppendOutcome::Appended { first, count, head } => {
            (
            StatusCode::CREATED,
            Json(json!({"first": first, "count": count, "positions": (first..first + count).collect::<Vec<_>>(), "head": {"count": head.count, "hash": head.hash_hex()}})),
        )
            .into_response()
        }
        AppendOutcome::AlreadyRecorded { positions, head } => {
            state.metrics.retried();
            (StatusCode::OK, Json(json!({"count": 0, "positions": positions, "head": {"count": head.count, "hash": head.hash_hex()}}))).into_response()
        }
    })
}

/// Appends `events` as one atomic batch through the rules, counts refusals by rule, and
/// brings the read side up to date: the blocking append path (the web pages, an erasure, and
/// the API's appends on a state without leader threads; `POST /v1/events` otherwise queues
/// its batch for them, [`AppState::append`]). The caller has checked that the role may append
/// to each event's category.
pub(crate) fn append_checked(
    state: &AppState,
    events: Vec<Result<ProposedEvent, Refusal>>,
    actor: &str,
) -> Result<AppendOutcome, kroniek_core::CoreError> {
    let access = grants_or_revokes_access(&events);
    let result = state.store.append_batch(events, actor);
    if result.is_ok() {
        state.catch_up_after_append(access)?;
    }
    state.metrics.append_answered(&result);
    result
}

/// Whether a batch grants or revokes access (the read side's access table changes with it).
pub(crate) fn grants_or_revokes_access(events: &[Result<ProposedEvent, Refusal>]) -> bool {
    events.iter().any(|event| {
        matches!(
            event,
            Ok(ProposedEvent {
                event: kroniek_core::catalogue::EventData::AccessGranted(_)
                    | kroniek_core::catalogue::EventData::AccessRevoked(_),
                ..
            })
        )
    })
}

/// One record's line as `role` may see it: withheld, or with or without personal data.
pub(crate) fn line_for(
    store: &Store,
    role: kroniek_core::catalogue::AccessRole,
    r: &Record,
) -> Result<Vec<u8>, ApiError> {
    Ok(match shown(role, r) {
        Shown::Withheld => r.withheld_line(),
        Shown::Record { personal } => store.export_line(r, personal)?,
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
        body.extend_from_slice(&line_for(store, caller.role, r)?);
    }
    body.push(b']');
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    #[serde(default, deserialize_with = "super::extract::optional_position")]
    from: Option<u64>,
    /// 1 to 1,000 records (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/v1/events", tag = "ledger", security(("bearer" = [])), params(Range), responses((status = 200, description = "the records from `from`; `Link: <…>; rel=\"next\"` when more follow", body = [super::openapi::RecordView]), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `GET /v1/events?from=&limit=`: `limit` 1 to 1,000 (default 100); the next page's `from`
/// in the `Link` header.
pub async fn events(
    State(state): Shared,
    caller: Caller,
    uri: axum::http::Uri,
    Query(q): Query<Range>,
) -> Result<Response, ApiError> {
    let from = q.from.unwrap_or(0);
    let limit = paging::limit(q.limit)? as u64;
    blocking(move || {
        let records = state.store.read_range(from, limit)?;
        let end = from.saturating_add(records.len() as u64);
        let next = (end < state.store.head().count && !records.is_empty())
            .then(|| paging::next_address(&uri, &[("from", end.to_string())]));
        Ok(paging::with_next(
            records_response(&state.store, &caller, &records)?,
            next,
        ))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FromVersion {
    #[serde(default, deserialize_with = "super::extract::optional_position")]
    from_version: Option<u64>,
    /// 1 to 1,000 records (default 100); the next page's `from_version` is in the `Link` header.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/v1/streams/{stream}", tag = "ledger", security(("bearer" = [])), params(("stream" = String, Path, description = "category/id; may hold `/` (body/afdeling-den-haag/bestuur)"), FromVersion), responses((status = 200, body = [super::openapi::RecordView]), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `GET /v1/streams/{stream}?from_version=` (the stream name holds `/`).
pub async fn stream(
    State(state): Shared,
    caller: Caller,
    uri: axum::http::Uri,
    Path(stream): Path<String>,
    Query(q): Query<FromVersion>,
) -> Result<Response, ApiError> {
    StreamName::parse(&stream)
        .map_err(|e| ApiError::bad_request(e).with("rule", Rule::MalformedField.id()))?;
    let limit = paging::limit(q.limit)?;
    let from_version = q.from_version.unwrap_or(0);
    blocking(move || {
        let mut records = state.store.read_stream(&stream, from_version)?;
        let next = (records.len() > limit).then(|| {
            records.truncate(limit);
            let after = records.last().map_or(from_version, |r| r.version + 1);
            paging::next_address(&uri, &[("from_version", after.to_string())])
        });
        Ok(paging::with_next(
            records_response(&state.store, &caller, &records)?,
            next,
        ))
    })
    .await
}

#[utoipa::path(get, path = "/v1/head", tag = "ledger", security(("bearer" = [])), responses((status = 200, body = super::openapi::HeadView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `GET /v1/head`.
pub async fn head(State(state): Shared, _caller: Caller) -> Json<Value> {
    let h = state.store.head();
    Json(json!({"count": h.count, "hash": h.hash_hex()}))
}

#[utoipa::path(get, path = "/v1/whoami", tag = "ledger", security(("bearer" = [])), responses((status = 200, body = super::openapi::WhoamiView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `GET /v1/whoami`: the principal and role the token stands for (what a follower's copy
/// holds is that role's view).
pub async fn whoami(_state: Shared, caller: Caller) -> Json<Value> {
    Json(json!({"principal": caller.principal, "role": caller.role.as_str()}))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// The day to answer for (YYYY-MM-DD; default today).
    #[param(format = Date)]
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

#[utoipa::path(get, path = "/v1/bodies/{id}/composition", tag = "read models", security(("bearer" = [])), params(("id" = String, Path, description = "body id; percent-encode `/` as %2F"), AsOf), responses((status = 200, body = Composition), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem)))]
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

#[utoipa::path(get, path = "/v1/bodies/{id}/terms", tag = "read models", security(("bearer" = [])), params(("id" = String, Path, description = "body id; percent-encode `/` as %2F")), responses((status = 200, body = TermSchedule), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem)))]
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

#[utoipa::path(get, path = "/v1/members/{id}", tag = "read models", security(("bearer" = [])), params(("id" = String, Path, description = "member id"), AsOf), responses((status = 200, body = MemberView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem)))]
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

#[utoipa::path(get, path = "/v1/members", tag = "read models", security(("bearer" = [])), params(MembersQuery), responses((status = 200, description = "the counts, and one page of the members (`items`, in id order) with `next` and a `Link: <…>; rel=\"next\"` header when more follow", body = MembershipCount), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `GET /v1/members?as_of=`: the membership count.
pub async fn members(
    State(state): Shared,
    caller: Caller,
    uri: axum::http::Uri,
    Query(q): Query<MembersQuery>,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "GET", "/v1/members")?;
    let d = as_of(
        &state,
        &AsOf {
            as_of: q.as_of.clone(),
        },
    )?;
    let limit = paging::limit(q.limit)?;
    let (view, (items, next)) = {
        let read = state.read();
        (
            read.projections.membership_count(d),
            read.projections.member_page(d, q.cursor.as_deref(), limit),
        )
    };
    let mut body = to_json(view)?;
    body["items"] = to_json(items)?;
    let next = next.map(|id| paging::next_address(&uri, &[("cursor", id)]));
    body["next"] = next.clone().map_or(Value::Null, Value::String);
    Ok(paging::with_next(Json(body).into_response(), next))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// The day to answer for (YYYY-MM-DD; default today).
    #[param(format = Date)]
    as_of: Option<String>,
    /// 1 to 1,000 members (default 100) in `items`, in id order.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// The last member id of the page before (from the `Link` header or `next`).
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// Only this body's decisions (a body id; 404 when the ledger has no such body).
    body: Option<String>,
    /// From this day (YYYY-MM-DD).
    #[param(format = Date)]
    from: Option<String>,
    /// Up to this day (YYYY-MM-DD).
    #[param(format = Date)]
    to: Option<String>,
    /// A decision category (the document lists the valid ones).
    category: Option<String>,
    /// 1 to 1,000 entries (default 100), oldest first.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Where the page before ended (from its `Link` header).
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/timeline", tag = "read models", security(("bearer" = [])), params(TimelineQuery), responses((status = 200, body = [TimelineEntry]), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, description = "`body` names no body of the ledger", body = super::openapi::Problem)))]
/// `GET /v1/timeline?body=&from=&to=&category=`.
pub async fn timeline(
    State(state): Shared,
    caller: Caller,
    uri: axum::http::Uri,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "GET", "/v1/timeline")?;
    for (name, d) in [("from", &q.from), ("to", &q.to)] {
        if let Some(d) = d {
            Date::parse(d).map_err(|e| ApiError::bad_request(e).with("field", name))?;
        }
    }
    if let Some(c) = q
        .category
        .as_deref()
        .filter(|c| !DecisionCategory::NAMES.contains(c))
    {
        return Err(ApiError::bad_request(format!(
            "category={c} is not a decision category: use one of {}",
            DecisionCategory::NAMES.join(", ")
        ))
        .with("field", "category"));
    }
    let limit = paging::limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(paging::parse_timeline_cursor)
        .transpose()?;
    let filter = TimelineFilter {
        body_id: q.body,
        from: q.from,
        to: q.to,
        category: q.category,
    };
    let (view, next) = {
        let read = state.read();
        if let Some(b) = filter
            .body_id
            .as_deref()
            .filter(|b| !read.projections.has_body(b))
        {
            return Err(ApiError::not_found(format!(
                "no body {b} in the ledger: check the id (GET /v1/bodies/{{id}}/composition answers for each body)"
            )));
        }
        read.projections.timeline_after(
            &filter,
            after.as_ref().map(|(d, p)| (d.as_str(), *p)),
            limit,
        )
    };
    let next = next
        .map(|(d, p)| paging::next_address(&uri, &[("cursor", paging::timeline_cursor(&d, p))]));
    Ok(paging::with_next(
        Json(to_json(policy::timeline(caller.role, view))?).into_response(),
        next,
    ))
}

#[utoipa::path(get, path = "/v1/elections/{id}", tag = "read models", security(("bearer" = [])), params(("id" = String, Path, description = "election id")), responses((status = 200, body = ElectionView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem)))]
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

#[utoipa::path(get, path = "/v1/meetings/{id}", tag = "read models", security(("bearer" = [])), params(("id" = String, Path, description = "meeting id")), responses((status = 200, body = MeetingView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem)))]
/// `GET /v1/meetings/{id}`: convocation, agenda, attendance, quorum, votes and decisions.
pub async fn meeting(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/meetings/{id}")?;
    let view = state.read().projections.meeting(&id).map_err(missing)?;
    Ok(Json(to_json(view)?))
}

#[utoipa::path(get, path = "/v1/cases/{id}", tag = "read models", security(("bearer" = [])), params(("id" = String, Path, description = "case id"), AsOf), responses((status = 200, body = CaseView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem)))]
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

#[utoipa::path(get, path = "/v1/conduct", tag = "read models", security(("bearer" = [])), params(AsOf), responses((status = 200, body = ConductView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
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

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The server runs and its store can write", body = Object), (status = 503, description = "The store cannot write (a write or flush failed, e.g. a full disk): restart the server once the cause is fixed", body = Object)))]
/// `GET /healthz`: 200 while the store can write; 503, with why, once a write or flush failed
/// (the store then refuses writes until the server is restarted), so a supervisor restarts it.
pub async fn healthz(State(state): Shared) -> Response {
    let events = state.store.head().count;
    match state.store.write_failure() {
        None => Json(json!({"status": "ok", "events": events})).into_response(),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "restart required", "events": events, "why": why})),
        )
            .into_response(),
    }
}

fn to_json<T: serde::Serialize>(view: T) -> Result<Value, ApiError> {
    serde_json::to_value(view).map_err(ApiError::internal)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct From {
    #[serde(default, deserialize_with = "super::extract::optional_position")]
    from: Option<u64>,
}

/// `GET /v1/subscribe?from=POS`: Server-Sent Events, each record (as the caller may see it)
/// with its position as the event id: first the records from POS (or after `Last-Event-ID`),
/// then each new one as it is appended. The reader tracks the next position itself, so the
/// seam between catching up and live has no gap and no duplicate.
#[utoipa::path(get, path = "/v1/subscribe", tag = "ledger", security(("bearer" = [])), params(From, ("Last-Event-ID" = Option<u64>, Header, description = "resume after this position")), responses((status = 200, description = "text/event-stream: `record` events, id = position, data = the record as the caller may see it"), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
pub async fn subscribe(
    State(state): Shared,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Query(q): Query<From>,
) -> Result<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
    ApiError,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let resume = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a position"))
                .and_then(|p| super::extract::position("Last-Event-ID", p))
        })
        .transpose()?;
    let next = match resume {
        Some(last) => last.saturating_add(1),
        None => q.from.unwrap_or(0),
    };
    // A position past the head is a client's mistake (a ledger it confused with another, a
    // restore), not a wait: say so rather than hold the stream open in silence.
    let count = state.store.head().count;
    if next > count {
        return Err(ApiError::bad_request(format!(
            "position {next} is past the head: the ledger holds {count} records; subscribe from {count} at most to wait for the next"
        ))
        .with("field", if resume.is_some() { "Last-Event-ID" } else { "from" }));
    }
    let rx = state.head.subscribe();
    let start = (
        state,
        caller,
        next,
        rx,
        std::collections::VecDeque::<Event>::new(),
    );
    let stream = futures_util::stream::unfold(
        start,
        |(state, caller, mut next, mut rx, mut queue)| async move {
            loop {
                if let Some(event) = queue.pop_front() {
                    return Some((Ok(event), (state, caller, next, rx, queue)));
                }
                let head = *rx.borrow_and_update();
                if next < head {
                    let st = state.clone();
                    let role = caller.role;
                    let from = next;
                    let batch = tokio::task::spawn_blocking(
                        move || -> Result<Vec<(u64, String)>, ApiError> {
                            let records = st.store.read_range(from, 256)?;
                            records
                                .iter()
                                .map(|r| {
                                    Ok((
                                        r.position,
                                        String::from_utf8_lossy(&line_for(&st.store, role, r)?)
                                            .into_owned(),
                                    ))
                                })
                                .collect()
                        },
                    )
                    .await;
                    match batch {
                        Ok(Ok(lines)) if !lines.is_empty() => {
                            for (position, line) in lines {
                                next = position + 1;
                                queue.push_back(
                                    Event::default()
                                        .id(position.to_string())
                                        .event("record")
                                        .data(line),
                                );
                            }
                            continue;
                        }
                        _ => return None,
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `GET /v1/verify`: walks the whole chain.
#[utoipa::path(get, path = "/v1/verify", tag = "ledger", security(("bearer" = [])), responses((status = 200, body = super::openapi::VerifyView), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 503, description = "the storage could not be read: not a verdict", body = super::openapi::Problem), (status = 507, description = "the disk is full", body = super::openapi::Problem)))]
pub async fn verify(State(state): Shared, caller: Caller) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/verify")?;
    blocking(move || {
        Ok(Json(match state.verify_and_remember()?.outcome {
            Ok(v) => {
                json!({"verified": true, "count": v.count, "head": v.head, "erased": v.erased, "withheld": v.withheld})
            }
            Err((position, why)) => json!({"verified": false, "position": position, "why": why}),
        }))
    })
    .await
}

/// Records per chunk of an export.
const EXPORT_CHUNK: u64 = 256;

/// `GET /v1/export`: the ledger as JSON Lines, as the caller may see it (withheld records and
/// personal data by role), streamed in chunks.
#[utoipa::path(get, path = "/v1/export", tag = "ledger", security(("bearer" = [])), responses((status = 200, description = "application/jsonl: one record per line (events/FORMAT.md), withheld and personal data by role"), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 429, description = "this principal has 2 exports under way", body = super::openapi::Problem), (status = 503, description = "the store could not be read", body = super::openapi::Problem)))]
pub async fn export(State(state): Shared, caller: Caller) -> Result<Response, ApiError> {
    policy::allow(caller.role, "GET", "/v1/export")?;
    let Some(slot) = super::state::ExportSlot::take(&state.exports, &caller.principal) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many exports",
            format!(
                "{} exports of this principal are under way; at most {} at once: wait for one to end",
                super::state::EXPORTS_PER_PRINCIPAL,
                super::state::EXPORTS_PER_PRINCIPAL
            ),
        ));
    };
    // Small chunks and a short queue: a client that stops reading holds a few hundred records
    // here, not the ledger (the reader waits for the queue; its slot ends with it).
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    let end = state.store.head().count;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut from = 0;
        while from < end {
            let chunk = state
                .store
                .read_range(from, EXPORT_CHUNK.min(end - from))
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|records| {
                    let mut bytes = Vec::with_capacity(records.len() * 512);
                    for r in &records {
                        bytes.extend_from_slice(
                            &line_for(&state.store, caller.role, r)
                                .map_err(|e| std::io::Error::other(e.detail))?,
                        );
                        bytes.push(b'\n');
                    }
                    from += records.len().max(1) as u64;
                    Ok(bytes)
                });
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    // The first chunk before the answer: a store that cannot be read is a problem with a
    // status, not a connection closed with no reply (a failure later in the stream can only
    // end it early: the status is sent by then).
    let mut rx = rx;
    let first = match rx.recv().await {
        Some(Err(e)) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Storage unavailable",
                format!("the ledger could not be read for the export ({e}): retry later; if /healthz answers 503, restart the server"),
            ))
        }
        other => other,
    };
    use futures_util::StreamExt;
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let stream = futures_util::stream::iter(first).chain(rest);
    Ok((
        [(header::CONTENT_TYPE, "application/jsonl")],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    reason: String,
    effective: Option<String>,
}

/// `POST /v1/members/{id}/erase`: records `PersonalDataErased` and destroys the subject's
/// personal data. The role must be allowed to append to the subject's stream; a subject erased
/// already (`invalid-state`) or an empty reason (`malformed-field`) is refused.
#[utoipa::path(post, path = "/v1/members/{id}/erase", tag = "ledger", security(("bearer" = [])), params(("id" = String, Path, description = "the subject: a member id, case:<case_id> or donor:<donor_ref>; the role must be allowed to append to its stream (member, case or finance)")), request_body(content = Object, description = "{\"reason\": \"…\", \"effective\": \"YYYY-MM-DD\" (optional)}"), responses((status = 201, description = "PersonalDataErased recorded; the personal data destroyed", body = Object), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 404, body = super::openapi::Problem), (status = 422, description = "invalid-state: the subject was erased already", body = super::openapi::Problem), (status = 415, description = "the body is not Content-Type: application/json", body = super::openapi::Problem)))]
pub async fn erase(
    State(state): Shared,
    caller: Caller,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "POST", "/v1/members/{id}/erase")?;
    // The subject's stream, checked against the role's append rights before anything else
    // (so a role learns nothing of subjects it may not erase).
    let subject = kroniek_core::catalogue::ErasureSubject::try_from(id.clone())
        .map_err(|e| ApiError::bad_request(e).with("field", "id"))?;
    let category = kroniek_core::erasure::erasure_category(&subject);
    if !may_append(caller.role, category) {
        return Err(ApiError::forbidden(format!(
            "the {} role may not erase personal data of {subject}: it may not append to {} streams",
            caller.role.as_str(),
            category.name()
        )));
    }
    require_json(&headers)?;
    let request: EraseRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("send {{\"reason\": \"…\"}}: {e}")))?;
    let effective = match &request.effective {
        Some(t) => {
            Date::parse(t).map_err(|e| ApiError::bad_request(e).with("field", "effective"))?
        }
        None => (state.today)(),
    };
    let actor = caller.actor();
    let st = state.clone();
    let outcome = blocking(move || {
        let event =
            kroniek_core::erasure::erasure_event(&st.store, &id, &request.reason, effective)
                .map_err(|e| match e {
                    kroniek_core::CoreError::Invalid(why) => ApiError::not_found(why),
                    other => other.into(),
                })?;
        Ok(append_checked(&st, vec![Ok(event)], &actor)?)
    })
    .await?;
    match outcome {
        AppendOutcome::Appended { first, head, .. } => Ok((
            StatusCode::CREATED,
            Json(
                json!({"position": first, "head": {"count": head.count, "hash": head.hash_hex()}}),
            ),
        )
            .into_response()),
        AppendOutcome::AlreadyRecorded { positions, head } => Ok(Json(
            json!({"positions": positions, "head": {"count": head.count, "hash": head.hash_hex()}}),
        )
        .into_response()),
    }
}

/// The body of `POST /v1/tokens`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The principal's name (lower-case letters, digits, `.`, `_`, `-`), without standing access.
    principal: String,
    /// admin, secretary, board, auditor, disputes or member.
    role: String,
}

/// `POST /v1/tokens` (admin): grants a principal a role with a new token while the server
/// runs, recorded as an `AccessGranted` by the calling admin. The token is in this answer
/// only; the ledger keeps its BLAKE3 hash.
#[utoipa::path(post, path = "/v1/tokens", tag = "operations", security(("bearer" = [])), request_body(content = TokenRequest, description = "{\"principal\": \"…\", \"role\": \"board\"}"), responses((status = 201, description = "principal, role and token (shown once)", body = Object), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem), (status = 415, description = "the body is not Content-Type: application/json", body = super::openapi::Problem)))]
pub async fn create_token(
    State(state): Shared,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "POST", "/v1/tokens")?;
    require_json(&headers)?;
    let request: TokenRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "send {{\"principal\": \"…\", \"role\": \"…\"}}: {e}"
        ))
    })?;
    let role = kroniek_app::tokens::parse_role(&request.role)
        .map_err(|e| ApiError::from(e).with("field", "role"))?;
    let actor = caller.actor();
    let st = state.clone();
    let principal = request.principal.clone();
    let token = blocking(move || {
        let token =
            kroniek_app::tokens::grant_new(&st.store, &principal, role, &actor, (st.today)())?;
        st.catch_up()?;
        Ok(token)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"principal": request.principal, "role": role.as_str(), "token": token})),
    )
        .into_response())
}

/// `GET /metrics`: Prometheus text (admin only).
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("bearer" = [])), responses((status = 200, description = "Prometheus text: appends, refusals by rule, request latency, ledger size"), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
pub async fn metrics(State(state): Shared, caller: Caller) -> Result<Response, ApiError> {
    policy::allow(caller.role, "GET", "/metrics")?;
    let st = state.clone();
    let bytes = blocking(move || Ok(st.store.size_on_disk()?)).await?;
    let text = state.metrics.render(state.store.head().count, bytes);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

#[utoipa::path(get, path = "/v1/checkpoint", tag = "proofs", security(("bearer" = [])), responses((status = 200, description = "text/plain: the latest C2SP checkpoint (signed note) with its cosignatures"), (status = 401, body = super::openapi::Problem)))]
/// `GET /v1/checkpoint`: the latest signed checkpoint with its cosignatures (signing one when
/// the ledger has none yet).
pub async fn checkpoint(State(state): Shared, caller: Caller) -> Result<Response, ApiError> {
    policy::allow(caller.role, "GET", "/v1/checkpoint")?;
    let note = blocking(move || {
        Ok(match state.store.latest_checkpoint()? {
            Some((note, _)) => note,
            None => state.store.sign_checkpoint()?,
        })
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note.to_text(),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SizeQuery {
    /// The tree size (default: the latest checkpoint's).
    #[serde(default, deserialize_with = "super::extract::optional_position")]
    size: Option<u64>,
}

fn latest_size(store: &Store) -> Result<u64, ApiError> {
    Ok(match store.latest_checkpoint()? {
        Some((_, cp)) => cp.size,
        None => {
            kroniek_core::note::Checkpoint::parse_body(&store.sign_checkpoint()?.text)
                .map_err(ApiError::internal)?
                .size
        }
    })
}

#[utoipa::path(get, path = "/v1/proofs/inclusion/{pos}", tag = "proofs", security(("bearer" = [])), params(("pos" = u64, Path, description = "the record's position"), SizeQuery), responses((status = 200, description = "tree_size, index, record_hash, leaf_hash, root, proof (hex)", body = Object), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem)))]
/// `GET /v1/proofs/inclusion/{pos}?size=`.
pub async fn inclusion(
    State(state): Shared,
    caller: Caller,
    Path(pos): Path<u64>,
    Query(q): Query<SizeQuery>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/proofs/inclusion/{pos}")?;
    let pos = super::extract::position("pos", pos)?;
    blocking(move || {
        let size = match q.size {
            Some(s) => s,
            None => latest_size(&state.store)?,
        };
        Ok(Json(kroniek_app::proofs::inclusion_json(
            &state.store,
            pos,
            size,
        )?))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The old tree size.
    #[serde(deserialize_with = "super::extract::required_position")]
    old: u64,
    /// The new tree size (default: the latest checkpoint's).
    #[serde(default, deserialize_with = "super::extract::optional_position")]
    new: Option<u64>,
}

#[utoipa::path(get, path = "/v1/proofs/consistency", tag = "proofs", security(("bearer" = [])), params(ConsistencyQuery), responses((status = 200, description = "old_size, new_size, old_root, new_root, proof (hex)", body = Object), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem)))]
/// `GET /v1/proofs/consistency?old=&new=`.
pub async fn consistency(
    State(state): Shared,
    caller: Caller,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    policy::allow(caller.role, "GET", "/v1/proofs/consistency")?;
    blocking(move || {
        let new = match q.new {
            Some(n) => n,
            None => latest_size(&state.store)?,
        };
        Ok(Json(kroniek_app::proofs::consistency_json(
            &state.store,
            q.old,
            new,
        )?))
    })
    .await
}

#[utoipa::path(post, path = "/v1/checkpoint/cosignatures", tag = "proofs", security(("bearer" = [])), request_body(content = String, description = "the latest checkpoint, cosigned by a witness (a signed note)"), responses((status = 200, description = "text/plain: the checkpoint with every cosignature kept"), (status = 400, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `POST /v1/checkpoint/cosignatures`: keeps a witness's cosignatures of the latest checkpoint.
pub async fn add_cosignatures(
    State(state): Shared,
    caller: Caller,
    body: String,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "POST", "/v1/checkpoint/cosignatures")?;
    let keys = state
        .limits
        .witnesses
        .iter()
        .map(|k| kroniek_core::note::VerifierKey::parse(k).map_err(ApiError::internal))
        .collect::<Result<Vec<_>, _>>()?;
    let note = blocking(move || Ok(state.store.add_cosignatures(&body, &keys)?)).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        note.to_text(),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The reference date of the member count (default: 1 January of the year).
    #[param(format = Date)]
    peildatum: Option<String>,
    /// The year whose contributions count (default: the report's year).
    contribution_year: Option<i32>,
    /// The minimum net contribution in cents (default 1200).
    min_contribution_cents: Option<i64>,
    /// Flag contributions for the year paid after this date.
    #[param(format = Date)]
    paid_by: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit/{year}", tag = "read models", security(("bearer" = [])), params(("year" = i32, Path, minimum = 1000, maximum = 9999, description = "the report's year (four digits, not after this year)"), AuditQuery), responses((status = 200, description = "the audit report (the JSON of kroniek audit --format json)", body = Object), (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem), (status = 403, body = super::openapi::Problem)))]
/// `GET /v1/audit/{year}`: the yearly audit report, made at a checkpoint of the current size.
pub async fn audit(
    State(state): Shared,
    caller: Caller,
    Path(year_text): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    policy::allow(caller.role, "GET", "/v1/audit/{year}")?;
    let year = year_text
        .parse::<i32>()
        .ok()
        .filter(|y| (1000..=9999).contains(y))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{year_text} is not a year: write it in four digits, as /v1/audit/2023"
            ))
            .with("field", "year")
        })?;
    let today = (state.today)();
    if year > chrono::Datelike::year(&today.naive()) {
        return Err(ApiError::bad_request(format!(
            "the year {year} has not begun (today is {today}): there is nothing to report yet"
        ))
        .with("field", "year"));
    }
    let params = kroniek_app::audit::params(
        year,
        q.peildatum.as_deref(),
        q.contribution_year,
        q.min_contribution_cents.unwrap_or(1200),
    )
    .and_then(|p| kroniek_app::audit::with_paid_by(p, q.paid_by.as_deref()))
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let role = caller.role;
    let body = blocking(move || Ok(state.audit_body(role, &params)?)).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Bytes::from_owner(ArcBytes(body)),
    )
        .into_response())
}

/// A cached body, shared without copying it.
struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
