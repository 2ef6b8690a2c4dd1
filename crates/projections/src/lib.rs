//! kroniek's read models: pure folds over the ledger's records that answer what the board,
//! the accountant and the geschillencommissie ask, for any `as_of` date.
//!
//! [`Projections::apply`] takes one record (and its personal data, when the reader may see
//! it) and updates every read model; rebuilding is applying every record from position 0.
//! Queries take the date they are asked for and return the data of [`views`]. No I/O, no
//! clock: "today" is passed in. Projections never write to the log.

pub mod audit;
mod entries;
pub mod views;

#[cfg(test)]
mod tests;

use entries::{DecisionEntry, MotionEntry, Revocation, Vote};
use kroniek_core::catalogue::{self, ErasureSubject, EventData, EventType};
use kroniek_core::governance::state::{current_holding, BodyHistory, Holding};
use kroniek_core::governance::{GovernanceState, MemberStatus};
use kroniek_core::record::{Personal, Record};
use kroniek_core::types::{hex, Date};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use views::*;

/// What a query can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error("no {what} {id} in the ledger")]
    Unknown { what: &'static str, id: String },
    #[error("body {id} was established on {established}, after {as_of}")]
    NotYetEstablished {
        id: String,
        established: String,
        as_of: String,
    },
    #[error("record {position} cannot be read: {why}")]
    Unreadable { position: u64, why: String },
    /// A sum a read model or the report adds up passes ±(2^53 − 1) cents: only a ledger
    /// written before the rule `amount-out-of-range` can hold one.
    #[error("{what} add up past 2^53 - 1 cents (at position {position}); the ledger was written without the rule amount-out-of-range, so this figure cannot be given exactly: correct the amounts in a new ledger")]
    SumOutOfRange { what: String, position: u64 },
}

/// `a + b` when the sum stays within ±(2^53 − 1) cents (`MAX_SUM_CENTS`), the integers a
/// report can add up exactly; `None` past it. Every sum of cents the read models and the
/// report keep is added with this (step 11: never wrapped, never pinned).
pub fn add_cents(a: i64, b: i64) -> Option<i64> {
    use kroniek_core::governance::state::MAX_SUM_CENTS;
    a.checked_add(b)
        .filter(|s| (-MAX_SUM_CENTS..=MAX_SUM_CENTS).contains(s))
}

fn unknown(what: &'static str, id: &str) -> ProjectionError {
    ProjectionError::Unknown {
        what,
        id: id.to_owned(),
    }
}

/// What the read models keep of one member beyond the rules' state.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
struct MemberInfo {
    /// Branch changes: date, position, branch (None: no branch).
    branch: Vec<(Date, u64, Option<String>)>,
    /// Personal details as recorded: date, position, the `personal` object.
    details: Vec<(Date, u64, PersonalText)>,
    erased: bool,
    signatures: Vec<(String, u32, Date)>,
    /// Net contributions per year, in year order (a few years each: a vector is a third of
    /// the memory of a map).
    contributions: Vec<(i32, i64)>,
}

impl MemberInfo {
    /// Adds to the year's net contributions; `false` when that passes ±(2^53 − 1) cents.
    fn add_contribution(&mut self, year: i32, cents: i64) -> bool {
        match self.contributions.binary_search_by_key(&year, |(y, _)| *y) {
            Ok(i) => match add_cents(self.contributions[i].1, cents) {
                Some(sum) => self.contributions[i].1 = sum,
                None => return false,
            },
            Err(i) => {
                if add_cents(0, cents).is_none() {
                    return false;
                }
                reserve_one(&mut self.contributions);
                self.contributions.insert(i, (year, cents));
            }
        }
        true
    }
}

/// What the read models keep of a candidacy: the record hash (for the profile order) and
/// the profile terms (personal data).
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
struct CandidacyInfo {
    hash: [u8; 32],
    profile_terms: Option<Vec<String>>,
}

/// A case's file.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
struct CaseFile {
    subject: String,
    summary: Option<String>,
    events: Vec<CaseEntry>,
}

/// One event of a case file as kept: its `data` as compact JSON text (a parsed object takes
/// about four times the memory, and a ledger holds many cases; a query parses the one file
/// it shows).
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
struct CaseEntry {
    position: u64,
    effective: Date,
    event_type: EventType,
    data: Box<str>,
    hash: [u8; 32],
}

impl CaseEntry {
    fn view(&self) -> CaseEventView {
        CaseEventView {
            position: self.position,
            effective: date(self.effective),
            event_type: self.event_type.name().into(),
            data: serde_json::from_str(&self.data).unwrap_or(Value::Null),
            hash: hex(&self.hash),
        }
    }
}

/// A `personal` object as kept: compact JSON text, for the same reason as [`CaseEntry`]
/// (about 90,000 members' details in a large ledger).
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
struct PersonalText(Box<str>);

impl PersonalText {
    /// The object of `p`, if it is one.
    fn of(p: Option<&Personal>) -> Option<PersonalText> {
        // Kept as the canonical text it was stored as: no tree is built for it.
        let value = &p?.value;
        value
            .is_object()
            .then(|| PersonalText(value.canonical_text().into_boxed_str()))
    }

    fn map(&self) -> BTreeMap<String, Value> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

/// Pushes onto a vector that usually holds one or two items, growing it by one: the default
/// growth reserves four at the first push, and a ledger holds such vectors by the hundred
/// thousand (a member's branch changes, a motion's votes).
fn push_small<T>(v: &mut Vec<T>, item: T) {
    reserve_one(v);
    v.push(item);
}

/// Room for one more item in a full vector, and no more (see [`push_small`]).
fn reserve_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact(1);
    }
}

/// Every read model, folded from records.
#[derive(Debug, Clone, PartialEq, Default, bincode::Encode, bincode::Decode)]
pub struct Projections {
    pub(crate) state: GovernanceState,
    members: HashMap<String, Box<MemberInfo>>,
    decisions: HashMap<String, DecisionEntry>,
    motions: HashMap<String, MotionEntry>,
    candidacies: HashMap<(String, String), CandidacyInfo>,
    cases: HashMap<String, CaseFile>,
    applied: u64,
}

