//! One row per rule of DOMAIN.md: a valid case that is accepted and a violating case that is
//! refused with the rule's id, the batch leaving the state unchanged. The rules run on plain
//! data — a [`GovernanceState`] fed events in memory ([`Rules`]), as the store feeds it — so a
//! row reads like the rule. How the store applies them (atomic batches, a state rebuilt from
//! the log, racing writers) is tested with the store (`store/tests.rs`), on these fixtures.

use super::GovernanceState;
use crate::envelope::ProposedEvent;
use crate::rules::{IndexedRefusal, Rule};
use serde_json::{json, Value};

/// The rules on plain data: a [`GovernanceState`] fed batches in memory as the store feeds it —
/// each event checked against the state as the events before it left it, applied when it
/// passes; a batch with any refusal rolled back whole.
#[derive(Default)]
pub(crate) struct Rules {
    state: GovernanceState,
    next_position: u64,
}

impl Rules {
    /// The state after `values`, which must all pass.
    pub(crate) fn after(values: &[Value]) -> Rules {
        let mut rules = Rules::default();
        if let Err(r) = rules.append(values) {
            panic!("the world is refused: {r:?}");
        }
        rules
    }

    /// Checks and applies one batch: every refusal, or nothing of the batch applied.
    pub(crate) fn append(&mut self, values: &[Value]) -> Result<(), Vec<IndexedRefusal>> {
        self.state.begin();
        let mut refusals = Vec::new();
        let mut position = self.next_position;
        for (index, e) in events(values).iter().enumerate() {
            match self
                .state
                .check_with_personal(&e.event, e.effective, e.personal.as_ref())
            {
                Ok(()) => {
                    self.state.apply(&e.event, e.effective, position);
                    position += 1;
                }
                Err(refusal) => refusals.push(IndexedRefusal { index, refusal }),
            }
        }
        if refusals.is_empty() {
            self.state.commit();
            self.next_position = position;
            Ok(())
        } else {
            self.state.rollback();
            Err(refusals)
        }
    }

    /// The state as the events left it.
    pub(crate) fn state(&self) -> &GovernanceState {
        &self.state
    }

    /// The first refusal of a batch that must be refused.
    fn refused(&mut self, values: &[Value]) -> IndexedRefusal {
        match self.append(values) {
            Err(mut r) => r.remove(0),
            Ok(()) => panic!("accepted, but a refusal was expected: {values:?}"),
        }
    }
}

pub(crate) fn ev(stream: &str, ty: &str, effective: &str, data: Value) -> Value {
    json!({"stream": stream, "type": ty, "effective": effective, "data": data})
}

pub(crate) fn with_personal(mut v: Value, personal: Value) -> Value {
    v["personal"] = personal;
    v
}

pub(crate) fn join(m: &str, date: &str) -> Value {
    with_personal(
        ev(
            &format!("member/{m}"),
            "MemberJoined",
            date,
            json!({"member_id": m}),
        ),
        json!({"name": format!("Lid {m}"), "residence": "Delft"}),
    )
}

pub(crate) fn appoint(
    body: &str,
    m: &str,
    role: &str,
    start: &str,
    end: Option<&str>,
    portfolio: Option<&str>,
) -> Value {
    let mut d = json!({"body_id": body, "member_id": m, "role": role, "term_start": start});
    if let Some(e) = end {
        d["term_end"] = json!(e);
    }
    if let Some(p) = portfolio {
        d["portfolio"] = json!(p);
    }
    ev(&format!("body/{body}"), "MemberAppointed", start, d)
}

pub(crate) fn candidacy(e: &str, m: &str, date: &str, prefs: &[&str]) -> Value {
    with_personal(
        ev(
            &format!("election/{e}"),
            "CandidacySubmitted",
            date,
            json!({"election_id": e, "member_id": m, "preferences": prefs}),
        ),
        json!({"profile_terms": ["ervaring"]}),
    )
}

pub(crate) fn result(e: &str, role: &str, elected: &[&str]) -> Value {
    let tally: Vec<Value> = elected
        .iter()
        .map(|m| json!({"member_id": m, "votes": 10}))
        .collect();
    ev(
        &format!("election/{e}"),
        "ElectionResult",
        "2020-04-15",
        json!({"election_id": e, "role": role, "tally": tally, "blank": 0, "invalid": 0, "elected": elected}),
    )
}

