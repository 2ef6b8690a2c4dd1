//! The governance state: what the ledger knows of members, bodies, codes, meetings, motions,
//! decisions, elections, cases and principals, folded from events. The rules judge an event
//! against it; the projections answer questions from it. Pure: no clock, no I/O.

use super::journal::Journaled;
use crate::catalogue::*;
use crate::types::Date;

/// A member's status on a date (DOMAIN.md, *Member status on a date*).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, bincode::Encode, bincode::Decode,
)]
pub enum MemberStatus {
    /// Not (yet) a member on that date.
    NotMember,
    Active,
    Suspended,
    Expelled,
    Ended,
}

impl MemberStatus {
    /// The status as written in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::NotMember => "not_a_member",
            MemberStatus::Active => "active",
            MemberStatus::Suspended => "suspended",
            MemberStatus::Expelled => "expelled",
            MemberStatus::Ended => "ended",
        }
    }
}

/// One `MemberSuspended`.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Suspension {
    pub from: Date,
    pub until: Option<Date>,
    pub case_id: String,
}

/// A suspension that follows a royement decided `expelled`, lasting until an appeal decided
/// `overturned` or `modified` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct RoyementSuspension {
    pub case_id: String,
    pub from: Date,
    pub until: Option<Date>,
}

/// A list that is empty for almost every member (ends, expulsions, suspensions,
/// reinstatements, royements): one word and no allocation while empty, where a `Vec` takes
/// three. The rules' state is held twice by a server that takes appends, for some 90,000
/// members on a large ledger. Read as a slice; encoded as a `Vec` is, so a snapshot's bytes
/// do not depend on which of the two holds the list.
#[derive(Debug, Clone)]
pub struct Rare<T>(Option<Box<[T]>>);

/// Equal when the items are (however the empty list is held).
impl<T: PartialEq> PartialEq for Rare<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for Rare<T> {}

impl<T> Default for Rare<T> {
    fn default() -> Self {
        Rare(None)
    }
}

impl<T> Rare<T> {
    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        let mut items = self.0.take().map_or_else(Vec::new, Vec::from);
        items.push(item);
        self.0 = Some(items.into_boxed_slice());
    }
}

impl<T> From<Vec<T>> for Rare<T> {
    fn from(items: Vec<T>) -> Self {
        Rare((!items.is_empty()).then(|| items.into_boxed_slice()))
    }
}

impl<T> std::ops::Deref for Rare<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T> std::ops::DerefMut for Rare<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.0.as_deref_mut().unwrap_or(&mut [])
    }
}

impl<'a, T> IntoIterator for &'a Rare<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: bincode::Encode> bincode::Encode for Rare<T> {
    fn encode<E: bincode::enc::Encoder>(
        &self,
        encoder: &mut E,
    ) -> Result<(), bincode::error::EncodeError> {
        (**self).encode(encoder)
    }
}

impl<Context, T: bincode::Decode<Context>> bincode::Decode<Context> for Rare<T> {
    fn decode<D: bincode::de::Decoder<Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        Vec::<T>::decode(decoder).map(Rare::from)
    }
}

impl<'de, Context, T: bincode::BorrowDecode<'de, Context>> bincode::BorrowDecode<'de, Context>
    for Rare<T>
{
    fn borrow_decode<D: bincode::de::BorrowDecoder<'de, Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        Vec::<T>::borrow_decode(decoder).map(Rare::from)
    }
}

/// What the ledger knows of one member.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MemberHistory {
    /// `MemberJoined` dates, with positions (the later appended decides a same-day tie).
    pub joins: Vec<(Date, u64)>,
    /// `MembershipEnded` dates, with positions.
    pub ends: Rare<(Date, u64)>,
    pub expelled: Rare<Date>,
    pub suspensions: Rare<Suspension>,
    /// `MemberReinstated` dates and cases.
    pub reinstatements: Rare<(Date, Option<String>)>,
    pub royements: Rare<RoyementSuspension>,
    /// Cents paid and refunded in all (`amount-out-of-range` keeps each within 2^53 − 1).
    pub paid_cents: i64,
    pub refunded_cents: i64,
    /// The member's kind from a date (`MemberJoined.kind`, `MemberKindChanged`); none: `member`.
    pub kinds: Vec<(Date, u64, MemberKind)>,
}

impl MemberHistory {
    /// The member's status on `d`.
    pub fn status_on(&self, d: Date) -> MemberStatus {
        if self.expelled.iter().any(|e| *e <= d) {
            return MemberStatus::Expelled;
        }
        let join = self.joins.iter().filter(|(j, _)| *j <= d).max();
        let end = self.ends.iter().filter(|(e, _)| *e <= d).max();
        match (join, end) {
            (None, _) => return MemberStatus::NotMember,
            (Some(j), Some(e)) if e > j => return MemberStatus::Ended,
            _ => {}
        }
        if self.suspended_on(d) {
            MemberStatus::Suspended
        } else {
            MemberStatus::Active
        }
    }

