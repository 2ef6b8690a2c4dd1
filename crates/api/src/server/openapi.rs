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

/// The caller as its token stands for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoamiView {
    /// The principal the token was granted to.
    pub principal: String,
    /// Its role.
    #[schema(value_type = String)]
    pub role: String,
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
    /// Records this copy holds withheld (a follower of a role's view): linked, not rehashed.
    pub withheld: Option<u64>,
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

/// What the problem answers really are: every response whose body is a [`Problem`] is
/// `application/problem+json` (RFC 9457), and the answers any request may get from the
/// server's middleware (408, 414, 431, 503, 507; 401 where a token is needed; 413 and 415 for a
/// request body) are listed on every operation, so a schema-driven client (tests/schemathesis)
/// finds each status and content type it meets in the document.
struct ProblemResponses;

impl ProblemResponses {
    const ANY_REQUEST: [(&'static str, &'static str); 5] = [
        ("408", "the request was not received or answered within the server's timeout"),
        ("414", "the request target is over 8 KB"),
        ("431", "over 100 header fields or 64 KB of headers"),
        ("503", "the store cannot be read or written: retry later, or restart the server if /healthz answers 503"),
        ("507", "the disk is full: free space and retry"),
    ];
    const WITH_TOKEN: (&'static str, &'static str) = (
        "401",
        "no token, or a token that is unknown or revoked: send Authorization: Bearer <token>",
    );
    const WITH_BODY: [(&'static str, &'static str); 2] = [
        ("413", "the body is larger than the server accepts"),
        (
            "415",
            "the body's Content-Type is not the one this operation reads",
        ),
    ];

    /// What a write gets from a read-only follower (`kroniek follow`).
    const ON_A_FOLLOWER: (&'static str, &'static str) = (
        "405",
        "this server is a read-only follower: send the request to the leader its problem names (also in `Link: <URL>; rel=\"leader\"`)",
    );

    fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
        utoipa::openapi::ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
            .into()
    }
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let problem_ref = utoipa::openapi::Ref::from_schema_name("Problem");
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.delete, false),
            ];
            for (operation, takes_body) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                for response in operation.responses.responses.values_mut() {
                    let utoipa::openapi::RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(utoipa::openapi::RefOr::Ref(r)) if *r == problem_ref)
                    });
                    if is_problem {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response
                                .content
                                .insert("application/problem+json".to_owned(), content);
                        }
                    }
                }
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut extra: Vec<(&str, &str)> = Self::ANY_REQUEST.to_vec();
                if secured {
                    extra.push(Self::WITH_TOKEN);
                }
                if takes_body && operation.request_body.is_some() {
                    extra.extend(Self::WITH_BODY);
                }
                if takes_body {
                    extra.push(Self::ON_A_FOLLOWER);
                }
                for (status, description) in extra {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| Self::problem(description));
                }
            }
        }
    }
}

/// The forms the server checks, written into the document from the code that checks them (so
/// the two cannot drift): stream names, ids, roles, decision categories, event types, and the
/// bodies of `POST /v1/events` and `POST /v1/members/{id}/erase`.
struct Forms;

impl Forms {
    /// `[a-z0-9][a-z0-9._-]*` (types.rs `is_valid_id`).
    const ID: &'static str = "[a-z0-9][a-z0-9._-]*";

    fn string() -> utoipa::openapi::schema::ObjectBuilder {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
    }

    fn choice(names: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::schema::Schema {
        Self::string().enum_values(Some(names)).build().into()
    }

    fn pattern(pattern: String) -> utoipa::openapi::schema::Schema {
        Self::string().pattern(Some(pattern)).build().into()
    }

    /// A stream name as `StreamName::parse` takes it: `category/id`, a body's id in segments, a
    /// finance stream's id a year.
    fn stream_pattern() -> String {
        use kroniek_core::catalogue::Category;
        let id = Self::ID;
        let plain: Vec<&str> = Category::ALL
            .iter()
            .filter(|c| !matches!(c, Category::Body | Category::Finance))
            .map(|c| c.name())
            .collect();
        format!(
            "^(({})/{id}|{}/{id}(/{id})*|{}/[1-9][0-9]{{3}})$",
            plain.join("|"),
            Category::Body.name(),
            Category::Finance.name()
        )
    }

    /// One event as `ProposedEvent::parse` reads it. `data`'s fields depend on `type` (the
    /// catalogue, events/README.md); the document does not spell them out per type.
    fn event() -> utoipa::openapi::schema::Schema {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let expected_version = OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .item(Self::choice(["no_stream", "exists", "any"]));
        ObjectBuilder::new()
            .property("stream", Self::pattern(Self::stream_pattern()))
            .required("stream")
            .property(
                "type",
                Self::choice(
                    kroniek_core::catalogue::EventType::ALL
                        .iter()
                        .map(|t| t.name()),
                ),
            )
            .required("type")
            .property(
                "effective",
                Self::string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Date,
                ))),
            )
            .required("effective")
            .property("data", ObjectBuilder::new().schema_type(Type::Object))
            .required("data")
            .property(
                "personal",
                ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::Object,
                    Type::Null,
                ])),
            )
            .property(
                "id",
                Self::string().format(Some(utoipa::openapi::SchemaFormat::Custom(
                    "uuid".to_owned(),
                ))),
            )
            .property("expected_version", expected_version)
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .build()
            .into()
    }

    fn set_parameter(
        operation: &mut utoipa::openapi::path::Operation,
        name: &str,
        schema: utoipa::openapi::schema::Schema,
    ) {
        for p in operation.parameters.iter_mut().flatten() {
            if p.name == name {
                p.schema = Some(schema.clone().into());
            }
        }
    }

    fn set_body(
        operation: &mut utoipa::openapi::path::Operation,
        schema: utoipa::openapi::schema::Schema,
    ) {
        if let Some(body) = operation.request_body.as_mut() {
            if let Some(content) = body.content.get_mut("application/json") {
                content.schema = Some(schema.into());
            }
        }
    }
}

