//! The web pages `kroniek serve` serves at `/` (the API stays under `/v1`): server-rendered
//! HTML from compile-time checked askama templates, no external assets and no JavaScript,
//! in Dutch by default and in English (`?lang=`, a cookie, or `Accept-Language`).
//!
//! Sign-in takes an access token and opens a session ([`session`]); every page asks the same
//! access table and policy functions as the API (`kroniek_core::access`), so there is one
//! access check, not two. Every form that writes carries the session's CSRF token.

pub mod chart;
pub mod i18n;
mod pages;
mod record;
pub mod session;

use crate::server::policy;
use crate::server::state::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use i18n::{Lang, Messages};
use kroniek_core::access::{sees_records, token_hash};
use kroniek_core::catalogue::Category;
use kroniek_projections::BodyOutline;
use serde::Deserialize;
use session::{cookie, same_secret, set_cookie, Session, LOGIN_COOKIE, SESSION_COOKIE};
use std::sync::Arc;

type Shared = State<Arc<AppState>>;

/// The pages' stylesheet (vendored into the binary, with a print stylesheet).
const STYLESHEET: &str = include_str!("../../assets/kroniek.css");

/// The routes of the web pages.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(overview))
        .route("/bodies", get(bodies_page))
        .route("/bodies/{*id}", get(body_page))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/assets/kroniek.css", get(stylesheet))
        .merge(pages::routes())
        .merge(record::routes())
        .layer(axum::middleware::from_fn(remember_destination))
}

/// Sends a visitor who must sign in first on to the page they asked for: a GET answered with
/// a redirect to `/login` gets `?next=` with the path it asked for. It also keeps the page's
/// path and query for its language switch.
async fn remember_destination(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let here = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let asked = (request.method() == axum::http::Method::GET)
        .then(|| here.clone())
        .filter(|p| p != "/");
    let mut response = ASKED.scope(here, next.run(request)).await;
    let to_login = response.status() == StatusCode::SEE_OTHER
        && response
            .headers()
            .get(header::LOCATION)
            .is_some_and(|l| l == "/login");
    if let (true, Some(asked)) = (to_login, asked) {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", &asked)
            .finish();
        if let Ok(location) = HeaderValue::from_str(&format!("/login?{query}")) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    response
}

/// Where to go after signing in: a path on this site (never another site), else `/`.
fn safe_destination(next: &str) -> &str {
    // Visible ASCII only (a path and query as the middleware recorded it, percent-encoded): it
    // goes into a Location header, which must not carry anything else.
    let on_this_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.bytes().all(|b| b.is_ascii_graphic())
        && !next.starts_with("/login");
    if on_this_site {
        next
    } else {
        "/"
    }
}

/// The language of a request: `?lang=`, then the `kroniek_lang` cookie, then
/// `Accept-Language`; Dutch by default. The second field says whether `?lang=` chose it
/// (then the choice is remembered in the cookie).
#[derive(Debug, Clone, Copy)]
pub struct PageLang(pub Lang, pub bool);

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<PageLang, Self::Rejection> {
        let from_query = parts
            .uri
            .query()
            .and_then(lang_in_query)
            .and_then(|l| Lang::parse(&l));
        let cookies = header_str(&parts.headers, header::COOKIE);
        let from_cookie = cookie(cookies, "kroniek_lang").and_then(Lang::parse);
        let lang = from_query.or(from_cookie).unwrap_or_else(|| {
            Lang::from_accept_language(header_str(&parts.headers, header::ACCEPT_LANGUAGE))
        });
        Ok(PageLang(lang, from_query.is_some()))
    }
}

/// `lang` from a query string.
fn lang_in_query(query: &str) -> Option<String> {
    Query::<LangQuery>::try_from_uri(&format!("/?{query}").parse().ok()?)
        .ok()
        .and_then(|q| q.0.lang)
}