fn date(d: Date) -> String {
    d.to_string()
}

fn rules_view(r: &kroniek_core::governance::state::BodyRules) -> RulesView {
    RulesView {
        from: date(r.from),
        notice_days: r.notice_days,
        quorum: r.quorum,
        statute_majority: format!("{}/{}", r.statute_majority.num, r.statute_majority.den),
        appeal_body_id: r.appeal_body_id.clone(),
        incompatible_with: r.incompatible_with.clone(),
        regulation: r
            .regulation
            .as_ref()
            .map(|(code, version)| format!("{code} version {version}")),
        decision_id: r.decision_id.clone(),
        position: r.position,
    }
}

impl Projections {
    /// Empty read models.
    pub fn new() -> Self {
        Self::default()
    }

    /// The projections in four pieces whose bincode encodings, one after the other, are the
    /// projections' own (a struct is encoded as its fields in order): a snapshot encodes them
    /// on threads of their own, so that the read side stays locked for less time.
    pub fn encoding_parts(
        &self,
    ) -> (
        impl bincode::Encode + Sync + '_,
        impl bincode::Encode + Sync + '_,
        impl bincode::Encode + Sync + '_,
        impl bincode::Encode + Sync + '_,
    ) {
        (
            &self.state,
            &self.members,
            (&self.decisions, &self.motions, &self.candidacies),
            (&self.cases, self.applied),
        )
    }

    /// The governance state folded with the read models: the same fold the store's rules judge
    /// appends against ([`kroniek_core::store::Store::governance_state_from_log`]).
    pub fn governance(&self) -> &GovernanceState {
        &self.state
    }

    /// How many records were applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Rebuilds every read model from records in position order.
    pub fn rebuild<I>(records: I) -> Result<Projections, ProjectionError>
    where
        I: IntoIterator<Item = (Record, Option<Personal>)>,
    {
        let mut p = Projections::new();
        for (record, personal) in records {
            p.apply(&record, personal.as_ref())?;
        }
        Ok(p)
    }

    /// Applies one record (the next in position order) and its personal data, if shown. A
    /// record held withheld (a view copy's: its content is not here) is counted and folds
    /// nothing.
    pub fn apply(
        &mut self,
        record: &Record,
        personal: Option<&Personal>,
    ) -> Result<(), ProjectionError> {
        if record.withheld {
            self.applied += 1;
            return Ok(());
        }
        let event = record
            .event_data()
            .map_err(|(f, w)| ProjectionError::Unreadable {
                position: record.position,
                why: format!("data.{f}: {w}"),
            })?;
        self.apply_event(record, &event, personal)
    }