fn called_with_cv() -> Value {
    ev(
        "election/e6",
        "ElectionCalled",
        "2020-03-01",
        json!({"election_id": "e6", "body_id": "bestuur",
        "seats": [{"role": "voorzitter", "count": 1}, {"role": "lid", "count": 2}],
        "candidacy_opens": "2020-03-01", "candidacy_closes": "2020-03-31", "screening_body_id": "commissie",
        "requirements": {"cv": true}}),
    )
}

fn with_cv(mut e: Value) -> Value {
    e["data"]["cv_blake3"] = json!("c".repeat(64));
    e
}

fn tallied(tally: &[(&str, i64)], elected: &[&str]) -> Value {
    let tally: Vec<Value> = tally
        .iter()
        .map(|(m, v)| json!({"member_id": m, "votes": v}))
        .collect();
    ev(
        "election/e1",
        "ElectionResult",
        "2020-04-15",
        json!({"election_id": "e1", "role": "voorzitter",
        "tally": tally, "blank": 0, "invalid": 0, "elected": elected}),
    )
}

pub(crate) fn erase(stream: &str, subject: &str) -> Value {
    ev(
        stream,
        "PersonalDataErased",
        "2021-01-04",
        json!({"subject": subject, "reason": "AVG-verzoek"}),
    )
}

pub(crate) fn paid(m: &str, date: &str) -> Value {
    ev(
        &format!("member/{m}"),
        "ContributionPaid",
        date,
        json!({"member_id": m, "year": 2020, "amount_cents": 1200}),
    )
}

pub(crate) fn signed(m: &str, date: &str, version: u32) -> Value {
    ev(
        &format!("member/{m}"),
        "ConductCodeSigned",
        date,
        json!({"member_id": m, "code_id": "gedragscode", "version": version}),
    )
}

pub(crate) fn case_decided(c: &str, date: &str, outcome: &str, deadline: Option<&str>) -> Value {
    let mut d = json!({"case_id": c, "outcome": outcome});
    if let Some(x) = deadline {
        d["appeal_deadline"] = json!(x);
    }
    ev(&format!("case/{c}"), "CaseDecided", date, d)
}

pub(crate) fn open_case(c: &str, kind: &str, date: &str, respondents: &[&str]) -> Value {
    open_case_of(c, kind, "bestuur", date, respondents)
}

pub(crate) fn open_case_of(
    c: &str,
    kind: &str,
    body: &str,
    date: &str,
    respondents: &[&str],
) -> Value {
    with_personal(
        ev(
            &format!("case/{c}"),
            "CaseOpened",
            date,
            json!({"case_id": c, "kind": kind, "body_id": body, "complainants": ["1"], "respondents": respondents, "subject": "s"}),
        ),
        json!({"summary": "samenvatting"}),
    )
}

pub(crate) fn appeal(c: &str, m: &str, date: &str) -> Value {
    ev(
        &format!("case/{c}"),
        "AppealFiled",
        date,
        json!({"case_id": c, "member_id": m}),
    )
}

pub(crate) fn expel(m: &str, c: &str, date: &str) -> Value {
    ev(
        &format!("member/{m}"),
        "MemberExpelled",
        date,
        json!({"member_id": m, "case_id": c}),
    )
}

