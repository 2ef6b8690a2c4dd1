//! The rules of the statutes and the law that say whether a decision was validly taken (step 9):
//! convocation (`notice-too-short`), quorum (`quorum-not-met`), votes against attendance
//! (`votes-exceed-present`), qualified majorities (`majority-not-reached`), competence of
//! bodies (`not-competent`) and incompatible offices (`incompatible-seats`). Each judges an
//! event against the state as it stands, as `check` does; the legal figures are in
//! [`STATUTORY`], each with its source.
//!
//! A body's own figures (notice, quorum, majority, appeal body, incompatibilities) come from its
//! rules in force (`BodyRulesAdopted`). Where no body concerned has rules in force, what
//! `not-competent` refuses is accepted and reported as a finding ([`GovernanceState::findings`]):
//! ledgers entered before their statutes were recorded stay loadable.

use super::state::*;
use crate::catalogue::*;
use crate::rules::{Refusal, Rule};
use crate::types::{Date, Id};

type Checked = Result<(), Refusal>;

fn fail(rule: Rule, field: &str, message: String) -> Checked {
    Err(Refusal::at(rule, field, message))
}

/// A legal figure the rules apply, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatutoryFigure {
    pub what: &'static str,
    pub value: i64,
    pub source: &'static str,
}

/// The figures the law sets, whatever a body's rules say.
pub const STATUTORY: &[StatutoryFigure] = &[
    StatutoryFigure {
        what: "days of notice for a general meeting that is to vote on a statute amendment",
        value: STATUTE_NOTICE_DAYS,
        source: "BW 2:42 lid 1: the convocation period is at least seven days",
    },
    StatutoryFigure {
        what: "days before the meeting a statute amendment's proposal is open for inspection",
        value: PROPOSAL_AVAILABLE_DAYS,
        source: "BW 2:42 lid 2: a copy of the proposal lies open for inspection at least five days before the meeting",
    },
    StatutoryFigure {
        what: "the default majority of a statute amendment or dissolution (two thirds of the votes cast, as num/den)",
        value: 2,
        source: "BW 2:43 lid 1: at least two thirds of the votes cast, unless the statutes ask more",
    },
];

/// BW 2:42 lid 1.
pub const STATUTE_NOTICE_DAYS: i64 = 7;
/// BW 2:42 lid 2.
pub const PROPOSAL_AVAILABLE_DAYS: i64 = 5;

fn days(from: Date, to: Date) -> i64 {
    (to.naive() - from.naive()).num_days()
}

/// The last day a holding is held: its term end, or the day before it was left.
fn last_day(h: &Holding) -> Option<Date> {
    let left = h
        .left
        .and_then(|(l, _)| l.naive().pred_opt().map(Date::from_naive));
    match (h.term_end, left) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    }
}

/// Whether `[a_from, a_to]` and `[b_from, b_to]` share a day (open ends run for ever).
fn overlap(a_from: Date, a_to: Option<Date>, b_from: Date, b_to: Option<Date>) -> bool {
    a_to.is_none_or(|t| b_from <= t) && b_to.is_none_or(|t| a_from <= t)
}

/// An appointment or reappointment, as the competence and incompatibility rules see it.
pub struct Appointment<'a> {
    pub body_id: &'a str,
    pub member_id: &'a str,
    pub role: &'a str,
    pub portfolio: Option<&'a str>,
    /// The date that counts: the term start of an appointment, the date of a reappointment.
    pub on: Date,
    /// The new term (for a reappointment, the extension).
    pub from: Date,
    pub to: Option<Date>,
    pub decision_id: Option<&'a str>,
    pub election_id: Option<&'a str>,
    /// A reappointment extends a seat held already: it needs no decision or election of a body
    /// with rules when it names none (the rules ask that of appointments only).
    pub reappointment: bool,
}

impl GovernanceState {
    /// The rules of `body` in force on `d`.
    pub fn rules_of(&self, body: &str, d: Date) -> Option<&BodyRules> {
        self.bodies.get(body).and_then(|b| b.rules_on(d))
    }