    /// Whether a suspension (explicit or by royement) applies on `d`.
    pub fn suspended_on(&self, d: Date) -> bool {
        let explicit = self.suspensions.iter().any(|s| {
            if d < s.from {
                return false;
            }
            let reinstated = self
                .reinstatements
                .iter()
                .filter(|(r, case)| *r >= s.from && case.as_ref().is_none_or(|c| *c == s.case_id))
                .map(|(r, _)| *r)
                .min();
            s.until.is_none_or(|u| d <= u) && reinstated.is_none_or(|r| d < r)
        });
        explicit
            || self
                .royements
                .iter()
                .any(|r| r.from <= d && r.until.is_none_or(|u| d < u))
    }

    /// Whether the member is (or was) a member on `d`: active or suspended.
    /// The member's kind on `d`: the latest given on or before it, else `member`.
    pub fn kind_on(&self, d: Date) -> MemberKind {
        self.kinds
            .iter()
            .filter(|(at, _, _)| *at <= d)
            .max_by_key(|(at, p, _)| (*at, *p))
            .map_or(MemberKind::Member, |(_, _, k)| *k)
    }

    pub fn is_member_on(&self, d: Date) -> bool {
        matches!(
            self.status_on(d),
            MemberStatus::Active | MemberStatus::Suspended
        )
    }
}

/// One member's seat in a body, from appointment to departure.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Holding {
    pub member_id: String,
    pub role: String,
    pub portfolio: Option<String>,
    pub term_start: Date,
    /// The current end (after reappointments); `None`: open-ended (ex officio).
    pub term_end: Option<Date>,
    /// The end the appointment named.
    pub appointed_term_end: Option<Date>,
    pub times_reappointed: u32,
    /// Each reappointment: its date and the new term end.
    pub reappointments: Vec<(Date, Date)>,
    /// The `MemberLeftBody` date and reason: not held from that date on.
    pub left: Option<(Date, LeaveReason)>,
    /// Positions of the reappointments (as `reappointments`) and of the departure.
    pub reappointment_positions: Vec<u64>,
    pub left_position: Option<u64>,
    pub decision_id: Option<String>,
    pub election_id: Option<String>,
    /// Position of the `MemberAppointed` record.
    pub position: u64,
}

impl Holding {
    /// Whether this holding fills its seat on `d`: started, not past its term end, not left.
    pub fn counts_on(&self, d: Date) -> bool {
        self.term_start <= d
            && self.term_end.is_none_or(|t| d <= t)
            && self.left.is_none_or(|(l, _)| d < l)
    }

    /// The term end as it stood on `d`: the appointment's, extended by the reappointments
    /// dated on or before `d`.
    pub fn term_end_on(&self, d: Date) -> Option<Date> {
        self.reappointments
            .iter()
            .filter(|(r, _)| *r <= d)
            .map(|(_, end)| *end)
            .max()
            .or(self.appointed_term_end)
    }

    /// How many times the member was reappointed to this seat by `d`.
    pub fn times_reappointed_on(&self, d: Date) -> u32 {
        self.reappointments.iter().filter(|(r, _)| *r <= d).count() as u32
    }

    /// Whether the member holds the seat on `d`, expired or not: started and not left.
    pub fn held_on(&self, d: Date) -> bool {
        self.term_start <= d && self.left.is_none_or(|(l, _)| d < l)
    }

    /// Whether the term, as it stood on `d` (reappointments dated by then counted), ended
    /// before `d`.
    pub fn term_expired_on(&self, d: Date) -> bool {
        self.term_end_on(d).is_some_and(|t| t < d)
    }
}

/// What the ledger knows of one body.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BodyHistory {
    pub name: String,
    pub kind: BodyKind,
    pub parent_id: Option<String>,
    pub appointed_by: String,
    pub established: Date,
    /// Seat definitions and the dates they apply from, in date order.
    pub seat_defs: Vec<(Date, Vec<Seat>)>,
    pub term_years: Option<i64>,
    pub max_reappointments: Option<i64>,
    pub min_members: Option<i64>,
    pub dissolved: Option<Date>,
    pub holdings: Vec<Holding>,
    /// The body's standing rules, each from its date (`BodyRulesAdopted`), in date order.
    pub rules: Vec<BodyRules>,
    /// Changes of who appoints to the body or one of its seats (`AppointingBodyChanged`).
    pub appointing: Vec<AppointingChange>,
}

/// A body's standing rules (statutes, huishoudelijk reglement) from a date.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct BodyRules {
    pub from: Date,
    pub notice_days: i64,
    pub quorum: i64,
    pub statute_majority: Fraction,
    pub appeal_body_id: Option<String>,
    pub incompatible_with: Vec<String>,
    pub regulation: Option<(String, u32)>,
    pub decision_id: Option<String>,
    pub position: u64,
}

/// From `from`, the seat `role` (and `portfolio`), or without a role the whole body, is
/// appointed by `appointed_by`.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct AppointingChange {
    pub from: Date,
    pub role: Option<String>,
    pub portfolio: Option<String>,
    pub appointed_by: String,
    pub position: u64,
}

impl BodyHistory {
    /// The rules in force on `d`: the latest adopted on or before it.
    pub fn rules_on(&self, d: Date) -> Option<&BodyRules> {
        self.rules.iter().rev().find(|r| r.from <= d)
    }

