//! The router without a socket (`tower::ServiceExt::oneshot`): every operation of the OpenAPI
//! document, as every role, against the endpoint × role table written out here — allowed, or
//! 403 with the role's message — and the erase endpoint also per subject (a role erases only
//! what it may append to). `policy::ENDPOINTS`, which the handlers ask and the document
//! publishes, must equal that table.

use super::{openapi, policy, router, state::AppState, Limits};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use kroniek_core::catalogue::{AccessRole, ErasureSubject};
use kroniek_core::store::Store;
use std::sync::Arc;
use tower::ServiceExt;

const ROLES: [AccessRole; 6] = [
    AccessRole::Admin,
    AccessRole::Secretary,
    AccessRole::Disputes,
    AccessRole::Auditor,
    AccessRole::Board,
    AccessRole::Member,
];

/// The published endpoint × role table, written out here by hand (admin, secretary, disputes,
/// auditor, board, member): a change of who may call what must change this test too, not only
/// `policy::ENDPOINTS`.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("POST", "/v1/events", "✓✓✓———"),
    ("GET", "/v1/events", "✓✓✓✓✓✓"),
    ("GET", "/v1/streams/{stream}", "✓✓✓✓✓✓"),
    ("GET", "/v1/head", "✓✓✓✓✓✓"),
    ("GET", "/v1/whoami", "✓✓✓✓✓✓"),
    ("GET", "/v1/bodies/{id}/composition", "✓✓✓✓✓✓"),
    ("GET", "/v1/bodies/{id}/terms", "✓✓✓✓✓—"),
    ("GET", "/v1/members/{id}", "✓✓✓✓✓—"),
    ("GET", "/v1/members", "✓✓✓✓✓—"),
    ("GET", "/v1/timeline", "✓✓✓✓✓✓"),
    ("GET", "/v1/elections/{id}", "✓✓✓✓✓✓"),
    ("GET", "/v1/meetings/{id}", "✓✓✓✓✓—"),
    ("GET", "/v1/cases/{id}", "✓—✓———"),
    ("GET", "/v1/conduct", "✓✓✓✓✓—"),
    ("GET", "/v1/subscribe", "✓✓✓✓✓✓"),
    ("GET", "/v1/verify", "✓✓✓✓✓✓"),
    ("GET", "/v1/export", "✓✓✓✓✓✓"),
    ("POST", "/v1/members/{id}/erase", "✓✓✓———"),
    ("GET", "/metrics", "✓—————"),
    ("POST", "/v1/tokens", "✓—————"),
    ("GET", "/v1/checkpoint", "✓✓✓✓✓✓"),
    ("GET", "/v1/proofs/inclusion/{pos}", "✓✓✓✓✓✓"),
    ("GET", "/v1/proofs/consistency", "✓✓✓✓✓✓"),
    ("POST", "/v1/checkpoint/cosignatures", "✓——✓——"),
    ("GET", "/v1/audit/{year}", "✓✓—✓✓—"),
];

fn expected_roles(method: &str, path: &str) -> Vec<AccessRole> {
    let (_, _, marks) = EXPECTED
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .unwrap_or_else(|| panic!("{method} {path} has no row in EXPECTED"));
    ROLES
        .iter()
        .zip(marks.chars())
        .filter(|(_, mark)| *mark == '✓')
        .map(|(role, _)| *role)
        .collect()
}

#[test]
fn the_endpoint_table_is_the_published_one() {
    assert_eq!(policy::ENDPOINTS.len(), EXPECTED.len());
    for (method, path, roles) in policy::ENDPOINTS {
        assert_eq!(
            roles.to_vec(),
            expected_roles(method, path),
            "{method} {path}"
        );
    }
}

/// The sample ledger served from a new store, with a token per role.
fn served() -> (tempfile::TempDir, axum::Router, Vec<(AccessRole, String)>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = Store::init(&dir.path().join("l"), "test.example/kroniek").expect("a store");
    kroniek_app::append::append_sample(&store).expect("the sample ledger");
    let today = kroniek_app::clock::today;
    let tokens = ROLES
        .iter()
        .map(|role| {
            let name = format!("t-{}", role.as_str());
            let token = kroniek_app::tokens::grant(&store, &name, *role, "admin:local", today())
                .expect("a token");
            (*role, token)
        })
        .collect();
    let state = AppState::new(Arc::new(store), Limits::default(), today).expect("the state");
    (dir, router(state.into_shared()), tokens)
}