/// The small world every row starts from.
pub(crate) fn world() -> Vec<Value> {
    let mut w = vec![
        ev(
            "body/alv",
            "BodyEstablished",
            "2020-01-01",
            json!({"body_id": "alv", "name": "ALV", "kind": "alv", "appointed_by": "alv", "seats": []}),
        ),
        ev(
            "body/bestuur",
            "BodyEstablished",
            "2020-01-01",
            json!({"body_id": "bestuur", "name": "Bestuur", "kind": "board", "appointed_by": "alv",
            "seats": [{"role": "voorzitter", "count": 1}, {"role": "algemeen-bestuurslid", "portfolio": "campagne", "count": 1}, {"role": "lid", "count": 2}],
            "term_years": 2, "max_reappointments": 1}),
        ),
        ev(
            "body/commissie",
            "BodyEstablished",
            "2020-01-01",
            json!({"body_id": "commissie", "name": "Kandidatencommissie", "kind": "committee", "appointed_by": "alv", "seats": [{"role": "lid", "count": 1}]}),
        ),
        ev(
            "body/oud",
            "BodyEstablished",
            "2020-01-01",
            json!({"body_id": "oud", "name": "Oude werkgroep", "kind": "working_group", "appointed_by": "alv", "seats": [{"role": "lid", "count": 2}]}),
        ),
        ev(
            "body/oud",
            "BodyDissolved",
            "2020-06-30",
            json!({"body_id": "oud"}),
        ),
        ev(
            "code/gedragscode",
            "CodeVersionAdopted",
            "2020-01-01",
            json!({"code_id": "gedragscode", "version": 1, "title": "Gedragscode", "text_blake3": "a".repeat(64)}),
        ),
    ];
    for m in ["1", "2", "3", "4", "5", "6", "7"] {
        w.push(join(m, "2020-01-01"));
    }
    w.extend([
        ev("member/7", "MembershipEnded", "2020-05-01", json!({"member_id": "7", "reason": "resigned"})),
        ev("meeting/alv-1", "MeetingHeld", "2020-02-01", json!({"meeting_id": "alv-1", "body_id": "alv", "date": "2020-02-01", "present_count": 30, "quorum_met": true})),
        ev("motion/m1", "MotionSubmitted", "2020-01-20", json!({"motion_id": "m1", "meeting_id": "alv-1", "title": "Motie", "submitters": ["1"]})),
        ev("motion/m2", "MotionSubmitted", "2020-01-20", json!({"motion_id": "m2", "meeting_id": "alv-1", "title": "Motie 2", "submitters": ["2"]})),
        ev("motion/m2", "MotionWithdrawn", "2020-01-30", json!({"motion_id": "m2"})),
        ev("decision/d1", "DecisionTaken", "2020-02-01", json!({"decision_id": "d1", "body_id": "alv", "title": "Besluit", "category": "governance", "basis": "vote"})),
        appoint("bestuur", "1", "voorzitter", "2020-01-10", Some("2021-12-31"), None),
        ev("election/e1", "ElectionCalled", "2020-03-01", json!({"election_id": "e1", "body_id": "bestuur", "seats": [{"role": "voorzitter", "count": 1}, {"role": "lid", "count": 2}],
            "candidacy_opens": "2020-03-01", "candidacy_closes": "2020-03-31", "screening_body_id": "commissie"})),
        candidacy("e1", "2", "2020-03-05", &["voorzitter", "lid"]),
        ev("election/e1", "CandidacyScreened", "2020-04-01", json!({"election_id": "e1", "member_id": "2", "admitted": true})),
        candidacy("e1", "3", "2020-03-06", &["lid", "voorzitter"]),
        ev("election/e1", "CandidacyScreened", "2020-04-01", json!({"election_id": "e1", "member_id": "3", "admitted": false, "reason": "te kort lid"})),
        candidacy("e1", "4", "2020-03-07", &["lid", "voorzitter"]),
        ev("election/e1", "CandidacyScreened", "2020-04-01", json!({"election_id": "e1", "member_id": "4", "admitted": true})),
        ev("election/e1", "CandidacyWithdrawn", "2020-04-02", json!({"election_id": "e1", "member_id": "4"})),
        open_case("r1", "royement", "2020-04-01", &["5"]),
        case_decided("r1", "2020-05-10", "expelled", Some("2020-06-10")),
        open_case("k1", "dispute", "2020-04-01", &["6"]),
        case_decided("k1", "2020-05-01", "warning", None),
        open_case("k2", "dispute", "2020-04-01", &["6"]),
        ev("case/k2", "CaseClosed", "2020-06-01", json!({"case_id": "k2"})),
    ]);
    w
}

pub(crate) fn events(values: &[Value]) -> Vec<ProposedEvent> {
    values
        .iter()
        .map(|v| ProposedEvent::parse(v.clone()).unwrap_or_else(|r| panic!("{v}: {r}")))
        .collect()
}

struct Row {
    rule: Rule,
    what: &'static str,
    valid: Vec<Value>,
    violating: Vec<Value>,
}