    /// [`Projections::apply`] with the record's data already parsed as `event` (a fold that
    /// feeds several read models parses it once).
    pub fn apply_event(
        &mut self,
        record: &Record,
        event: &EventData,
        personal: Option<&Personal>,
    ) -> Result<(), ProjectionError> {
        let effective =
            Date::parse(&record.effective).map_err(|why| ProjectionError::Unreadable {
                position: record.position,
                why,
            })?;
        self.state.apply(event, effective, record.position);
        let position = record.position;
        use EventData as E;
        match event {
            E::MemberJoined(d) => {
                let info = self.members.entry(d.member_id.to_string()).or_default();
                push_small(
                    &mut info.branch,
                    (
                        effective,
                        position,
                        d.branch_id.as_ref().map(ToString::to_string),
                    ),
                );
                if let Some(m) = PersonalText::of(personal) {
                    push_small(&mut info.details, (effective, position, m));
                }
            }
            E::MemberDetailsChanged(d) => {
                let info = self.members.entry(d.member_id.to_string()).or_default();
                if let Some(b) = &d.branch_id {
                    push_small(&mut info.branch, (effective, position, Some(b.to_string())));
                }
                if let Some(m) = PersonalText::of(personal) {
                    push_small(&mut info.details, (effective, position, m));
                }
            }
            E::ConductCodeSigned(d) => {
                self.with_member(d.member_id.as_str(), |info| {
                    push_small(
                        &mut info.signatures,
                        (d.code_id.to_string(), d.version.get(), effective),
                    )
                });
            }
            E::ContributionPaid(_) | E::ContributionRefunded(_) => {
                let (member, year, cents) = match &event {
                    E::ContributionPaid(d) => (&d.member_id, d.year.0, d.amount_cents),
                    E::ContributionRefunded(d) => {
                        (&d.member_id, d.year.0, d.amount_cents.saturating_neg())
                    }
                    _ => unreachable!("matched above"),
                };
                let mut fits = true;
                self.with_member(member.as_str(), |info| {
                    fits = info.add_contribution(year, cents)
                });
                if !fits {
                    return Err(ProjectionError::SumOutOfRange {
                        what: format!("member {member}'s contributions for {year}"),
                        position: record.position,
                    });
                }
            }
            E::PersonalDataErased(d) => match &d.subject {
                ErasureSubject::Member(m) => {
                    let info = self.members.entry(m.to_string()).or_default();
                    info.details.clear();
                    info.erased = true;
                    for ((_, member), c) in self.candidacies.iter_mut() {
                        if member == m.as_str() {
                            c.profile_terms = None;
                        }
                    }
                }
                ErasureSubject::Case(c) => {
                    if let Some(f) = self.cases.get_mut(c.as_str()) {
                        f.summary = None;
                    }
                }
                ErasureSubject::Donor(_) => {}
            },
            E::DecisionTaken(d) => {
                self.decisions.insert(
                    d.decision_id.to_string(),
                    DecisionEntry {
                        body_id: d.body_id.as_str().into(),
                        title: d.title.as_str().into(),
                        meeting_id: d.meeting_id.as_ref().map(|m| m.as_str().into()),
                        motion_id: d.motion_id.as_ref().map(|m| m.as_str().into()),
                        amount_cents: d.amount_cents,
                        revoked: None,
                        findings: self
                            .state
                            .decision_findings(
                                d.body_id.as_str(),
                                d.meeting_id.as_ref().map(|m| m.as_str()),
                                d.basis,
                            )
                            .into_boxed_slice(),
                        position,
                        date: effective,
                        category: d.category,
                        basis: d.basis,
                    },
                );
            }
            E::DecisionRevoked(d) => {
                if let Some(dec) = self.decisions.get_mut(d.decision_id.as_str()) {
                    dec.revoked = Some(Box::new(Revocation {
                        by_decision_id: d.by_decision_id.as_str().into(),
                        reason: d.reason.as_str().into(),
                        date: effective,
                    }));
                }
            }
            E::MotionSubmitted(d) => {
                if let Some(a) = &d.amends {
                    if let Some(m) = self.motions.get_mut(a.as_str()) {
                        push_small(&mut m.amendments, d.motion_id.as_str().into());
                    }
                }
                self.motions.insert(
                    d.motion_id.to_string(),
                    MotionEntry {
                        meeting_id: d.meeting_id.as_str().into(),
                        body_id: self
                            .state
                            .meetings
                            .get(d.meeting_id.as_str())
                            .map(|m| m.body_id.as_str().into()),
                        title: d.title.as_str().into(),
                        submitters: d.submitters.iter().map(|s| s.as_str().into()).collect(),
                        amends: d.amends.as_ref().map(|a| a.as_str().into()),
                        amendments: Vec::new(),
                        votes: Vec::new(),
                        position,
                        date: effective,
                        withdrawn: None,
                    },
                );
            }
            E::MotionWithdrawn(d) => {
                if let Some(m) = self.motions.get_mut(d.motion_id.as_str()) {
                    m.withdrawn.get_or_insert(effective);
                }
            }
            E::MotionVoted(d) => {
                if let Some(m) = self.motions.get_mut(d.motion_id.as_str()) {
                    push_small(
                        &mut m.votes,
                        Vote {
                            votes_for: d.votes_for,
                            against: d.against,
                            abstain: d.abstain,
                            date: effective,
                            method: d.method,
                            outcome: d.outcome,
                        },
                    );
                }
            }
            E::CandidacySubmitted(d) => {
                let terms = personal
                    .and_then(|p| p.value.get("profile_terms"))
                    .and_then(|v| {
                        v.as_array().map(|a| {
                            a.iter()
                                .filter_map(|t| t.as_str().map(str::to_owned))
                                .collect()
                        })
                    });
                self.candidacies.insert(
                    (d.election_id.to_string(), d.member_id.to_string()),
                    CandidacyInfo {
                        hash: record.hash,
                        profile_terms: terms,
                    },
                );
            }
            _ => {}
        }
        if record.stream.starts_with("case/") {
            let case_id = &record.stream["case/".len()..];
            let file = self.cases.entry(case_id.to_owned()).or_default();
            if let E::CaseOpened(d) = &event {
                file.subject = d.subject.clone();
                file.summary = personal
                    .and_then(|p| p.value.get("summary"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            file.events.push(CaseEntry {
                position,
                effective,
                event_type: record.event_type,
                data: record.data.canonical_text().into_boxed_str(),
                hash: record.hash,
            });
        }
        self.applied += 1;
        Ok(())
    }

    /// Runs `f` on what the read models keep of member `id`, made empty first if absent (the
    /// id is copied only then: most events are of members seen before).
    fn with_member(&mut self, id: &str, f: impl FnOnce(&mut MemberInfo)) {
        if let Some(info) = self.members.get_mut(id) {
            f(info);
        } else {
            f(self.members.entry(id.to_owned()).or_default());
        }
    }

    fn body(&self, id: &str) -> Result<&BodyHistory, ProjectionError> {
        self.state.bodies.get(id).ok_or_else(|| unknown("body", id))
    }

    fn member_status(&self, id: &str, d: Date) -> MemberStatus {
        self.state
            .members
            .get(id)
            .map_or(MemberStatus::NotMember, |m| m.status_on(d))
    }

    /// Who sits in `body_id` on `as_of`.
    pub fn composition(&self, body_id: &str, as_of: Date) -> Result<Composition, ProjectionError> {
        let b = self.body(body_id)?;
        if as_of < b.established {
            return Err(ProjectionError::NotYetEstablished {
                id: body_id.into(),
                established: date(b.established),
                as_of: date(as_of),
            });
        }
        let held: Vec<&Holding> = b.holdings.iter().filter(|h| h.held_on(as_of)).collect();
        let holder = |h: &Holding| {
            let status = self.member_status(&h.member_id, as_of);
            let term_end = h.term_end_on(as_of);
            HolderView {
                member_id: h.member_id.clone(),
                name: self.name_on(&h.member_id, as_of),
                role: h.role.clone(),
                portfolio: h.portfolio.clone(),
                term_start: date(h.term_start),
                term_end: term_end.map(date),
                times_reappointed: h.times_reappointed_on(as_of),
                term_expired: term_end.is_some_and(|t| t < as_of),
                member_status: status.as_str().into(),
                member_active: status == MemberStatus::Active,
                decision_id: h.decision_id.clone(),
                election_id: h.election_id.clone(),
                findings: self.state.holding_findings(body_id, h),
            }
        };
        let mut seats: Vec<SeatView> = Vec::new();
        for s in b.seats_on(as_of).unwrap_or(&[]) {
            let (role, portfolio) = (
                s.role.to_string(),
                s.portfolio.as_ref().map(ToString::to_string),
            );
            if let Some(existing) = seats
                .iter_mut()
                .find(|v| v.role == role && v.portfolio == portfolio)
            {
                existing.count += s.count;
                continue;
            }
            seats.push(SeatView {
                role,
                portfolio,
                count: s.count,
                vacancies: 0,
                holders: Vec::new(),
            });
        }
        for h in &held {
            let view = holder(h);
            match seats
                .iter_mut()
                .find(|v| v.role == h.role && v.portfolio == h.portfolio)
            {
                Some(seat) => seat.holders.push(view),
                // A seat the current definition no longer has: still listed, with count 0.
                None => seats.push(SeatView {
                    role: h.role.clone(),
                    portfolio: h.portfolio.clone(),
                    count: 0,
                    vacancies: 0,
                    holders: vec![view],
                }),
            }
        }
        for seat in &mut seats {
            seat.holders
                .sort_by(|a, b| (&a.term_start, &a.member_id).cmp(&(&b.term_start, &b.member_id)));
            let counted = seat.holders.iter().filter(|h| !h.term_expired).count() as i64;
            seat.vacancies = (seat.count - counted).max(0);
        }
        let seated = seats
            .iter()
            .flat_map(|s| &s.holders)
            .filter(|h| !h.term_expired)
            .count();
        Ok(Composition {
            body_id: body_id.into(),
            name: b.name.clone(),
            kind: b.kind.as_str().into(),
            parent_id: b.parent_id.clone(),
            as_of: date(as_of),
            established: date(b.established),
            dissolved: b.dissolved.map(date),
            min_members: b.min_members,
            seated,
            below_min_members: b.min_members.is_some_and(|m| (seated as i64) < m),
            seats,
            rules: b.rules_on(as_of).map(rules_view),
        })
    }

    /// A meeting: convocation, agenda, attendance, quorum, motions with their votes, decisions.
    pub fn meeting(&self, meeting_id: &str) -> Result<MeetingView, ProjectionError> {
        let m = self
            .state
            .meetings
            .get(meeting_id)
            .ok_or_else(|| unknown("meeting", meeting_id))?;
        let mut motions: Vec<MotionView> = self
            .motions
            .iter()
            .filter(|(_, x)| &*x.meeting_id == meeting_id)
            .map(|(id, x)| x.view(id))
            .collect();
        motions.sort_by_key(|x| x.position);
        let mut decisions: Vec<DecisionView> = self
            .decisions
            .iter()
            .filter(|(_, x)| x.meeting_id.as_deref() == Some(meeting_id))
            .map(|(id, x)| x.view(id))
            .collect();
        decisions.sort_by_key(|x| x.position);
        let mut elections: Vec<String> = self
            .state
            .elections
            .iter()
            .filter(|(_, e)| e.meeting_id.as_deref() == Some(meeting_id))
            .map(|(id, _)| id.clone())
            .collect();
        elections.sort();
        Ok(MeetingView {
            meeting_id: meeting_id.into(),
            body_id: m.body_id.clone(),
            date: date(m.date),
            convened: m.convened.as_ref().map(|c| ConvocationView {
                sent: date(c.sent),
                notice_days: (m.date.naive() - c.sent.naive()).num_days(),
                agenda: c
                    .agenda
                    .iter()
                    .map(|i| AgendaItemView {
                        item: i.item.clone(),
                        kind: i.kind.as_str().into(),
                        motion_id: i.motion_id.as_ref().map(ToString::to_string),
                    })
                    .collect(),
                proposal_available_on: c.proposal_available_on.map(date),
            }),
            held: m.held.map(|h| AttendanceView {
                present_count: h.present_count,
                quorum_met: h.quorum_met,
            }),
            rules: self
                .state
                .bodies
                .get(m.body_id.as_str())
                .and_then(|b| b.rules_on(m.date))
                .map(rules_view),
            motions,
            decisions,
            elections,
        })
    }

    /// The term schedule (*rooster van aftreden*) of `body_id`: every seat-term, by term end.
    pub fn terms(&self, body_id: &str) -> Result<TermSchedule, ProjectionError> {
        let b = self.body(body_id)?;
        let mut terms: Vec<TermView> = b
            .holdings
            .iter()
            .map(|h| TermView {
                member_id: h.member_id.clone(),
                role: h.role.clone(),
                portfolio: h.portfolio.clone(),
                term_start: date(h.term_start),
                term_end: h.term_end.map(date),
                times_reappointed: h.times_reappointed,
                reappointments_remaining: b
                    .max_reappointments
                    .map(|m| (m - i64::from(h.times_reappointed)).max(0)),
                reappointments: h
                    .reappointments
                    .iter()
                    .map(|(d, end)| ReappointmentView {
                        date: date(*d),
                        term_end: date(*end),
                    })
                    .collect(),
                left: h.left.map(|(d, _)| date(d)),
                left_reason: h.left.map(|(_, r)| r.as_str().into()),
            })
            .collect();
        terms.sort_by(|a, b| {
            let end = |t: &TermView| t.term_end.clone().unwrap_or_else(|| "9999-12-31".into());
            (end(a), &a.role, &a.member_id).cmp(&(end(b), &b.role, &b.member_id))
        });
        Ok(TermSchedule {
            body_id: body_id.into(),
            name: b.name.clone(),
            term_years: b.term_years,
            max_reappointments: b.max_reappointments,
            terms,
        })
    }

    /// A member on `as_of`.
    pub fn member(&self, member_id: &str, as_of: Date) -> Result<MemberView, ProjectionError> {
        let history = self
            .state
            .members
            .get(member_id)
            .filter(|m| !m.joins.is_empty())
            .ok_or_else(|| unknown("member", member_id))?;
        let info = self.members.get(member_id).cloned().unwrap_or_default();
        let branch_id = info
            .branch
            .iter()
            .filter(|(d, _, _)| *d <= as_of)
            .max_by_key(|(d, p, _)| (*d, *p))
            .and_then(|(_, _, b)| b.clone());
        let mut details: Option<BTreeMap<String, Value>> = None;
        let mut changes: Vec<&(Date, u64, PersonalText)> = info
            .details
            .iter()
            .filter(|(d, _, _)| *d <= as_of)
            .collect();
        changes.sort_by_key(|(d, p, _)| (*d, *p));
        for (_, _, m) in changes {
            let merged = details.get_or_insert_with(BTreeMap::new);
            for (k, v) in m.map() {
                if !v.is_null() {
                    merged.insert(k, v);
                }
            }
        }
        // Status changes: probe each date something about the member changed, and the day after
        // each end date (a suspension `until` is inclusive).
        let mut dates: BTreeSet<Date> = BTreeSet::new();
        dates.extend(history.joins.iter().map(|(d, _)| *d));
        dates.extend(history.ends.iter().map(|(d, _)| *d));
        dates.extend(history.expelled.iter().copied());
        for s in &history.suspensions {
            dates.insert(s.from);
            if let Some(next) = s.until.and_then(|u| u.naive().succ_opt()) {
                dates.insert(Date::from_naive(next));
            }
        }
        dates.extend(history.reinstatements.iter().map(|(d, _)| *d));
        for r in &history.royements {
            dates.insert(r.from);
            dates.extend(r.until);
        }
        let mut status_history: Vec<StatusChange> = Vec::new();
        for d in dates.into_iter().filter(|d| *d <= as_of) {
            let status = history.status_on(d).as_str().to_owned();
            if status_history.last().map(|c| &c.status) != Some(&status) {
                status_history.push(StatusChange {
                    date: date(d),
                    status,
                });
            }
        }
        let mut bodies: Vec<MemberSeatView> = Vec::new();
        let mut body_ids: Vec<(&String, &BodyHistory)> = self.state.bodies.iter().collect();
        body_ids.sort_by_key(|(id, _)| *id);
        for (id, b) in body_ids {
            for h in b
                .holdings
                .iter()
                .filter(|h| h.member_id == member_id && h.held_on(as_of))
            {
                let term_end = h.term_end_on(as_of);
                bodies.push(MemberSeatView {
                    body_id: id.clone(),
                    role: h.role.clone(),
                    portfolio: h.portfolio.clone(),
                    term_start: date(h.term_start),
                    term_end: term_end.map(date),
                    term_expired: term_end.is_some_and(|t| t < as_of),
                });
            }
        }
        Ok(MemberView {
            member_id: member_id.into(),
            as_of: date(as_of),
            status: history.status_on(as_of).as_str().into(),
            branch_id,
            details,
            personal_erased: info.erased,
            history: status_history,
            bodies,
            signatures: info
                .signatures
                .iter()
                .filter(|(_, _, d)| *d <= as_of)
                .map(|(c, v, d)| SignatureView {
                    code_id: c.clone(),
                    version: *v,
                    date: date(*d),
                })
                .collect(),
            contributions: info
                .contributions
                .iter()
                .map(|(y, c)| ContributionView {
                    year: *y,
                    net_cents: *c,
                })
                .collect(),
        })
    }

    /// Members counted on `as_of`, by status and by branch.
    pub fn membership_count(&self, as_of: Date) -> MembershipCount {
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_branch: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut members = 0;
        for (id, h) in self.state.members.iter() {
            let status = h.status_on(as_of);
            if status == MemberStatus::NotMember {
                continue;
            }
            if matches!(status, MemberStatus::Active | MemberStatus::Suspended) {
                members += 1;
            }
            *by_status.entry(status.as_str().into()).or_default() += 1;
            let branch = self
                .members
                .get(id)
                .and_then(|i| {
                    i.branch
                        .iter()
                        .filter(|(d, _, _)| *d <= as_of)
                        .max_by_key(|(d, p, _)| (*d, *p))
                        .and_then(|(_, _, b)| b.clone())
                })
                .unwrap_or_else(|| "(none)".into());
            *by_branch
                .entry(branch)
                .or_default()
                .entry(status.as_str().into())
                .or_default() += 1;
        }
        MembershipCount {
            as_of: date(as_of),
            members,
            by_status,
            by_branch,
        }
    }

    /// How many members are active on each of `dates` (what `membership_count(d)` counts as
    /// `active`), in one pass over the members: the audit report's membership over the year
    /// asks for thirteen dates and needs no branches.
    pub fn active_counts(&self, dates: &[Date]) -> Vec<u64> {
        let mut counts = vec![0; dates.len()];
        for (_, h) in self.state.members.iter() {
            for (count, on) in counts.iter_mut().zip(dates) {
                if h.status_on(*on) == MemberStatus::Active {
                    *count += 1;
                }
            }
        }
        counts
    }

    /// Decisions and motions, in date order, filtered.
    pub fn timeline(&self, filter: &TimelineFilter) -> Vec<TimelineEntry> {
        self.timeline_refs(filter, false)
            .into_iter()
            .map(EntryRef::to_entry)
            .collect()
    }

    /// One page of the timeline: `limit` entries from `offset`, newest first when asked, and
    /// how many entries the filter selects in all. Only the page's entries are copied, so a
    /// page of a large ledger costs a sort of references, not a copy of every decision.
    pub fn timeline_page(
        &self,
        filter: &TimelineFilter,
        decisions_only: bool,
        newest_first: bool,
        offset: usize,
        limit: usize,
    ) -> (Vec<TimelineEntry>, usize) {
        let mut refs = self.timeline_refs(filter, decisions_only);
        if newest_first {
            refs.reverse();
        }
        let total = refs.len();
        let page = refs
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(EntryRef::to_entry)
            .collect();
        (page, total)
    }

    /// One page of the timeline by key: up to `limit` entries after the entry `after` (its
    /// date and position, the cursor of the page before), oldest first, and the cursor of the
    /// next page when more follow. Entries appended later land by their date: a cursor stays
    /// valid (a page never repeats or skips an entry that was there when it was read).
    pub fn timeline_after(
        &self,
        filter: &TimelineFilter,
        after: Option<(&str, u64)>,
        limit: usize,
    ) -> (Vec<TimelineEntry>, Option<(String, u64)>) {
        let refs = self.timeline_refs(filter, false);
        let start = after.map_or(0, |(day, position)| {
            let day = DateBound::from_text(day);
            refs.partition_point(|r| {
                let (d, p) = r.key();
                day.order(d).then(p.cmp(&position)).is_le()
            })
        });
        let rest = refs.len().saturating_sub(start);
        let page: Vec<TimelineEntry> = refs
            .into_iter()
            .skip(start)
            .take(limit)
            .map(EntryRef::to_entry)
            .collect();
        let next = (rest > limit)
            .then(|| page.last().map(|e| (e.key().0.to_owned(), e.key().1)))
            .flatten();
        (page, next)
    }

    /// Whether a body of this id is in the ledger.
    pub fn has_body(&self, body_id: &str) -> bool {
        self.state.bodies.get(body_id).is_some()
    }

    /// One page of the members who are or were members on `as_of`, in id order: up to `limit`
    /// after the id `after`, and the cursor of the next page when more follow.
    pub fn member_page(
        &self,
        as_of: Date,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<MemberLine>, Option<String>) {
        let mut members: Vec<(&String, MemberStatus)> = self
            .state
            .members
            .iter()
            .filter(|(id, _)| after.is_none_or(|a| id.as_str() > a))
            .map(|(id, h)| (id, h.status_on(as_of)))
            .filter(|(_, status)| *status != MemberStatus::NotMember)
            .collect();
        members.sort_unstable_by_key(|(id, _)| *id);
        let more = members.len() > limit;
        let page: Vec<MemberLine> = members
            .into_iter()
            .take(limit)
            .map(|(id, status)| MemberLine {
                member_id: id.clone(),
                status: status.as_str().into(),
                branch_id: self.branch_on(id, as_of),
            })
            .collect();
        let next = more
            .then(|| page.last().map(|m| m.member_id.clone()))
            .flatten();
        (page, next)
    }

    /// The entries a filter selects, as references, in date order.
    fn timeline_refs(&self, filter: &TimelineFilter, decisions_only: bool) -> Vec<EntryRef<'_>> {
        let from = filter.from.as_deref().map(DateBound::from_text);
        let to = filter.to.as_deref().map(DateBound::from_text);
        let in_range = |d: Date| {
            from.as_ref().is_none_or(|f| f.order(d).is_ge())
                && to.as_ref().is_none_or(|t| t.order(d).is_le())
        };
        let mut out: Vec<EntryRef<'_>> = self
            .decisions
            .iter()
            .filter(|(_, d)| filter.body_id.as_deref().is_none_or(|b| &*d.body_id == b))
            .filter(|(_, d)| {
                filter
                    .category
                    .as_deref()
                    .is_none_or(|c| d.category.as_str() == c)
            })
            .filter(|(_, d)| in_range(d.date))
            .map(|(id, d)| EntryRef::Decision(id, d))
            .collect();
        if filter.category.is_none() && !decisions_only {
            out.extend(
                self.motions
                    .iter()
                    .filter(|(_, m)| {
                        filter
                            .body_id
                            .as_deref()
                            .is_none_or(|b| m.body_id.as_deref() == Some(b))
                    })
                    .filter(|(_, m)| in_range(m.date))
                    .map(|(id, m)| EntryRef::Motion(id, m)),
            );
        }
        out.sort_unstable_by_key(EntryRef::key);
        out
    }

    /// An election.
    pub fn election(&self, election_id: &str) -> Result<ElectionView, ProjectionError> {
        let e = self
            .state
            .elections
            .get(election_id)
            .ok_or_else(|| unknown("election", election_id))?;
        let seat_defs = |seats: &[catalogue::Seat]| -> Vec<SeatDefView> {
            seats
                .iter()
                .map(|s| SeatDefView {
                    role: s.role.to_string(),
                    portfolio: s.portfolio.as_ref().map(ToString::to_string),
                    count: s.count,
                })
                .collect()
        };
        let info = |m: &str| {
            self.candidacies
                .get(&(election_id.to_owned(), m.to_owned()))
        };
        let candidacies: Vec<CandidacyView> = e
            .candidacies
            .iter()
            .map(|c| CandidacyView {
                member_id: c.member_id.clone(),
                preferences: c.preferences.clone(),
                submitted: date(c.submitted),
                withdrawn: c.withdrawn.map(date),
                admitted: c.screening.as_ref().map(|(a, _)| *a),
                reason: c.screening.as_ref().and_then(|(_, r)| r.clone()),
                profile_terms: info(&c.member_id).and_then(|i| i.profile_terms.clone()),
                findings: self
                    .state
                    .screening_conflict(e, &c.member_id, c.submitted)
                    .into_iter()
                    .collect(),
            })
            .collect();
        // The candidates voters can choose from (not withdrawn, not refused), in the fixed,
        // unrevealing order: BLAKE3(election_id ‖ the candidacy record's hash).
        let mut profiles: Vec<([u8; 32], Vec<String>)> = e
            .candidacies
            .iter()
            .filter(|c| c.withdrawn.is_none() && !matches!(c.screening, Some((false, _))))
            .filter_map(|c| info(&c.member_id))
            .filter_map(|i| {
                i.profile_terms
                    .clone()
                    .map(|t| (profile_key(election_id, &i.hash), t))
            })
            .collect();
        profiles.sort_by_key(|p| p.0);
        Ok(ElectionView {
            election_id: election_id.into(),
            body_id: e.body_id.clone(),
            seats: seat_defs(&e.seats),
            candidacy_opens: date(e.opens),
            candidacy_closes: date(e.closes),
            screening_body_id: e.screening_body_id.clone(),
            candidacies,
            profiles: profiles.into_iter().map(|(_, t)| t).collect(),
            results: e
                .results
                .iter()
                .map(|(_, r)| ResultView {
                    role: r.role.to_string(),
                    portfolio: r.portfolio.as_ref().map(ToString::to_string),
                    tally: r
                        .tally
                        .iter()
                        .map(|t| TallyView {
                            member_id: t.member_id.to_string(),
                            votes: t.votes,
                        })
                        .collect(),
                    blank: r.blank,
                    invalid: r.invalid,
                    elected: r.elected.iter().map(ToString::to_string).collect(),
                    tie_break: r.tie_break.map(|t| t.as_str().to_owned()),
                })
                .collect(),
            requirements: e.requirements.map(|r| {
                let mut parts = Vec::new();
                if r.cv {
                    parts.push("a CV".to_owned());
                }
                if r.motivation {
                    parts.push("a motivation".to_owned());
                }
                match (r.profile_terms_min, r.profile_terms_max) {
                    (Some(a), Some(b)) => parts.push(format!("{a} to {b} profile terms")),
                    (Some(a), None) => parts.push(format!("at least {a} profile terms")),
                    (None, Some(b)) => parts.push(format!("at most {b} profile terms")),
                    (None, None) => {}
                }
                parts.join(", ")
            }),
        })
    }

    /// A case file on `as_of`.
    pub fn case(&self, case_id: &str, as_of: Date) -> Result<CaseView, ProjectionError> {
        let c = self
            .state
            .cases
            .get(case_id)
            .ok_or_else(|| unknown("case", case_id))?;
        let file = self.cases.get(case_id).cloned().unwrap_or_default();
        let decided = c.decided.as_ref().filter(|d| d.date <= as_of);
        let appeal = c.appeal.as_ref().filter(|(d, _)| *d <= as_of);
        let appeal_decided = c.appeal_decided.filter(|(d, _)| *d <= as_of);
        let status = if as_of < c.opened {
            "not_yet_opened"
        } else if c.closed.is_some_and(|d| d <= as_of) {
            "closed"
        } else if appeal_decided.is_some() {
            "appeal_decided"
        } else if appeal.is_some() {
            "appealed"
        } else if decided.is_some() {
            "decided"
        } else {
            "open"
        };
        let suspended = c
            .respondents
            .iter()
            .map(|m| {
                let h = self.state.members.get(m.as_str());
                let by_royement = h.is_some_and(|h| {
                    h.royements.iter().any(|r| {
                        r.case_id == case_id && r.from <= as_of && r.until.is_none_or(|u| as_of < u)
                    })
                });
                let explicit = h.is_some_and(|h| {
                    h.suspensions.iter().any(|s| {
                        s.case_id == case_id
                            && s.from <= as_of
                            && s.until.is_none_or(|u| as_of <= u)
                            && !h.reinstatements.iter().any(|(r, rc)| {
                                *r >= s.from
                                    && *r <= as_of
                                    && rc.as_ref().is_none_or(|x| x == case_id)
                            })
                    })
                });
                let expelled = h.is_some_and(|h| h.expelled.iter().any(|e| *e <= as_of));
                SuspensionView {
                    member_id: m.clone(),
                    suspended: (by_royement || explicit) && !expelled,
                }
            })
            .collect();
        Ok(CaseView {
            case_id: case_id.into(),
            kind: c.kind.as_str().into(),
            body_id: c.body_id.clone(),
            subject: file.subject,
            summary: file.summary,
            complainants: c.complainants.clone(),
            respondents: c.respondents.clone(),
            as_of: date(as_of),
            status: status.into(),
            outcome: decided.map(|d| d.outcome.as_str().into()),
            appeal_deadline: decided.and_then(|d| d.appeal_deadline).map(date),
            appeal_outcome: appeal_decided.map(|(_, o)| o.as_str().into()),
            suspended,
            events: file
                .events
                .iter()
                .filter(|e| e.effective <= as_of)
                .map(CaseEntry::view)
                .collect(),
            later_events: file.events.iter().filter(|e| e.effective > as_of).count(),
            regulation: c
                .regulation
                .as_ref()
                .map(|(code, version)| format!("{code} version {version}")),
            by_respondent: c
                .respondents
                .iter()
                .map(|m| self.respondent_view(case_id, c, m, as_of))
                .collect(),
        })
    }

    /// One respondent's part of case `case_id` as it stood on `as_of`.
    fn respondent_view(
        &self,
        case_id: &str,
        c: &kroniek_core::governance::state::CaseState,
        member: &str,
        as_of: Date,
    ) -> RespondentView {
        let decision = c
            .decisions
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, d)| d.date <= as_of)
            .find(|(_, d)| d.respondent.as_deref().is_none_or(|r| r == member));
        let notice = decision.and_then(|(i, _)| c.notice_of(member, i).filter(|n| *n <= as_of));
        let term_end = decision.and_then(|(i, d)| {
            let from_notice = notice.map(kroniek_core::governance::check::one_month_after);
            match (d.appeal_deadline, from_notice) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
            .filter(|_| d.date <= as_of)
            .map(|t| (i, t))
        });
        let appeal = decision
            .and_then(|(i, _)| c.appeal_of(member, i))
            .filter(|a| a.filed <= as_of);
        let decided_appeal = appeal.and_then(|a| a.decided.filter(|(d, _)| *d <= as_of));
        let suspension = self.state.members.get(member).and_then(|h| {
            h.royements
                .iter()
                .filter(|r| r.case_id == case_id && r.from <= as_of)
                .max_by_key(|r| r.from)
                .cloned()
        });
        RespondentView {
            member_id: member.into(),
            decided: decision.map(|(_, d)| date(d.date)),
            outcome: decision.map(|(_, d)| d.outcome.as_str().into()),
            appeal_deadline: decision.and_then(|(_, d)| d.appeal_deadline).map(date),
            notice_received: notice.map(date),
            appeal_term_ends: term_end.map(|(_, t)| date(t)),
            days_left: term_end
                .filter(|_| appeal.is_none())
                .map(|(_, t)| (t.naive() - as_of.naive()).num_days())
                .filter(|d| *d >= 0),
            appeal_filed: appeal.map(|a| date(a.filed)),
            appeal_outcome: decided_appeal.map(|(_, o)| o.as_str().into()),
            appeal_decided: decided_appeal.map(|(d, _)| date(d)),
            suspended_from: suspension.as_ref().map(|r| date(r.from)),
            suspended_until: suspension
                .and_then(|r| r.until)
                .filter(|u| *u <= as_of)
                .map(date),
        }
    }