/// A concrete path for an operation's template (ids of the sample ledger).
fn concrete(template: &str, subject: &str) -> String {
    let path = match template {
        "/v1/bodies/{id}/composition" | "/v1/bodies/{id}/terms" => {
            template.replace("{id}", "landelijk-bestuur")
        }
        "/v1/members/{id}" => "/v1/members/10201".into(),
        "/v1/members/{id}/erase" => format!("/v1/members/{subject}/erase"),
        "/v1/elections/{id}" => "/v1/elections/bestuur-2021".into(),
        "/v1/cases/{id}" => "/v1/cases/r-2022-01".into(),
        "/v1/meetings/{id}" => "/v1/meetings/alv-2020-11".into(),
        "/v1/streams/{stream}" => "/v1/streams/member/10201".into(),
        "/v1/proofs/inclusion/{pos}" => "/v1/proofs/inclusion/3".into(),
        "/v1/proofs/consistency" => "/v1/proofs/consistency?old=10".into(),
        "/v1/audit/{year}" => "/v1/audit/2022".into(),
        other => other.into(),
    };
    assert!(!path.contains('{'), "no sample for {template}");
    path
}

async fn call(app: &axum::Router, method: &str, path: &str, token: &str) -> (StatusCode, String) {
    // A POST carries a body no handler accepts: an allowed role gets a 400, never a write.
    let body = if method == "POST" { "{" } else { "" };
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    // Read the body of answers that end (not the live subscription's).
    let text = if path.starts_with("/v1/subscribe") {
        String::new()
    } else {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_the_openapi_document_as_every_role() {
    let (_dir, app, tokens) = served();
    let doc = serde_json::to_value(openapi::document()).expect("the document as JSON");
    let paths = doc["paths"].as_object().expect("paths");
    let mut pairs = 0;
    for (template, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            let method = method.to_uppercase();
            if template == "/healthz" {
                continue; // public
            }
            let allowed = expected_roles(&method, template);
            let subjects: &[&str] = if template.ends_with("/erase") {
                &["10201", "case:r-2022-01", "donor:d-0042"]
            } else {
                &[""]
            };
            for subject in subjects {
                let path = concrete(template, subject);
                for (role, token) in &tokens {
                    let mut may = allowed.contains(role);
                    if let Ok(s) = ErasureSubject::try_from(subject.to_string()) {
                        may &= kroniek_core::access::may_append(
                            *role,
                            kroniek_core::erasure::erasure_category(&s),
                        );
                    }
                    let (status, body) = call(&app, &method, &path, token).await;
                    if may {
                        assert!(
                            status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                            "{} {method} {path}: {status} {body}",
                            role.as_str()
                        );
                        assert!(
                            !status.is_server_error(),
                            "{} {method} {path}: {status} {body}",
                            role.as_str()
                        );
                    } else {
                        assert_eq!(
                            status,
                            StatusCode::FORBIDDEN,
                            "{} {method} {path}: {body}",
                            role.as_str()
                        );
                        let problem: serde_json::Value =
                            serde_json::from_str(&body).expect("a problem document");
                        let detail = problem["detail"].as_str().unwrap_or_default();
                        assert!(
                            detail.starts_with(&format!("the {} role may not", role.as_str())),
                            "{} {method} {path}: {detail}",
                            role.as_str()
                        );
                    }
                    pairs += 1;
                }
            }
        }
    }
    // Every row of the endpoint table is an operation of the document.
    for (method, path, _) in policy::ENDPOINTS {
        assert!(
            paths
                .get(*path)
                .and_then(|ops| ops.get(method.to_lowercase()))
                .is_some(),
            "{method} {path} is in the table but not in the document"
        );
    }
    assert!(pairs >= 6 * 25, "only {pairs} role × operation pairs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_unknown_one_is_401_on_every_operation() {
    let (_dir, app, _) = served();
    for (method, path, _) in policy::ENDPOINTS {
        let path = concrete(path, "10201");
        let (status, _) = call(&app, method, &path, "krn_unknown").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

async fn raw(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_header_and_the_audit_year_as_a_careful_client_sends_them() {
    let (_dir, app, tokens) = served();
    let token = &tokens[0].1;
    let get = |auth: &[String], path: &str| {
        let mut b = Request::builder().method("GET").uri(path);
        for a in auth {
            b = b.header("authorization", a.as_str());
        }
        b.body(Body::empty()).expect("a request")
    };
    // The scheme is case-insensitive (RFC 7235).
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, _) = raw(&app, get(&[format!("{scheme} {token}")], "/v1/head")).await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
    }
    // Two Authorization headers are a bad request, not first-wins.
    let (status, body) = raw(
        &app,
        get(
            &[format!("Bearer {token}"), "Bearer krn_other".into()],
            "/v1/head",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("one Authorization header"), "{body}");
    // A year that is not one, and a year that has not begun.
    let auth = [format!("Bearer {token}")];
    let (status, body) = raw(&app, get(&auth, "/v1/audit/abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("abc is not a year"), "{body}");
    let (status, body) = raw(&app, get(&auth, "/v1/audit/9999")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("has not begun"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_endpoint_refuses_a_body_that_is_not_json_with_a_415_problem() {
    let (_dir, app, tokens) = served();
    let token = &tokens[0].1;
    for path in ["/v1/events", "/v1/members/10201/erase", "/v1/tokens"] {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut b = Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Bearer {token}"));
            if let Some(c) = content_type {
                b = b.header("content-type", c);
            }
            let (status, body) = raw(&app, b.body(Body::from("{}")).expect("a request")).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}: {body}"
            );
            assert!(body.contains("application/json"), "{body}");
        }
    }
    // With a charset parameter it is JSON.
    let request = Request::builder()
        .method("POST")
        .uri("/v1/tokens")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(r#"{"principal":"penning","role":"board"}"#))
        .expect("a request");
    assert_eq!(raw(&app, request).await.0, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_from_past_the_head_is_a_bad_request() {
    let (_dir, app, tokens) = served();
    let auth = format!("Bearer {}", tokens[0].1);
    let get = |path: &str, last: Option<&str>| {
        let mut b = Request::builder()
            .method("GET")
            .uri(path)
            .header("authorization", auth.as_str());
        if let Some(l) = last {
            b = b.header("last-event-id", l);
        }
        b.body(Body::empty()).expect("a request")
    };
    let (status, body) = raw(&app, get("/v1/subscribe?from=100000", None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("past the head"), "{body}");
    let (status, _) = raw(&app, get("/v1/subscribe", Some("100000"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A position or tree size past 2^63 - 1 (the document's `int64`; PostgreSQL's `bigint`) is a
/// 400 problem naming the parameter, not an empty page or a proof error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_past_int64_are_refused_with_the_parameter_named() {
    let (_dir, app, tokens) = served();
    let token = &tokens[0].1;
    let too_big = u64::MAX / 2 + 1;
    for path in [
        format!("/v1/events?from={too_big}"),
        format!("/v1/streams/member/10201?from_version={too_big}"),
        format!("/v1/subscribe?from={too_big}"),
        format!("/v1/proofs/inclusion/0?size={too_big}"),
        format!("/v1/proofs/inclusion/{too_big}"),
        format!("/v1/proofs/consistency?old={too_big}"),
        format!("/v1/proofs/consistency?old=1&new={too_big}"),
    ] {
        let request = Request::builder()
            .uri(&path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("a request");
        let (status, body) = raw(&app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.contains("below 2^63"), "{path}: {body}");
    }
    let request = Request::builder()
        .uri("/v1/subscribe")
        .header("authorization", format!("Bearer {token}"))
        .header("last-event-id", too_big.to_string())
        .body(Body::empty())
        .expect("a request");
    let (status, body) = raw(&app, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("Last-Event-ID"), "{body}");
}