    /// The seat definition of `role` (and `portfolio`) in force on `d`.
    pub fn seat_on(&self, d: Date, role: &str, portfolio: Option<&str>) -> Option<&Seat> {
        self.seats_on(d)?.iter().find(|s| {
            s.role.as_str() == role && s.portfolio.as_ref().map(|p| p.as_str()) == portfolio
        })
    }

    /// The body that appoints to seat `role` (`portfolio`) on `d`: the latest of the seat's
    /// own `appointed_by` (from its seat definition's date) and an `AppointingBodyChanged` for
    /// that role; else the latest change for the whole body; else the body's `appointed_by`.
    pub fn appointing_body_on(&self, d: Date, role: &str, portfolio: Option<&str>) -> &str {
        let seat_def = self
            .seat_defs
            .iter()
            .rev()
            .find(|(from, _)| *from <= d)
            .and_then(|(from, seats)| {
                seats
                    .iter()
                    .find(|s| {
                        s.role.as_str() == role
                            && s.portfolio.as_ref().map(|p| p.as_str()) == portfolio
                    })
                    .and_then(|s| s.appointed_by.as_ref())
                    .map(|b| (*from, b.as_str()))
            });
        let for_role = self
            .appointing
            .iter()
            .filter(|c| {
                c.from <= d
                    && c.role.as_deref() == Some(role)
                    && (c.portfolio.is_none() || c.portfolio.as_deref() == portfolio)
            })
            .max_by_key(|c| (c.from, c.position))
            .map(|c| (c.from, c.appointed_by.as_str()));
        let specific = match (seat_def, for_role) {
            (Some(a), Some(b)) => Some(if b.0 >= a.0 { b.1 } else { a.1 }),
            (a, b) => a.or(b).map(|x| x.1),
        };
        specific
            .or_else(|| {
                self.appointing
                    .iter()
                    .filter(|c| c.from <= d && c.role.is_none())
                    .max_by_key(|c| (c.from, c.position))
                    .map(|c| c.appointed_by.as_str())
            })
            .unwrap_or(&self.appointed_by)
    }

    /// The seat definition in force on `d`.
    pub fn seats_on(&self, d: Date) -> Option<&[Seat]> {
        self.seat_defs
            .iter()
            .rev()
            .find(|(from, _)| *from <= d)
            .map(|(_, s)| s.as_slice())
    }

    /// How many seats of `role` (+ `portfolio`) the definition in force on `d` has.
    pub fn capacity_on(&self, d: Date, role: &str, portfolio: Option<&str>) -> i64 {
        self.seats_on(d)
            .map(|seats| {
                seats
                    .iter()
                    .filter(|s| {
                        s.role.as_str() == role
                            && s.portfolio.as_ref().map(|p| p.as_str()) == portfolio
                    })
                    .map(|s| s.count)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// The holdings that fill the seat `role` (+ `portfolio`) on `d`.
    pub fn holders_on<'a>(
        &'a self,
        d: Date,
        role: &'a str,
        portfolio: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Holding> + 'a {
        self.holdings.iter().filter(move |h| {
            h.role == role && h.portfolio.as_deref() == portfolio && h.counts_on(d)
        })
    }
}

/// What the ledger knows of one versioned code: a code of conduct, a regulation, the statutes.
#[derive(Debug, Clone, Default, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CodeHistory {
    /// Versions with their adoption dates and titles.
    pub versions: Vec<(u32, Date, String)>,
    /// What the code is, as its latest version says (`None`: a code of conduct).
    pub kind: Option<CodeKind>,
}

impl CodeHistory {
    /// Whether members sign it: a code of conduct (the default), not a regulation or statutes.
    pub fn is_conduct(&self) -> bool {
        self.kind.is_none_or(|k| k == CodeKind::Conduct)
    }
}

/// One meeting: convened, held, or both.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MeetingState {
    pub body_id: String,
    pub date: Date,
    /// The convocation (`MeetingConvened`), if one was recorded.
    pub convened: Option<Convocation>,
    /// What the `MeetingHeld` recorded, once it was.
    pub held: Option<Attendance>,
}

/// A meeting's convocation: the day it went out, its agenda, the day the proposals were open
/// for inspection.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Convocation {
    pub sent: Date,
    pub agenda: Vec<AgendaItem>,
    pub proposal_available_on: Option<Date>,
}

/// A held meeting's attendance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Attendance {
    pub present_count: i64,
    pub quorum_met: bool,
}

/// One motion or amendment: what the rules ask of it (submitted to which meeting, of which
/// kind, withdrawn, voted). Its title, submitters and vote counts are the read models' business
/// (kroniek-projections); keeping them here too cost about 30 MB on a 1,000,000-event ledger.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct MotionState {
    pub submitted: Date,
    pub withdrawn: Option<Date>,
    pub meeting_id: String,
    pub kind: MotionKind,
    pub amends: Option<String>,
    /// The vote: its date and outcome.
    pub voted: Option<(Date, VoteOutcome)>,
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DecisionState {
    pub body_id: String,
    pub taken: Date,
    pub revoked: Option<(Date, String, String)>,
    pub meeting_id: Option<String>,
    pub basis: DecisionBasis,
}