fn rows() -> Vec<Row> {
    let row = |rule, what, valid: Vec<Value>, violating: Vec<Value>| Row {
        rule,
        what,
        valid,
        violating,
    };
    vec![
        row(
            Rule::UnknownReference,
            "a payment by a member never joined",
            vec![paid("1", "2020-03-01")],
            vec![paid("99", "2020-03-01")],
        ),
        row(
            Rule::UnknownReference,
            "a signature of a code version never adopted",
            vec![signed("1", "2020-03-01", 1)],
            vec![signed("1", "2020-03-01", 2)],
        ),
        row(
            Rule::UnknownReference,
            "a decision of an unknown body",
            vec![],
            vec![ev(
                "decision/d9",
                "DecisionTaken",
                "2020-03-01",
                json!({"decision_id": "d9", "body_id": "nergens", "title": "t", "category": "policy", "basis": "vote"}),
            )],
        ),
        row(
            Rule::InvalidState,
            "a second MeetingHeld for one id",
            vec![ev(
                "meeting/alv-2",
                "MeetingHeld",
                "2020-03-01",
                json!({"meeting_id": "alv-2", "body_id": "alv", "date": "2020-03-01", "present_count": 5, "quorum_met": true}),
            )],
            vec![ev(
                "meeting/alv-1",
                "MeetingHeld",
                "2020-03-01",
                json!({"meeting_id": "alv-1", "body_id": "alv", "date": "2020-03-01", "present_count": 5, "quorum_met": true}),
            )],
        ),
        row(
            Rule::InvalidState,
            "a vote on a withdrawn motion",
            vec![ev(
                "motion/m1",
                "MotionVoted",
                "2020-02-01",
                json!({"motion_id": "m1", "method": "ballot", "for": 5, "against": 3, "abstain": 0, "outcome": "adopted"}),
            )],
            vec![ev(
                "motion/m2",
                "MotionVoted",
                "2020-02-01",
                json!({"motion_id": "m2", "method": "ballot", "for": 5, "against": 3, "abstain": 0, "outcome": "adopted"}),
            )],
        ),
        row(
            Rule::CandidacyIncomplete,
            "a candidacy without the CV the call asks for",
            vec![
                called_with_cv(),
                with_cv(candidacy("e6", "2", "2020-03-05", &["lid", "voorzitter"])),
            ],
            vec![
                called_with_cv(),
                candidacy("e6", "2", "2020-03-05", &["lid", "voorzitter"]),
            ],
        ),
        row(
            Rule::ResultTallyMismatch,
            "the one with fewer votes elected",
            vec![tallied(&[("2", 12)], &["2"])],
            vec![tallied(&[("2", 12)], &[])],
        ),
        row(
            Rule::InvalidState,
            "a second erasure of a subject erased already",
            vec![erase("member/1", "1")],
            vec![erase("member/1", "1"), erase("member/1", "1")],
        ),
        row(
            Rule::InvalidState,
            "a second erasure of a case's summary",
            vec![erase("case/r1", "case:r1")],
            vec![erase("case/r1", "case:r1"), erase("case/r1", "case:r1")],
        ),
        row(
            Rule::InvalidState,
            "AppealDecided without AppealFiled",
            vec![
                appeal("r1", "5", "2020-06-01"),
                ev(
                    "case/r1",
                    "AppealDecided",
                    "2020-07-01",
                    json!({"case_id": "r1", "outcome": "upheld"}),
                ),
            ],
            vec![ev(
                "case/r1",
                "AppealDecided",
                "2020-07-01",
                json!({"case_id": "r1", "outcome": "upheld"}),
            )],
        ),
        row(
            Rule::InvalidState,
            "a second seat of the same role in one body",
            vec![appoint(
                "bestuur",
                "2",
                "lid",
                "2020-02-01",
                Some("2021-01-31"),
                None,
            )],
            vec![
                appoint(
                    "bestuur",
                    "2",
                    "lid",
                    "2020-02-01",
                    Some("2021-01-31"),
                    None,
                ),
                appoint("bestuur", "2", "lid", "2020-03-01", None, None),
            ],
        ),
        row(
            Rule::InvalidState,
            "an event dated after its body's dissolution",
            vec![ev(
                "body/oud",
                "SeatsChanged",
                "2020-06-30",
                json!({"body_id": "oud", "seats": []}),
            )],
            vec![ev(
                "body/oud",
                "SeatsChanged",
                "2020-07-01",
                json!({"body_id": "oud", "seats": []}),
            )],
        ),
        row(
            Rule::InvalidState,
            "an event dated after its case's closing",
            vec![ev(
                "case/k2",
                "CaseAdmissibility",
                "2020-06-01",
                json!({"case_id": "k2", "admissible": false}),
            )],
            vec![ev(
                "case/k2",
                "CaseAdmissibility",
                "2020-06-02",
                json!({"case_id": "k2", "admissible": false}),
            )],
        ),
        row(
            Rule::InvalidState,
            "MemberJoined for a current member",
            vec![join("7", "2020-08-01")],
            vec![join("1", "2020-08-01")],
        ),
        row(
            Rule::MemberNotActive,
            "a signature of a member whose membership ended",
            vec![signed("7", "2020-04-30", 1)],
            vec![signed("7", "2020-05-01", 1)],
        ),
        row(
            Rule::MemberNotActive,
            "a signature of a member suspended by a royement",
            vec![signed("5", "2020-05-09", 1)],
            vec![signed("5", "2020-05-10", 1)],
        ),
        row(
            Rule::MemberNotActive,
            "a payment by a former member (a suspended one may pay)",
            vec![paid("5", "2020-05-20")],
            vec![paid("7", "2020-05-20")],
        ),
        row(
            Rule::BodyDissolved,
            "an appointment whose term starts when the body is dissolved",
            vec![ev(
                "body/oud",
                "MemberAppointed",
                "2020-06-01",
                json!({"body_id": "oud", "member_id": "2", "role": "lid", "term_start": "2020-06-29"}),
            )],
            vec![ev(
                "body/oud",
                "MemberAppointed",
                "2020-06-01",
                json!({"body_id": "oud", "member_id": "2", "role": "lid", "term_start": "2020-06-30"}),
            )],
        ),
        row(
            Rule::RoleNotDefined,
            "a role the body does not have",
            vec![appoint("commissie", "2", "lid", "2020-02-01", None, None)],
            vec![appoint(
                "commissie",
                "2",
                "voorzitter",
                "2020-02-01",
                None,
                None,
            )],
        ),
        row(
            Rule::RoleNotDefined,
            "a role with portfolios appointed without one",
            vec![appoint(
                "bestuur",
                "2",
                "algemeen-bestuurslid",
                "2020-02-01",
                None,
                Some("campagne"),
            )],
            vec![appoint(
                "bestuur",
                "2",
                "algemeen-bestuurslid",
                "2020-02-01",
                None,
                None,
            )],
        ),
        row(
            Rule::NoSeatHeld,
            "a departure of a member who holds no seat",
            vec![ev(
                "body/bestuur",
                "MemberLeftBody",
                "2020-06-01",
                json!({"body_id": "bestuur", "member_id": "1", "role": "voorzitter", "reason": "resigned"}),
            )],
            vec![ev(
                "body/bestuur",
                "MemberLeftBody",
                "2020-06-01",
                json!({"body_id": "bestuur", "member_id": "2", "role": "voorzitter", "reason": "resigned"}),
            )],
        ),
        row(
            Rule::SeatCountExceeded,
            "a second chair while the first one's term runs",
            vec![appoint(
                "bestuur",
                "2",
                "voorzitter",
                "2022-01-01",
                Some("2023-12-31"),
                None,
            )],
            vec![appoint(
                "bestuur",
                "2",
                "voorzitter",
                "2021-06-01",
                Some("2023-12-31"),
                None,
            )],
        ),
        row(
            Rule::ReappointmentLimit,
            "a second reappointment where the body allows one",
            vec![ev(
                "body/bestuur",
                "MemberReappointed",
                "2021-12-31",
                json!({"body_id": "bestuur", "member_id": "1", "role": "voorzitter", "term_end": "2023-12-31"}),
            )],
            vec![
                ev(
                    "body/bestuur",
                    "MemberReappointed",
                    "2021-12-31",
                    json!({"body_id": "bestuur", "member_id": "1", "role": "voorzitter", "term_end": "2023-12-31"}),
                ),
                ev(
                    "body/bestuur",
                    "MemberReappointed",
                    "2023-12-31",
                    json!({"body_id": "bestuur", "member_id": "1", "role": "voorzitter", "term_end": "2025-12-31"}),
                ),
            ],
        ),
        row(
            Rule::CodeVersionSequence,
            "a version that skips one",
            vec![ev(
                "code/gedragscode",
                "CodeVersionAdopted",
                "2021-01-01",
                json!({"code_id": "gedragscode", "version": 2, "title": "v2", "text_blake3": "b".repeat(64)}),
            )],
            vec![ev(
                "code/gedragscode",
                "CodeVersionAdopted",
                "2021-01-01",
                json!({"code_id": "gedragscode", "version": 3, "title": "v3", "text_blake3": "b".repeat(64)}),
            )],
        ),
        row(
            Rule::CandidacyOutsideWindow,
            "a candidacy after the window closed",
            vec![candidacy("e1", "6", "2020-03-31", &["lid", "voorzitter"])],
            vec![candidacy("e1", "6", "2020-04-01", &["lid", "voorzitter"])],
        ),
        row(
            Rule::CandidacyDuplicate,
            "a second candidacy of one member",
            vec![candidacy("e1", "6", "2020-03-20", &["lid", "voorzitter"])],
            vec![candidacy("e1", "4", "2020-03-20", &["lid", "voorzitter"])],
        ),
        row(
            Rule::TooFewPreferences,
            "one preference where the election fills three seats",
            vec![candidacy("e1", "6", "2020-03-20", &["lid", "voorzitter"])],
            vec![candidacy("e1", "6", "2020-03-20", &["lid", "lid"])],
        ),
        row(
            Rule::TooFewPreferences,
            "a preference that is not a role of the election",
            vec![],
            vec![candidacy(
                "e1",
                "6",
                "2020-03-20",
                &["lid", "penningmeester"],
            )],
        ),
        row(
            Rule::ResultNotAdmitted,
            "an elected candidate who was not admitted",
            vec![result("e1", "lid", &["2"])],
            vec![result("e1", "lid", &["3"])],
        ),
        row(
            Rule::ResultNotAdmitted,
            "an elected candidate who withdrew",
            vec![],
            vec![result("e1", "lid", &["4"])],
        ),
        row(
            Rule::ResultTooManyElected,
            "two chairs for one seat, over two results",
            vec![result("e1", "voorzitter", &["2"])],
            vec![
                result("e1", "lid", &["2"]),
                result("e1", "voorzitter", &["2"]),
                result("e1", "voorzitter", &["2"]),
            ],
        ),
        row(
            Rule::VoteOutcomeMismatch,
            "adopted with more against than for",
            vec![ev(
                "motion/m1",
                "MotionVoted",
                "2020-02-01",
                json!({"motion_id": "m1", "method": "consensus", "for": 0, "against": 0, "abstain": 0, "outcome": "adopted"}),
            )],
            vec![ev(
                "motion/m1",
                "MotionVoted",
                "2020-02-01",
                json!({"motion_id": "m1", "method": "ballot", "for": 3, "against": 3, "abstain": 1, "outcome": "adopted"}),
            )],
        ),
        row(
            Rule::AppealDeadlineTooShort,
            "an appeal deadline short of one calendar month (31 January → 29 February 2020)",
            vec![
                open_case("r2", "royement", "2020-01-02", &["6"]),
                case_decided("r2", "2020-01-31", "expelled", Some("2020-02-29")),
            ],
            vec![
                open_case("r2", "royement", "2020-01-02", &["6"]),
                case_decided("r2", "2020-01-31", "expelled", Some("2020-02-28")),
            ],
        ),
        row(
            Rule::AppealDeadlineTooShort,
            "a royement decided expelled without a deadline",
            vec![],
            vec![
                open_case("r2", "royement", "2020-01-02", &["6"]),
                case_decided("r2", "2020-01-31", "expelled", None),
            ],
        ),
        row(
            Rule::AppealNotAllowed,
            "an appeal the day after the deadline",
            vec![appeal("r1", "5", "2020-06-10")],
            vec![appeal("r1", "5", "2020-06-11")],
        ),
        row(
            Rule::AppealNotAllowed,
            "an appeal on a case decided without a deadline",
            vec![],
            vec![appeal("k1", "6", "2020-05-02")],
        ),
        row(
            Rule::AppealNotAllowed,
            "a second appeal",
            vec![],
            vec![
                appeal("r1", "5", "2020-06-01"),
                appeal("r1", "5", "2020-06-02"),
            ],
        ),
        row(
            Rule::ExpulsionNotFinal,
            "an expulsion on the deadline day, before it passed",
            vec![expel("5", "r1", "2020-06-11")],
            vec![expel("5", "r1", "2020-06-10")],
        ),
        row(
            Rule::ExpulsionNotFinal,
            "an expulsion while an appeal is pending",
            vec![],
            vec![
                appeal("r1", "5", "2020-06-01"),
                expel("5", "r1", "2020-07-01"),
            ],
        ),
        row(
            Rule::ExpulsionNotFinal,
            "an expulsion of someone who is no respondent",
            vec![],
            vec![expel("6", "r1", "2020-07-01")],
        ),
    ]
}

