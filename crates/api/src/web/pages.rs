//! The read pages: the decision timeline, a member, an election, a case file, conduct-code
//! coverage, the audit report and any single event with its inclusion proof. Each page asks
//! the API's policy (`server::policy`) whether the signed-in role may see it and applies the
//! same view filters, so a page never shows what the matching `/v1` endpoint would withhold.

use super::{current_session, error_page, page, Frame, PageLang, Shared};
use crate::server::policy;
use crate::server::state::AppState;
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kroniek_core::access::{shown, Shown};
use kroniek_core::types::Date;
use kroniek_projections::audit::euros;
use kroniek_projections::views::*;
use serde::Deserialize;
use std::sync::Arc;

use super::session::{same_secret, Session};

/// The read pages' routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/timeline", get(timeline))
        .route("/members/{id}", get(member))
        .route("/elections/{id}", get(election))
        .route("/meetings/{id}", get(meeting))
        .route("/cases/{id}", get(case))
        .route("/conduct", get(conduct))
        .route("/audit", get(audit))
        .route("/audit/{year}/{file}", get(audit_download))
        .route("/events/{position}", get(event))
        .route("/events/{position}/proof", get(event_proof))
        .route("/verify", post(verify_now))
}

/// The signed-in session, or the answer that sends the visitor to sign in.
fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Session, Box<Response>> {
    current_session(state, headers)
        .map(|(_, s)| s)
        .ok_or_else(|| Box::new(Redirect::to("/login").into_response()))
}

/// The session, if its role may call the API endpoint `api_path` this page shows; else the
/// sign-in redirect or a 403 page.
fn gate(
    state: &AppState,
    headers: &HeaderMap,
    lang: PageLang,
    api_path: &str,
) -> Result<Session, Box<Response>> {
    let session = signed_in(state, headers)?;
    if policy::allow(session.role, "GET", api_path).is_err() {
        return Err(Box::new(error_page(
            lang,
            Some(&session),
            StatusCode::FORBIDDEN,
        )));
    }
    Ok(session)
}

/// [`gate`], then the position in `text` if the ledger holds a record there (else a 404 page).
fn gate_record(
    state: &AppState,
    headers: &HeaderMap,
    lang: PageLang,
    api_path: &str,
    text: &str,
) -> Result<(Session, u64), Box<Response>> {
    let session = gate(state, headers, lang, api_path)?;
    let count = state.store.head().count;
    match text.parse::<u64>().ok().filter(|p| *p < count) {
        Some(position) => Ok((session, position)),
        None => Err(Box::new(error_page(
            lang,
            Some(&session),
            StatusCode::NOT_FOUND,
        ))),
    }
}

/// The language cookie to set, when `?lang=` chose the language.
fn remember(lang: PageLang) -> Option<super::Lang> {
    lang.1.then_some(lang.0)
}

/// A date from a query (`None` or blank: today); a bad one gives today and the message.
fn date_or_today(
    asked: Option<&str>,
    today: Date,
    t: &'static super::Messages,
) -> (Date, Option<&'static str>) {
    match asked.map(str::trim).filter(|d| !d.is_empty()) {
        None => (today, None),
        Some(text) => match Date::parse(text) {
            Ok(d) => (d, None),
            Err(_) => (today, Some(t.bad_date)),
        },
    }
}

fn status_for(error: Option<&str>) -> StatusCode {
    if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// How many timeline entries one page shows.
const TIMELINE_PAGE: usize = 100;

#[derive(Debug, Deserialize)]
struct TimelineQuery {
    body: Option<String>,
    from: Option<String>,
    to: Option<String>,
    category: Option<String>,
    page: Option<usize>,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePage {
    frame: Frame,
    entries: Vec<TimelineEntry>,
    /// Where each revoking decision is in the log.
    revokers: std::collections::HashMap<String, u64>,
    body: String,
    from: String,
    to: String,
    category: String,
    categories: &'static [&'static str],
    /// Body choices when there are few enough for a list.
    bodies: Option<Vec<(String, String)>>,
    error: Option<&'static str>,
    total: usize,
    first: usize,
    earlier: Option<String>,
    later: Option<String>,
}

impl TimelinePage {
    fn euros(&self, cents: &i64) -> String {
        euros(*cents)
    }
}

/// The query string of a timeline page with the same filters.
fn timeline_href(q: &TimelineQuery, page: usize) -> String {
    let mut pairs = form_pairs();
    for (key, value) in [
        ("body", &q.body),
        ("from", &q.from),
        ("to", &q.to),
        ("category", &q.category),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.append_pair(key, v);
        }
    }
    if page > 0 {
        pairs.append_pair("page", &page.to_string());
    }
    format!("/timeline?{}", pairs.finish())
}

