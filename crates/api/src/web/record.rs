//! Recording events from the web: a form for each event type, generated from the catalogue's
//! declarations (`FieldSpec`), and an upload of a `.jsonl` file appended as one atomic batch.
//! Both go through the same checks as `POST /v1/events`: the role's `may_append`, the
//! envelope parser and the store's rules; a refusal is shown next to the field it names, with
//! what was typed kept.

use super::{current_session, error_page, page, Frame, PageLang, Shared};
use crate::server::state::AppState;
use askama::Template;
use axum::extract::{Multipart, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kroniek_core::access::may_append;
use kroniek_core::catalogue::{AccessRole, Category, EventType, FieldKind, FieldSpec};
use kroniek_core::{canonical, AppendOutcome, CoreError, ProposedEvent, Refusal, Rule};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::session::{same_secret, Session};

/// The recording routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/record", get(record_page).post(record_event))
        .route("/record/upload", post(upload))
}

/// Whether `role` may record any event at all (the navigation shows the page only then).
pub fn may_record(role: AccessRole) -> bool {
    Category::ALL.into_iter().any(|c| may_append(role, c))
}

/// The event types `role` may append, by category.
fn types_for(role: AccessRole) -> Vec<(&'static str, Vec<&'static str>)> {
    Category::ALL
        .into_iter()
        .filter(|c| may_append(role, *c))
        .map(|c| {
            // Each type once, under the first of its categories the role may append to.
            let types = EventType::ALL
                .iter()
                .filter(|t| t.categories().iter().find(|tc| may_append(role, **tc)) == Some(&c))
                .map(|t| t.name())
                .collect();
            (c.name(), types)
        })
        .filter(|(_, types): &(&str, Vec<&str>)| !types.is_empty())
        .collect()
}

/// One input of an event form.
#[derive(Debug, Clone)]
struct FormField {
    /// The form name: `data.KEY` or `personal.KEY`.
    name: String,
    key: String,
    kind: FieldKind,
    required: bool,
    value: String,
    error: Option<String>,
}

impl FormField {
    fn of(prefix: &str, spec: FieldSpec) -> FormField {
        FormField {
            name: format!("{prefix}.{}", spec.key),
            key: spec.key,
            kind: spec.kind,
            required: spec.required,
            value: String::new(),
            error: None,
        }
    }

    /// The HTML id of the input.
    fn dom_id(&self) -> String {
        format!("f-{}", self.name.replace('.', "-"))
    }

    /// The `type` of an `<input>` for this field (choices, booleans and object lists have
    /// their own controls).
    fn input_type(&self) -> &'static str {
        match self.kind {
            FieldKind::Date => "date",
            FieldKind::Integer | FieldKind::Positive | FieldKind::Year => "number",
            _ => "text",
        }
    }

    fn choices(&self) -> &'static [&'static str] {
        match self.kind {
            FieldKind::Choice(c) => c,
            FieldKind::Boolean => &["true", "false"],
            _ => &[],
        }
    }

    fn is_select(&self) -> bool {
        matches!(self.kind, FieldKind::Choice(_) | FieldKind::Boolean)
    }

    fn is_textarea(&self) -> bool {
        matches!(self.kind, FieldKind::ObjectList(_) | FieldKind::Object(_))
    }

    fn example(&self) -> &'static str {
        match self.kind {
            FieldKind::ObjectList(e) | FieldKind::Object(e) => e,
            _ => "",
        }
    }

    fn is_list(&self) -> bool {
        matches!(self.kind, FieldKind::IdentifierList | FieldKind::TextList)
    }

    fn pattern(&self) -> &'static str {
        match self.kind {
            FieldKind::Hash => "[0-9a-f]{64}",
            _ => "",
        }
    }

    /// The JSON value of what was typed; `None` when left empty (the key is then left out,
    /// and the parser names a missing required key).
    fn json(&self) -> Result<Option<Value>, String> {
        let text = self.value.trim();
        if text.is_empty() {
            return Ok(match self.kind {
                FieldKind::IdentifierList | FieldKind::TextList if self.required => {
                    Some(Value::Array(Vec::new()))
                }
                _ => None,
            });
        }
        Ok(Some(match self.kind {
            // A number that does not parse goes as text: the parser names the field.
            FieldKind::Integer | FieldKind::Positive | FieldKind::Year => text
                .parse::<i64>()
                .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            FieldKind::Boolean => match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(other.to_owned()),
            },
            FieldKind::IdentifierList | FieldKind::TextList => Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            FieldKind::ObjectList(_) | FieldKind::Object(_) => canonical::parse_strict(text)
                .map_err(|e| format!("{}: this is not JSON: {e}", Rule::MalformedField.id()))?,
            _ => Value::String(text.to_owned()),
        }))
    }
}