    pub(super) fn check_body_rules(&self, d: &BodyRulesAdopted, effective: Date) -> Checked {
        let b = self.need_body(d.body_id.as_str(), "data.body_id")?;
        self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
        if let Some(a) = &d.appeal_body_id {
            self.need_body(a.as_str(), "data.appeal_body_id")?;
        }
        for (i, x) in d.incompatible_with.iter().flatten().enumerate() {
            self.need_body(x.as_str(), &format!("data.incompatible_with[{i}]"))?;
        }
        if let Some(r) = &d.regulation {
            let code = self.need(
                self.codes.get(r.code_id.as_str()),
                "code",
                r.code_id.as_str(),
                "CodeVersionAdopted",
                "data.regulation.code_id",
            )?;
            if !code.versions.iter().any(|v| v.0 == r.version.get()) {
                return fail(
                    Rule::UnknownReference,
                    "data.regulation.version",
                    format!("code {} has no version {}", r.code_id, r.version),
                );
            }
        }
        self.body_open(d.body_id.as_str(), b, effective)
    }

    pub(super) fn check_appointing_change(
        &self,
        d: &AppointingBodyChanged,
        effective: Date,
    ) -> Checked {
        let b = self.need_body(d.body_id.as_str(), "data.body_id")?;
        self.need_body(d.appointed_by.as_str(), "data.appointed_by")?;
        self.need_decision(d.decision_id.as_ref(), "data.decision_id")?;
        self.body_open(d.body_id.as_str(), b, effective)?;
        if let Some(role) = &d.role {
            let portfolio = d.portfolio.as_ref().map(|p| p.as_str());
            let defined = b.seats_on(effective).unwrap_or(&[]).iter().any(|s| {
                s.role == *role
                    && (portfolio.is_none()
                        || s.portfolio.as_ref().map(|p| p.as_str()) == portfolio)
            });
            if !defined {
                return fail(
                    Rule::RoleNotDefined,
                    "data.role",
                    format!(
                        "body {} has no seat for role {role}{} on {effective}",
                        d.body_id,
                        portfolio.map_or(String::new(), |p| format!(" (portfolio {p})"))
                    ),
                );
            }
        } else if d.portfolio.is_some() {
            return fail(
                Rule::RoleNotDefined,
                "data.portfolio",
                "a portfolio names a seat only together with its role".into(),
            );
        }
        Ok(())
    }

    pub(super) fn check_convened(&self, d: &MeetingConvened, effective: Date) -> Checked {
        let b = self.need_body(d.body_id.as_str(), "data.body_id")?;
        if let Some(m) = self.meetings.get(d.meeting_id.as_str()) {
            let what = if m.held.is_some() { "held" } else { "convened" };
            return fail(
                Rule::InvalidState,
                "data.meeting_id",
                format!(
                    "meeting {} was {what} before (for {}): a meeting is convened once, before it is held",
                    d.meeting_id, m.date
                ),
            );
        }
        if d.date < effective {
            return fail(
                Rule::InvalidState,
                "data.date",
                format!(
                    "the convocation went out on {effective}, after the meeting's date {}",
                    d.date
                ),
            );
        }
        self.body_open(d.body_id.as_str(), b, effective)
    }

    /// A `MeetingHeld`: once per meeting, matching its convocation; convened in time and with
    /// its quorum as recorded where its body has rules in force on the meeting's date.
    pub(super) fn check_held(&self, d: &MeetingHeld) -> Checked {
        self.need_body(d.body_id.as_str(), "data.body_id")?;
        let existing = self.meetings.get(d.meeting_id.as_str());
        if let Some(m) = existing {
            if m.held.is_some() {
                return fail(
                    Rule::InvalidState,
                    "data.meeting_id",
                    format!(
                        "meeting {} was recorded before (held {})",
                        d.meeting_id, m.date
                    ),
                );
            }
            if m.body_id != d.body_id.as_str() || m.date != d.date {
                return fail(
                    Rule::InvalidState,
                    "data.meeting_id",
                    format!(
                        "meeting {} was convened as body {}'s on {}, not body {}'s on {}",
                        d.meeting_id, m.body_id, m.date, d.body_id, d.date
                    ),
                );
            }
        }
        let Some(rules) = self.rules_of(d.body_id.as_str(), d.date) else {
            return Ok(());
        };
        match existing.and_then(|m| m.convened.as_ref()) {
            None => {
                return fail(
                    Rule::NoticeTooShort,
                    "data.meeting_id",
                    format!(
                        "body {}'s rules (from {}) ask {} days' notice; meeting {} has no MeetingConvened",
                        d.body_id, rules.from, rules.notice_days, d.meeting_id
                    ),
                )
            }
            Some(c) if days(c.sent, d.date) < rules.notice_days => {
                return fail(
                    Rule::NoticeTooShort,
                    "data.date",
                    format!(
                        "meeting {} was convened on {}, {} days before {}; body {}'s rules ask {} days",
                        d.meeting_id,
                        c.sent,
                        days(c.sent, d.date),
                        d.date,
                        d.body_id,
                        rules.notice_days
                    ),
                )
            }
            Some(_) => {}
        }
        if d.quorum_met != (d.present_count >= rules.quorum) {
            return fail(
                Rule::QuorumNotMet,
                "data.quorum_met",
                format!(
                    "{} present against a quorum of {} (body {}'s rules from {}) means quorum_met {}, not {}",
                    d.present_count,
                    rules.quorum,
                    d.body_id,
                    rules.from,
                    d.present_count >= rules.quorum,
                    d.quorum_met
                ),
            );
        }
        Ok(())
    }

