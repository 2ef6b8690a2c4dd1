//! The OpenAPI document (utoipa, from the handlers' annotations and the views' types) and the
//! endpoint × role table it publishes.

use super::policy::ENDPOINTS;
use super::routes;
use kroniek_projections::views::*;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The ledger's head.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeadView {
    /// Records in the ledger.
    pub count: u64,
    /// The last record's hash (64 zeros when empty).
    pub hash: String,
}

/// What an append did: 201 for new records, 200 (count 0) for an idempotent retry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppendResponse {
    pub first: Option<u64>,
    pub count: u64,
    pub positions: Vec<u64>,
    pub head: HeadView,
}

/// An RFC 9457 problem, with kroniek's extension members.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The rule id of DOMAIN.md (`seat-count-exceeded`), for a refused event.
    pub rule: Option<String>,
    /// The refused event's place in the batch.
    pub index: Option<usize>,
    /// The field at fault (`data.role`).
    pub field: Option<String>,
    /// Every refusal of the batch.
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<serde_json::Value>>,
}

/// A record as exported (events/FORMAT.md), or `{hash, position, prev_hash, stream, type,
/// version, withheld: true}` for a record the caller may not see.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub actor: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub effective: Option<String>,
    pub hash: String,
    pub id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub personal: Option<serde_json::Value>,
    pub personal_commitment: Option<String>,
    pub personal_salt: Option<String>,
    pub position: u64,
    pub prev_hash: String,
    pub recorded_at: Option<String>,
    pub stream: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u64,
    pub withheld: Option<bool>,
}

/// The result of walking the chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    pub verified: bool,
    pub count: Option<u64>,
    pub head: Option<String>,
    pub erased: Option<u64>,
    pub position: Option<u64>,
    pub why: Option<String>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "kroniek", description = "The governance ledger's HTTP API."),
    paths(
        routes::append, routes::events, routes::stream, routes::head, routes::subscribe,
        routes::composition, routes::terms, routes::member, routes::members, routes::timeline,
        routes::election, routes::meeting, routes::case, routes::conduct, routes::verify, routes::export,
        routes::erase, routes::metrics, routes::healthz, routes::checkpoint, routes::inclusion,
        routes::consistency, routes::add_cosignatures, routes::audit, routes::create_token,
    ),
    components(schemas(
        HeadView, AppendResponse, Problem, RecordView, VerifyView, Composition, SeatView, HolderView,
        TermSchedule, TermView, ReappointmentView, MemberView, StatusChange, MemberSeatView,
        SignatureView, ContributionView, MembershipCount, kroniek_projections::views::MemberLine, TimelineEntry, DecisionView,
        RevocationView, MotionView, VoteView, ElectionView, SeatDefView, CandidacyView, ResultView,
        TallyView, CaseView, SuspensionView, CaseEventView, ConductView, CodeCoverage, CodeVersionView,
        routes::TokenRequest, MeetingView, ConvocationView, AgendaItemView, AttendanceView, RulesView,
        RespondentView,
    )),
    modifiers(&Security),
)]
struct ApiDoc;

/// The OpenAPI document, with the endpoint × role table in its description.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let roles = [
        "admin",
        "secretary",
        "disputes",
        "auditor",
        "board",
        "member",
    ];
    let mut table = String::from(
        "The governance ledger's HTTP API. Every request but `/healthz`, `/openapi.json` and `/docs` needs `Authorization: Bearer <token>`.\n\n\
         Any request may also be answered with an RFC 9457 problem: 408 (not done within the request timeout), 414 (a request target over 8 KB), 431 (over 100 header fields or 64 KB of headers), 503 (the store cannot write after a failed write: restart the server; `/healthz` says the same) or 507 (the disk is full). Lists that grow come in pages: `limit` (1 to 1,000, default 100) and a `Link: <…>; rel=\"next\"` header.\n\n\
         Which role may call what (✓ allowed, — 403). Reads of records are open to every role, with what it may not see *withheld* (events/FORMAT.md) and personal data left out.\n\n| endpoint |",
    );
    for r in roles {
        table.push_str(&format!(" {r} |"));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(roles.len()));
    table.push('\n');
    for (method, path, allowed) in ENDPOINTS {
        table.push_str(&format!("| `{method} {path}` |"));
        for r in roles {
            table.push_str(if allowed.iter().any(|a| a.as_str() == r) {
                " ✓ |"
            } else {
                " — |"
            });
        }
        table.push('\n');
    }
    table.push_str("\nAppends: the admin everything; the secretary all but `case/…` and `access/…` streams; the disputes role `case/…` streams.\n");
    doc.info.description = Some(table);
    doc
}