/// What an accepted event or upload left behind.
#[derive(Debug)]
struct Accepted {
    first: u64,
    count: u64,
    hash: String,
    already: bool,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    frame: Frame,
    csrf: String,
    groups: Vec<(&'static str, Vec<&'static str>)>,
    chosen: Option<&'static str>,
    event_id: String,
    stream: String,
    effective: String,
    stream_error: Option<String>,
    effective_error: Option<String>,
    data: Vec<FormField>,
    personal: Vec<FormField>,
    /// Refusals that name no field of the form.
    problems: Vec<String>,
    accepted: Option<Accepted>,
    upload_problems: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct TypeQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// A fresh event id for a form (a retry of the same form is then idempotent).
fn fresh_event_id() -> Option<String> {
    let random = kroniek_core::random::random32().ok()?;
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&random[..16]);
    Some(kroniek_core::types::EventId::new_v4_from(bytes).to_string())
}

/// The session of a role that may record, or the sign-in redirect / 403 page.
fn recorder(
    state: &AppState,
    headers: &HeaderMap,
    lang: PageLang,
) -> Result<Session, Box<Response>> {
    let Some((_, session)) = current_session(state, headers) else {
        return Err(Box::new(Redirect::to("/login").into_response()));
    };
    if !may_record(session.role) {
        return Err(Box::new(error_page(
            lang,
            Some(&session),
            StatusCode::FORBIDDEN,
        )));
    }
    Ok(session)
}

/// An empty form for `chosen` (or only the type chooser).
fn blank_page(
    state: &AppState,
    lang: PageLang,
    session: &Session,
    chosen: Option<EventType>,
) -> Option<RecordPage> {
    let chosen = chosen.filter(|t| t.categories().iter().any(|c| may_append(session.role, *c)));
    Some(RecordPage {
        frame: Frame::new(
            lang.0,
            lang.0.messages().record_event,
            Some(session),
            "/record",
        ),
        csrf: session.csrf.clone(),
        groups: types_for(session.role),
        chosen: chosen.map(EventType::name),
        event_id: fresh_event_id()?,
        stream: String::new(),
        effective: (state.today)().to_string(),
        stream_error: None,
        effective_error: None,
        data: chosen.map_or_else(Vec::new, |t| {
            t.data_fields()
                .into_iter()
                .map(|f| FormField::of("data", f))
                .collect()
        }),
        personal: chosen.map_or_else(Vec::new, |t| {
            t.personal_fields()
                .into_iter()
                .map(|f| FormField::of("personal", f))
                .collect()
        }),
        problems: Vec::new(),
        accepted: None,
        upload_problems: Vec::new(),
    })
}

/// `GET /record?type=`: the type chooser and, once chosen, the type's form.
async fn record_page(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Query(q): Query<TypeQuery>,
) -> Response {
    let session = match recorder(&state, &headers, lang) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let chosen = q.event_type.as_deref().and_then(EventType::from_name);
    if chosen.is_some_and(|t| !t.categories().iter().any(|c| may_append(session.role, *c))) {
        return error_page(lang, Some(&session), StatusCode::FORBIDDEN);
    }
    match blank_page(&state, lang, &session, chosen) {
        Some(p) => page(StatusCode::OK, &p, lang.1.then_some(lang.0)),
        None => super::no_randomness(),
    }
}

/// Reads a form body (at most the API's body limit); `None` when it is not a form.
async fn form_body(state: &AppState, body: axum::body::Body) -> Option<Vec<(String, String)>> {
    let bytes = axum::body::to_bytes(body, state.limits.max_body_bytes)
        .await
        .ok()?;
    serde_urlencoded::from_bytes(&bytes).ok()
}

/// Appends `events` as `session`, as `POST /v1/events` does. Blocking.
fn append_as(
    state: &AppState,
    session: &Session,
    events: Vec<Result<ProposedEvent, Refusal>>,
) -> Result<AppendOutcome, CoreError> {
    let actor = format!("{}:{}", session.role.as_str(), session.principal);
    crate::server::routes::append_checked(state, events, &actor)
}

fn accepted(outcome: AppendOutcome) -> Accepted {
    match outcome {
        AppendOutcome::Appended { first, count, head } => Accepted {
            first,
            count,
            hash: head.hash_hex(),
            already: false,
        },
        AppendOutcome::AlreadyRecorded { positions, head } => Accepted {
            first: positions.first().copied().unwrap_or(0),
            count: positions.len() as u64,
            hash: head.hash_hex(),
            already: true,
        },
    }
}