    /// Conduct-code coverage of active members on `as_of`.
    pub fn conduct(&self, as_of: Date) -> ConductView {
        let active: Vec<&String> = self
            .state
            .members
            .iter()
            .filter(|(_, h)| h.status_on(as_of) == MemberStatus::Active)
            .map(|(id, _)| id)
            .collect();
        // Signature coverage is of codes of conduct: regulations and statutes are not signed.
        let mut codes: Vec<(&String, _)> = self
            .state
            .codes
            .iter()
            .filter(|(_, c)| c.is_conduct())
            .collect();
        codes.sort_by_key(|(id, _)| *id);
        let mut out = Vec::new();
        for (code_id, code) in codes {
            let Some((version, adopted, title)) = code
                .versions
                .iter()
                .filter(|(_, d, _)| *d <= as_of)
                .max_by_key(|(v, _, _)| *v)
            else {
                continue;
            };
            let mut signed_current = 0;
            let mut signed_any = 0;
            for m in &active {
                let sigs = self.members.get(m.as_str()).map(|i| &i.signatures);
                let signed = |pred: &dyn Fn(u32) -> bool| {
                    sigs.is_some_and(|s| {
                        s.iter()
                            .any(|(c, v, d)| c == code_id && pred(*v) && *d <= as_of)
                    })
                };
                if signed(&|v| v == *version) {
                    signed_current += 1;
                }
                if signed(&|_| true) {
                    signed_any += 1;
                }
            }
            let mut versions: Vec<CodeVersionView> = code
                .versions
                .iter()
                .filter(|(_, d, _)| *d <= as_of)
                .map(|(v, d, t)| CodeVersionView {
                    version: *v,
                    title: t.clone(),
                    adopted: date(*d),
                })
                .collect();
            versions.sort_by_key(|v| v.version);
            out.push(CodeCoverage {
                code_id: code_id.clone(),
                version: *version,
                title: title.clone(),
                adopted: date(*adopted),
                signed_current,
                signed_any,
                versions,
            });
        }
        ConductView {
            as_of: date(as_of),
            active_members: active.len() as u64,
            codes: out,
        }
    }

