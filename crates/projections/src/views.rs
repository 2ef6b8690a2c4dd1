//! The read models' answers, as serializable data. JSON keys follow DOMAIN.md where the
//! concept is there (`member_id`, `role`, `portfolio`, `term_start`, `term_end`, …); the
//! command line prints them as tables or as this JSON, and the HTTP API (step 3) serves them.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Who sits in a body on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Composition {
    pub body_id: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<String>,
    pub as_of: String,
    pub established: String,
    pub dissolved: Option<String>,
    pub min_members: Option<i64>,
    /// Holders whose term has not expired.
    pub seated: usize,
    /// `min_members` is set and fewer are seated.
    pub below_min_members: bool,
    pub seats: Vec<SeatView>,
    /// The body's rules in force on the date (`BodyRulesAdopted`); absent when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesView>,
}

/// A body's standing rules in force: notice, quorum, qualified majority, appeal body,
/// incompatible bodies and the regulation they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RulesView {
    /// The date the rules took effect.
    pub from: String,
    pub notice_days: i64,
    pub quorum: i64,
    /// `num/den`, as `2/3`.
    pub statute_majority: String,
    pub appeal_body_id: Option<String>,
    pub incompatible_with: Vec<String>,
    /// `code_id` version `n`.
    pub regulation: Option<String>,
    pub decision_id: Option<String>,
    pub position: u64,
}

/// A meeting: its convocation and agenda, its attendance and quorum, the motions voted and the
/// decisions taken at it, with the rules in force for its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MeetingView {
    pub meeting_id: String,
    pub body_id: String,
    pub date: String,
    pub convened: Option<ConvocationView>,
    pub held: Option<AttendanceView>,
    pub rules: Option<RulesView>,
    pub motions: Vec<MotionView>,
    pub decisions: Vec<DecisionView>,
    /// Elections held at the meeting.
    pub elections: Vec<String>,
}

/// A meeting's convocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConvocationView {
    /// The day the convocation went out.
    pub sent: String,
    /// Whole days from the convocation to the meeting.
    pub notice_days: i64,
    pub agenda: Vec<AgendaItemView>,
    pub proposal_available_on: Option<String>,
}

/// One agenda item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgendaItemView {
    pub item: String,
    pub kind: String,
    pub motion_id: Option<String>,
}

/// A held meeting's attendance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttendanceView {
    pub present_count: i64,
    pub quorum_met: bool,
}

/// One seat definition `(role, portfolio)` with its holders on the date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SeatView {
    pub role: String,
    pub portfolio: Option<String>,
    pub count: i64,
    /// Seats not filled by a holder whose term runs.
    pub vacancies: i64,
    pub holders: Vec<HolderView>,
}

/// One holder of a seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HolderView {
    pub member_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The office holder's name on the date (public record; absent when erased or not shown).
    pub name: Option<String>,
    pub role: String,
    pub portfolio: Option<String>,
    pub term_start: String,
    pub term_end: Option<String>,
    pub times_reappointed: u32,
    /// The term ended without a reappointment or a departure: still listed, no longer counted.
    pub term_expired: bool,
    /// The member's status on the date (`active`, `suspended`, `expelled`, `ended`).
    pub member_status: String,
    pub member_active: bool,
    pub decision_id: Option<String>,
    pub election_id: Option<String>,
    /// What is wrong with the appointment, accepted because no body concerned had rules in
    /// force (an appointing decision of another body, say). Absent when nothing is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// A body's term schedule (*rooster van aftreden*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TermSchedule {
    pub body_id: String,
    pub name: String,
    pub term_years: Option<i64>,
    pub max_reappointments: Option<i64>,
    pub terms: Vec<TermView>,
}

/// One seat-term in a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TermView {
    pub member_id: String,
    pub role: String,
    pub portfolio: Option<String>,
    pub term_start: String,
    pub term_end: Option<String>,
    pub times_reappointed: u32,
    /// `None` when the body sets no limit.
    pub reappointments_remaining: Option<i64>,
    pub reappointments: Vec<ReappointmentView>,
    pub left: Option<String>,
    pub left_reason: Option<String>,
}

