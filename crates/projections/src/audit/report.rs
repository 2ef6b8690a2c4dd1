//! The audit report's shape: every section the accountant reads, as the JSON, CSV and HTML
//! renderings carry it. [`super::AuditBuilder::report`] fills it in.

use super::AuditParams;
use crate::views::{Composition, ConductView};
use serde::Serialize;
use std::collections::BTreeMap;

/// The chain's state the report was made at (filled in by whoever built it: store or export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Integrity {
    pub events: u64,
    pub head: String,
    /// The signed checkpoint (note text) the report was made at.
    pub checkpoint: Option<String>,
    pub verified: bool,
    pub verification: String,
    pub previous_checkpoint: Option<PreviousCheck>,
    /// Events beyond the previous checkpoint dated in a year it already covered.
    pub late_entries: Vec<LateEntry>,
}

/// Last year's checkpoint against this ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreviousCheck {
    pub size: u64,
    pub consistent: bool,
    pub detail: String,
}

/// A back-dated entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LateEntry {
    pub position: u64,
    pub effective: String,
    pub stream: String,
    #[serde(rename = "type")]
    pub event_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountedMember {
    pub member_id: String,
    pub branch_id: Option<String>,
    pub net_cents: i64,
    pub counted: bool,
    /// Why not counted: `paid too little`, …; empty when counted.
    pub reason: String,
    /// The events the figure rests on: status events, contributions for the year.
    pub positions: Vec<u64>,
}