    /// A `MotionVoted`, in the table's order: the motion known; voted once, after the motion
    /// it amends was not yet voted, at a meeting held; the outcome the counts give; then the
    /// statutes' rules.
    pub(super) fn check_vote(&self, d: &MotionVoted, effective: Date) -> Checked {
        let m = self.need_motion(d.motion_id.as_str(), "data.motion_id")?;
        if let Some(w) = m.withdrawn.filter(|w| *w <= effective) {
            return fail(
                Rule::InvalidState,
                "data.motion_id",
                format!(
                    "motion {} was withdrawn on {w}: it cannot be voted on",
                    d.motion_id
                ),
            );
        }
        if let Some((on, outcome)) = m.voted {
            return fail(
                Rule::InvalidState,
                "data.motion_id",
                format!(
                    "motion {} was voted on before, on {on} ({}): a motion is voted once",
                    d.motion_id,
                    outcome.as_str()
                ),
            );
        }
        if let Some(amended) = &m.amends {
            if let Some((on, _)) = self.motions.get(amended.as_str()).and_then(|a| a.voted) {
                return fail(
                    Rule::InvalidState,
                    "data.motion_id",
                    format!(
                        "amendment {} amends motion {amended}, which was voted on {on}: an amendment is voted before its motion",
                        d.motion_id
                    ),
                );
            }
        }
        let meeting = self.meetings.get(m.meeting_id.as_str());
        let attendance = match meeting.and_then(|x| x.held.map(|h| (x, h))) {
            Some((x, h)) if x.date <= effective => (x, h),
            other => {
                return fail(
                    Rule::InvalidState,
                    "data.motion_id",
                    format!(
                    "motion {} belongs to meeting {}, which {}: a motion is voted at its meeting",
                    d.motion_id,
                    m.meeting_id,
                    match other {
                        Some((x, _)) => format!("is held on {}, after {effective}", x.date),
                        None => "has not been held (no MeetingHeld)".into(),
                    }
                ),
                )
            }
        };
        let (meeting, held) = attendance;
        let adopted = d.outcome == VoteOutcome::Adopted;
        if d.method != VoteMethod::Consensus && adopted != (d.votes_for > d.against) {
            return fail(
                Rule::VoteOutcomeMismatch,
                "data.outcome",
                format!(
                    "{} for and {} against means {}, not {}",
                    d.votes_for,
                    d.against,
                    if d.votes_for > d.against {
                        "adopted"
                    } else {
                        "rejected"
                    },
                    d.outcome.as_str()
                ),
            );
        }
        if m.kind == MotionKind::StatuteAmendment {
            self.statute_notice(d.motion_id.as_str(), &m.meeting_id, meeting)?;
        }
        if !held.quorum_met {
            return fail(
                Rule::QuorumNotMet,
                "data.motion_id",
                format!(
                    "meeting {} was recorded without a quorum ({} present): it cannot vote",
                    m.meeting_id, held.present_count
                ),
            );
        }
        let cast = d.votes_for + d.against + d.abstain;
        if d.method != VoteMethod::Consensus && cast > held.present_count {
            return fail(
                Rule::VotesExceedPresent,
                "data.for",
                format!(
                    "{} for, {} against and {} abstaining make {cast} votes; meeting {} had {} present",
                    d.votes_for, d.against, d.abstain, m.meeting_id, held.present_count
                ),
            );
        }
        if adopted
            && matches!(
                m.kind,
                MotionKind::StatuteAmendment | MotionKind::Dissolution
            )
        {
            let (majority, whose) = match self.rules_of(&meeting.body_id, meeting.date) {
                Some(r) => (
                    r.statute_majority,
                    format!("body {}'s rules", meeting.body_id),
                ),
                None => (Fraction::TWO_THIRDS, "BW 2:43 lid 1".to_owned()),
            };
            let votes_cast = d.votes_for + d.against;
            if d.votes_for * majority.den < majority.num * votes_cast {
                return fail(
                    Rule::MajorityNotReached,
                    "data.outcome",
                    format!(
                        "a {} is adopted with at least {}/{} of the votes cast ({whose}); {} of {votes_cast} is less (abstentions are not votes cast)",
                        m.kind.as_str().replace('_', " "),
                        majority.num,
                        majority.den,
                        d.votes_for
                    ),
                );
            }
        }
        Ok(())
    }