/// One candidacy in an election.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CandidacyState {
    pub member_id: String,
    pub preferences: Vec<String>,
    pub submitted: Date,
    pub position: u64,
    pub withdrawn: Option<Date>,
    /// The latest screening: admitted or not, with the reason.
    pub screening: Option<(bool, Option<String>)>,
}

/// One election.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ElectionState {
    pub body_id: String,
    pub meeting_id: Option<String>,
    /// What a candidacy must hold (`ElectionCalled.requirements`).
    pub requirements: Option<Requirements>,
    pub seats: Vec<Seat>,
    pub opens: Date,
    pub closes: Date,
    pub screening_body_id: String,
    pub candidacies: Vec<CandidacyState>,
    pub results: Vec<(Date, ElectionResult)>,
}

impl ElectionState {
    /// The candidacy of `member`.
    pub fn candidacy(&self, member: &str) -> Option<&CandidacyState> {
        self.candidacies.iter().find(|c| c.member_id == member)
    }

    /// How many seats the election fills in all.
    pub fn seats_in_all(&self) -> i64 {
        self.seats.iter().map(|s| s.count).sum()
    }
}

/// How a case was decided.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CaseDecision {
    pub date: Date,
    pub outcome: CaseOutcome,
    pub appeal_deadline: Option<Date>,
    pub decision_id: Option<String>,
    /// The respondent it is about; `None`: every respondent.
    pub respondent: Option<String>,
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct CaseState {
    pub kind: CaseKind,
    pub body_id: String,
    pub complainants: Vec<String>,
    pub respondents: Vec<String>,
    pub opened: Date,
    /// The latest decision (about one respondent or all).
    pub decided: Option<CaseDecision>,
    /// The first `AppealFiled`: date and member.
    pub appeal: Option<(Date, String)>,
    /// The first appeal decided: date and outcome.
    pub appeal_decided: Option<(Date, AppealOutcome)>,
    pub closed: Option<Date>,
    /// Every decision, in order of entry, each about one respondent or (without) every one.
    pub decisions: Vec<CaseDecision>,
    /// `NoticeDelivered`: a respondent and the day they received notice of the decision.
    pub notices: Vec<(String, Date)>,
    /// Every appeal: by whom, against which decision (its index in `decisions`), decided how.
    pub appeals: Vec<Appeal>,
    /// The regulation that governs the case (`CaseOpened.regulation`): code and version.
    pub regulation: Option<(String, u32)>,
}

/// One respondent's appeal against a decision of the case.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Appeal {
    pub member_id: String,
    pub filed: Date,
    /// The decision appealed: its index in [`CaseState::decisions`].
    pub decision: usize,
    pub decided: Option<(Date, AppealOutcome)>,
}

impl CaseState {
    /// The decision that stands for `member` (the latest about them or about everyone), with
    /// its index.
    pub fn decision_for(&self, member: &str) -> Option<(usize, &CaseDecision)> {
        self.decisions
            .iter()
            .enumerate()
            .rev()
            .find(|(_, d)| d.respondent.as_deref().is_none_or(|r| r == member))
    }

    /// The day `member` received notice of decision `index` (the first notice on or after it).
    pub fn notice_of(&self, member: &str, index: usize) -> Option<Date> {
        let decided = self.decisions.get(index)?.date;
        self.notices
            .iter()
            .filter(|(m, d)| m == member && *d >= decided)
            .map(|(_, d)| *d)
            .min()
    }