/// One reappointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReappointmentView {
    pub date: String,
    pub term_end: String,
}

/// A member on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MemberView {
    pub member_id: String,
    pub as_of: String,
    pub status: String,
    pub branch_id: Option<String>,
    /// Name, residence and email on the date (personal data: absent when erased or not shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<BTreeMap<String, Value>>,
    pub personal_erased: bool,
    /// Status changes: each date the status changes, and the status from then on.
    pub history: Vec<StatusChange>,
    pub bodies: Vec<MemberSeatView>,
    pub signatures: Vec<SignatureView>,
    pub contributions: Vec<ContributionView>,
}

/// A status from a date on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusChange {
    pub date: String,
    pub status: String,
}

/// A seat a member holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MemberSeatView {
    pub body_id: String,
    pub role: String,
    pub portfolio: Option<String>,
    pub term_start: String,
    pub term_end: Option<String>,
    pub term_expired: bool,
}

/// A code-of-conduct signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SignatureView {
    pub code_id: String,
    pub version: u32,
    pub date: String,
}

/// Net contributions for one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContributionView {
    pub year: i32,
    pub net_cents: i64,
}

/// Members counted on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MembershipCount {
    pub as_of: String,
    /// Active and suspended members.
    pub members: u64,
    pub by_status: BTreeMap<String, u64>,
    /// Per branch (`null` key: no branch), per status.
    pub by_branch: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One member on a page of `GET /v1/members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MemberLine {
    pub member_id: String,
    pub status: String,
    pub branch_id: Option<String>,
}

/// Filters of the decision timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    pub body_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Decisions of this category only (motions have none, so they are left out).
    pub category: Option<String>,
}

/// One entry of the decision timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineEntry {
    Decision(DecisionView),
    Motion(MotionView),
}

impl TimelineEntry {
    /// The entry's date and position, for ordering.
    pub fn key(&self) -> (&str, u64) {
        match self {
            TimelineEntry::Decision(d) => (&d.date, d.position),
            TimelineEntry::Motion(m) => (&m.date, m.position),
        }
    }
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, bincode::Encode, bincode::Decode)]
pub struct DecisionView {
    pub decision_id: String,
    pub body_id: String,
    pub date: String,
    pub title: String,
    pub category: String,
    pub basis: String,
    pub meeting_id: Option<String>,
    pub motion_id: Option<String>,
    pub amount_cents: Option<i64>,
    pub revoked: Option<RevocationView>,
    pub position: u64,
    /// What is wrong with the decision, accepted because no body concerned had rules in force:
    /// taken at another body's meeting, or by vote without a quorum. Absent when nothing is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// What revoked a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, bincode::Encode, bincode::Decode)]
pub struct RevocationView {
    pub by_decision_id: String,
    pub date: String,
    pub reason: String,
}

/// A motion or amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, bincode::Encode, bincode::Decode)]
pub struct MotionView {
    pub motion_id: String,
    pub meeting_id: String,
    pub body_id: Option<String>,
    pub date: String,
    pub title: String,
    pub submitters: Vec<String>,
    pub amends: Option<String>,
    pub amendments: Vec<String>,
    pub withdrawn: Option<String>,
    pub votes: Vec<VoteView>,
    pub position: u64,
}

/// A vote on a motion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, bincode::Encode, bincode::Decode)]
pub struct VoteView {
    pub date: String,
    pub method: String,
    #[serde(rename = "for")]
    pub votes_for: i64,
    pub against: i64,
    pub abstain: i64,
    pub outcome: String,
}

/// An election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ElectionView {
    pub election_id: String,
    pub body_id: String,
    pub seats: Vec<SeatDefView>,
    pub candidacy_opens: String,
    pub candidacy_closes: String,
    pub screening_body_id: String,
    pub candidacies: Vec<CandidacyView>,
    /// Anonymised profiles of the candidates still standing (not withdrawn, not refused):
    /// profile terms only, in the election's fixed order (FORMAT.md).
    pub profiles: Vec<Vec<String>>,
    pub results: Vec<ResultView>,
    /// What a candidacy must hold, as the call says (`ElectionCalled.requirements`); every
    /// candidacy accepted holds it (`candidacy-incomplete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
}