    /// A member's branch on `d` (the latest join or move on or before it).
    pub fn branch_on(&self, member_id: &str, d: Date) -> Option<String> {
        self.members
            .get(member_id)?
            .branch
            .iter()
            .filter(|(at, _, _)| *at <= d)
            .max_by_key(|(at, p, _)| (*at, *p))
            .and_then(|(_, _, b)| b.clone())
    }

    /// A member's name as recorded on or before `d` (personal data: `None` when erased).
    pub fn name_on(&self, member_id: &str, d: Date) -> Option<String> {
        self.detail_on(member_id, "name", d)
    }

    /// A member's personal detail (`name`, `residence`, `email`) on `d`: the latest given on or
    /// before it; none when erased, never given, or not shown.
    pub fn detail_on(&self, member_id: &str, key: &str, d: Date) -> Option<String> {
        let info = self.members.get(member_id)?;
        info.details
            .iter()
            .filter(|(at, _, _)| *at <= d)
            .filter_map(|(at, p, m)| match m.map().remove(key) {
                Some(Value::String(v)) => Some((*at, *p, v)),
                _ => None,
            })
            .max_by_key(|(at, p, _)| (*at, *p))
            .map(|(_, _, v)| v)
    }

    /// Whether the member holds or held a seat in any body (an office holder, whose name is
    /// public record).
    pub fn is_office_holder(&self, member_id: &str) -> bool {
        self.state
            .bodies
            .iter()
            .any(|(_, b)| b.holdings.iter().any(|h| h.member_id == member_id))
    }