    /// The last day `member` may appeal decision `index`: the later of its `appeal_deadline`
    /// and one calendar month after they received notice of it (BW 2:35 lid 2). `None` when
    /// the decision gives no deadline and no notice was recorded.
    pub fn appeal_term_end(&self, member: &str, index: usize) -> Option<Date> {
        let deadline = self.decisions.get(index)?.appeal_deadline;
        let from_notice = self.notice_of(member, index).map(one_month_after);
        match (deadline, from_notice) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// `member`'s appeal against decision `index`, if they filed one.
    pub fn appeal_of(&self, member: &str, index: usize) -> Option<&Appeal> {
        self.appeals
            .iter()
            .find(|a| a.member_id == member && a.decision == index)
    }
}

/// One calendar month after `d`: the same day of the next month, or that month's last day.
pub fn one_month_after(d: Date) -> Date {
    d.naive()
        .checked_add_months(chrono::Months::new(1))
        .map(Date::from_naive)
        .unwrap_or(d)
}

/// Everything the rules need, folded from the ledger's events.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
pub struct GovernanceState {
    pub members: Journaled<String, MemberHistory>,
    pub bodies: Journaled<String, BodyHistory>,
    pub codes: Journaled<String, CodeHistory>,
    pub meetings: Journaled<String, MeetingState>,
    pub motions: Journaled<String, MotionState>,
    pub decisions: Journaled<String, DecisionState>,
    pub elections: Journaled<String, ElectionState>,
    pub cases: Journaled<String, CaseState>,
    /// Principals with access: whether their access stands.
    pub principals: Journaled<String, bool>,
    /// Subjects whose personal data was erased (`10234`, `case:r-2022-01`, `donor:d-1`), with
    /// the date of the erasure.
    pub erased: Journaled<String, Date>,
    /// Running sums of cents that reports add up (`amount-out-of-range` keeps each within
    /// ±(2^53−1)): per donor, per year of gifts, subsidies and decisions' amounts (see
    /// [`amount_sums`]; a member's contributions are summed in their [`MemberHistory`]).
    pub sums: Journaled<String, i64>,
    /// For each body, the bodies whose rules (in any version) name it in `incompatible_with`,
    /// in the order of their first such rules: with the body's own rules, the only bodies
    /// whose seats `incompatible-seats` needs to read.
    pub incompatible_listed_by: Journaled<String, Vec<String>>,
}

/// The largest sum of cents a report adds up: 2^53 − 1, the integers JSON (I-JSON) carries
/// exactly.
pub const MAX_SUM_CENTS: i64 = 9_007_199_254_740_991;

/// The running sums an event adds to, with what it adds: `(key, cents)`.
pub fn amount_sums(event: &EventData, effective: Date) -> Vec<(String, i64)> {
    use EventData as E;
    match event {
        E::GiftReceived(d) => vec![
            (format!("donor/{}", d.donor_ref), d.amount_cents),
            (format!("year-gifts/{}", d.year.0), d.amount_cents),
            (
                format!("donor-year/{}/{}", d.year.0, d.donor_ref),
                d.amount_cents,
            ),
        ],
        E::GiftReturned(d) => vec![(
            format!("returned/{}/{}", d.year.0, d.donor_ref),
            d.amount_cents,
        )],
        E::LoanReceived(d) => vec![
            (format!("lender/{}", d.lender_ref), d.amount_cents),
            (format!("year-loans/{}", d.year.0), d.amount_cents),
        ],
        E::SubsidyApplied(d) => vec![(
            format!("year-subsidies-applied/{}", d.year.0),
            d.amount_cents,
        )],
        E::SubsidyReceived(d) => vec![(format!("year-subsidies/{}", d.year.0), d.amount_cents)],
        E::DecisionTaken(DecisionTaken {
            amount_cents: Some(a),
            ..
        }) => vec![(
            format!(
                "year-decisions/{}",
                chrono::Datelike::year(&effective.naive())
            ),
            *a,
        )],
        _ => Vec::new(),
    }
}

macro_rules! each_map {
    ($self:ident . $method:ident ()) => {
        $self.members.$method();
        $self.bodies.$method();
        $self.codes.$method();
        $self.meetings.$method();
        $self.motions.$method();
        $self.decisions.$method();
        $self.elections.$method();
        $self.cases.$method();
        $self.principals.$method();
        $self.erased.$method();
        $self.sums.$method();
        $self.incompatible_listed_by.$method();
    };
}

fn s<T: ToString>(v: &T) -> String {
    v.to_string()
}

fn opt<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

impl GovernanceState {
    /// Starts a batch: every change from here can be rolled back.
    pub fn begin(&mut self) {
        each_map!(self.begin());
    }

    /// Keeps the batch's changes.
    pub fn commit(&mut self) {
        each_map!(self.commit());
    }

    /// Undoes the batch's changes.
    pub fn rollback(&mut self) {
        each_map!(self.rollback());
    }