#[test]
fn every_rule_accepts_the_valid_case_and_refuses_the_violating_one_writing_nothing() {
    let world = world();
    let mut covered = std::collections::BTreeSet::new();
    for row in rows() {
        let mut rules = Rules::after(&world);
        match rules.append(&row.violating) {
            Err(r) => {
                let last = r.last().unwrap();
                assert_eq!(r.len(), 1, "{}: {:?}", row.what, r);
                assert_eq!(
                    last.index,
                    row.violating.len() - 1,
                    "{}: the last event is the violating one",
                    row.what
                );
                assert_eq!(
                    last.refusal.rule, row.rule,
                    "{}: {}",
                    row.what, last.refusal
                );
                assert!(!last.refusal.message.is_empty());
            }
            Ok(()) => panic!("{}: expected {} but it was accepted", row.what, row.rule),
        }
        // Nothing of the refused batch stuck: the valid case passes on the same state.
        if let Err(r) = rules.append(&row.valid) {
            panic!("{}: the valid case was not accepted: {r:?}", row.what);
        }
        covered.insert(row.rule);
    }
    let governance: Vec<Rule> = (Rule::UnknownReference as usize
        ..=Rule::ExpulsionNotFinal as usize)
        // (the statutes' rules after it have their table in statutes_tests.rs)
        .map(|i| Rule::ALL[i])
        .filter(|r| !covered.contains(r))
        .collect();
    assert!(governance.is_empty(), "rules without a row: {governance:?}");
}