pub(crate) fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// What every page's frame shows.
#[derive(Debug)]
pub struct Frame {
    pub lang: Lang,
    pub t: &'static Messages,
    pub title: String,
    /// The signed-in principal, role and CSRF token (for the sign-out form).
    pub who: Option<(String, &'static str, String)>,
    pub switch_href: String,
    /// The navigation: link, label, and whether it is the current page's section.
    pub nav: Vec<(&'static str, &'static str, bool)>,
}

impl Frame {
    pub(crate) fn new(lang: Lang, title: &str, session: Option<&Session>, path: &str) -> Frame {
        let t = lang.messages();
        let nav = session.map_or_else(Vec::new, |s| navigation(t, s.role, path));
        Frame {
            lang,
            t,
            title: title.to_owned(),
            who: session.map(|s| (s.principal.clone(), s.role.as_str(), s.csrf.clone())),
            switch_href: switch_href(path, lang.other()),
            nav,
        }
    }
}

tokio::task_local! {
    /// The path and query of the page being answered (set by [`remember_destination`]).
    static ASKED: String;
}

/// The link to this page in the other language: the page's own path and query (its date,
/// filters, page) with `lang` set; `path` when the request's is not known.
fn switch_href(path: &str, other: Lang) -> String {
    let asked = ASKED
        .try_with(Clone::clone)
        .unwrap_or_else(|_| path.to_owned());
    let (path, query) = asked.split_once('?').unwrap_or((asked.as_str(), ""));
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "lang" {
            pairs.append_pair(&k, &v);
        }
    }
    pairs.append_pair("lang", other.code());
    format!("{path}?{}", pairs.finish())
}

/// The sections a role may open, with the one `path` is in marked.
fn navigation(
    t: &'static Messages,
    role: kroniek_core::catalogue::AccessRole,
    path: &str,
) -> Vec<(&'static str, &'static str, bool)> {
    let sections: [(&'static str, &'static str, bool); 5] = [
        ("/", t.overview, true),
        (
            "/timeline",
            t.timeline,
            policy::allow(role, "GET", "/v1/timeline").is_ok(),
        ),
        (
            "/conduct",
            t.conduct,
            policy::allow(role, "GET", "/v1/conduct").is_ok(),
        ),
        (
            "/audit",
            t.audit,
            policy::allow(role, "GET", "/v1/audit/{year}").is_ok(),
        ),
        ("/record", t.record_event, record::may_record(role)),
    ];
    sections
        .into_iter()
        .filter(|(_, _, allowed)| *allowed)
        .map(|(href, label, _)| {
            let current = if href == "/" {
                path == "/" || path.starts_with("/bodies")
            } else {
                path.starts_with(href)
            };
            (href, label, current)
        })
        .collect()
}

/// A rendered page, with the language cookie when `?lang=` chose the language.
pub(crate) fn page<T: Template>(
    status: StatusCode,
    template: &T,
    remember: Option<Lang>,
) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, axum::response::Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Some(lang) = remember {
                let value = format!(
                    "kroniek_lang={}; Path=/; SameSite=Strict; Max-Age=31536000",
                    lang.code()
                );
                add_cookie(&mut response, &value);
            }
            response
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be rendered: {e}"),
        )
            .into_response(),
    }
}

/// Appends a `Set-Cookie` header (our cookie values are always valid header text).
pub(crate) fn add_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The answer when the system's random source fails (no session or token can be made).
pub(crate) fn no_randomness() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "no randomness available").into_response()
}