    /// Applies an event that passed the rules (or was recorded before). Never fails: a
    /// reference that is missing (in a ledger written without rules) is skipped.
    pub fn apply(&mut self, event: &EventData, effective: Date, position: u64) {
        for (key, cents) in amount_sums(event, effective) {
            let sum = self.sums.get(key.as_str()).copied().unwrap_or(0);
            self.sums.insert(key, sum.saturating_add(cents));
        }
        use EventData as E;
        match event {
            E::CodeVersionAdopted(d) => {
                let code = self.codes.entry(s(&d.code_id));
                code.versions
                    .push((d.version.get(), effective, d.title.clone()));
                code.kind = d.kind;
            }
            E::MemberJoined(d) => {
                let m = self.members.entry(s(&d.member_id));
                m.joins.push((effective, position));
                if let Some(k) = d.kind {
                    m.kinds.push((effective, position, k));
                }
            }
            E::MemberKindChanged(d) => {
                if let Some(m) = self.members.get_mut(d.member_id.as_str()) {
                    m.kinds.push((effective, position, d.kind));
                }
            }
            E::MembershipEnded(d) => self
                .members
                .entry(s(&d.member_id))
                .ends
                .push((effective, position)),
            E::MemberExpelled(d) => self.members.entry(s(&d.member_id)).expelled.push(effective),
            E::MemberSuspended(d) => {
                self.members
                    .entry(s(&d.member_id))
                    .suspensions
                    .push(Suspension {
                        from: effective,
                        until: d.until,
                        case_id: s(&d.case_id),
                    })
            }
            E::PersonalDataErased(d) => {
                let subject = d.subject.to_string();
                if !self.erased.contains(&subject) {
                    self.erased.insert(subject, effective);
                }
            }
            E::MemberReinstated(d) => {
                self.members
                    .entry(s(&d.member_id))
                    .reinstatements
                    .push((effective, opt(&d.case_id)));
            }
            E::ContributionPaid(d) => {
                if let Some(m) = self.members.get_mut(d.member_id.as_str()) {
                    m.paid_cents = m.paid_cents.saturating_add(d.amount_cents);
                }
            }
            E::ContributionRefunded(d) => {
                if let Some(m) = self.members.get_mut(d.member_id.as_str()) {
                    m.refunded_cents = m.refunded_cents.saturating_add(d.amount_cents);
                }
            }
            E::MemberDetailsChanged(_)
            | E::ConductCodeSigned(_)
            | E::SubsidyReceived(_)
            | E::GiftReceived(_)
            | E::BudgetAdopted(_)
            | E::SubsidyApplied(_)
            | E::GiftReported(_)
            | E::GiftReturned(_)
            | E::LoanReceived(_) => {}
            E::MotionVoted(d) => {
                if let Some(m) = self.motions.get_mut(d.motion_id.as_str()) {
                    m.voted.get_or_insert((effective, d.outcome));
                }
            }
            E::BodyRulesAdopted(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    let rules = BodyRules {
                        from: effective,
                        notice_days: d.notice_days,
                        quorum: d.quorum,
                        statute_majority: d.statute_majority.unwrap_or(Fraction::TWO_THIRDS),
                        appeal_body_id: opt(&d.appeal_body_id),
                        incompatible_with: d.incompatible_with.iter().flatten().map(s).collect(),
                        regulation: d
                            .regulation
                            .as_ref()
                            .map(|r| (s(&r.code_id), r.version.get())),
                        decision_id: opt(&d.decision_id),
                        position,
                    };
                    let at = b.rules.partition_point(|r| r.from <= effective);
                    b.rules.insert(at, rules);
                    for listed in d.incompatible_with.iter().flatten() {
                        let by = self.incompatible_listed_by.entry(s(listed));
                        if !by.iter().any(|x| x == d.body_id.as_str()) {
                            by.push(s(&d.body_id));
                        }
                    }
                }
            }
            E::AppointingBodyChanged(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    b.appointing.push(AppointingChange {
                        from: effective,
                        role: opt(&d.role),
                        portfolio: opt(&d.portfolio),
                        appointed_by: s(&d.appointed_by),
                        position,
                    });
                }
            }
            E::MeetingConvened(d) => {
                let convocation = Convocation {
                    sent: effective,
                    agenda: d.agenda.clone(),
                    proposal_available_on: d.proposal_available_on,
                };
                match self.meetings.get_mut(d.meeting_id.as_str()) {
                    Some(m) => {
                        m.convened.get_or_insert(convocation);
                    }
                    None => self.meetings.insert(
                        s(&d.meeting_id),
                        MeetingState {
                            body_id: s(&d.body_id),
                            date: d.date,
                            convened: Some(convocation),
                            held: None,
                        },
                    ),
                }
            }
            E::BodyEstablished(d) => self.bodies.insert(
                s(&d.body_id),
                BodyHistory {
                    name: d.name.clone(),
                    kind: d.kind,
                    parent_id: opt(&d.parent_id),
                    appointed_by: s(&d.appointed_by),
                    established: effective,
                    seat_defs: vec![(effective, d.seats.clone())],
                    term_years: d.term_years,
                    max_reappointments: d.max_reappointments,
                    min_members: d.min_members,
                    dissolved: None,
                    holdings: Vec::new(),
                    rules: Vec::new(),
                    appointing: Vec::new(),
                },
            ),
            E::SeatsChanged(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    let at = b.seat_defs.partition_point(|(from, _)| *from <= effective);
                    b.seat_defs.insert(at, (effective, d.seats.clone()));
                }
            }
            E::MemberAppointed(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    b.holdings.push(Holding {
                        member_id: s(&d.member_id),
                        role: s(&d.role),
                        portfolio: opt(&d.portfolio),
                        term_start: d.term_start,
                        term_end: d.term_end,
                        appointed_term_end: d.term_end,
                        times_reappointed: 0,
                        reappointments: Vec::new(),
                        left: None,
                        reappointment_positions: Vec::new(),
                        left_position: None,
                        decision_id: opt(&d.decision_id),
                        election_id: opt(&d.election_id),
                        position,
                    });
                }
            }
            E::MemberReappointed(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    if let Some(h) =
                        current_holding_mut(b, d.member_id.as_str(), d.role.as_str(), effective)
                    {
                        h.times_reappointed += 1;
                        h.reappointments.push((effective, d.term_end));
                        h.reappointment_positions.push(position);
                        h.term_end = Some(d.term_end);
                    }
                }
            }
            E::MemberLeftBody(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    if let Some(h) =
                        current_holding_mut(b, d.member_id.as_str(), d.role.as_str(), effective)
                    {
                        h.left = Some((effective, d.reason));
                        h.left_position = Some(position);
                    }
                }
            }
            E::BodyDissolved(d) => {
                if let Some(b) = self.bodies.get_mut(d.body_id.as_str()) {
                    b.dissolved = Some(b.dissolved.map_or(effective, |x| x.min(effective)));
                }
            }
            E::MeetingHeld(d) => {
                let held = Attendance {
                    present_count: d.present_count,
                    quorum_met: d.quorum_met,
                };
                match self.meetings.get_mut(d.meeting_id.as_str()) {
                    Some(m) => {
                        m.held.get_or_insert(held);
                    }
                    None => self.meetings.insert(
                        s(&d.meeting_id),
                        MeetingState {
                            body_id: s(&d.body_id),
                            date: d.date,
                            convened: None,
                            held: Some(held),
                        },
                    ),
                }
            }
            E::MotionSubmitted(d) => self.motions.insert(
                s(&d.motion_id),
                MotionState {
                    submitted: effective,
                    withdrawn: None,
                    meeting_id: s(&d.meeting_id),
                    kind: d.kind.unwrap_or(MotionKind::Ordinary),
                    amends: opt(&d.amends),
                    voted: None,
                },
            ),
            E::MotionWithdrawn(d) => {
                if let Some(m) = self.motions.get_mut(d.motion_id.as_str()) {
                    m.withdrawn = Some(m.withdrawn.map_or(effective, |w| w.min(effective)));
                }
            }
            E::DecisionTaken(d) => self.decisions.insert(
                s(&d.decision_id),
                DecisionState {
                    body_id: s(&d.body_id),
                    taken: effective,
                    revoked: None,
                    meeting_id: opt(&d.meeting_id),
                    basis: d.basis,
                },
            ),
            E::DecisionRevoked(d) => {
                if let Some(dec) = self.decisions.get_mut(d.decision_id.as_str()) {
                    dec.revoked = Some((effective, s(&d.by_decision_id), d.reason.clone()));
                }
            }
            E::ElectionCalled(d) => self.elections.insert(
                s(&d.election_id),
                ElectionState {
                    body_id: s(&d.body_id),
                    meeting_id: opt(&d.meeting_id),
                    requirements: d.requirements,
                    seats: d.seats.clone(),
                    opens: d.candidacy_opens,
                    closes: d.candidacy_closes,
                    screening_body_id: s(&d.screening_body_id),
                    candidacies: Vec::new(),
                    results: Vec::new(),
                },
            ),
            E::CandidacySubmitted(d) => {
                if let Some(e) = self.elections.get_mut(d.election_id.as_str()) {
                    e.candidacies.push(CandidacyState {
                        member_id: s(&d.member_id),
                        preferences: d.preferences.iter().map(s).collect(),
                        submitted: effective,
                        position,
                        withdrawn: None,
                        screening: None,
                    });
                }
            }
            E::CandidacyWithdrawn(d) => {
                if let Some(c) = self.candidacy_mut(d.election_id.as_str(), d.member_id.as_str()) {
                    c.withdrawn = Some(c.withdrawn.map_or(effective, |w| w.min(effective)));
                }
            }
            E::CandidacyScreened(d) => {
                if let Some(c) = self.candidacy_mut(d.election_id.as_str(), d.member_id.as_str()) {
                    c.screening = Some((d.admitted, d.reason.clone()));
                }
            }
            E::ElectionResult(d) => {
                if let Some(e) = self.elections.get_mut(d.election_id.as_str()) {
                    e.results.push((effective, d.clone()));
                }
            }
            E::CaseOpened(d) => self.cases.insert(
                s(&d.case_id),
                CaseState {
                    kind: d.kind,
                    body_id: s(&d.body_id),
                    complainants: d.complainants.iter().map(s).collect(),
                    respondents: d.respondents.iter().map(s).collect(),
                    opened: effective,
                    decided: None,
                    appeal: None,
                    appeal_decided: None,
                    closed: None,
                    decisions: Vec::new(),
                    notices: Vec::new(),
                    appeals: Vec::new(),
                    regulation: d
                        .regulation
                        .as_ref()
                        .map(|r| (s(&r.code_id), r.version.get())),
                },
            ),
            E::CaseAdmissibility(_) | E::HearingHeld(_) | E::DocumentFiled(_) => {}
            E::CaseDecided(d) => {
                let case_id = s(&d.case_id);
                let mut concerned = Vec::new();
                let mut royement = false;
                if let Some(c) = self.cases.get_mut(&case_id) {
                    let decision = CaseDecision {
                        date: effective,
                        outcome: d.outcome,
                        appeal_deadline: d.appeal_deadline,
                        decision_id: opt(&d.decision_id),
                        respondent: opt(&d.respondent),
                    };
                    c.decided = Some(decision.clone());
                    c.decisions.push(decision);
                    royement = c.kind == CaseKind::Royement;
                    concerned = match &d.respondent {
                        Some(r) => vec![s(r)],
                        None => c.respondents.clone(),
                    };
                }
                for m in concerned {
                    let Some(h) = self.members.get_mut(&m) else {
                        continue;
                    };
                    let open = h
                        .royements
                        .iter_mut()
                        .find(|r| r.case_id == case_id && r.until.is_none());
                    match (d.outcome, open) {
                        // Expelled again, or suspended: a suspension that runs, runs on.
                        (CaseOutcome::Expelled | CaseOutcome::Suspended, Some(_)) => {}
                        (CaseOutcome::Expelled, None) if royement => {
                            h.royements.push(RoyementSuspension {
                                case_id: case_id.clone(),
                                from: effective,
                                until: None,
                            });
                        }
                        // Any other outcome for this respondent ends what an earlier
                        // decision of the case caused.
                        (_, Some(r)) => r.until = Some(effective),
                        (_, None) => {}
                    }
                }
            }
            E::NoticeDelivered(d) => {
                if let Some(c) = self.cases.get_mut(d.case_id.as_str()) {
                    c.notices.push((s(&d.member_id), effective));
                }
            }
            E::AppealFiled(d) => {
                if let Some(c) = self.cases.get_mut(d.case_id.as_str()) {
                    c.appeal.get_or_insert((effective, s(&d.member_id)));
                    if let Some((index, _)) = c.decision_for(d.member_id.as_str()) {
                        c.appeals.push(Appeal {
                            member_id: s(&d.member_id),
                            filed: effective,
                            decision: index,
                            decided: None,
                        });
                    }
                }
            }
            E::AppealDecided(d) => {
                let case_id = s(&d.case_id);
                let mut ends = None;
                if let Some(c) = self.cases.get_mut(&case_id) {
                    c.appeal_decided = Some((effective, d.outcome));
                    let pending = c.appeals.iter_mut().rev().find(|a| {
                        a.decided.is_none()
                            && d.member_id
                                .as_ref()
                                .is_none_or(|m| a.member_id == m.as_str())
                    });
                    if let Some(a) = pending {
                        a.decided = Some((effective, d.outcome));
                        if matches!(
                            d.outcome,
                            AppealOutcome::Overturned | AppealOutcome::Modified
                        ) {
                            ends = Some(a.member_id.clone());
                        }
                    }
                }
                if let Some(h) = ends.and_then(|m| self.members.get_mut(&m)) {
                    for r in h
                        .royements
                        .iter_mut()
                        .filter(|r| r.case_id == case_id && r.until.is_none())
                    {
                        r.until = Some(effective);
                    }
                }
            }
            E::CaseClosed(d) => {
                if let Some(c) = self.cases.get_mut(d.case_id.as_str()) {
                    c.closed = Some(c.closed.map_or(effective, |x| x.min(effective)));
                }
            }
            E::AccessGranted(d) => self.principals.insert(s(&d.principal), true),
            E::AccessRevoked(d) => self.principals.insert(s(&d.principal), false),
        }
    }

    fn candidacy_mut(&mut self, election: &str, member: &str) -> Option<&mut CandidacyState> {
        self.elections
            .get_mut(&election.to_owned())?
            .candidacies
            .iter_mut()
            .find(|c| c.member_id == member)
    }
}