#[test]
fn the_first_broken_rule_in_the_table_is_reported() {
    let mut rules = Rules::after(&world());
    // An appointment of an unknown member to an undefined role: unknown-reference first.
    let r = rules.refused(&[appoint(
        "bestuur",
        "99",
        "penningmeester",
        "2020-02-01",
        None,
        None,
    )]);
    assert_eq!(r.refusal.rule, Rule::UnknownReference);
    // A known but ended member, to an undefined role: member-not-active before role-not-defined.
    let r = rules.refused(&[appoint(
        "bestuur",
        "7",
        "penningmeester",
        "2020-06-01",
        None,
        None,
    )]);
    assert_eq!(r.refusal.rule, Rule::MemberNotActive);
    // The facts: who holds the seat.
    let r = rules.refused(&[appoint(
        "bestuur",
        "2",
        "voorzitter",
        "2021-06-01",
        None,
        None,
    )]);
    assert_eq!(
        r.refusal.message,
        "body bestuur has 1 seat for role voorzitter on 2021-06-01, held by member 1"
    );
}

#[test]
fn events_in_one_batch_see_the_ones_before_them_and_a_refused_batch_leaves_the_state_alone() {
    let mut rules = Rules::after(&world());
    // A member who joins on line 1 is appointed on line 2; line 3 breaks a rule.
    let batch = [
        join("8", "2020-02-01"),
        appoint("commissie", "8", "lid", "2020-02-02", None, None),
        paid("99", "2020-02-03"),
    ];
    let r = rules.append(&batch).unwrap_err();
    assert_eq!(
        (r.len(), r[0].index),
        (1, 2),
        "only line 3 is refused: {r:?}"
    );
    // Nothing of it stuck: member 8 is still unknown, the seat still free.
    let r = rules.refused(&[appoint("commissie", "8", "lid", "2020-02-02", None, None)]);
    assert_eq!(r.refusal.rule, Rule::UnknownReference);
    rules.append(&batch[..2]).unwrap();
    let r = rules.refused(&[appoint("commissie", "2", "lid", "2020-03-01", None, None)]);
    assert_eq!(r.refusal.rule, Rule::SeatCountExceeded);
}