/// The category of a stream name, if it names one.
fn category_of(stream: &str) -> Option<Category> {
    stream.split('/').next().and_then(Category::from_name)
}

/// `POST /record`: builds the event from the form, appends it, and shows the position and
/// hash, or the refusal next to its field with what was typed kept.
async fn record_event(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let session = match recorder(&state, &headers, lang) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(form) = form_body(&state, body).await else {
        return error_page(lang, Some(&session), StatusCode::BAD_REQUEST);
    };
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if !same_secret(&session.csrf, &get("csrf")) {
        return error_page(lang, Some(&session), StatusCode::FORBIDDEN);
    }
    let chosen = EventType::from_name(&get("type"));
    let Some(mut p) = blank_page(&state, lang, &session, chosen) else {
        return super::no_randomness();
    };
    let Some(event_type) = chosen.filter(|_| p.chosen.is_some()) else {
        return error_page(lang, Some(&session), StatusCode::FORBIDDEN);
    };
    if kroniek_core::types::EventId::parse(&get("id")).is_ok() {
        p.event_id = get("id");
    }
    p.stream = get("stream").trim().to_owned();
    p.effective = get("effective").trim().to_owned();
    for f in p.data.iter_mut().chain(p.personal.iter_mut()) {
        f.value = get(&f.name);
    }

    // The envelope, from the typed values.
    let mut data = Map::new();
    let mut personal = Map::new();
    let mut local_errors = false;
    for (fields, target) in [(&mut p.data, &mut data), (&mut p.personal, &mut personal)] {
        for f in fields.iter_mut() {
            match f.json() {
                Ok(Some(v)) => {
                    target.insert(f.key.clone(), v);
                }
                Ok(None) => {}
                Err(why) => {
                    f.error = Some(why);
                    local_errors = true;
                }
            }
        }
    }
    let t = lang.0.messages();
    if p.stream.is_empty() && !local_errors {
        // Derive the stream from the id in the data that names it; data that does not read
        // is refused here, beside its field, as the envelope parser would.
        match kroniek_core::catalogue::parse_data(event_type, &Value::Object(data.clone())) {
            Ok(d) => {
                if let Some(stream) = derived_stream(&d) {
                    p.stream = stream;
                }
            }
            Err((field, message)) => {
                let refusal = Refusal {
                    rule: Rule::MalformedField,
                    message,
                    field: Some(format!("data.{field}")),
                };
                place_refusal(&mut p, &refusal);
                p.problems.insert(0, t.refused_intro.to_owned());
                return page(StatusCode::UNPROCESSABLE_ENTITY, &p, None);
            }
        }
    }
    if let Some(c) = category_of(&p.stream) {
        if !may_append(session.role, c) {
            p.stream_error = Some(format!(
                "the {} role may not append to {} streams",
                session.role.as_str(),
                c.name()
            ));
            local_errors = true;
        }
    }
    if local_errors {
        p.problems.push(t.refused_intro.to_owned());
        return page(StatusCode::BAD_REQUEST, &p, None);
    }
    let mut envelope = Map::new();
    envelope.insert("id".into(), Value::String(p.event_id.clone()));
    envelope.insert("type".into(), Value::String(event_type.name().into()));
    envelope.insert("stream".into(), Value::String(p.stream.clone()));
    envelope.insert("effective".into(), Value::String(p.effective.clone()));
    envelope.insert("data".into(), Value::Object(data));
    if !personal.is_empty()
        || event_type.personal() == kroniek_core::catalogue::PersonalSpec::Required
    {
        envelope.insert("personal".into(), Value::Object(personal));
    }
    let proposed = vec![ProposedEvent::parse(Value::Object(envelope))];
    let st = state.clone();
    let s = session.clone();
    let outcome = tokio::task::spawn_blocking(move || append_as(&st, &s, proposed)).await;
    match outcome {
        Ok(Ok(outcome)) => {
            let Some(mut fresh) = blank_page(&state, lang, &session, Some(event_type)) else {
                return super::no_randomness();
            };
            fresh.accepted = Some(accepted(outcome));
            page(StatusCode::CREATED, &fresh, None)
        }
        Ok(Err(CoreError::Refused(refusals))) => {
            for r in refusals {
                place_refusal(&mut p, &r.refusal);
            }
            p.problems.insert(0, t.refused_intro.to_owned());
            page(StatusCode::UNPROCESSABLE_ENTITY, &p, None)
        }
        Ok(Err(e)) => {
            p.problems.push(e.to_string());
            page(StatusCode::SERVICE_UNAVAILABLE, &p, None)
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the append failed").into_response(),
    }
}

/// The stream an event's data names (`member/10201` for a member's event, `case/c-1` for a case
/// summary's erasure); `None` where the data does not name one (a donor's erasure goes to a
/// year's finance stream, which the user gives).
fn derived_stream(event: &kroniek_core::catalogue::EventData) -> Option<String> {
    use kroniek_core::catalogue::{ErasureSubject, EventData};
    let category = match event {
        EventData::PersonalDataErased(e) => match e.subject {
            ErasureSubject::Member(_) => Category::Member,
            ErasureSubject::Case(_) => Category::Case,
            ErasureSubject::Donor(_) => return None,
        },
        other => *other.event_type().categories().first()?,
    };
    Some(format!("{}/{}", category.name(), event.stream_id()?))
}

/// Puts a refusal next to the form field it names (`data.seats[0].count` → `data.seats`),
/// or among the page's problems when it names none of them.
fn place_refusal(p: &mut RecordPage, r: &Refusal) {
    let message = format!("{}: {}", r.rule.id(), r.message);
    let field = r.field.as_deref().unwrap_or("");
    let base = field.split('[').next().unwrap_or(field);
    match base {
        "stream" => p.stream_error = Some(message),
        "effective" => p.effective_error = Some(message),
        name => {
            let target = p.data.iter_mut().chain(p.personal.iter_mut()).find(|f| {
                f.name == name || (!name.is_empty() && name.starts_with(&format!("{}.", f.name)))
            });
            match target {
                Some(f) => f.error = Some(message),
                None => p.problems.push(message),
            }
        }
    }
}

/// `POST /record/upload`: a `.jsonl` file appended as one atomic batch, with the command
/// line's line-numbered errors when it is refused (and nothing written).
async fn upload(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let session = match recorder(&state, &headers, lang) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Ok(mut multipart) = multipart else {
        return error_page(lang, Some(&session), StatusCode::BAD_REQUEST);
    };
    let limit = state.limits.max_body_bytes;
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    let mut too_large = false;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return error_page(lang, Some(&session), StatusCode::BAD_REQUEST),
        };
        let name = field.name().unwrap_or("").to_owned();
        let mut field = field;
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > limit {
                        too_large = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => return error_page(lang, Some(&session), StatusCode::BAD_REQUEST),
            }
        }
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "file" => file = Some(bytes),
            _ => {}
        }
        if too_large {
            break;
        }
    }
    if !same_secret(&session.csrf, &csrf) {
        return error_page(lang, Some(&session), StatusCode::FORBIDDEN);
    }
    let Some(mut p) = blank_page(&state, lang, &session, None) else {
        return super::no_randomness();
    };
    if too_large {
        p.upload_problems.push(format!(
            "the file is over {limit} bytes; split it or use kroniek append"
        ));
        return page(StatusCode::PAYLOAD_TOO_LARGE, &p, None);
    }
    let bytes = file.unwrap_or_default();
    // Lines as the command line reads them: numbered from 1, blank lines skipped.
    let mut line_numbers: Vec<u64> = Vec::new();
    let mut events: Vec<Result<ProposedEvent, Refusal>> = Vec::new();
    let mut forbidden: Vec<String> = Vec::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let number = n as u64 + 1;
        line_numbers.push(number);
        let parsed = match std::str::from_utf8(line) {
            Ok(text) => ProposedEvent::parse_line(text),
            Err(_) => Err(Refusal::new(
                Rule::MalformedField,
                "the line is not UTF-8 text",
            )),
        };
        if let Ok(e) = &parsed {
            let category = e.stream.category();
            if !may_append(session.role, category) {
                forbidden.push(format!(
                    "line {number}: the {} role may not append to {} streams",
                    session.role.as_str(),
                    category.name()
                ));
            }
        }
        events.push(parsed);
    }
    if events.is_empty() {
        p.upload_problems
            .push("the file holds no events: one JSON object per line".into());
        return page(StatusCode::BAD_REQUEST, &p, None);
    }
    // The same batch limit as the API's (`serve --max-batch`), before anything is checked.
    if events.len() > state.limits.max_batch {
        p.upload_problems.push(format!(
            "the file holds {} events; one upload is one batch of at most {}: split the file, or use kroniek append",
            events.len(),
            state.limits.max_batch
        ));
        return page(StatusCode::PAYLOAD_TOO_LARGE, &p, None);
    }
    if !forbidden.is_empty() {
        p.upload_problems = forbidden
            .into_iter()
            .take(kroniek_app::append::MAX_REPORTED)
            .collect();
        return page(StatusCode::FORBIDDEN, &p, None);
    }
    let st = state.clone();
    let s = session.clone();
    let outcome = tokio::task::spawn_blocking(move || append_as(&st, &s, events)).await;
    match outcome {
        Ok(Ok(outcome)) => {
            p.accepted = Some(accepted(outcome));
            page(StatusCode::CREATED, &p, None)
        }
        Ok(Err(CoreError::Refused(refusals))) => {
            p.upload_problems =
                kroniek_app::append::refused_line_messages(&refusals, &line_numbers).0;
            page(StatusCode::UNPROCESSABLE_ENTITY, &p, None)
        }
        Ok(Err(e)) => {
            p.upload_problems.push(e.to_string());
            page(StatusCode::SERVICE_UNAVAILABLE, &p, None)
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the append failed").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldKind, required: bool, value: &str) -> FormField {
        FormField {
            name: "data.x".into(),
            key: "x".into(),
            kind,
            required,
            value: value.into(),
            error: None,
        }
    }

    #[test]
    fn typed_values_become_json_of_the_declared_kind() {
        assert_eq!(
            field(FieldKind::Integer, true, " 1200 ").json(),
            Ok(Some(Value::from(1200)))
        );
        // Not a number: kept as text, so the parser names the field.
        assert_eq!(
            field(FieldKind::Integer, true, "twelve").json(),
            Ok(Some(Value::from("twelve")))
        );
        assert_eq!(
            field(FieldKind::Boolean, true, "false").json(),
            Ok(Some(Value::Bool(false)))
        );
        assert_eq!(
            field(FieldKind::IdentifierList, true, "10201, 10202,").json(),
            Ok(Some(serde_json::json!(["10201", "10202"])))
        );
        assert_eq!(
            field(FieldKind::IdentifierList, true, "").json(),
            Ok(Some(serde_json::json!([])))
        );
        assert_eq!(field(FieldKind::Date, false, "  ").json(), Ok(None));
        assert!(field(FieldKind::ObjectList(""), true, "[{").json().is_err());
        assert_eq!(
            field(
                FieldKind::ObjectList(""),
                true,
                r#"[{"role":"lid","count":3}]"#
            )
            .json(),
            Ok(Some(serde_json::json!([{"role": "lid", "count": 3}])))
        );
    }

    #[test]
    fn the_stream_is_derived_from_the_id_the_data_names() {
        let derive = |ty: EventType, data: serde_json::Value| {
            kroniek_core::catalogue::parse_data(ty, &data)
                .ok()
                .and_then(|d| derived_stream(&d))
        };
        assert_eq!(
            derive(
                EventType::ContributionPaid,
                serde_json::json!({"member_id": "10201", "year": 2024, "amount_cents": 1200})
            ),
            Some("member/10201".into())
        );
        assert_eq!(
            derive(
                EventType::PersonalDataErased,
                serde_json::json!({"subject": "case:c-1", "reason": "AVG"})
            ),
            Some("case/c-1".into())
        );
        assert_eq!(
            derive(
                EventType::PersonalDataErased,
                serde_json::json!({"subject": "10201", "reason": "AVG"})
            ),
            Some("member/10201".into())
        );
        assert_eq!(
            derive(
                EventType::PersonalDataErased,
                serde_json::json!({"subject": "donor:d-1", "reason": "AVG"})
            ),
            None
        );
    }

    #[test]
    fn each_role_is_offered_the_types_it_may_append() {
        let names = |role| -> Vec<&str> {
            types_for(role)
                .into_iter()
                .flat_map(|(_, types)| types)
                .collect()
        };
        assert!(names(AccessRole::Disputes).iter().all(|t| {
            EventType::from_name(t).is_some_and(|t| t.categories().contains(&Category::Case))
        }));
        // A case's summary may be erased by the disputes committee (a case stream).
        assert!(names(AccessRole::Disputes).contains(&"PersonalDataErased"));
        // Each type is offered once.
        let admin = names(AccessRole::Admin);
        assert_eq!(admin.len(), EventType::ALL.len());
        assert!(names(AccessRole::Secretary).contains(&"DecisionTaken"));
        assert!(!names(AccessRole::Secretary).contains(&"CaseOpened"));
        assert!(names(AccessRole::Admin).contains(&"AccessGranted"));
        assert!(names(AccessRole::Board).is_empty());
        assert!(!may_record(AccessRole::Auditor));
    }
}