    /// BW 2:42: a statute amendment is voted only at a meeting convened at least seven days
    /// ahead with the amendment on its agenda, its proposal open for inspection five days ahead.
    fn statute_notice(&self, motion: &str, meeting_id: &str, meeting: &MeetingState) -> Checked {
        let why = match &meeting.convened {
            None => Some(format!(
                "meeting {meeting_id} has no convocation (MeetingConvened)"
            )),
            Some(c) => {
                let listed = c.agenda.iter().any(|i| {
                    i.kind == AgendaKind::StatuteAmendment
                        && i.motion_id.as_ref().map(|m| m.as_str()) == Some(motion)
                });
                if !listed {
                    Some(format!(
                        "the convocation of meeting {meeting_id} does not list statute amendment {motion} on its agenda"
                    ))
                } else if days(c.sent, meeting.date) < STATUTE_NOTICE_DAYS {
                    Some(format!(
                        "meeting {meeting_id} was convened on {}, {} days before {} (BW 2:42 lid 1 asks {STATUTE_NOTICE_DAYS})",
                        c.sent,
                        days(c.sent, meeting.date),
                        meeting.date
                    ))
                } else {
                    match c.proposal_available_on {
                        None => Some(format!(
                            "the convocation of meeting {meeting_id} does not say when the proposal was open for inspection (BW 2:42 lid 2)"
                        )),
                        Some(p) if days(p, meeting.date) < PROPOSAL_AVAILABLE_DAYS => Some(format!(
                            "the proposal was open for inspection from {p}, {} days before {} (BW 2:42 lid 2 asks {PROPOSAL_AVAILABLE_DAYS})",
                            days(p, meeting.date),
                            meeting.date
                        )),
                        Some(_) => None,
                    }
                }
            }
        };
        match why {
            Some(why) => fail(Rule::NoticeTooShort, "data.motion_id", why),
            None => Ok(()),
        }
    }

    /// A `DecisionTaken` after the checks of `check`: a vote needs a quorum; a meeting of
    /// another body is not competent where a body concerned has rules in force.
    pub(super) fn check_decision_validity(&self, d: &DecisionTaken, effective: Date) -> Checked {
        let Some(meeting_id) = &d.meeting_id else {
            return Ok(());
        };
        let Some(meeting) = self.meetings.get(meeting_id.as_str()) else {
            return Ok(());
        };
        if d.basis == DecisionBasis::Vote {
            if let Some(h) = meeting.held.filter(|h| !h.quorum_met) {
                return fail(
                    Rule::QuorumNotMet,
                    "data.meeting_id",
                    format!(
                        "meeting {meeting_id} was recorded without a quorum ({} present): it cannot decide by vote",
                        h.present_count
                    ),
                );
            }
        }
        if meeting.body_id != d.body_id.as_str()
            && self.concerned(&[d.body_id.as_str(), &meeting.body_id], effective)
        {
            return fail(
                Rule::NotCompetent,
                "data.body_id",
                format!(
                    "meeting {meeting_id} is a meeting of body {}; it cannot take a decision of body {}",
                    meeting.body_id, d.body_id
                ),
            );
        }
        Ok(())
    }