/// `amount-out-of-range` (step 11): sums a report adds up stay within 2^53 − 1 cents, exactly
/// up to the boundary.
#[test]
fn sums_of_cents_stay_within_what_a_report_can_add_up() {
    use super::state::MAX_SUM_CENTS;
    let pay = |cents: i64| {
        ev(
            "member/1",
            "ContributionPaid",
            "2020-03-01",
            json!({"member_id": "1", "year": 2020, "amount_cents": cents}),
        )
    };
    let gift = |donor: &str, cents: i64| {
        with_personal(
            ev(
                "finance/2020",
                "GiftReceived",
                "2020-03-01",
                json!({"year": 2020, "amount_cents": cents, "donor_ref": donor, "donor_kind": "natural_person", "dutch_donor": true}),
            ),
            json!({"donor_name": "D", "donor_residence": "Delft"}),
        )
    };
    let mut rules = Rules::after(&world());
    rules.append(&[pay(MAX_SUM_CENTS - 1)]).unwrap();
    rules.append(&[pay(1)]).unwrap();
    let r = rules.refused(&[pay(1)]);
    assert_eq!(r.refusal.rule, Rule::AmountOutOfRange, "{}", r.refusal);
    // A donor's gifts, and a year's: two donors each below the limit, together past it.
    rules.append(&[gift("d-1", MAX_SUM_CENTS)]).unwrap();
    assert_eq!(
        rules.refused(&[gift("d-1", 1)]).refusal.rule,
        Rule::AmountOutOfRange
    );
    assert_eq!(
        rules.refused(&[gift("d-2", 1)]).refusal.rule,
        Rule::AmountOutOfRange
    );
    // Within one batch the sums count the events before.
    let mut fresh = Rules::after(&world());
    let r = fresh.append(&[pay(MAX_SUM_CENTS), pay(1)]).unwrap_err();
    assert_eq!((r[0].index, r[0].refusal.rule), (1, Rule::AmountOutOfRange));
}