/// One line of the member count's reconciliation: from the register on the peildatum to the
/// members counted, each line with its members and the events behind them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationLine {
    /// `register`, `not_yet_joined`, `ended`, `expelled`, `suspended`, `not_a_voting_member`,
    /// `below_minimum`, `possible_duplicate`, `counted`.
    pub line: String,
    pub count: u64,
    /// The members on the line (left out for roles that may not see them).
    pub members: Vec<String>,
    /// For `suspended` the case, for `possible_duplicate` whom the member may duplicate.
    pub details: Vec<String>,
    pub positions: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchCount {
    pub branch_id: String,
    pub active: u64,
    pub counted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberChange {
    pub member_id: String,
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub peildatum: String,
    pub contribution_year: i32,
    pub min_contribution_cents: i64,
    pub active: u64,
    pub subsidy_count: u64,
    pub threshold: u64,
    pub meets_threshold: bool,
    pub by_branch: Vec<BranchCount>,
    /// Every member active on the peildatum, counted or not, with the events behind it.
    pub members: Vec<CountedMember>,
    pub joined: Vec<MemberChange>,
    pub ended: Vec<MemberChange>,
    pub expelled: Vec<MemberChange>,
    /// Active members on the first of each month and on 31 December.
    pub over_the_year: Vec<(String, u64)>,
    /// From the register to the members counted: the lines after `register` add up to it.
    pub reconciliation: Vec<ReconciliationLine>,
    /// The youth organisation's own count (step 11).
    pub youth: YouthCount,
    /// Contributions for the contribution year by the month they were paid.
    pub payments_by_month: Vec<MonthTotal>,
    /// Contributions for the contribution year paid after `params.paid_by`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paid_after_cutoff: Vec<PaymentLine>,
    /// Refunds of contributions for the contribution year dated after the peildatum.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refunds_after_peildatum: Vec<PaymentLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeatChange {
    pub date: String,
    pub member_id: String,
    pub role: String,
    pub portfolio: Option<String>,
    /// `appointed`, `reappointed` or `left`.
    pub change: String,
    pub reason: Option<String>,
    pub decision_id: Option<String>,
    pub election_id: Option<String>,
    /// The event this change is.
    pub position: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BodyYear {
    pub body_id: String,
    pub name: String,
    pub kind: String,
    pub start: Option<Composition>,
    pub end: Option<Composition>,
    pub changes: Vec<SeatChange>,
    /// Holders on 31 December whose term had ended (no reappointment, no departure).
    pub past_term: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionLine {
    pub decision_id: String,
    pub date: String,
    pub body_id: String,
    pub category: String,
    pub title: String,
    pub amount_cents: Option<i64>,
    pub revoked_by: Option<String>,
    pub position: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decisions {
    /// (body, category) → count.
    pub by_body_and_category: Vec<(String, String, u64)>,
    pub financial: Vec<DecisionLine>,
    pub financial_total_cents: i64,
    pub subsidy_total_cents: i64,
    pub revoked: Vec<DecisionLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubsidyLine {
    pub recipient: String,
    pub amount_cents: i64,
    pub grantor: String,
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetLineView {
    pub decision_id: String,
    pub lines: Vec<(String, i64)>,
    pub total_cents: i64,
    pub position: u64,
}

/// The gift rules in force on 31 December of a year (the table is [`super::GIFT_RULE_TABLE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GiftRules {
    /// A donor's total in the year from which gifts are registered.
    pub register_from_cents: i64,
    /// A donor's total from which the gifts are disclosed with name and residence (this
    /// amount or more).
    pub disclose_from_cents: i64,
    /// A donor's total from which a gift must be reported within `report_within_days`.
    pub report_from_cents: Option<i64>,
    pub report_within_days: Option<i64>,
    /// The most one donor may give in a year.
    pub cap_cents: Option<i64>,
    /// Only Dutch donors may give.
    pub dutch_donors_only: bool,
    /// An anonymous gift above this may not be kept.
    pub anonymous_max_cents: Option<i64>,
    /// A lender's loans from this total are disclosed.
    pub debt_disclose_from_cents: Option<i64>,
    /// Where the rules come from, one per rule.
    pub source: String,
    /// The acts in force.
    pub sources: String,
    /// The rules in force, dated, each with its source.
    pub rules: Vec<super::GiftRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GiftLine {
    pub position: u64,
    /// The day received (`received_on`, else the event's `effective` date).
    pub date: String,
    pub amount_cents: i64,
    pub recorded_at: String,
    /// A gift in kind: what was given (its value is `amount_cents`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_kind: Option<String>,
}

/// A `GiftReturned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnLine {
    pub position: u64,
    pub date: String,
    pub amount_cents: i64,
    pub reason: String,
}

/// A lender's loans of the year (Wfpp: debts from EUR 25,000 are disclosed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebtLine {
    pub lender_ref: String,
    pub total_cents: i64,
    pub disclosed: bool,
    /// Name and residence of a disclosed lender (personal data; absent when erased or for
    /// roles that do not see it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lender_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lender_residence: Option<String>,
    pub positions: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DonorYear {
    pub donor_ref: String,
    pub donor_kind: String,
    pub dutch_donor: bool,
    /// Everything received in the year.
    pub total_cents: i64,
    /// Returned in the year (`GiftReturned`).
    pub returned_cents: i64,
    /// Received less returned: what the thresholds apply to.
    pub net_cents: i64,
    /// Name and residence: only on the disclosure list (personal data; absent when erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub donor_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub donor_residence: Option<String>,
    pub gifts: Vec<GiftLine>,
    pub returns: Vec<ReturnLine>,
    pub over_cap: bool,
    pub non_dutch: bool,
    /// The gift that brought the donor to the reporting threshold, when its `GiftReported`
    /// is missing or came more than the allowed days after receipt.
    pub possibly_reported_late: Option<u64>,
    /// How that gift was reported: "reported on DATE, N day(s) after receipt" or "no report
    /// recorded"; none where the rule did not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    pub subsidies: Vec<SubsidyLine>,
    pub subsidy_totals: BTreeMap<String, i64>,
    pub budgets: Vec<BudgetLineView>,
    pub gift_rules: GiftRules,
    pub gifts_total_cents: i64,
    /// Donors whose gifts in the year reach the registration threshold.
    pub register: Vec<DonorYear>,
    /// Donors whose gifts reach the disclosure threshold, with name and residence.
    pub disclosure: Vec<DonorYear>,
    /// Donors some of whose gifts were returned.
    pub returned: Vec<DonorYear>,
    /// Loans received in the year, by lender.
    pub debts: Vec<DebtLine>,
    /// Subsidies received against what was applied for, where an application is recorded.
    pub subsidy_applied: Vec<SubsidyCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseCounts {
    pub kind: String,
    pub opened: u64,
    pub decided: u64,
    pub closed: u64,
    /// The events counted (their content is not in the report).
    pub positions: Vec<u64>,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The law or the statutes were not followed.
    Violation,
    /// For the accountant to look into; may have an explanation the ledger does not hold.
    Warning,
}

impl Severity {
    /// The name in the JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Violation => "violation",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub section: String,
    pub severity: Severity,
    pub detail: String,
    pub positions: Vec<u64>,
}

/// The kascommissie has at least two members (BW 2:48 lid 2).
pub const KASCOMMISSIE_MIN_MEMBERS: usize = 2;

/// What opens the report: the figures an accountant reads first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub counted_members: u64,
    pub threshold: u64,
    pub meets_threshold: bool,
    pub youth_members_paying: u64,
    pub gifts_total_cents: i64,
    pub donors_disclosed: u64,
    pub disclosed_cents: i64,
    pub debts_disclosed: u64,
    pub verified: bool,
    /// Findings by severity.
    pub violations: u64,
    pub warnings: u64,
}

/// A subsidy received against what was applied for (`SubsidyApplied`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubsidyCheck {
    pub recipient: String,
    pub applied_cents: i64,
    pub received_cents: i64,
    /// Received less applied for.
    pub difference_cents: i64,
    pub positions: Vec<u64>,
}

/// The youth organisation's own count on the peildatum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct YouthCount {
    /// Youth members active on the peildatum.
    pub active: u64,
    /// Of those, the ones who paid a contribution for the contribution year.
    pub paying: u64,
    pub threshold: u64,
    pub meets_threshold: bool,
    /// The rule applied, and where it comes from.
    pub source: String,
    /// The events of the paying youth members.
    pub positions: Vec<u64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub summary: Summary,
    pub params: AuditParams,
    pub integrity: Integrity,
    pub membership: Membership,
    pub governance: Vec<BodyYear>,
    pub decisions: Decisions,
    pub money: Money,
    pub conduct: ConductView,
    pub cases: Vec<CaseCounts>,
    pub exceptions: Vec<Exception>,
}

/// One contribution paid or refunded, as the bank moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentLine {
    pub member_id: String,
    pub year: i32,
    /// Negative for a refund.
    pub cents: i64,
    /// `paid_on` when given, else the event's `effective` date.
    pub paid: String,
    /// The hash of the bank-statement line (`reference_blake3`), when given.
    pub reference_blake3: Option<String>,
    pub position: u64,
}

/// Contributions for the contribution year paid in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthTotal {
    /// `YYYY-MM`.
    pub month: String,
    pub payments: u64,
    pub cents: i64,
}