    /// The holding a member has in a role of a body on a date, for other read models.
    pub fn holding(&self, body_id: &str, member_id: &str, role: &str, d: Date) -> Option<&Holding> {
        current_holding(self.state.bodies.get(body_id)?, member_id, role, d)
    }

    /// Every body with its name, kind, parent and dissolution date, sorted by id.
    pub fn body_outline(&self) -> Vec<BodyOutline> {
        let mut bodies: Vec<BodyOutline> = self
            .state
            .bodies
            .iter()
            .map(|(id, b)| BodyOutline {
                body_id: id.clone(),
                name: b.name.clone(),
                kind: b.kind.as_str().into(),
                parent_id: b.parent_id.clone(),
                dissolved: b.dissolved.map(date),
            })
            .collect();
        bodies.sort_by(|a, b| a.body_id.cmp(&b.body_id));
        bodies
    }

    /// Every election id with its body, sorted by id.
    pub fn election_ids(&self) -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = self
            .state
            .elections
            .iter()
            .map(|(id, e)| (id.clone(), e.body_id.clone()))
            .collect();
        ids.sort();
        ids
    }

    /// Every case id with its subject, sorted by id.
    pub fn case_ids(&self) -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = self
            .cases
            .iter()
            .map(|(id, c)| (id.clone(), c.subject.clone()))
            .collect();
        ids.sort();
        ids
    }

    /// The position of a decision's event, by id, without making its view.
    pub fn decision_position(&self, decision_id: &str) -> Option<u64> {
        self.decisions.get(decision_id).map(|d| d.position)
    }

    /// Every body id, sorted.
    pub fn body_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.state.bodies.iter().map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids
    }
}