/// The signed-in session of a request, if its cookie names one whose principal still
/// stands with the same token and role (revocation ends sessions at once).
pub(crate) fn current_session(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie(header_str(headers, header::COOKIE), SESSION_COOKIE)?.to_owned();
    let session = state.sessions.get(&id)?;
    if state.stands(&session.principal, session.role, &session.token_blake3) {
        Some((id, session))
    } else {
        state.sessions.close(&id);
        None
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    csrf: String,
    error: Option<&'static str>,
    /// Where to go after signing in.
    next: String,
}

fn login_form(
    PageLang(lang, chosen): PageLang,
    status: StatusCode,
    error: Option<&'static str>,
    next: &str,
    secure: bool,
) -> Response {
    let Some(csrf) = session::random_hex() else {
        return no_randomness();
    };
    let t = lang.messages();
    let mut response = page(
        status,
        &LoginPage {
            frame: Frame::new(lang, t.sign_in, None, "/login"),
            csrf: csrf.clone(),
            error,
            next: safe_destination(next).to_owned(),
        },
        chosen.then_some(lang),
    );
    add_cookie(
        &mut response,
        &set_cookie(LOGIN_COOKIE, &csrf, Some(3600), secure),
    );
    response
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `GET /login?next=`.
async fn login_page(
    State(state): Shared,
    PageLang(lang, chosen): PageLang,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = q.next.unwrap_or_default();
    if current_session(&state, &headers).is_some() {
        return Redirect::to(safe_destination(&next)).into_response();
    }
    login_form(
        PageLang(lang, chosen),
        StatusCode::OK,
        None,
        &next,
        state.limits.secure_cookies,
    )
}

#[derive(Debug, Default, Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// A url-encoded form body; what does not read as one counts as an empty form (whose
/// missing CSRF token then refuses it with a page, never a bare error).
fn read_form<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> T {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// `POST /login`: checks the form's CSRF token against its cookie, then the access token.
async fn login(
    State(state): Shared,
    PageLang(lang, chosen): PageLang,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: LoginForm = read_form(&body);
    let t = lang.messages();
    let expected = cookie(header_str(&headers, header::COOKIE), LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !same_secret(expected, &form.csrf) {
        return login_form(
            PageLang(lang, chosen),
            StatusCode::FORBIDDEN,
            Some(t.form_expired),
            &form.next,
            state.limits.secure_cookies,
        );
    }
    let token = form.token.trim();
    let Some((principal, role)) = state.authenticate(token) else {
        return login_form(
            PageLang(lang, chosen),
            StatusCode::UNAUTHORIZED,
            Some(t.token_refused),
            &form.next,
            state.limits.secure_cookies,
        );
    };
    let Some(id) = state.sessions.open(principal, role, token_hash(token)) else {
        return no_randomness();
    };
    let mut response = Redirect::to(safe_destination(&form.next)).into_response();
    let lifetime = session::SESSION_LIFETIME.as_secs();
    add_cookie(
        &mut response,
        &set_cookie(
            SESSION_COOKIE,
            &id,
            Some(lifetime),
            state.limits.secure_cookies,
        ),
    );
    add_cookie(
        &mut response,
        &set_cookie(LOGIN_COOKIE, "", Some(0), state.limits.secure_cookies),
    );
    response
}

#[derive(Debug, Default, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (only with its CSRF token).
async fn logout(
    State(state): Shared,
    PageLang(lang, chosen): PageLang,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: CsrfForm = read_form(&body);
    let Some((id, session)) = current_session(&state, &headers) else {
        return Redirect::to("/login").into_response();
    };
    if !same_secret(&session.csrf, &form.csrf) {
        return error_page(
            PageLang(lang, chosen),
            Some(&session),
            StatusCode::FORBIDDEN,
        );
    }
    state.sessions.close(&id);
    let mut response = Redirect::to("/login").into_response();
    add_cookie(
        &mut response,
        &set_cookie(SESSION_COOKIE, "", Some(0), state.limits.secure_cookies),
    );
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Frame,
    heading: &'static str,
    text: &'static str,
}

/// A 403 or 404 page.
pub(crate) fn error_page(
    PageLang(lang, chosen): PageLang,
    session: Option<&Session>,
    status: StatusCode,
) -> Response {
    let t = lang.messages();
    let (heading, text) = if status == StatusCode::FORBIDDEN {
        (t.forbidden, t.forbidden_text)
    } else {
        (t.not_found, t.not_found_text)
    };
    page(
        status,
        &ErrorPage {
            frame: Frame::new(lang, heading, session, "/"),
            heading,
            text,
        },
        chosen.then_some(lang),
    )
}

/// One body in the overview's tree.
#[derive(Debug, PartialEq, Eq)]
struct BodyNode {
    id: String,
    name: String,
    kind: String,
    dissolved: Option<String>,
    /// How far below a top-level body it sits (0 for a top-level body).
    depth: usize,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    count: u64,
    head: String,
    checkpoint: Option<(u64, String)>,
    bodies: Vec<BodyNode>,
    /// How many bodies there are in all (the overview shows the first `OVERVIEW_BODIES`).
    body_count: usize,
    verification: Option<crate::server::state::Verification>,
    may_verify: bool,
    /// Elections (id, body), when the role may see them; how many more there are.
    elections: Option<(Vec<(String, String)>, usize)>,
    /// Cases (id, subject), for the roles that may open case files.
    cases: Option<(Vec<(String, String)>, usize)>,
}

/// How many bodies of the tree the overview shows (the rest are on `/bodies`).
const OVERVIEW_BODIES: usize = 200;

/// How many bodies one page of `/bodies` shows.
const BODIES_PAGE: usize = 500;

/// How many elections or cases the overview lists.
const OVERVIEW_LIST: usize = 50;

/// The last `OVERVIEW_LIST` of a list sorted by id, and how many are left out.
fn last_of(mut list: Vec<(String, String)>) -> (Vec<(String, String)>, usize) {
    let more = list.len().saturating_sub(OVERVIEW_LIST);
    list.drain(..more);
    (list, more)
}

/// `GET /`: the ledger's head and latest checkpoint, and the party's bodies as a tree.
async fn overview(
    State(state): Shared,
    PageLang(lang, chosen): PageLang,
    headers: HeaderMap,
) -> Response {
    let Some((_, session)) = current_session(&state, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let role = session.role;
    let (bodies, body_count, elections, cases) = {
        let read = state.read();
        let mut bodies = if sees_records(role, Category::Body) {
            body_tree(read.projections.body_outline())
        } else {
            Vec::new()
        };
        let body_count = bodies.len();
        bodies.truncate(OVERVIEW_BODIES);
        let elections = policy::allow(role, "GET", "/v1/elections/{id}")
            .is_ok()
            .then(|| last_of(read.projections.election_ids()));
        let cases = policy::allow(role, "GET", "/v1/cases/{id}")
            .is_ok()
            .then(|| last_of(read.projections.case_ids()));
        (bodies, body_count, elections, cases)
    };
    let verification = state
        .last_verification
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let store = state.store.clone();
    let checkpoint = tokio::task::spawn_blocking(move || store.latest_checkpoint())
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .map(|(_, c)| (c.size, c.body().lines().nth(2).unwrap_or("").to_owned()));
    let head = state.store.head();
    let t = lang.messages();
    page(
        StatusCode::OK,
        &OverviewPage {
            frame: Frame::new(lang, t.overview, Some(&session), "/"),
            count: head.count,
            head: head.hash_hex(),
            checkpoint,
            bodies,
            body_count,
            verification,
            may_verify: policy::allow(role, "GET", "/v1/verify").is_ok(),
            elections,
            cases,
        },
        chosen.then_some(lang),
    )
}

#[derive(Template)]
#[template(path = "bodies.html")]
struct BodiesPage {
    frame: Frame,
    bodies: Vec<BodyNode>,
    first: usize,
    total: usize,
    previous: Option<usize>,
    next: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

/// `GET /bodies?page=`: every body of the party as a tree, a page at a time.
async fn bodies_page(
    State(state): Shared,
    page_lang: PageLang,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let PageLang(lang, chosen) = page_lang;
    let Some((_, session)) = current_session(&state, &headers) else {
        return Redirect::to("/login").into_response();
    };
    if !sees_records(session.role, Category::Body) {
        return error_page(page_lang, Some(&session), StatusCode::FORBIDDEN);
    }
    let tree = body_tree(state.read().projections.body_outline());
    let total = tree.len();
    let index = q
        .page
        .unwrap_or(0)
        .min(total.saturating_sub(1) / BODIES_PAGE);
    let first = index * BODIES_PAGE;
    let t = lang.messages();
    page(
        StatusCode::OK,
        &BodiesPage {
            frame: Frame::new(lang, t.bodies, Some(&session), "/bodies"),
            bodies: tree.into_iter().skip(first).take(BODIES_PAGE).collect(),
            first,
            total,
            previous: index.checked_sub(1),
            next: (first + BODIES_PAGE < total).then_some(index + 1),
        },
        chosen.then_some(lang),
    )
}

/// The bodies as a tree, depth first: top-level bodies (those without a known parent) by
/// kind and name, each followed by its children, by kind and name.
fn body_tree(bodies: Vec<BodyOutline>) -> Vec<BodyNode> {
    let known: std::collections::HashSet<String> =
        bodies.iter().map(|b| b.body_id.clone()).collect();
    let mut children: std::collections::BTreeMap<Option<String>, Vec<BodyOutline>> =
        std::collections::BTreeMap::new();
    for b in bodies {
        let parent = b
            .parent_id
            .clone()
            .filter(|p| known.contains(p) && *p != b.body_id);
        children.entry(parent).or_default().push(b);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| (&a.kind, &a.name, &a.body_id).cmp(&(&b.kind, &b.name, &b.body_id)));
    }
    let mut out = Vec::new();
    // Depth first, with an explicit stack; `visited` stops a parent cycle.
    let mut visited = std::collections::HashSet::new();
    let mut stack: Vec<(BodyOutline, usize)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|b| (b, 0))
        .collect();
    while let Some((b, depth)) = stack.pop() {
        if !visited.insert(b.body_id.clone()) {
            continue;
        }
        if let Some(kids) = children.remove(&Some(b.body_id.clone())) {
            stack.extend(kids.into_iter().rev().map(|k| (k, depth + 1)));
        }
        out.push(BodyNode {
            id: b.body_id,
            name: b.name,
            kind: b.kind,
            dissolved: b.dissolved,
            depth,
        });
    }
    out
}

#[derive(Debug, Deserialize)]
struct DateQuery {
    as_of: Option<String>,
}

#[derive(Template)]
#[template(path = "body.html")]
struct BodyPage {
    frame: Frame,
    view: kroniek_projections::views::Composition,
    /// The date picker's value; `None` for the member role (current composition only).
    picker: Option<String>,
    date_error: Option<&'static str>,
    /// The rooster van aftreden, for roles that may see the term schedule.
    rooster: Option<chart::Rooster>,
    /// The body's latest decisions (newest first), and how many it has in all.
    decisions: Vec<kroniek_projections::views::DecisionView>,
    decision_count: usize,
    /// Whether the role may open a member's page: links it could not follow are not drawn.
    links_members: bool,
}

/// How many decisions a body's page lists.
const BODY_DECISIONS: usize = 10;

/// `GET /bodies/{id}?as_of=`: a body's composition on a date (today by default), with its
/// vacancies and the seats held past their term. The same policy as
/// `GET /v1/bodies/{id}/composition` decides who sees it and whose names.
async fn body_page(
    State(state): Shared,
    page_lang: PageLang,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<DateQuery>,
) -> Response {
    let PageLang(lang, chosen) = page_lang;
    let Some((_, session)) = current_session(&state, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let role = session.role;
    if policy::allow(role, "GET", "/v1/bodies/{id}/composition").is_err() {
        return error_page(page_lang, Some(&session), StatusCode::FORBIDDEN);
    }
    let may_pick = policy::composition_date_allowed(role, true).is_ok();
    let asked = q
        .as_of
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty() && may_pick);
    let t = lang.messages();
    let today = (state.today)();
    let (date, date_error) = match asked.map(kroniek_core::types::Date::parse) {
        Some(Ok(d)) => (d, None),
        Some(Err(_)) => (today, Some(t.bad_date)),
        None => (today, None),
    };
    let view = state.read().projections.composition(&id, date);
    let Ok(view) = view else {
        return error_page(page_lang, Some(&session), StatusCode::NOT_FOUND);
    };
    let view = policy::composition(role, view);
    let rooster = if policy::allow(role, "GET", "/v1/bodies/{id}/terms").is_ok() {
        state
            .read()
            .projections
            .terms(&id)
            .ok()
            .map(|schedule| chart::rooster(&schedule.terms, today.naive()))
    } else {
        None
    };
    let (entries, decision_count) = state.read().projections.timeline_page(
        &kroniek_projections::views::TimelineFilter {
            body_id: Some(id.clone()),
            ..Default::default()
        },
        true,
        true,
        0,
        BODY_DECISIONS,
    );
    let decisions: Vec<kroniek_projections::views::DecisionView> = entries
        .into_iter()
        .filter_map(|e| match e {
            kroniek_projections::views::TimelineEntry::Decision(d) => Some(d),
            kroniek_projections::views::TimelineEntry::Motion(_) => None,
        })
        .collect();
    let status = if date_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(
        status,
        &BodyPage {
            frame: Frame::new(lang, &view.name, Some(&session), &format!("/bodies/{id}")),
            picker: may_pick.then(|| view.as_of.clone()),
            view,
            date_error,
            rooster,
            decisions,
            decision_count,
            links_members: policy::allow(session.role, "GET", "/v1/members/{id}").is_ok(),
        },
        chosen.then_some(lang),
    )
}

/// `GET /assets/kroniek.css`.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The router's fallback: a problem for API paths, a 404 page for the rest.
pub async fn fallback(page_lang: PageLang, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/v1") || path.starts_with("/docs") || path.ends_with(".json") {
        crate::server::problem::ApiError::not_found("no such endpoint; see /openapi.json")
            .into_response()
    } else {
        error_page(page_lang, None, StatusCode::NOT_FOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::body_tree;
    use kroniek_projections::BodyOutline;

    fn body(id: &str, kind: &str, parent: Option<&str>) -> BodyOutline {
        BodyOutline {
            body_id: id.into(),
            name: id.to_uppercase(),
            kind: kind.into(),
            parent_id: parent.map(Into::into),
            dissolved: None,
        }
    }

    #[test]
    fn after_signing_in_only_a_path_on_this_site_is_followed() {
        use super::safe_destination;
        assert_eq!(
            safe_destination("/cases/r-2022-01?as_of=2022-06-20"),
            "/cases/r-2022-01?as_of=2022-06-20"
        );
        for outside in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "/login?next=/",
            "x/y",
            "/a\r\nSet-Cookie: x",
            "/a\u{0}b",
            "/caf\u{e9}",
            "/a b",
        ] {
            assert_eq!(safe_destination(outside), "/", "{outside:?}");
        }
    }

    #[test]
    fn the_body_tree_puts_children_after_parents_with_their_depth() {
        let tree = body_tree(vec![
            body("utrecht-bestuur", "board", Some("utrecht")),
            body("ab", "assembly", None),
            body("utrecht", "branch", None),
            body("orphan", "committee", Some("gone")),
            body("loop-a", "network", Some("loop-b")),
            body("loop-b", "network", Some("loop-a")),
        ]);
        let shown: Vec<(&str, usize)> = tree.iter().map(|n| (n.id.as_str(), n.depth)).collect();
        // A parent that is not a body makes a top-level body; a cycle is left out, never looped.
        assert_eq!(
            shown,
            [
                ("ab", 0),
                ("utrecht", 0),
                ("utrecht-bestuur", 1),
                ("orphan", 0)
            ]
        );
    }
}