fn form_pairs() -> form_urlencoded::Serializer<'static, String> {
    form_urlencoded::Serializer::new(String::new())
}

/// `GET /timeline?body=&from=&to=&category=&page=`: decisions and motions, newest first.
async fn timeline(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Query(q): Query<TimelineQuery>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/timeline") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut error = None;
    for d in [&q.from, &q.to].into_iter().filter_map(clean) {
        if Date::parse(&d).is_err() {
            error = Some(t.bad_date);
        }
    }
    let category = clean(&q.category)
        .filter(|c| kroniek_core::catalogue::DecisionCategory::NAMES.contains(&c.as_str()));
    let filter = TimelineFilter {
        body_id: clean(&q.body),
        from: if error.is_none() {
            clean(&q.from)
        } else {
            None
        },
        to: if error.is_none() { clean(&q.to) } else { None },
        category: category.clone(),
    };
    let requested = q.page.unwrap_or(0);
    let (shown, total, revokers, bodies) = {
        let read = state.read();
        let decisions_only = policy::timeline_decisions_only(session.role);
        let (mut shown, mut total) = read.projections.timeline_page(
            &filter,
            decisions_only,
            true,
            requested.saturating_mul(TIMELINE_PAGE),
            TIMELINE_PAGE,
        );
        if shown.is_empty() && total > 0 {
            // A page past the end: the last page.
            (shown, total) = read.projections.timeline_page(
                &filter,
                decisions_only,
                true,
                (total - 1) / TIMELINE_PAGE * TIMELINE_PAGE,
                TIMELINE_PAGE,
            );
        }
        let shown = policy::timeline(session.role, shown);
        let revokers = shown
            .iter()
            .filter_map(|e| match e {
                TimelineEntry::Decision(d) => d.revoked.as_ref(),
                TimelineEntry::Motion(_) => None,
            })
            .filter_map(|r| {
                read.projections
                    .decision_position(&r.by_decision_id)
                    .map(|position| (r.by_decision_id.clone(), position))
            })
            .collect();
        let outline = read.projections.body_outline();
        let bodies = (outline.len() <= 200)
            .then(|| outline.into_iter().map(|b| (b.body_id, b.name)).collect());
        (shown, total, revokers, bodies)
    };
    let page_index = requested.min(total.saturating_sub(1) / TIMELINE_PAGE);
    let first = page_index * TIMELINE_PAGE;
    let later = (page_index > 0).then(|| timeline_href(&q, page_index - 1));
    let earlier = (first + TIMELINE_PAGE < total).then(|| timeline_href(&q, page_index + 1));
    page(
        status_for(error),
        &TimelinePage {
            frame: Frame::new(lang.0, t.timeline, Some(&session), "/timeline"),
            entries: shown,
            revokers,
            body: clean(&q.body).unwrap_or_default(),
            from: clean(&q.from).unwrap_or_default(),
            to: clean(&q.to).unwrap_or_default(),
            category: category.unwrap_or_default(),
            categories: kroniek_core::catalogue::DecisionCategory::NAMES,
            bodies,
            error,
            total,
            first,
            earlier,
            later,
        },
        remember(lang),
    )
}

#[derive(Debug, Deserialize)]
struct AsOfQuery {
    as_of: Option<String>,
}

#[derive(Template)]
#[template(path = "member.html")]
struct MemberPage {
    frame: Frame,
    view: MemberView,
    date_error: Option<&'static str>,
}

impl MemberPage {
    fn euros(&self, cents: &i64) -> String {
        euros(*cents)
    }
    fn detail(&self, key: &str) -> Option<String> {
        self.view
            .details
            .as_ref()?
            .get(key)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    }
}