impl Modify for Forms {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use kroniek_core::catalogue::{AccessRole, DecisionCategory};
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder};
        let id = Self::ID;
        if let Some(components) = openapi.components.as_mut() {
            if let Some(utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(token))) =
                components.schemas.get_mut("TokenRequest")
            {
                token.properties.insert(
                    "role".to_owned(),
                    Self::choice(AccessRole::NAMES.iter().copied()).into(),
                );
                token.properties.insert(
                    "principal".to_owned(),
                    Self::pattern(format!("^{id}$")).into(),
                );
            }
        }
        let paths = &mut openapi.paths.paths;
        if let Some(op) = paths
            .get_mut("/v1/streams/{stream}")
            .and_then(|p| p.get.as_mut())
        {
            Self::set_parameter(op, "stream", Self::pattern(Self::stream_pattern()));
        }
        if let Some(op) = paths.get_mut("/v1/timeline").and_then(|p| p.get.as_mut()) {
            Self::set_parameter(
                op,
                "category",
                Self::choice(DecisionCategory::NAMES.iter().copied()),
            );
        }
        if let Some(op) = paths
            .get_mut("/v1/members/{id}/erase")
            .and_then(|p| p.post.as_mut())
        {
            Self::set_parameter(op, "id", Self::pattern(format!("^((case|donor):)?{id}$")));
            Self::set_body(
                op,
                ObjectBuilder::new()
                    .property("reason", Self::string().min_length(Some(1)))
                    .required("reason")
                    .property(
                        "effective",
                        Self::string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                            utoipa::openapi::KnownFormat::Date,
                        ))),
                    )
                    .additional_properties(Some(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    ))
                    .build()
                    .into(),
            );
        }
        if let Some(op) = paths.get_mut("/v1/events").and_then(|p| p.post.as_mut()) {
            let event = Self::event();
            Self::set_body(
                op,
                OneOfBuilder::new()
                    .item(event.clone())
                    .item(
                        ArrayBuilder::new()
                            .items(utoipa::openapi::schema::ArrayItems::RefOrSchema(Box::new(
                                event.into(),
                            )))
                            .min_items(Some(1)),
                    )
                    .build()
                    .into(),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "kroniek", description = "The governance ledger's HTTP API."),
    paths(
        routes::append, routes::events, routes::stream, routes::head, routes::whoami, routes::subscribe,
        routes::composition, routes::terms, routes::member, routes::members, routes::timeline,
        routes::election, routes::meeting, routes::case, routes::conduct, routes::verify, routes::export,
        routes::erase, routes::metrics, routes::healthz, routes::checkpoint, routes::inclusion,
        routes::consistency, routes::add_cosignatures, routes::audit, routes::create_token,
    ),
    components(schemas(
        HeadView, WhoamiView, AppendResponse, Problem, RecordView, VerifyView, Composition, SeatView, HolderView,
        TermSchedule, TermView, ReappointmentView, MemberView, StatusChange, MemberSeatView,
        SignatureView, ContributionView, MembershipCount, kroniek_projections::views::MemberLine, TimelineEntry, DecisionView,
        RevocationView, MotionView, VoteView, ElectionView, SeatDefView, CandidacyView, ResultView,
        TallyView, CaseView, SuspensionView, CaseEventView, ConductView, CodeCoverage, CodeVersionView,
        routes::TokenRequest, MeetingView, ConvocationView, AgendaItemView, AttendanceView, RulesView,
        RespondentView,
    )),
    modifiers(&Security, &ProblemResponses, &Forms),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem answer is documented as `application/problem+json`, and every operation
    /// lists the answers the middleware may give any request.
    #[test]
    fn problems_are_problem_json_and_every_operation_lists_the_common_answers() {
        let doc = serde_json::to_value(document()).expect("the document as JSON");
        let paths = doc["paths"].as_object().expect("paths");
        let mut operations = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("operations") {
                operations += 1;
                let responses = op["responses"].as_object().expect("responses");
                for (status, response) in responses {
                    if let Some(json) = response["content"].get("application/json") {
                        assert_ne!(
                            json["schema"]["$ref"], "#/components/schemas/Problem",
                            "{method} {path} {status}: a problem documented as application/json"
                        );
                    }
                }
                let mut expected = vec!["408", "414", "431", "503", "507"];
                if op.get("security").is_some() {
                    expected.push("401");
                }
                if op.get("requestBody").is_some() {
                    expected.extend(["413", "415"]);
                }
                if method == "post" {
                    expected.push("405");
                }
                for status in expected {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not list {status}"
                    );
                }
            }
        }
        assert!(operations >= 25, "{operations} operations");
    }

    /// The forms written into the document come from the code that checks them.
    #[test]
    fn the_documented_forms_are_the_checked_ones() {
        let doc = serde_json::to_value(document()).expect("the document as JSON");
        let roles = &doc["components"]["schemas"]["TokenRequest"]["properties"]["role"]["enum"];
        assert_eq!(
            roles.as_array().map(Vec::len),
            Some(kroniek_core::catalogue::AccessRole::NAMES.len())
        );
        let pattern = Forms::stream_pattern();
        for category in kroniek_core::catalogue::Category::ALL {
            assert!(pattern.contains(category.name()), "{pattern}");
        }
        let event = &doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"]["oneOf"][0];
        assert_eq!(
            event["properties"]["type"]["enum"].as_array().map(Vec::len),
            Some(kroniek_core::catalogue::EventType::ALL.len())
        );
        assert_eq!(event["additionalProperties"], false);
    }
}
