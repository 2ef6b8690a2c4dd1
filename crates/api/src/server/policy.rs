//! Which role may call which read endpoint, and what of the answer it sees. The record-level
//! rules (withheld records, personal data) are `kroniek_core::access`; this module applies them
//! to the read models' views. The API documentation's endpoint × role table is `ENDPOINTS`.

use super::problem::ApiError;
use kroniek_core::access::sees_office_holder_names;
use kroniek_core::catalogue::AccessRole;
use kroniek_projections::views::*;
use kroniek_projections::Projections;

use AccessRole::*;

/// Every endpoint and the roles that may call it (the table the API docs publish and the
/// tests check). Reads of records are open to every role, with what it may not see withheld.
pub const ENDPOINTS: &[(&str, &str, &[AccessRole])] = &[
    ("POST", "/v1/events", &[Admin, Secretary, Disputes]),
    (
        "GET",
        "/v1/events",
        &[Admin, Secretary, Disputes, Auditor, Board, Member],
    ),
    (
        "GET",
        "/v1/streams/{stream}",
        &[Admin, Secretary, Disputes, Auditor, Board, Member],
    ),
    (
        "GET",
        "/v1/head",
        &[Admin, Secretary, Disputes, Auditor, Board, Member],
    ),
    ("GET", "/v1/whoami", ALL),
    (
        "GET",
        "/v1/bodies/{id}/composition",
        &[Admin, Secretary, Disputes, Auditor, Board, Member],
    ),
    (
        "GET",
        "/v1/bodies/{id}/terms",
        &[Admin, Secretary, Disputes, Auditor, Board],
    ),
    (
        "GET",
        "/v1/members/{id}",
        &[Admin, Secretary, Disputes, Auditor, Board],
    ),
    (
        "GET",
        "/v1/members",
        &[Admin, Secretary, Disputes, Auditor, Board],
    ),
    (
        "GET",
        "/v1/timeline",
        &[Admin, Secretary, Disputes, Auditor, Board, Member],
    ),
    (
        "GET",
        "/v1/elections/{id}",
        &[Admin, Secretary, Disputes, Auditor, Board, Member],
    ),
    (
        "GET",
        "/v1/meetings/{id}",
        &[Admin, Secretary, Disputes, Auditor, Board],
    ),
    ("GET", "/v1/cases/{id}", &[Admin, Disputes]),
    (
        "GET",
        "/v1/conduct",
        &[Admin, Secretary, Disputes, Auditor, Board],
    ),
    ("GET", "/v1/subscribe", ALL),
    ("GET", "/v1/verify", ALL),
    ("GET", "/v1/export", ALL),
    (
        "POST",
        "/v1/members/{id}/erase",
        &[Admin, Secretary, Disputes],
    ),
    ("GET", "/metrics", &[Admin]),
    ("POST", "/v1/tokens", &[Admin]),
    ("GET", "/v1/checkpoint", ALL),
    ("GET", "/v1/proofs/inclusion/{pos}", ALL),
    ("GET", "/v1/proofs/consistency", ALL),
    ("POST", "/v1/checkpoint/cosignatures", &[Admin, Auditor]),
    (
        "GET",
        "/v1/audit/{year}",
        &[Admin, Secretary, Auditor, Board],
    ),
];

/// Every role.
const ALL: &[AccessRole] = &[Admin, Secretary, Disputes, Auditor, Board, Member];

/// Refuses a caller whose role may not call `path`.
pub fn allow(role: AccessRole, method: &str, path: &str) -> Result<(), ApiError> {
    let allowed = ENDPOINTS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .is_some_and(|(_, _, roles)| roles.contains(&role));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "the {} role may not call {method} {path}",
            role.as_str()
        )))
    }
}

/// Whether `role` sees personal data outside case files (the member details, candidacy profiles).
fn sees_member_personal(role: AccessRole) -> bool {
    matches!(role, Admin | Secretary)
}

/// A composition as `role` may see it.
pub fn composition(role: AccessRole, mut c: Composition) -> Composition {
    if !sees_office_holder_names(role) {
        for s in &mut c.seats {
            for h in &mut s.holders {
                h.name = None;
            }
        }
    }
    c
}