/// The holding of `member` in `role` that a reappointment or departure dated `d` is about:
/// the latest one that started on or before `d` and has not been left.
pub fn current_holding<'a>(
    b: &'a BodyHistory,
    member: &str,
    role: &str,
    d: Date,
) -> Option<&'a Holding> {
    b.holdings
        .iter()
        .filter(|h| {
            h.member_id == member && h.role == role && h.term_start <= d && h.left.is_none()
        })
        .max_by_key(|h| (h.term_start, h.position))
}

fn current_holding_mut<'a>(
    b: &'a mut BodyHistory,
    member: &str,
    role: &str,
    d: Date,
) -> Option<&'a mut Holding> {
    b.holdings
        .iter_mut()
        .filter(|h| {
            h.member_id == member && h.role == role && h.term_start <= d && h.left.is_none()
        })
        .max_by_key(|h| (h.term_start, h.position))
}

#[cfg(test)]
mod tests {
    use super::Rare;
    use crate::types::Date;

    /// A [`Rare`] list reads as the slice of what was pushed, and its bincode bytes are a
    /// `Vec`'s (under both configurations the store and the snapshots use), so a snapshot
    /// written with either reads with the other.
    #[test]
    fn rare_lists_read_and_encode_as_vectors() {
        type Item = (Date, Option<String>);
        let date = Date::parse("2024-03-01").unwrap();
        let items: Vec<Item> = vec![(date, None), (date, Some("r-2024-01".into()))];
        let mut rare: Rare<Item> = Rare::default();
        assert!(rare.is_empty());
        let standard = bincode::config::standard();
        let fixed = bincode::config::standard().with_fixed_int_encoding();
        let empty: Vec<Item> = Vec::new();
        assert_eq!(
            bincode::encode_to_vec(&rare, standard).unwrap(),
            bincode::encode_to_vec(&empty, standard).unwrap()
        );
        for item in items.clone() {
            rare.push(item);
        }
        assert_eq!(&*rare, &items[..]);
        assert_eq!(rare.iter().count(), 2);
        assert_eq!(
            bincode::encode_to_vec(&rare, standard).unwrap(),
            bincode::encode_to_vec(&items, standard).unwrap()
        );
        assert_eq!(
            bincode::encode_to_vec(&rare, fixed).unwrap(),
            bincode::encode_to_vec(&items, fixed).unwrap()
        );
        let bytes = bincode::encode_to_vec(&items, standard).unwrap();
        let (back, _): (Rare<Item>, usize) = bincode::decode_from_slice(&bytes, standard).unwrap();
        assert_eq!(back, rare);
        // An empty list read back holds nothing, as a new one does.
        let bytes = bincode::encode_to_vec(&empty, standard).unwrap();
        let (none, _): (Rare<Item>, usize) = bincode::decode_from_slice(&bytes, standard).unwrap();
        assert_eq!(none, Rare::default());
        // Changed in place through the slice.
        rare[1].1 = None;
        assert_eq!(rare[1], (date, None));
    }
}