/// `GET /members/{id}?as_of=`: a member's status over time, bodies, signatures and
/// contributions, with the personal details the role may see.
async fn member(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/members/{id}") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let (date, date_error) = date_or_today(q.as_of.as_deref(), (state.today)(), t);
    let view = {
        let read = state.read();
        read.projections
            .member(&id, date)
            .map(|v| policy::member(session.role, &read.projections, v))
    };
    let Ok(view) = view else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    page(
        status_for(date_error),
        &MemberPage {
            frame: Frame::new(
                lang.0,
                &format!("{} {id}", t.member),
                Some(&session),
                &format!("/members/{id}"),
            ),
            view,
            date_error,
        },
        remember(lang),
    )
}

/// One bar of an election's tally chart.
#[derive(Debug)]
struct TallyBar {
    label: String,
    votes: i64,
    width: f64,
    y: f64,
    elected: bool,
}

/// One result's chart.
#[derive(Debug)]
struct TallyChart {
    heading: String,
    bars: Vec<TallyBar>,
    height: f64,
    blank: i64,
    invalid: i64,
    elected: Vec<String>,
    /// The last seats were decided by lot between equal votes.
    by_lot: bool,
}

/// The width of a tally chart's bar area, and of its labels.
const TALLY_WIDTH: f64 = 520.0;
const TALLY_LABEL: f64 = 140.0;

fn tally_chart(r: &ResultView) -> TallyChart {
    let max = r.tally.iter().map(|l| l.votes).max().unwrap_or(0).max(1) as f64;
    let mut lines: Vec<&TallyView> = r.tally.iter().collect();
    lines.sort_by(|a, b| b.votes.cmp(&a.votes).then(a.member_id.cmp(&b.member_id)));
    let bars: Vec<TallyBar> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| TallyBar {
            label: l.member_id.clone(),
            votes: l.votes,
            width: (l.votes.max(0) as f64 / max * TALLY_WIDTH).max(1.0),
            y: i as f64 * 26.0,
            elected: r.elected.contains(&l.member_id),
        })
        .collect();
    TallyChart {
        heading: match &r.portfolio {
            Some(p) => format!("{} · {p}", r.role),
            None => r.role.clone(),
        },
        height: bars.len() as f64 * 26.0 + 4.0,
        bars,
        blank: r.blank,
        invalid: r.invalid,
        elected: r.elected.clone(),
        by_lot: r.tie_break.is_some(),
    }
}

#[derive(Template)]
#[template(path = "election.html")]
struct ElectionPage {
    frame: Frame,
    view: ElectionView,
    charts: Vec<TallyChart>,
    sees_candidacies: bool,
    label_width: f64,
    chart_width: f64,
}

/// `GET /elections/{id}`: the call, candidacies, anonymised profiles, screening and tallies.
async fn election(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/elections/{id}") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let view = state.read().projections.election(&id);
    let Ok(view) = view else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    let view = policy::election(session.role, view);
    page(
        StatusCode::OK,
        &ElectionPage {
            frame: Frame::new(
                lang.0,
                &format!("{} {id}", t.election),
                Some(&session),
                &format!("/elections/{id}"),
            ),
            charts: view.results.iter().map(tally_chart).collect(),
            view,
            sees_candidacies: session.role != kroniek_core::catalogue::AccessRole::Member,
            label_width: TALLY_LABEL,
            chart_width: TALLY_LABEL + TALLY_WIDTH + 60.0,
        },
        remember(lang),
    )
}

#[derive(Template)]
#[template(path = "meeting.html")]
struct MeetingPage {
    frame: Frame,
    view: kroniek_projections::views::MeetingView,
}

/// `GET /meetings/{id}`: convocation, agenda, attendance, quorum, motions and decisions.
async fn meeting(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/meetings/{id}") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let Ok(view) = state.read().projections.meeting(&id) else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    page(
        StatusCode::OK,
        &MeetingPage {
            frame: Frame::new(
                lang.0,
                &format!("{} {id}", t.meeting),
                Some(&session),
                &format!("/meetings/{id}"),
            ),
            view,
        },
        remember(lang),
    )
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    frame: Frame,
    view: CaseView,
    date_error: Option<&'static str>,
    /// Days from the page's date to the appeal deadline, while an appeal can still be filed.
    days_left: Option<i64>,
}