    /// An `ElectionResult` after `check_result`: at the election's meeting, a quorum, and no
    /// more votes than the people present could cast for the role's seats.
    pub(super) fn check_result_validity(&self, d: &ElectionResult) -> Checked {
        let Some(e) = self.elections.get(d.election_id.as_str()) else {
            return Ok(());
        };
        let Some((meeting_id, held)) = e.meeting_id.as_ref().and_then(|m| {
            self.meetings
                .get(m.as_str())
                .and_then(|x| x.held)
                .map(|h| (m, h))
        }) else {
            return Ok(());
        };
        if !held.quorum_met {
            return fail(
                Rule::QuorumNotMet,
                "data.election_id",
                format!(
                    "election {} was held at meeting {meeting_id}, recorded without a quorum",
                    d.election_id
                ),
            );
        }
        let seats: i64 = e
            .seats
            .iter()
            .filter(|s| s.role == d.role && (d.portfolio.is_none() || s.portfolio == d.portfolio))
            .map(|s| s.count)
            .sum();
        let votes: i64 = d.tally.iter().map(|t| t.votes).sum::<i64>() + d.blank + d.invalid;
        let most = held.present_count.saturating_mul(seats.max(1));
        if votes > most {
            return fail(
                Rule::VotesExceedPresent,
                "data.tally",
                format!(
                    "{votes} votes (tally, blank and invalid) for role {}; meeting {meeting_id} had {} present for {} seat(s), at most {most} votes",
                    d.role, held.present_count, seats.max(1)
                ),
            );
        }
        Ok(())
    }

    /// Whether any of `bodies` has rules in force on `d`.
    fn concerned(&self, bodies: &[&str], d: Date) -> bool {
        bodies.iter().any(|b| self.rules_of(b, d).is_some())
    }

    /// Why an appointment or reappointment is not competently made, if it is not: the
    /// decision of another body than the seat's appointing body, a revoked decision, an
    /// election of another body, or (in a body with rules) no decision or election at all.
    /// The bodies concerned come with it (the one appointed to, the deciding body).
    pub fn appointment_competence(
        &self,
        a: &Appointment<'_>,
    ) -> Option<(String, &'static str, Vec<String>)> {
        let b = self.bodies.get(a.body_id)?;
        let appointing = b.appointing_body_on(a.on, a.role, a.portfolio);
        let mut concerned = vec![a.body_id.to_owned()];
        if let Some(id) = a.decision_id {
            let dec = self.decisions.get(id)?;
            concerned.push(dec.body_id.clone());
            if dec.body_id != appointing {
                return Some((
                    format!(
                        "decision {id} is body {}'s, but the seat {} of body {} is appointed by body {appointing} on {}",
                        dec.body_id, a.role, a.body_id, a.on
                    ),
                    "data.decision_id",
                    concerned,
                ));
            }
            if let Some((r, by, _)) = dec.revoked.as_ref().filter(|(r, _, _)| *r <= a.on) {
                return Some((
                    format!(
                        "decision {id} was revoked on {r} by decision {by}, on or before {}",
                        a.on
                    ),
                    "data.decision_id",
                    concerned,
                ));
            }
        }
        if let Some(id) = a.election_id {
            if let Some(e) = self.elections.get(id).filter(|e| e.body_id != a.body_id) {
                return Some((
                    format!(
                        "election {id} fills seats of body {}, not of body {}",
                        e.body_id, a.body_id
                    ),
                    "data.election_id",
                    concerned,
                ));
            }
        }
        let ex_officio = b
            .seat_on(a.on, a.role, a.portfolio)
            .and_then(|s| s.ex_officio)
            .unwrap_or(false);
        if a.decision_id.is_none()
            && a.election_id.is_none()
            && !a.reappointment
            && !ex_officio
            && b.rules_on(a.on).is_some()
        {
            return Some((
                format!(
                    "body {} has rules in force on {}: an appointment to seat {} cites the decision or election that made it (the seat is not ex officio)",
                    a.body_id, a.on, a.role
                ),
                "data.decision_id",
                concerned,
            ));
        }
        None
    }