/// A member view as `role` may see it: details for the office roles; for others only an office
/// holder's name (public record); nothing for the disputes role.
pub fn member(role: AccessRole, p: &Projections, mut m: MemberView) -> MemberView {
    if sees_member_personal(role) {
        return m;
    }
    let name = m.details.as_ref().and_then(|d| d.get("name").cloned());
    m.details = match name {
        Some(n) if sees_office_holder_names(role) && p.is_office_holder(&m.member_id) => {
            Some([("name".to_owned(), n)].into_iter().collect())
        }
        _ => None,
    };
    m
}

/// Whether `role` sees only the decisions of the timeline (the member role), not the motions.
pub fn timeline_decisions_only(role: AccessRole) -> bool {
    role == Member
}

/// The timeline as `role` may see it: the member role sees decisions only.
pub fn timeline(role: AccessRole, entries: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    if timeline_decisions_only(role) {
        entries
            .into_iter()
            .filter(|e| matches!(e, TimelineEntry::Decision(_)))
            .collect()
    } else {
        entries
    }
}

/// An election as `role` may see it: every role sees the anonymised profiles; which profile is
/// whose only the roles that see personal data; the member role sees no candidacies.
pub fn election(role: AccessRole, mut e: ElectionView) -> ElectionView {
    if role == Member {
        e.candidacies.clear();
    } else if !sees_member_personal(role) {
        for c in &mut e.candidacies {
            c.profile_terms = None;
        }
    }
    e
}

/// The member role sees the current composition only.
pub fn composition_date_allowed(role: AccessRole, asked: bool) -> Result<(), ApiError> {
    if role == Member && asked {
        return Err(ApiError::forbidden(
            "the member role sees the current composition only: leave out as_of",
        ));
    }
    Ok(())
}

/// An audit report as `role` may see it: donors' names and residences only for the roles that
/// see gift records' personal data. The report itself when `role` sees all of it (no copy:
/// a report on a large ledger is tens of megabytes).
pub fn audit_report(
    role: AccessRole,
    report: std::sync::Arc<kroniek_projections::audit::AuditReport>,
) -> std::sync::Arc<kroniek_projections::audit::AuditReport> {
    if sees_whole_audit_report(role) {
        return report;
    }
    std::sync::Arc::new(redacted_audit_report(role, (*report).clone()))
}

/// Whether `role` sees every part of an audit report that [`redacted_audit_report`] may
/// take out.
fn sees_whole_audit_report(role: AccessRole) -> bool {
    use kroniek_core::catalogue::{Category, EventType};
    kroniek_core::access::sees_personal(role, Category::Finance, EventType::GiftReceived)
        && kroniek_core::access::sees_personal(role, Category::Finance, EventType::LoanReceived)
        && sees_member_personal(role)
}

/// `report` with what `role` may not see taken out.
fn redacted_audit_report(
    role: AccessRole,
    mut report: kroniek_projections::audit::AuditReport,
) -> kroniek_projections::audit::AuditReport {
    use kroniek_core::catalogue::{Category, EventType};
    if !kroniek_core::access::sees_personal(role, Category::Finance, EventType::GiftReceived) {
        for d in &mut report.money.disclosure {
            d.donor_name = None;
            d.donor_residence = None;
        }
    }
    if !kroniek_core::access::sees_personal(role, Category::Finance, EventType::LoanReceived) {
        for d in &mut report.money.debts {
            d.lender_name = None;
            d.lender_residence = None;
        }
    }
    // Possible duplicates rest on names, residences and e-mail addresses: a count only for
    // roles that do not see members' personal data.
    if !sees_member_personal(role) {
        for l in report
            .membership
            .reconciliation
            .iter_mut()
            .filter(|l| l.line == "possible_duplicate")
        {
            l.members.clear();
            l.details.clear();
            l.positions.clear();
        }
        for m in report
            .membership
            .members
            .iter_mut()
            .filter(|m| m.reason.starts_with("possible duplicate"))
        {
            m.reason = "possible duplicate".into();
        }
    }
    report
}