/// A bound on the timeline's dates as a caller wrote it (a filter's `from`/`to`, a cursor's
/// day): entries compare with its text, as they did when they kept their dates as text. A
/// bound that is a date (`YYYY-MM-DD`, ordered as its text is) compares as a date, with no
/// text made per entry.
enum DateBound<'a> {
    Date(Date),
    Text(&'a str),
}

impl<'a> DateBound<'a> {
    fn from_text(text: &'a str) -> Self {
        Date::parse(text).map_or(DateBound::Text(text), DateBound::Date)
    }

    /// How `d` orders against the bound.
    fn order(&self, d: Date) -> std::cmp::Ordering {
        match self {
            DateBound::Date(bound) => d.cmp(bound),
            DateBound::Text(text) => date(d).as_str().cmp(text),
        }
    }
}

/// A timeline entry, borrowed.
#[derive(Debug, Clone, Copy)]
enum EntryRef<'a> {
    Decision(&'a str, &'a DecisionEntry),
    Motion(&'a str, &'a MotionEntry),
}

impl EntryRef<'_> {
    /// Date, then position: positions are unique, so the order is total.
    fn key(&self) -> (Date, u64) {
        match self {
            EntryRef::Decision(_, d) => (d.date, d.position),
            EntryRef::Motion(_, m) => (m.date, m.position),
        }
    }

    fn to_entry(self) -> TimelineEntry {
        match self {
            EntryRef::Decision(id, d) => TimelineEntry::Decision(d.view(id)),
            EntryRef::Motion(id, m) => TimelineEntry::Motion(m.view(id)),
        }
    }
}

/// One body in [`Projections::body_outline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyOutline {
    pub body_id: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<String>,
    pub dissolved: Option<String>,
}

/// The sort key of an anonymised profile: BLAKE3 over the election id's UTF-8 bytes followed
/// by the 32 bytes of the candidacy record's hash.
pub fn profile_key(election_id: &str, record_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(election_id.as_bytes());
    h.update(record_hash);
    *h.finalize().as_bytes()
}