impl CasePage {
    fn data_line(&self, data: &serde_json::Value) -> String {
        data.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| k.as_str() != "case_id")
                    .map(|(k, v)| match v.as_str() {
                        Some(s) => format!("{k}: {s}"),
                        None => format!("{k}: {v}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            })
            .unwrap_or_default()
    }
}

/// `GET /cases/{id}?as_of=`: the case file, for the disputes and admin roles.
async fn case(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/cases/{id}") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let today = (state.today)();
    let (date, date_error) = date_or_today(q.as_of.as_deref(), today, t);
    let view = state.read().projections.case(&id, date);
    let Ok(view) = view else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    let days_left = match (&view.appeal_deadline, view.status.as_str()) {
        (Some(deadline), "decided") => Date::parse(deadline)
            .ok()
            .map(|d| (d.naive() - date.naive()).num_days()),
        _ => None,
    };
    page(
        status_for(date_error),
        &CasePage {
            frame: Frame::new(
                lang.0,
                &format!("{} {id}", t.case),
                Some(&session),
                &format!("/cases/{id}"),
            ),
            view,
            date_error,
            days_left,
        },
        remember(lang),
    )
}

/// One code's bars in the conduct chart.
#[derive(Debug)]
struct CoverageBar {
    code: CodeCoverage,
    current_pct: f64,
    any_pct: f64,
    y: f64,
}

#[derive(Template)]
#[template(path = "conduct.html")]
struct ConductPage {
    frame: Frame,
    view_as_of: String,
    active_members: u64,
    bars: Vec<CoverageBar>,
    height: f64,
    date_error: Option<&'static str>,
}

/// `GET /conduct?as_of=`: each code's version in force and the share of active members who
/// signed it, with a chart.
async fn conduct(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Query(q): Query<AsOfQuery>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/conduct") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let (date, date_error) = date_or_today(q.as_of.as_deref(), (state.today)(), t);
    let view = state.read().projections.conduct(date);
    let share = |n: u64| {
        if view.active_members == 0 {
            0.0
        } else {
            (n as f64 * 1000.0 / view.active_members as f64).round() / 10.0
        }
    };
    let bars: Vec<CoverageBar> = view
        .codes
        .iter()
        .enumerate()
        .map(|(i, c)| CoverageBar {
            current_pct: share(c.signed_current),
            any_pct: share(c.signed_any),
            y: i as f64 * 52.0,
            code: c.clone(),
        })
        .collect();
    page(
        status_for(date_error),
        &ConductPage {
            frame: Frame::new(lang.0, t.conduct, Some(&session), "/conduct"),
            height: bars.len() as f64 * 52.0 + 24.0,
            bars,
            view_as_of: view.as_of.clone(),
            active_members: view.active_members,
            date_error,
        },
        remember(lang),
    )
}

#[derive(Debug, Deserialize)]
struct YearQuery {
    year: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    frame: Frame,
    year: i32,
    report: Option<Arc<kroniek_projections::audit::AuditReport>>,
    tables: Vec<&'static str>,
    error: Option<&'static str>,
    /// While the report is being made: percent done (the page refreshes itself).
    building: Option<u64>,
}

impl AuditPage {
    fn euros(&self, cents: &i64) -> String {
        euros(*cents)
    }
}

/// The report for `year` as `role` may see it (built at a checkpoint of the current size, or
/// taken from the reports made since the last append).
async fn report_for(
    state: &Arc<AppState>,
    role: kroniek_core::catalogue::AccessRole,
    year: i32,
) -> Option<Arc<kroniek_projections::audit::AuditReport>> {
    let params = kroniek_app::audit::params(year, None, None, 1200).ok()?;
    let st = state.clone();
    let report = tokio::task::spawn_blocking(move || st.audit_report(&params).ok())
        .await
        .ok()??;
    Some(policy::audit_report(role, report))
}

/// `GET /audit?year=`: the yearly report (last year by default) with its downloads.
async fn audit(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Query(q): Query<YearQuery>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/audit/{year}") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let t = lang.0.messages();
    let default_year = (state.today)().naive().format("%Y").to_string();
    let default_year: i32 = default_year.parse::<i32>().unwrap_or(2000) - 1;
    let (year, error) = match q.year.as_deref().map(str::trim).filter(|y| !y.is_empty()) {
        None => (default_year, None),
        Some(text) => match text.parse::<i32>() {
            Ok(y) if (1000..=9999).contains(&y) => (y, None),
            _ => (default_year, Some(t.bad_year)),
        },
    };
    let (report, building) = if error.is_none() {
        match report_or_progress(&state, session.role, year).await {
            Ok(report) => (report, None),
            Err(percent) => (None, Some(percent)),
        }
    } else {
        (None, None)
    };
    let tables = report
        .as_ref()
        .map(|r| {
            kroniek_app::audit::csv_tables(r)
                .into_iter()
                .map(|(name, _)| name)
                .collect()
        })
        .unwrap_or_default();
    page(
        status_for(error),
        &AuditPage {
            frame: Frame::new(lang.0, t.audit, Some(&session), "/audit"),
            year,
            report,
            tables,
            error,
            building,
        },
        remember(lang),
    )
}

/// The report for `year` as `role` may see it, or, while it is still being made after
/// `Limits::audit_page_wait` (a second), how far it is (percent; the page then refreshes
/// itself every second until the report is there). Starts making it when nobody is.
async fn report_or_progress(
    state: &Arc<AppState>,
    role: kroniek_core::catalogue::AccessRole,
    year: i32,
) -> Result<Option<Arc<kroniek_projections::audit::AuditReport>>, u64> {
    let Ok(params) = kroniek_app::audit::params(year, None, None, 1200) else {
        return Ok(None);
    };
    if state.audit_report_made(&params).is_none() && state.audit_under_way(&params).is_none() {
        let (st, p) = (state.clone(), params.clone());
        // Made on a blocking thread whether or not this request waits for it.
        drop(tokio::task::spawn_blocking(move || st.audit_report(&p)));
    }
    let started = std::time::Instant::now();
    loop {
        if let Some(report) = state.audit_report_made(&params) {
            return Ok(Some(policy::audit_report(role, report)));
        }
        let under_way = state.audit_under_way(&params);
        if under_way.is_none() && started.elapsed() > std::time::Duration::from_millis(100) {
            // Neither made nor under way: making it failed (the report problem is logged
            // by the API's own request), or it was made at a head since passed.
            return Ok(report_for(state, role, year).await);
        }
        if started.elapsed() >= state.limits.audit_page_wait {
            return Err(under_way.map_or(0, |p| p.percent()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// The printable report in the page's language.
fn report_lang(lang: super::Lang) -> kroniek_app::audit::ReportLang {
    match lang {
        super::Lang::Nl => kroniek_app::audit::ReportLang::Nl,
        super::Lang::En => kroniek_app::audit::ReportLang::En,
    }
}

/// `GET /audit/{year}/{file}`: `report.html`, `report.json` or one of the CSV tables.
async fn audit_download(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path((year, file)): Path<(String, String)>,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/audit/{year}") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(year) = year
        .parse::<i32>()
        .ok()
        .filter(|y| (1000..=9999).contains(y))
    else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    let Some(report) = report_for(&state, session.role, year).await else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    let (content_type, body) = match file.as_str() {
        "report.html" => match kroniek_app::audit::html(&report, report_lang(lang.0)) {
            Ok(html) => ("text/html; charset=utf-8", html),
            Err(_) => return error_page(lang, Some(&session), StatusCode::INTERNAL_SERVER_ERROR),
        },
        "report.json" => match serde_json::to_string_pretty(&report) {
            Ok(json) => ("application/json", json),
            Err(_) => return error_page(lang, Some(&session), StatusCode::NOT_FOUND),
        },
        name => match kroniek_app::audit::csv_tables(&report)
            .into_iter()
            .find(|(n, _)| *n == name)
        {
            Some((_, csv)) => ("text/csv; charset=utf-8", csv),
            None => return error_page(lang, Some(&session), StatusCode::NOT_FOUND),
        },
    };
    let disposition = format!("attachment; filename=\"kroniek-audit-{year}-{file}\"");
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    frame: Frame,
    position: u64,
    count: u64,
    event_type: String,
    stream: String,
    effective: String,
    recorded_at: String,
    hash: String,
    prev_hash: String,
    /// The record as the role may see it, pretty-printed; `None` when withheld.
    json: Option<String>,
    proof: Option<serde_json::Value>,
    verifier_key: String,
}

impl EventPage {
    fn proof_field(&self, key: &str) -> String {
        self.proof
            .as_ref()
            .and_then(|p| p.get(key))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default()
    }
    fn proof_path(&self) -> Vec<String> {
        self.proof
            .as_ref()
            .and_then(|p| p.get("proof"))
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The latest checkpoint's size, signing a new checkpoint when the latest one does not
/// include `position` yet.
fn checkpoint_covering(
    store: &kroniek_core::store::Store,
    position: u64,
) -> Result<u64, kroniek_core::CoreError> {
    if let Some((_, cp)) = store.latest_checkpoint()? {
        if cp.size > position {
            return Ok(cp.size);
        }
    }
    let note = store.sign_checkpoint()?;
    kroniek_core::note::Checkpoint::parse_body(&note.text)
        .map(|cp| cp.size)
        .map_err(kroniek_core::CoreError::Invalid)
}

/// `GET /events/{position}`: the record as the role may see it, its hash and position, and
/// its inclusion proof against the latest checkpoint.
async fn event(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path(position): Path<String>,
) -> Response {
    let (session, position) = match gate_record(&state, &headers, lang, "/v1/events", &position) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let count = state.store.head().count;
    let role = session.role;
    let st = state.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let record = st.store.record_at(position).ok()?;
        let json = match shown(role, &record) {
            Shown::Withheld => None,
            Shown::Record { .. } => {
                let line = crate::server::routes::line_for(&st.store, role, &record).ok()?;
                let value: serde_json::Value = serde_json::from_slice(&line).ok()?;
                serde_json::to_string_pretty(&value).ok()
            }
        };
        let proof = checkpoint_covering(&st.store, position)
            .ok()
            .and_then(|size| kroniek_app::proofs::inclusion_json(&st.store, position, size).ok());
        let key = st
            .store
            .signing_key()
            .map(|k| k.verifier_key())
            .unwrap_or_default();
        Some((record, json, proof, key))
    })
    .await
    .ok()
    .flatten();
    let Some((record, json, proof, verifier_key)) = loaded else {
        return error_page(lang, Some(&session), StatusCode::NOT_FOUND);
    };
    let t = lang.0.messages();
    let withheld = json.is_none();
    page(
        StatusCode::OK,
        &EventPage {
            frame: Frame::new(
                lang.0,
                &format!("{} {position}", t.event),
                Some(&session),
                &format!("/events/{position}"),
            ),
            position,
            count,
            event_type: if withheld {
                String::new()
            } else {
                record.event_type.name().to_owned()
            },
            stream: if withheld {
                String::new()
            } else {
                record.stream.clone()
            },
            effective: if withheld {
                String::new()
            } else {
                record.effective.clone()
            },
            recorded_at: record.recorded_at.clone(),
            hash: kroniek_core::types::hex(&record.hash),
            prev_hash: kroniek_core::types::hex(&record.prev_hash),
            json,
            proof,
            verifier_key,
        },
        remember(lang),
    )
}

/// `GET /events/{position}/proof`: the C2SP `tlog-proof` bundle of the record (without
/// personal data), to check offline with `kroniek verify --bundle FILE --key VKEY`.
async fn event_proof(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    Path(position): Path<String>,
) -> Response {
    let (session, position) = match gate_record(
        &state,
        &headers,
        lang,
        "/v1/proofs/inclusion/{pos}",
        &position,
    ) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let role = session.role;
    let st = state.clone();
    let bundle = tokio::task::spawn_blocking(move || {
        let record = st.store.record_at(position).ok()?;
        // The bundle carries the record: only for a role that may see it.
        if matches!(shown(role, &record), Shown::Withheld) {
            return None;
        }
        checkpoint_covering(&st.store, position).ok()?;
        kroniek_app::proofs::bundle(&st.store, position).ok()
    })
    .await
    .ok()
    .flatten();
    let Some(bundle) = bundle else {
        return error_page(lang, Some(&session), StatusCode::FORBIDDEN);
    };
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"kroniek-proof-{position}.txt\""),
            ),
        ],
        bundle,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /verify`: walks the whole chain now and keeps the result for the overview.
async fn verify_now(
    axum::extract::State(state): Shared,
    lang: PageLang,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let session = match gate(&state, &headers, lang, "/v1/verify") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let form: Option<CsrfOnly> = serde_urlencoded::from_bytes(&body).ok();
    if !form.is_some_and(|f| same_secret(&session.csrf, &f.csrf)) {
        return error_page(lang, Some(&session), StatusCode::FORBIDDEN);
    }
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || st.verify_and_remember()).await;
    Redirect::to("/").into_response()
}