/// Step 11: a gift's report and return need the gift; a return is at most what was given; the
/// law's test for a Dutch donor or the old flag must be given; a gift in kind says what it is.
#[test]
fn reports_and_returns_need_the_gift_and_returns_stay_within_it() {
    let gift = |donor: &str, cents: i64, data: Value| {
        let mut d = json!({"year": 2023, "amount_cents": cents, "donor_ref": donor, "donor_kind": "natural_person"});
        if let (Some(o), Some(extra)) = (d.as_object_mut(), data.as_object()) {
            o.extend(extra.clone());
        }
        with_personal(
            ev("finance/2023", "GiftReceived", "2023-03-01", d),
            json!({"donor_name": "D", "donor_residence": "Delft"}),
        )
    };
    let returned = |donor: &str, cents: i64| {
        ev(
            "finance/2023",
            "GiftReturned",
            "2023-03-05",
            json!({"year": 2023, "donor_ref": donor, "amount_cents": cents, "returned_on": "2023-03-05", "reason": "buitenlandse gever"}),
        )
    };
    let reported = |donor: &str| {
        ev(
            "finance/2023",
            "GiftReported",
            "2023-03-03",
            json!({"year": 2023, "donor_ref": donor, "reported_on": "2023-03-03"}),
        )
    };
    let mut rules = Rules::after(&world());
    assert_eq!(
        rules.refused(&[reported("d-1")]).refusal.rule,
        Rule::UnknownReference
    );
    assert_eq!(
        rules.refused(&[returned("d-1", 1)]).refusal.rule,
        Rule::UnknownReference
    );
    // Checked when the event is read, before any state: the field and the rule.
    let neither = ProposedEvent::parse(gift("d-1", 500, json!({}))).unwrap_err();
    assert_eq!(
        (neither.rule, neither.field.as_deref()),
        (Rule::MalformedField, Some("data.donor_basis"))
    );
    let undescribed = ProposedEvent::parse(gift(
        "d-1",
        500,
        json!({"donor_basis": "voter", "in_kind": true}),
    ))
    .unwrap_err();
    assert_eq!(undescribed.field.as_deref(), Some("data.description"));
    rules
        .append(&[
            gift("d-1", 500, json!({"donor_basis": "other"})),
            reported("d-1"),
        ])
        .unwrap();
    rules.append(&[returned("d-1", 300)]).unwrap();
    // 300 of 500 returned: 200 more is the most that can still go back.
    assert_eq!(
        rules.refused(&[returned("d-1", 201)]).refusal.rule,
        Rule::InvalidState
    );
    rules.append(&[returned("d-1", 200)]).unwrap();
}
