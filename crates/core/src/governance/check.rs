//! The governance rules of DOMAIN.md (`unknown-reference` … `expulsion-not-final`): each event
//! is judged against the state as it stands, on the date that counts, and the first rule it
//! breaks in the table's order is reported with the facts behind it.

use super::state::*;
use super::statutes::Appointment;
use crate::catalogue::*;
use crate::rules::{Refusal, Rule};
use crate::types::Date;

type Checked = Result<(), Refusal>;

/// A term a seat must have room for: from `from` through `to` (open-ended without), not
/// counting the holding at position `except` (the one being extended).
struct NewTerm<'a> {
    role: &'a str,
    portfolio: Option<&'a str>,
    from: Date,
    to: Option<Date>,
    except: Option<u64>,
}

fn fail(rule: Rule, field: &str, message: String) -> Checked {
    Err(Refusal::at(rule, field, message))
}

pub use super::state::one_month_after;

fn seat_name(role: &str, portfolio: Option<&str>) -> String {
    match portfolio {
        Some(p) => format!("role {role} (portfolio {p})"),
        None => format!("role {role}"),
    }
}

fn list(ids: &[&str]) -> String {
    if ids.is_empty() {
        "no one".into()
    } else {
        ids.iter()
            .map(|m| format!("member {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl GovernanceState {
    pub(super) fn member(&self, id: &str) -> Option<&MemberHistory> {
        self.members.get(id).filter(|m| !m.joins.is_empty())
    }

    pub(super) fn need_member(&self, id: &str, field: &str) -> Result<&MemberHistory, Refusal> {
        self.member(id).ok_or_else(|| {
            Refusal::at(
                Rule::UnknownReference,
                field,
                format!("member {id} is unknown: no MemberJoined for it was recorded"),
            )
        })
    }

    pub(super) fn need_members(&self, ids: &[crate::types::MemberId], field: &str) -> Checked {
        for (i, m) in ids.iter().enumerate() {
            self.need_member(m.as_str(), &format!("{field}[{i}]"))?;
        }
        Ok(())
    }

    pub(super) fn need_body(&self, id: &str, field: &str) -> Result<&BodyHistory, Refusal> {
        self.bodies.get(id).ok_or_else(|| {
            Refusal::at(
                Rule::UnknownReference,
                field,
                format!("body {id} is unknown: no BodyEstablished for it was recorded"),
            )
        })
    }

    pub(super) fn need<T>(
        &self,
        found: Option<T>,
        what: &str,
        id: &str,
        creator: &str,
        field: &str,
    ) -> Result<T, Refusal> {
        found.ok_or_else(|| {
            Refusal::at(
                Rule::UnknownReference,
                field,
                format!("{what} {id} is unknown: no {creator} for it was recorded"),
            )
        })
    }

    pub(super) fn need_decision(&self, id: Option<&crate::types::Id>, field: &str) -> Checked {
        if let Some(id) = id {
            self.need(
                self.decisions.get(id.as_str()),
                "decision",
                id.as_str(),
                "DecisionTaken",
                field,
            )?;
        }
        Ok(())
    }

    pub(super) fn need_meeting(&self, id: Option<&crate::types::Id>, field: &str) -> Checked {
        if let Some(id) = id {
            self.need(
                self.meetings.get(id.as_str()),
                "meeting",
                id.as_str(),
                "MeetingHeld",
                field,
            )?;
        }
        Ok(())
    }

    /// A code and version that were adopted (a regulation a case or a body's rules name).
    pub(super) fn need_code_version(&self, r: &RegulationRef, field: &str) -> Checked {
        let code = self.need(
            self.codes.get(r.code_id.as_str()),
            "code",
            r.code_id.as_str(),
            "CodeVersionAdopted",
            &format!("{field}.code_id"),
        )?;
        if !code.versions.iter().any(|v| v.0 == r.version.get()) {
            return fail(
                Rule::UnknownReference,
                &format!("{field}.version"),
                format!("code {} has no version {}", r.code_id, r.version),
            );
        }
        Ok(())
    }

    pub(super) fn need_motion(&self, id: &str, field: &str) -> Result<&MotionState, Refusal> {
        self.need(self.motions.get(id), "motion", id, "MotionSubmitted", field)
    }

    pub(super) fn need_case(&self, id: &str, field: &str) -> Result<&CaseState, Refusal> {
        self.need(self.cases.get(id), "case", id, "CaseOpened", field)
    }

    pub(super) fn need_election(&self, id: &str, field: &str) -> Result<&ElectionState, Refusal> {
        self.need(
            self.elections.get(id),
            "election",
            id,
            "ElectionCalled",
            field,
        )
    }

    pub(super) fn member_active(&self, id: &str, d: Date, field: &str, what: &str) -> Checked {
        let status = self
            .member(id)
            .map_or(MemberStatus::NotMember, |m| m.status_on(d));
        if status != MemberStatus::Active {
            return fail(
                Rule::MemberNotActive,
                field,
                format!(
                    "member {id} is {} on {d}, and only an active member can be {what}",
                    status.as_str().replace('_', " ")
                ),
            );
        }
        Ok(())
    }

    pub(super) fn body_open(&self, id: &str, b: &BodyHistory, effective: Date) -> Checked {
        if let Some(x) = b.dissolved {
            if effective > x {
                return fail(
                    Rule::InvalidState,
                    "effective",
                    format!(
                        "body {id} was dissolved on {x}: nothing can happen in it on {effective}"
                    ),
                );
            }
        }
        Ok(())
    }

    pub(super) fn case_open(&self, id: &str, c: &CaseState, effective: Date) -> Checked {
        if let Some(x) = c.closed {
            if effective > x {
                return fail(
                    Rule::InvalidState,
                    "effective",
                    format!("case {id} was closed on {x}: nothing can happen in it on {effective}"),
                );
            }
        }
        Ok(())
    }

    /// The most holders of a seat on any of `dates`, checked against the seat's count.
    fn seat_room(&self, body_id: &str, b: &BodyHistory, term: NewTerm<'_>) -> Checked {
        let NewTerm {
            role,
            portfolio,
            from,
            to,
            except,
        } = term;
        let in_range = |d: Date| d >= from && to.is_none_or(|t| d <= t);
        let mut dates = vec![from];
        dates.extend(
            b.holdings
                .iter()
                .filter(|h| h.role == role && h.portfolio.as_deref() == portfolio)
                .map(|h| h.term_start)
                .filter(|d| in_range(*d)),
        );
        dates.extend(b.seat_defs.iter().map(|(d, _)| *d).filter(|d| in_range(*d)));
        dates.sort();
        dates.dedup();
        for d in dates {
            let holders: Vec<&str> = b
                .holders_on(d, role, portfolio)
                .filter(|h| Some(h.position) != except)
                .map(|h| h.member_id.as_str())
                .collect();
            let capacity = b.capacity_on(d, role, portfolio);
            if holders.len() as i64 + 1 > capacity {
                return fail(
                    Rule::SeatCountExceeded,
                    "data.role",
                    format!(
                        "body {body_id} has {capacity} seat{} for {} on {d}, held by {}",
                        if capacity == 1 { "" } else { "s" },
                        seat_name(role, portfolio),
                        list(&holders)
                    ),
                );
            }
        }
        Ok(())
    }

    /// A candidacy's preferences: each a role, or a seat (role and portfolio), of the election;
    /// at least two distinct seats when the election fills two or more.
    fn check_preferences(&self, d: &CandidacySubmitted, e: &ElectionState) -> Checked {
        for p in &d.preferences {
            let fits = e.seats.iter().any(|s| {
                s.role == *p.role()
                    && (p.portfolio().is_none() || s.portfolio.as_ref() == p.portfolio())
            });
            if !fits {
                let seats: Vec<String> = e
                    .seats
                    .iter()
                    .map(|s| match &s.portfolio {
                        Some(x) => format!("{}/{x}", s.role),
                        None => s.role.to_string(),
                    })
                    .collect();
                return fail(
                    Rule::TooFewPreferences,
                    "data.preferences",
                    format!(
                        "{p} is not a seat of election {} (its seats: {})",
                        d.election_id,
                        seats.join(", ")
                    ),
                );
            }
        }
        let mut distinct: Vec<(&str, Option<&str>)> = d
            .preferences
            .iter()
            .map(|p| (p.role().as_str(), p.portfolio().map(|x| x.as_str())))
            .collect();
        distinct.sort();
        distinct.dedup();
        if e.seats_in_all() >= 2 && distinct.len() < 2 {
            return fail(
                Rule::TooFewPreferences,
                "data.preferences",
                format!("election {} fills {} seats: name at least two distinct seats in order of preference, not {}", d.election_id, e.seats_in_all(), distinct.len()),
            );
        }
        Ok(())
    }

    /// Judges `event`, dated `effective`, against the state; the first broken rule in
    /// DOMAIN.md's order is the error. (`personal` unknown: see [`GovernanceState::check_with_personal`].)
    pub fn check(&self, event: &EventData, effective: Date) -> Checked {
        self.check_with_personal(event, effective, None)
    }

    /// [`GovernanceState::check`], with the event's `personal` for the rules that count in it
    /// (a candidacy's profile terms, `candidacy-incomplete`).
    pub fn check_with_personal(
        &self,
        event: &EventData,
        effective: Date,
        personal: Option<&serde_json::Value>,
    ) -> Checked {
        self.check_event(event, effective)?;
        match event {
            EventData::CandidacySubmitted(d) => self.check_candidacy_file(d, effective, personal),
            _ => Ok(()),
        }
    }

    fn check_event(&self, event: &EventData, effective: Date) -> Checked {
        self.check_amounts(event, effective)?;
        self.check_rules(event, effective)
    }

    /// `amount-out-of-range`: no sum a report adds up may pass 2^53 − 1 cents — a member's
    /// contributions paid or refunded, a donor's gifts, a year's gifts, subsidies or decisions'
    /// amounts, a budget's lines.
    fn check_amounts(&self, event: &EventData, effective: Date) -> Checked {
        let too_much = |what: String, sum: i64, cents: i64| {
            fail(
                Rule::AmountOutOfRange,
                "data.amount_cents",
                format!(
                    "{what} would be {sum} + {cents} cents, past {MAX_SUM_CENTS} (2^53 − 1): a report could not add it up exactly"
                ),
            )
        };
        let over = |sum: i64, cents: i64| sum.checked_add(cents).is_none_or(|t| t > MAX_SUM_CENTS);
        match event {
            EventData::ContributionPaid(d) => {
                let sum = self
                    .members
                    .get(d.member_id.as_str())
                    .map_or(0, |m| m.paid_cents);
                if over(sum, d.amount_cents) {
                    return too_much(
                        format!("member {}'s contributions paid", d.member_id),
                        sum,
                        d.amount_cents,
                    );
                }
            }
            EventData::ContributionRefunded(d) => {
                let sum = self
                    .members
                    .get(d.member_id.as_str())
                    .map_or(0, |m| m.refunded_cents);
                if over(sum, d.amount_cents) {
                    return too_much(
                        format!("member {}'s refunds", d.member_id),
                        sum,
                        d.amount_cents,
                    );
                }
            }
            EventData::BudgetAdopted(d) => {
                let mut sum: i64 = 0;
                for (i, l) in d.lines.iter().enumerate() {
                    if over(sum, l.amount_cents) {
                        return fail(
                            Rule::AmountOutOfRange,
                            &format!("data.lines[{i}].amount_cents"),
                            format!(
                                "the budget's lines add up past {MAX_SUM_CENTS} cents (2^53 − 1)"
                            ),
                        );
                    }
                    sum += l.amount_cents;
                }
            }
            _ => {}
        }
        for (key, cents) in amount_sums(event, effective) {
            let sum = self.sums.get(key.as_str()).copied().unwrap_or(0);
            if over(sum, cents) {
                return too_much(format!("the sum {key}"), sum, cents);
            }
        }
        Ok(())
    }

    fn check_rules(&self, event: &EventData, effective: Date) -> Checked {
        use EventData as E;
        match event {
            E::CodeVersionAdopted(d) => {
                self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
                let last = self
                    .codes
                    .get(d.code_id.as_str())
                    .and_then(|c| c.versions.iter().map(|v| v.0).max())
                    .unwrap_or(0);
                if d.version.get() != last + 1 {
                    return fail(
                        Rule::CodeVersionSequence,
                        "data.version",
                        format!(
                            "code {} is at version {last}: the next version is {}, not {}",
                            d.code_id,
                            last + 1,
                            d.version
                        ),
                    );
                }
                Ok(())
            }
            E::MemberJoined(d) => {
                if let Some(b) = &d.branch_id {
                    self.need_body(b.as_str(), "data.branch_id")?;
                }
                if let Some(m) = self.member(d.member_id.as_str()) {
                    if let Some(x) = m.expelled.iter().find(|x| **x <= effective) {
                        return fail(
                            Rule::InvalidState,
                            "data.member_id",
                            format!(
                                "member {} was expelled on {x} and cannot join again",
                                d.member_id
                            ),
                        );
                    }
                    let status = m.status_on(effective);
                    if matches!(status, MemberStatus::Active | MemberStatus::Suspended) {
                        return fail(
                            Rule::InvalidState,
                            "data.member_id",
                            format!(
                                "member {} is already a member ({}) on {effective}",
                                d.member_id,
                                status.as_str()
                            ),
                        );
                    }
                }
                Ok(())
            }
            E::MemberKindChanged(d) => self
                .need_member(d.member_id.as_str(), "data.member_id")
                .map(|_| ()),
            E::MemberDetailsChanged(d) => {
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                if let Some(b) = &d.branch_id {
                    self.need_body(b.as_str(), "data.branch_id")?;
                }
                Ok(())
            }
            E::ConductCodeSigned(d) => {
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                let code = self.need(
                    self.codes.get(d.code_id.as_str()),
                    "code",
                    d.code_id.as_str(),
                    "CodeVersionAdopted",
                    "data.code_id",
                )?;
                if !code.versions.iter().any(|v| v.0 == d.version.get()) {
                    return fail(
                        Rule::UnknownReference,
                        "data.version",
                        format!("code {} has no version {}", d.code_id, d.version),
                    );
                }
                self.member_active(
                    d.member_id.as_str(),
                    effective,
                    "data.member_id",
                    "signing a code of conduct",
                )
            }
            E::ContributionPaid(ContributionPaid { member_id, .. })
            | E::ContributionRefunded(ContributionRefunded { member_id, .. }) => {
                let m = self.need_member(member_id.as_str(), "data.member_id")?;
                if !m.is_member_on(effective) {
                    return fail(
                        Rule::MemberNotActive,
                        "data.member_id",
                        format!("member {member_id} is {} on {effective}: only a member (active or suspended) pays or is refunded", m.status_on(effective).as_str().replace('_', " ")),
                    );
                }
                Ok(())
            }
            E::MemberSuspended(d) => {
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                self.need_case(d.case_id.as_str(), "data.case_id")?;
                Ok(())
            }
            E::MemberReinstated(d) => {
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                if let Some(c) = &d.case_id {
                    self.need_case(c.as_str(), "data.case_id")?;
                }
                Ok(())
            }
            E::MembershipEnded(d) => {
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                Ok(())
            }
            E::MemberExpelled(d) => {
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                let case = self.need_case(d.case_id.as_str(), "data.case_id")?;
                self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
                let why = self.expulsion_not_final(
                    d.case_id.as_str(),
                    case,
                    d.member_id.as_str(),
                    effective,
                );
                match why {
                    Some(why) => fail(Rule::ExpulsionNotFinal, "data.case_id", why),
                    None => Ok(()),
                }
            }
            E::PersonalDataErased(d) => {
                match &d.subject {
                    ErasureSubject::Member(m) => {
                        self.need_member(m.as_str(), "data.subject")?;
                    }
                    ErasureSubject::Case(c) => {
                        self.need_case(c.as_str(), "data.subject")?;
                    }
                    ErasureSubject::Donor(_) => {}
                }
                match self.erased.get(d.subject.to_string().as_str()) {
                    Some(on) => fail(
                        Rule::InvalidState,
                        "data.subject",
                        format!(
                            "the personal data of {} was erased already, on {on}: there is nothing left to erase",
                            d.subject
                        ),
                    ),
                    None => Ok(()),
                }
            }
            E::BodyEstablished(d) => {
                if let Some(p) = &d.parent_id {
                    self.need_body(p.as_str(), "data.parent_id")?;
                }
                if d.appointed_by != d.body_id {
                    self.need_body(d.appointed_by.as_str(), "data.appointed_by")?;
                }
                self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
                if let Some(b) = self.bodies.get(d.body_id.as_str()) {
                    return fail(
                        Rule::InvalidState,
                        "data.body_id",
                        format!(
                            "body {} was established before, on {}",
                            d.body_id, b.established
                        ),
                    );
                }
                Ok(())
            }
            E::SeatsChanged(d) => {
                let b = self.need_body(d.body_id.as_str(), "data.body_id")?;
                self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
                self.body_open(d.body_id.as_str(), b, effective)
            }
            E::BodyDissolved(d) => {
                let b = self.need_body(d.body_id.as_str(), "data.body_id")?;
                self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
                if let Some(x) = b.dissolved {
                    return fail(
                        Rule::InvalidState,
                        "data.body_id",
                        format!("body {} was dissolved before, on {x}", d.body_id),
                    );
                }
                Ok(())
            }
            E::MemberAppointed(d) => {
                self.check_appointment(d, effective)?;
                self.check_elected(
                    d.election_id.as_ref(),
                    d.member_id.as_str(),
                    d.body_id.as_str(),
                    d.role.as_str(),
                    d.portfolio.as_ref().map(|p| p.as_str()),
                    d.term_start,
                )?;
                self.check_appointment_validity(&Appointment {
                    body_id: d.body_id.as_str(),
                    member_id: d.member_id.as_str(),
                    role: d.role.as_str(),
                    portfolio: d.portfolio.as_ref().map(|p| p.as_str()),
                    on: d.term_start,
                    from: d.term_start,
                    to: d.term_end,
                    decision_id: d.decision_id.as_ref().map(|x| x.as_str()),
                    election_id: d.election_id.as_ref().map(|x| x.as_str()),
                    reappointment: false,
                })
            }
            E::MemberReappointed(d) => {
                self.check_reappointment(d, effective)?;
                let portfolio = self.bodies.get(d.body_id.as_str()).and_then(|b| {
                    current_holding(b, d.member_id.as_str(), d.role.as_str(), effective)
                        .and_then(|h| h.portfolio.clone())
                });
                self.check_elected(
                    d.election_id.as_ref(),
                    d.member_id.as_str(),
                    d.body_id.as_str(),
                    d.role.as_str(),
                    portfolio.as_deref(),
                    effective,
                )?;
                self.check_appointment_validity(&Appointment {
                    body_id: d.body_id.as_str(),
                    member_id: d.member_id.as_str(),
                    role: d.role.as_str(),
                    portfolio: portfolio.as_deref(),
                    on: effective,
                    from: effective,
                    to: Some(d.term_end),
                    decision_id: d.decision_id.as_ref().map(|x| x.as_str()),
                    election_id: d.election_id.as_ref().map(|x| x.as_str()),
                    reappointment: true,
                })
            }
            E::MemberLeftBody(d) => {
                let b = self.need_body(d.body_id.as_str(), "data.body_id")?;
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                self.body_open(d.body_id.as_str(), b, effective)?;
                if current_holding(b, d.member_id.as_str(), d.role.as_str(), effective).is_none() {
                    return fail(
                        Rule::NoSeatHeld,
                        "data.member_id",
                        format!(
                            "member {} holds no seat of role {} in body {} on {effective}",
                            d.member_id, d.role, d.body_id
                        ),
                    );
                }
                Ok(())
            }
            E::BodyRulesAdopted(d) => self.check_body_rules(d, effective),
            E::AppointingBodyChanged(d) => self.check_appointing_change(d, effective),
            E::MeetingConvened(d) => self.check_convened(d, effective),
            E::MeetingHeld(d) => self.check_held(d),
            E::MotionSubmitted(d) => {
                self.need_meeting(Some(&d.meeting_id), "data.meeting_id")?;
                self.need_members(&d.submitters, "data.submitters")?;
                if let Some(a) = &d.amends {
                    self.need_motion(a.as_str(), "data.amends")?;
                }
                if self.motions.contains(d.motion_id.as_str()) {
                    return fail(
                        Rule::InvalidState,
                        "data.motion_id",
                        format!("motion {} was submitted before", d.motion_id),
                    );
                }
                Ok(())
            }
            E::MotionWithdrawn(d) => self
                .need_motion(d.motion_id.as_str(), "data.motion_id")
                .map(|_| ()),
            E::MotionVoted(d) => self.check_vote(d, effective),
            E::DecisionTaken(d) => {
                self.need_body(d.body_id.as_str(), "data.body_id")?;
                self.need_meeting(d.meeting_id.as_ref(), "data.meeting_id")?;
                if let Some(m) = &d.motion_id {
                    self.need_motion(m.as_str(), "data.motion_id")?;
                }
                if let Some(x) = self.decisions.get(d.decision_id.as_str()) {
                    return fail(
                        Rule::InvalidState,
                        "data.decision_id",
                        format!(
                            "decision {} was taken before, on {}",
                            d.decision_id, x.taken
                        ),
                    );
                }
                self.check_decision_validity(d, effective)
            }
            E::DecisionRevoked(d) => {
                self.need(
                    self.decisions.get(d.decision_id.as_str()),
                    "decision",
                    d.decision_id.as_str(),
                    "DecisionTaken",
                    "data.decision_id",
                )?;
                self.need(
                    self.decisions.get(d.by_decision_id.as_str()),
                    "decision",
                    d.by_decision_id.as_str(),
                    "DecisionTaken",
                    "data.by_decision_id",
                )?;
                Ok(())
            }
            E::ElectionCalled(d) => {
                self.need_body(d.body_id.as_str(), "data.body_id")?;
                self.need_body(d.screening_body_id.as_str(), "data.screening_body_id")?;
                self.need_meeting(d.meeting_id.as_ref(), "data.meeting_id")?;
                if self.elections.contains(d.election_id.as_str()) {
                    return fail(
                        Rule::InvalidState,
                        "data.election_id",
                        format!("election {} was called before", d.election_id),
                    );
                }
                Ok(())
            }
            E::CandidacySubmitted(d) => {
                let e = self.need_election(d.election_id.as_str(), "data.election_id")?;
                self.need_member(d.member_id.as_str(), "data.member_id")?;
                self.member_active(
                    d.member_id.as_str(),
                    effective,
                    "data.member_id",
                    "a candidate",
                )?;
                if effective < e.opens || effective > e.closes {
                    return fail(
                        Rule::CandidacyOutsideWindow,
                        "effective",
                        format!(
                            "election {} takes candidacies from {} through {}, not on {effective}",
                            d.election_id, e.opens, e.closes
                        ),
                    );
                }
                if let Some(c) = e.candidacy(d.member_id.as_str()) {
                    return fail(
                        Rule::CandidacyDuplicate,
                        "data.member_id",
                        format!(
                            "member {} stood in election {} before, on {}",
                            d.member_id, d.election_id, c.submitted
                        ),
                    );
                }
                self.check_preferences(d, e)
            }
            E::CandidacyWithdrawn(CandidacyWithdrawn {
                election_id,
                member_id,
            })
            | E::CandidacyScreened(CandidacyScreened {
                election_id,
                member_id,
                ..
            }) => {
                let e = self.need_election(election_id.as_str(), "data.election_id")?;
                self.need_member(member_id.as_str(), "data.member_id")?;
                if e.candidacy(member_id.as_str()).is_none() {
                    return fail(
                        Rule::InvalidState,
                        "data.member_id",
                        format!("member {member_id} has no candidacy in election {election_id}"),
                    );
                }
                Ok(())
            }
            E::ElectionResult(d) => {
                self.check_result(d)?;
                self.check_tally(d)?;
                self.check_result_validity(d)
            }
            E::CaseOpened(d) => {
                self.need_body(d.body_id.as_str(), "data.body_id")?;
                self.need_members(&d.complainants, "data.complainants")?;
                self.need_members(&d.respondents, "data.respondents")?;
                if let Some(r) = &d.regulation {
                    self.need_code_version(r, "data.regulation")?;
                }
                if let Some(c) = self.cases.get(d.case_id.as_str()) {
                    return fail(
                        Rule::InvalidState,
                        "data.case_id",
                        format!("case {} was opened before, on {}", d.case_id, c.opened),
                    );
                }
                Ok(())
            }
            E::CaseAdmissibility(CaseAdmissibility { case_id, .. }) => {
                let c = self.need_case(case_id.as_str(), "data.case_id")?;
                self.case_open(case_id.as_str(), c, effective)
            }
            E::CaseClosed(CaseClosed { case_id }) => {
                let c = self.need_case(case_id.as_str(), "data.case_id")?;
                self.case_open(case_id.as_str(), c, effective)?;
                self.check_case_closed(case_id.as_str(), c, effective)
            }
            E::NoticeDelivered(d) => self.check_notice(d, effective),
            E::HearingHeld(d) => {
                let c = self.need_case(d.case_id.as_str(), "data.case_id")?;
                self.need_members(&d.present, "data.present")?;
                self.case_open(d.case_id.as_str(), c, effective)
            }
            E::DocumentFiled(d) => {
                let c = self.need_case(d.case_id.as_str(), "data.case_id")?;
                let by = d.filed_by.as_str();
                if self.member(by).is_none() && !self.bodies.contains(by) {
                    return fail(
                        Rule::UnknownReference,
                        "data.filed_by",
                        format!("{by} is neither a member nor a body of the ledger"),
                    );
                }
                self.case_open(d.case_id.as_str(), c, effective)
            }
            E::CaseDecided(d) => {
                let c = self.need_case(d.case_id.as_str(), "data.case_id")?;
                self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
                if let Some(r) = &d.respondent {
                    self.need_member(r.as_str(), "data.respondent")?;
                }
                self.case_open(d.case_id.as_str(), c, effective)?;
                self.check_case_decided_respondent(d, c)?;
                if c.kind == CaseKind::Royement && d.outcome == CaseOutcome::Expelled {
                    let earliest = one_month_after(effective);
                    match d.appeal_deadline {
                        Some(x) if x >= earliest => {}
                        other => {
                            return fail(
                                Rule::AppealDeadlineTooShort,
                                "data.appeal_deadline",
                                format!(
                                    "a royement decided on {effective} needs an appeal deadline on or after {earliest} (one calendar month), {}",
                                    other.map_or("and none was given".to_owned(), |x| format!("not {x}"))
                                ),
                            )
                        }
                    }
                }
                self.check_case_decision(c, d.decision_id.as_ref(), false, effective)
            }
            E::AppealFiled(d) => self.check_appeal_filed(d, effective),
            E::AppealDecided(d) => self.check_appeal_decided(d, effective),
            E::SubsidyReceived(_)
            | E::GiftReceived(_)
            | E::SubsidyApplied(_)
            | E::LoanReceived(_)
            | E::AccessGranted(_)
            | E::AccessRevoked(_) => Ok(()),
            E::GiftReported(d) => self.need_gift(d.year.0, d.donor_ref.as_str()).map(|_| ()),
            E::GiftReturned(d) => {
                let received = self.need_gift(d.year.0, d.donor_ref.as_str())?;
                let key = format!("returned/{}/{}", d.year.0, d.donor_ref);
                let returned = self.sums.get(key.as_str()).copied().unwrap_or(0);
                if returned.saturating_add(d.amount_cents) > received {
                    return fail(
                        Rule::InvalidState,
                        "data.amount_cents",
                        format!(
                            "donor {} gave {received} cents in {} and {returned} were returned before: {} more cannot be returned",
                            d.donor_ref, d.year.0, d.amount_cents
                        ),
                    );
                }
                Ok(())
            }
            E::BudgetAdopted(d) => self.need_decision(Some(&d.decision_id), "data.decision_id"),
        }
    }

    /// The cents `donor` gave in `year`: `unknown-reference` when no gift of theirs is
    /// recorded for that year.
    fn need_gift(&self, year: i32, donor: &str) -> Result<i64, Refusal> {
        match self.sums.get(format!("donor-year/{year}/{donor}").as_str()) {
            Some(cents) => Ok(*cents),
            None => Err(Refusal::at(
                Rule::UnknownReference,
                "data.donor_ref",
                format!("no gift of donor {donor} is recorded for {year}: record the GiftReceived first"),
            )),
        }
    }

    fn check_appointment(&self, d: &MemberAppointed, effective: Date) -> Checked {
        let body_id = d.body_id.as_str();
        let b = self.need_body(body_id, "data.body_id")?;
        self.need_member(d.member_id.as_str(), "data.member_id")?;
        self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
        if let Some(e) = &d.election_id {
            self.need_election(e.as_str(), "data.election_id")?;
        }
        self.body_open(body_id, b, effective)?;
        let start = d.term_start;
        if let Some(end) = d.term_end.filter(|end| *end < start) {
            return fail(
                Rule::InvalidState,
                "data.term_end",
                format!("the term ends on {end}, before it starts on {start}"),
            );
        }
        let member = d.member_id.as_str();
        let role = d.role.as_str();
        if let Some(h) = b.holdings.iter().find(|h| {
            h.member_id == member
                && h.role == role
                && d.term_end.is_none_or(|t| h.term_start <= t)
                && h.left.is_none_or(|(l, _)| start < l)
        }) {
            return fail(
                Rule::InvalidState,
                "data.member_id",
                format!("member {member} already holds a seat of role {role} in body {body_id} (since {})", h.term_start),
            );
        }
        self.member_active(member, start, "data.member_id", "appointed")?;
        if let Some(x) = b.dissolved.filter(|x| *x <= start) {
            return fail(
                Rule::BodyDissolved,
                "data.body_id",
                format!("body {body_id} was dissolved on {x}, on or before the term start {start}"),
            );
        }
        let portfolio = d.portfolio.as_ref().map(|p| p.as_str());
        self.role_defined(body_id, b, role, portfolio, start)?;
        let term = NewTerm {
            role,
            portfolio,
            from: start,
            to: d.term_end,
            except: None,
        };
        self.seat_room(body_id, b, term)
    }

    fn role_defined(
        &self,
        body_id: &str,
        b: &BodyHistory,
        role: &str,
        portfolio: Option<&str>,
        d: Date,
    ) -> Checked {
        let seats = b.seats_on(d).unwrap_or(&[]);
        let entries: Vec<&Seat> = seats.iter().filter(|s| s.role.as_str() == role).collect();
        if entries.is_empty() {
            let roles: Vec<String> = seats
                .iter()
                .map(|s| seat_name(s.role.as_str(), s.portfolio.as_ref().map(|p| p.as_str())))
                .collect();
            return fail(
                Rule::RoleNotDefined,
                "data.role",
                format!(
                    "body {body_id} has no seat for role {role} on {d} (its seats: {})",
                    if roles.is_empty() {
                        "none".into()
                    } else {
                        roles.join(", ")
                    }
                ),
            );
        }
        if !entries
            .iter()
            .any(|s| s.portfolio.as_ref().map(|p| p.as_str()) == portfolio)
        {
            let with: Vec<&str> = entries
                .iter()
                .filter_map(|s| s.portfolio.as_ref().map(|p| p.as_str()))
                .collect();
            let why = match portfolio {
                Some(p) if with.is_empty() => format!("role {role} of body {body_id} has no portfolios, so none may be named (not {p})"),
                Some(p) => format!("role {role} of body {body_id} has no portfolio {p} on {d} (its portfolios: {})", with.join(", ")),
                None => format!("role {role} of body {body_id} has portfolios ({}): name one", with.join(", ")),
            };
            return fail(Rule::RoleNotDefined, "data.portfolio", why);
        }
        Ok(())
    }

    fn check_reappointment(&self, d: &MemberReappointed, effective: Date) -> Checked {
        let body_id = d.body_id.as_str();
        let b = self.need_body(body_id, "data.body_id")?;
        self.need_member(d.member_id.as_str(), "data.member_id")?;
        self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
        if let Some(e) = &d.election_id {
            self.need_election(e.as_str(), "data.election_id")?;
        }
        self.body_open(body_id, b, effective)?;
        let member = d.member_id.as_str();
        let role = d.role.as_str();
        let holding = current_holding(b, member, role, effective);
        if let Some(h) = holding {
            match h.term_end {
                None => return fail(Rule::InvalidState, "data.term_end", format!("member {member} holds role {role} in body {body_id} without a term end (ex officio): there is nothing to extend")),
                Some(end) if d.term_end <= end => {
                    return fail(Rule::InvalidState, "data.term_end", format!("the new term end {} is not after the current one, {end}", d.term_end))
                }
                Some(_) => {}
            }
        }
        self.member_active(member, effective, "data.member_id", "reappointed")?;
        if let Some(x) = b.dissolved.filter(|x| *x <= effective) {
            return fail(
                Rule::BodyDissolved,
                "data.body_id",
                format!("body {body_id} was dissolved on {x}, on or before {effective}"),
            );
        }
        let portfolio = holding.and_then(|h| h.portfolio.as_deref());
        self.role_defined(body_id, b, role, portfolio, effective)?;
        let Some(h) = holding else {
            return fail(
                Rule::NoSeatHeld,
                "data.member_id",
                format!(
                    "member {member} holds no seat of role {role} in body {body_id} on {effective}"
                ),
            );
        };
        let old_end = h.term_end.unwrap_or(effective);
        let from = old_end
            .naive()
            .succ_opt()
            .map(Date::from_naive)
            .unwrap_or(old_end);
        let term = NewTerm {
            role,
            portfolio,
            from,
            to: Some(d.term_end),
            except: Some(h.position),
        };
        self.seat_room(body_id, b, term)?;
        if let Some(max) = b.max_reappointments {
            if i64::from(h.times_reappointed) + 1 > max {
                return fail(
                    Rule::ReappointmentLimit,
                    "data.member_id",
                    format!("member {member} was reappointed {} time(s) as {role} in body {body_id}; the body allows {max}", h.times_reappointed),
                );
            }
        }
        Ok(())
    }

    fn check_result(&self, d: &ElectionResult) -> Checked {
        let election_id = d.election_id.as_str();
        let e = self.need_election(election_id, "data.election_id")?;
        for (i, t) in d.tally.iter().enumerate() {
            self.need_member(t.member_id.as_str(), &format!("data.tally[{i}].member_id"))?;
        }
        self.need_members(&d.elected, "data.elected")?;
        let role = d.role.as_str();
        let portfolio = d.portfolio.as_ref().map(|p| p.as_str());
        let seats: i64 = e
            .seats
            .iter()
            .filter(|s| {
                s.role.as_str() == role && s.portfolio.as_ref().map(|p| p.as_str()) == portfolio
            })
            .map(|s| s.count)
            .sum();
        if !e.seats.iter().any(|s| {
            s.role.as_str() == role && s.portfolio.as_ref().map(|p| p.as_str()) == portfolio
        }) {
            return fail(
                Rule::RoleNotDefined,
                "data.role",
                format!(
                    "election {election_id} has no seat for {}",
                    seat_name(role, portfolio)
                ),
            );
        }
        let named = d
            .tally
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("data.tally[{i}].member_id"), t.member_id.as_str()))
            .chain(
                d.elected
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (format!("data.elected[{i}]"), m.as_str())),
            );
        for (field, m) in named {
            let why = match e.candidacy(m) {
                None => Some("is not a candidate".to_owned()),
                Some(c) if c.withdrawn.is_some() => Some("withdrew their candidacy".to_owned()),
                Some(c) => match &c.screening {
                    Some((true, _)) => None,
                    Some((false, _)) => Some("was not admitted by the screening".to_owned()),
                    None => Some("has not been screened".to_owned()),
                },
            };
            if let Some(why) = why {
                return fail(
                    Rule::ResultNotAdmitted,
                    &field,
                    format!("member {m} {why} in election {election_id}"),
                );
            }
        }
        let before: usize = e
            .results
            .iter()
            .filter(|(_, r)| r.role == d.role && r.portfolio == d.portfolio)
            .map(|(_, r)| r.elected.len())
            .sum();
        if (before + d.elected.len()) as i64 > seats {
            return fail(
                Rule::ResultTooManyElected,
                "data.elected",
                format!("election {election_id} has {seats} seat(s) for {}; {before} elected before, {} now", seat_name(role, portfolio), d.elected.len()),
            );
        }
        Ok(())
    }
}