    /// An appointment or reappointment after the checks of `check`: competently made, and not
    /// to a seat incompatible with one the member holds in the same days.
    pub(super) fn check_appointment_validity(&self, a: &Appointment<'_>) -> Checked {
        if let Some((why, field, concerned)) = self.appointment_competence(a) {
            let names: Vec<&str> = concerned.iter().map(String::as_str).collect();
            if self.concerned(&names, a.on) {
                return fail(Rule::NotCompetent, field, why);
            }
        }
        let own = self.rules_of(a.body_id, a.from);
        // Only a body this body's rules name, or one whose rules name this body, can make a
        // seat incompatible: read those bodies' seats, not every body's.
        let mut candidates: Vec<&str> = Vec::new();
        let named_here = own
            .map(|r| r.incompatible_with.as_slice())
            .unwrap_or_default();
        let naming_this = self.incompatible_listed_by.get(a.body_id);
        for body in named_here.iter().chain(naming_this.into_iter().flatten()) {
            if !candidates.contains(&body.as_str()) {
                candidates.push(body);
            }
        }
        for other_id in candidates {
            if other_id == a.body_id {
                continue;
            }
            let Some(other) = self.bodies.get(other_id) else {
                continue;
            };
            for h in other.holdings.iter().filter(|h| h.member_id == a.member_id) {
                let end = last_day(h);
                if !overlap(a.from, a.to, h.term_start, end) {
                    continue;
                }
                let first_shared = a.from.max(h.term_start);
                let listed_here =
                    own.is_some_and(|r| r.incompatible_with.iter().any(|x| x == other_id));
                let listed_there = other
                    .rules_on(first_shared)
                    .is_some_and(|r| r.incompatible_with.iter().any(|x| x == a.body_id));
                if listed_here || listed_there {
                    return fail(
                        Rule::IncompatibleSeats,
                        "data.member_id",
                        format!(
                            "member {} holds seat {} in body {other_id} from {}{}, and the rules of body {} make it incompatible with body {}",
                            a.member_id,
                            h.role,
                            h.term_start,
                            end.map_or(String::new(), |e| format!(" through {e}")),
                            if listed_here { a.body_id } else { other_id },
                            if listed_here { other_id } else { a.body_id },
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// The body whose decision may decide a case's appeal: the appeal body of the case body's
    /// rules in force, else the ALV.
    pub fn appeal_body(&self, case_body: &str, d: Date) -> String {
        self.rules_of(case_body, d)
            .and_then(|r| r.appeal_body_id.clone())
            .unwrap_or_else(|| "alv".to_owned())
    }

    /// Why a case's decision or appeal decision cites an incompetent body's decision, if it
    /// does, with the bodies concerned.
    pub fn case_decision_competence(
        &self,
        case: &CaseState,
        decision_id: &str,
        appeal: bool,
        d: Date,
    ) -> Option<(String, Vec<String>)> {
        let dec = self.decisions.get(decision_id)?;
        let competent = if appeal {
            self.appeal_body(&case.body_id, d)
        } else {
            case.body_id.clone()
        };
        (dec.body_id != competent).then(|| {
            (
                format!(
                    "decision {decision_id} is body {}'s; {} of this case is body {competent}'s to take",
                    dec.body_id,
                    if appeal { "the appeal" } else { "the decision" }
                ),
                vec![case.body_id.clone(), dec.body_id.clone()],
            )
        })
    }

    pub(super) fn check_case_decision(
        &self,
        case: &CaseState,
        decision_id: Option<&Id>,
        appeal: bool,
        d: Date,
    ) -> Checked {
        let Some(id) = decision_id else {
            return Ok(());
        };
        if let Some((why, concerned)) = self.case_decision_competence(case, id.as_str(), appeal, d)
        {
            let names: Vec<&str> = concerned.iter().map(String::as_str).collect();
            if self.concerned(&names, d) {
                return fail(Rule::NotCompetent, "data.decision_id", why);
            }
        }
        Ok(())
    }
}

impl GovernanceState {
    /// What is wrong with a decision that was accepted (its bodies had no rules in force, or
    /// it was entered before the facts that void it): taken at another body's meeting, or by
    /// vote at a meeting recorded without a quorum. Shown with the decision, never hidden.
    pub fn decision_findings(
        &self,
        body_id: &str,
        meeting_id: Option<&str>,
        basis: DecisionBasis,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let Some((id, m)) = meeting_id.and_then(|id| self.meetings.get(id).map(|m| (id, m))) else {
            return out;
        };
        if m.body_id != body_id {
            out.push(format!(
                "taken at meeting {id} of body {}, which cannot take body {body_id}'s decisions",
                m.body_id
            ));
        }
        if basis == DecisionBasis::Vote && m.held.is_some_and(|h| !h.quorum_met) {
            out.push(format!(
                "taken by vote at meeting {id}, recorded without a quorum"
            ));
        }
        out
    }

    /// What is wrong with a holding's appointment that was accepted without rules in force:
    /// the competence the rules would have refused (see [`GovernanceState::appointment_competence`]).
    pub fn holding_findings(&self, body_id: &str, h: &Holding) -> Vec<String> {
        let a = Appointment {
            body_id,
            member_id: &h.member_id,
            role: &h.role,
            portfolio: h.portfolio.as_deref(),
            on: h.term_start,
            from: h.term_start,
            to: h.term_end,
            decision_id: h.decision_id.as_deref(),
            election_id: h.election_id.as_deref(),
            reappointment: false,
        };
        self.appointment_competence(&a)
            .map(|(why, _, _)| vec![why])
            .unwrap_or_default()
    }
}