/// A seat definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SeatDefView {
    pub role: String,
    pub portfolio: Option<String>,
    pub count: i64,
}

/// A candidacy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CandidacyView {
    pub member_id: String,
    pub preferences: Vec<String>,
    pub submitted: String,
    pub withdrawn: Option<String>,
    /// `None`: not screened yet.
    pub admitted: Option<bool>,
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Personal data: absent when erased or not shown.
    pub profile_terms: Option<Vec<String>>,
    /// What is wrong with the candidacy, accepted because no body concerned had rules in force
    /// (a candidate who sat in the screening body). Absent when nothing is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// One result of an election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ResultView {
    pub role: String,
    pub portfolio: Option<String>,
    pub tally: Vec<TallyView>,
    pub blank: i64,
    pub invalid: i64,
    pub elected: Vec<String>,
    /// `lot`: equal votes at the boundary of the seats were decided by lot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tie_break: Option<String>,
}

/// Votes for one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TallyView {
    pub member_id: String,
    pub votes: i64,
}

/// A case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseView {
    pub case_id: String,
    pub kind: String,
    pub body_id: String,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Personal data: absent when erased or not shown.
    pub summary: Option<String>,
    pub complainants: Vec<String>,
    pub respondents: Vec<String>,
    pub as_of: String,
    /// `open`, `decided`, `appealed`, `appeal_decided` or `closed` on the date.
    pub status: String,
    pub outcome: Option<String>,
    pub appeal_deadline: Option<String>,
    pub appeal_outcome: Option<String>,
    /// For each respondent: suspended on the date because of this case?
    pub suspended: Vec<SuspensionView>,
    /// The file's events up to the date (later ones are left out: see `later_events`).
    pub events: Vec<CaseEventView>,
    /// How many events of the file are dated after `as_of` (left out above).
    pub later_events: usize,
    /// The regulation version that governs the case (`code_id version n`), when named.
    pub regulation: Option<String>,
    /// Each respondent's part on the date: their decision, notice, appeal term, appeal and
    /// suspension.
    pub by_respondent: Vec<RespondentView>,
}

/// One respondent's part of a case on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RespondentView {
    pub member_id: String,
    /// The decision that stands for them: date, outcome, deadline, decision id.
    pub decided: Option<String>,
    pub outcome: Option<String>,
    pub appeal_deadline: Option<String>,
    /// The day they received notice of it (`NoticeDelivered`).
    pub notice_received: Option<String>,
    /// The last day they may appeal: the later of the deadline and a month after notice.
    pub appeal_term_ends: Option<String>,
    /// Days from the date to the end of the term, while it runs and no appeal was filed.
    pub days_left: Option<i64>,
    pub appeal_filed: Option<String>,
    pub appeal_outcome: Option<String>,
    pub appeal_decided: Option<String>,
    /// Suspended because of the case: from, and until (absent: still).
    pub suspended_from: Option<String>,
    pub suspended_until: Option<String>,
}

/// Whether a member is suspended because of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SuspensionView {
    pub member_id: String,
    pub suspended: bool,
}

/// One event of a case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseEventView {
    pub position: u64,
    pub effective: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[schema(value_type = Object)]
    pub data: Value,
    pub hash: String,
}

/// Conduct-code coverage on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConductView {
    pub as_of: String,
    pub active_members: u64,
    pub codes: Vec<CodeCoverage>,
}

/// One code's coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CodeCoverage {
    pub code_id: String,
    /// The version in force on the date (the latest adopted on or before it).
    pub version: u32,
    pub title: String,
    pub adopted: String,
    /// Active members who signed that version.
    pub signed_current: u64,
    /// Active members who signed any version.
    pub signed_any: u64,
    /// Every version adopted on or before the date, oldest first.
    pub versions: Vec<CodeVersionView>,
}

/// One version of a code of conduct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CodeVersionView {
    pub version: u32,
    pub title: String,
    pub adopted: String,
}
