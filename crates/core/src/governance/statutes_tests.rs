//! The statutes' rules (step 9), one table per rule with its boundary cases, on plain data:
//! each case starts from the same world with rules for the ALV, the board, the daily board, a
//! kascommissie and the geschillencommissie, adds what it needs, and expects its last event
//! accepted or refused with one rule. `store/tests.rs` runs every refused case through a store
//! and checks the store is byte-identical afterwards.

use super::tests::{appoint, ev, join, world, Rules};
use crate::governance::state::GovernanceState;
use crate::rules::Rule;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Bodies with rules from 2021-01-01: the ALV (7 days' notice, quorum 25), the board (appointed
/// by the ALV; incompatible with the kascommissie), the daily board (appointed by the board,
/// one ex-officio seat), the kascommissie (incompatible with the board: BW 2:48 lid 2) and the
/// geschillencommissie (its appeals go to the ALV). The partijraad has no rules.
pub(crate) fn statutes_world() -> Vec<Value> {
    let mut w = world();
    w.extend([
        body("dagelijks-bestuur", "daily_board", "bestuur", json!([{"role": "voorzitter", "count": 1, "ex_officio": true}, {"role": "penningmeester", "count": 1}])),
        body("kascommissie", "committee", "alv", json!([{"role": "lid", "count": 2}])),
        body("geschillencommissie", "committee", "alv", json!([{"role": "lid", "count": 3}])),
        body("partijraad", "council", "alv", json!([{"role": "lid", "count": 5}])),
        rules("alv", json!({"notice_days": 7, "quorum": 25})),
        rules("bestuur", json!({"notice_days": 7, "quorum": 3, "incompatible_with": ["kascommissie"]})),
        rules("dagelijks-bestuur", json!({"notice_days": 2, "quorum": 2})),
        rules("kascommissie", json!({"notice_days": 7, "quorum": 2, "incompatible_with": ["bestuur"]})),
        rules("geschillencommissie", json!({"notice_days": 7, "quorum": 2})),
        join("8", "2021-01-01"),
        join("9", "2021-01-01"),
        convened("alv-2", "alv", "2021-03-01", "2021-02-20", json!([]), None),
        held("alv-2", "alv", "2021-03-01", 40, true),
        decision("d-alv", "alv", Some("alv-2"), "2021-03-01"),
        decision("d-bestuur", "bestuur", None, "2021-03-02"),
        decision("d-gc", "geschillencommissie", None, "2021-03-30"),
        open_case("c1", "geschillencommissie", "2021-03-01"),
    ]);
    w
}

fn body(id: &str, kind: &str, appointed_by: &str, seats: Value) -> Value {
    ev(
        &format!("body/{id}"),
        "BodyEstablished",
        "2021-01-01",
        json!({"body_id": id, "name": id, "kind": kind, "appointed_by": appointed_by, "seats": seats}),
    )
}

fn rules(body: &str, mut data: Value) -> Value {
    data["body_id"] = json!(body);
    ev(
        &format!("body/{body}"),
        "BodyRulesAdopted",
        "2021-01-01",
        data,
    )
}

fn convened(
    meeting: &str,
    body: &str,
    date: &str,
    sent: &str,
    agenda: Value,
    proposal: Option<&str>,
) -> Value {
    let mut data = json!({"meeting_id": meeting, "body_id": body, "date": date, "agenda": agenda});
    if let Some(p) = proposal {
        data["proposal_available_on"] = json!(p);
    }
    ev(&format!("meeting/{meeting}"), "MeetingConvened", sent, data)
}

fn held(meeting: &str, body: &str, date: &str, present: i64, quorum_met: bool) -> Value {
    ev(
        &format!("meeting/{meeting}"),
        "MeetingHeld",
        date,
        json!({"meeting_id": meeting, "body_id": body, "date": date, "present_count": present, "quorum_met": quorum_met}),
    )
}

fn motion(id: &str, meeting: &str, kind: &str, amends: Option<&str>) -> Value {
    let mut data = json!({"motion_id": id, "meeting_id": meeting, "title": "Voorstel", "submitters": ["1"], "kind": kind});
    if let Some(a) = amends {
        data["amends"] = json!(a);
    }
    ev(
        &format!("motion/{id}"),
        "MotionSubmitted",
        "2021-02-01",
        data,
    )
}

fn vote(id: &str, date: &str, method: &str, counts: (i64, i64, i64)) -> Value {
    let outcome = if counts.0 > counts.1 {
        "adopted"
    } else {
        "rejected"
    };
    ev(
        &format!("motion/{id}"),
        "MotionVoted",
        date,
        json!({"motion_id": id, "method": method, "for": counts.0, "against": counts.1, "abstain": counts.2, "outcome": outcome}),
    )
}

fn decision(id: &str, body: &str, meeting: Option<&str>, date: &str) -> Value {
    let mut data = json!({"decision_id": id, "body_id": body, "title": "Besluit", "category": "appointment", "basis": "vote"});
    if let Some(m) = meeting {
        data["meeting_id"] = json!(m);
    }
    ev(&format!("decision/{id}"), "DecisionTaken", date, data)
}

fn with(mut event: Value, key: &str, value: Value) -> Value {
    event["data"][key] = value;
    event
}

fn open_case(id: &str, body: &str, date: &str) -> Value {
    super::tests::open_case_of(id, "dispute", body, date, &["6"])
}

/// A statute amendment meeting of `body` on 2021-06-15, convened `notice` days ahead, its
/// proposal open `proposal` days ahead, with motion `sa` on the agenda (or not).
fn amendment_meeting(body: &str, notice: u64, proposal: Option<u64>, listed: bool) -> Vec<Value> {
    let date = chrono::NaiveDate::from_ymd_opt(2021, 6, 15).unwrap_or_default();
    let before = |n: u64| (date - chrono::Days::new(n)).to_string();
    let agenda = if listed {
        json!([{"item": "Statutenwijziging", "kind": "statute_amendment", "motion_id": "sa"}])
    } else {
        json!([{"item": "Rondvraag", "kind": "ordinary"}])
    };
    vec![
        convened(
            "m-sa",
            body,
            "2021-06-15",
            &before(notice),
            agenda,
            proposal.map(before).as_deref(),
        ),
        motion("sa", "m-sa", "statute_amendment", None),
        held("m-sa", body, "2021-06-15", 60, true),
    ]
}

/// One case: what is added to the world, then the event judged, and its verdict.
pub(crate) struct Case {
    pub(crate) what: &'static str,
    pub(crate) before: Vec<Value>,
    pub(crate) event: Value,
    pub(crate) expect: Option<Rule>,
}

fn case(what: &'static str, before: Vec<Value>, event: Value, expect: Option<Rule>) -> Case {
    Case {
        what,
        before,
        event,
        expect,
    }
}

pub(crate) fn cases() -> Vec<Case> {
    use Rule::*;
    let alv3 = |sent: &str| convened("alv-3", "alv", "2021-04-10", sent, json!([]), None);
    let appoint_db = |role: &str, decision: Option<&str>| {
        let mut e = appoint(
            "dagelijks-bestuur",
            "2",
            role,
            "2021-04-01",
            Some("2022-12-31"),
            None,
        );
        if let Some(d) = decision {
            e["data"]["decision_id"] = json!(d);
        }
        e
    };
    vec![
        // notice-too-short: the body's notice, and BW 2:42 for statute amendments.
        case(
            "a meeting of a body with rules and no convocation",
            vec![],
            held("alv-3", "alv", "2021-04-10", 40, true),
            Some(NoticeTooShort),
        ),
        case(
            "convened exactly the body's 7 days ahead",
            vec![alv3("2021-04-03")],
            held("alv-3", "alv", "2021-04-10", 40, true),
            None,
        ),
        case(
            "convened 6 days ahead",
            vec![alv3("2021-04-04")],
            held("alv-3", "alv", "2021-04-10", 40, true),
            Some(NoticeTooShort),
        ),
        case(
            "a meeting of a body without rules needs no convocation",
            vec![],
            held("pr-1", "partijraad", "2021-04-10", 4, true),
            None,
        ),
        case(
            "a statute amendment convened exactly 7 days ahead, its proposal open exactly 5",
            amendment_meeting("partijraad", 7, Some(5), true),
            vote("sa", "2021-06-15", "ballot", (40, 20, 0)),
            None,
        ),
        case(
            "a statute amendment convened 6 days ahead (BW 2:42 lid 1)",
            amendment_meeting("partijraad", 6, Some(5), true),
            vote("sa", "2021-06-15", "ballot", (40, 20, 0)),
            Some(NoticeTooShort),
        ),
        case(
            "a statute amendment whose proposal was open 4 days (BW 2:42 lid 2)",
            amendment_meeting("partijraad", 7, Some(4), true),
            vote("sa", "2021-06-15", "ballot", (40, 20, 0)),
            Some(NoticeTooShort),
        ),
        case(
            "a statute amendment without a date for its proposal",
            amendment_meeting("partijraad", 7, None, true),
            vote("sa", "2021-06-15", "ballot", (40, 20, 0)),
            Some(NoticeTooShort),
        ),
        case(
            "a statute amendment not on the agenda",
            amendment_meeting("partijraad", 7, Some(5), false),
            vote("sa", "2021-06-15", "ballot", (40, 20, 0)),
            Some(NoticeTooShort),
        ),
        // quorum-not-met
        case(
            "present equal to the quorum",
            vec![alv3("2021-04-01")],
            held("alv-3", "alv", "2021-04-10", 25, true),
            None,
        ),
        case(
            "one below the quorum, recorded as met",
            vec![alv3("2021-04-01")],
            held("alv-3", "alv", "2021-04-10", 24, true),
            Some(QuorumNotMet),
        ),
        case(
            "one below the quorum, recorded as not met",
            vec![alv3("2021-04-01")],
            held("alv-3", "alv", "2021-04-10", 24, false),
            None,
        ),
        case(
            "a vote at a meeting without quorum",
            vec![
                alv3("2021-04-01"),
                motion("mq", "alv-3", "ordinary", None),
                held("alv-3", "alv", "2021-04-10", 24, false),
            ],
            vote("mq", "2021-04-10", "ballot", (12, 5, 0)),
            Some(QuorumNotMet),
        ),
        case(
            "a decision by vote at a meeting without quorum",
            vec![
                alv3("2021-04-01"),
                held("alv-3", "alv", "2021-04-10", 24, false),
            ],
            decision("dq", "alv", Some("alv-3"), "2021-04-10"),
            Some(QuorumNotMet),
        ),
        case(
            "a decision by consensus there is no vote",
            vec![
                alv3("2021-04-01"),
                held("alv-3", "alv", "2021-04-10", 24, false),
            ],
            with(
                decision("dq", "alv", Some("alv-3"), "2021-04-10"),
                "basis",
                json!("consensus"),
            ),
            None,
        ),
        // votes-exceed-present
        case(
            "for + against + abstain equal to those present",
            vec![motion("mv", "alv-2", "ordinary", None)],
            vote("mv", "2021-03-01", "ballot", (20, 15, 5)),
            None,
        ),
        case(
            "one vote more than those present",
            vec![motion("mv", "alv-2", "ordinary", None)],
            vote("mv", "2021-03-01", "ballot", (20, 15, 6)),
            Some(VotesExceedPresent),
        ),
        case(
            "consensus counts are not votes",
            vec![motion("mv", "alv-2", "ordinary", None)],
            with(
                vote("mv", "2021-03-01", "consensus", (500, 0, 0)),
                "outcome",
                json!("adopted"),
            ),
            None,
        ),
        // majority-not-reached (BW 2:43 lid 1)
        case(
            "a statute amendment with exactly two thirds of the votes cast",
            amendment_meeting("alv", 7, Some(5), true),
            vote("sa", "2021-06-15", "ballot", (20, 10, 30)),
            None,
        ),
        case(
            "a statute amendment one vote short of two thirds",
            amendment_meeting("alv", 7, Some(5), true),
            vote("sa", "2021-06-15", "ballot", (19, 10, 0)),
            Some(MajorityNotReached),
        ),
        case(
            "a statute amendment rejected needs no majority",
            amendment_meeting("alv", 7, Some(5), true),
            vote("sa", "2021-06-15", "ballot", (10, 19, 0)),
            None,
        ),
        case(
            "a dissolution one vote short of two thirds",
            vec![motion("ds", "alv-2", "dissolution", None)],
            vote("ds", "2021-03-01", "ballot", (19, 10, 0)),
            Some(MajorityNotReached),
        ),
        case(
            "the body's own majority of three quarters",
            {
                let mut b = vec![ev(
                    "body/alv",
                    "BodyRulesAdopted",
                    "2021-05-01",
                    json!({"body_id": "alv", "notice_days": 7, "quorum": 25, "statute_majority": {"num": 3, "den": 4}}),
                )];
                b.extend(amendment_meeting("alv", 7, Some(5), true));
                b
            },
            vote("sa", "2021-06-15", "ballot", (20, 10, 0)),
            Some(MajorityNotReached),
        ),
        // not-competent
        case(
            "a decision of the board at an ALV meeting",
            vec![],
            decision("dx", "bestuur", Some("alv-2"), "2021-03-01"),
            Some(NotCompetent),
        ),
        case(
            "a decision of the ALV at its meeting",
            vec![],
            decision("dx", "alv", Some("alv-2"), "2021-03-01"),
            None,
        ),
        case(
            "the daily board appointed by an ALV decision (the board appoints it)",
            vec![],
            appoint_db("penningmeester", Some("d-alv")),
            Some(NotCompetent),
        ),
        case(
            "the daily board appointed by a board decision",
            vec![],
            appoint_db("penningmeester", Some("d-bestuur")),
            None,
        ),
        case(
            "an appointment citing a revoked decision",
            vec![ev(
                "decision/d-bestuur",
                "DecisionRevoked",
                "2021-03-20",
                json!({"decision_id": "d-bestuur", "by_decision_id": "d-alv", "reason": "ingetrokken"}),
            )],
            appoint_db("penningmeester", Some("d-bestuur")),
            Some(NotCompetent),
        ),
        case(
            "an appointment citing nothing in a body with rules",
            vec![],
            appoint_db("penningmeester", None),
            Some(NotCompetent),
        ),
        case(
            "an ex-officio seat needs no decision",
            vec![],
            appoint_db("voorzitter", None),
            None,
        ),
        case(
            "an appointment citing an election of another body",
            vec![],
            with(
                appoint_db("penningmeester", None),
                "election_id",
                json!("e1"),
            ),
            Some(NotCompetent),
        ),
        case(
            "a seat whose appointing body moved to the ALV",
            vec![ev(
                "body/dagelijks-bestuur",
                "AppointingBodyChanged",
                "2021-03-15",
                json!({"body_id": "dagelijks-bestuur", "appointed_by": "alv", "role": "penningmeester"}),
            )],
            appoint_db("penningmeester", Some("d-alv")),
            None,
        ),
        case(
            "the same, appointed by the board after the move",
            vec![ev(
                "body/dagelijks-bestuur",
                "AppointingBodyChanged",
                "2021-03-15",
                json!({"body_id": "dagelijks-bestuur", "appointed_by": "alv", "role": "penningmeester"}),
            )],
            appoint_db("penningmeester", Some("d-bestuur")),
            Some(NotCompetent),
        ),
        case(
            "without rules in force, a decision of another body is accepted (a finding)",
            vec![decision("dp", "partijraad", None, "2021-03-01")],
            with(
                appoint("commissie", "3", "lid", "2021-04-01", None, None),
                "decision_id",
                json!("dp"),
            ),
            None,
        ),
        case(
            "a case decided by its body's decision",
            vec![],
            ev(
                "case/c1",
                "CaseDecided",
                "2021-04-01",
                json!({"case_id": "c1", "outcome": "warning", "decision_id": "d-gc"}),
            ),
            None,
        ),
        case(
            "a case decided by another body's decision",
            vec![],
            ev(
                "case/c1",
                "CaseDecided",
                "2021-04-01",
                json!({"case_id": "c1", "outcome": "warning", "decision_id": "d-bestuur"}),
            ),
            Some(NotCompetent),
        ),
        case(
            "an appeal decided by the ALV, the appeal body",
            appeal_before(),
            ev(
                "case/c1",
                "AppealDecided",
                "2021-06-01",
                json!({"case_id": "c1", "outcome": "upheld", "decision_id": "d-alv"}),
            ),
            None,
        ),
        case(
            "an appeal decided by the board",
            appeal_before(),
            ev(
                "case/c1",
                "AppealDecided",
                "2021-06-01",
                json!({"case_id": "c1", "outcome": "upheld", "decision_id": "d-bestuur"}),
            ),
            Some(NotCompetent),
        ),
        // incompatible-seats (BW 2:48 lid 2: the kascommissie is not of the board)
        case(
            "a board member appointed to the kascommissie",
            vec![with(
                appoint(
                    "bestuur",
                    "8",
                    "lid",
                    "2021-03-01",
                    Some("2022-12-31"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            )],
            with(
                appoint(
                    "kascommissie",
                    "8",
                    "lid",
                    "2022-06-01",
                    Some("2023-06-01"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            ),
            Some(IncompatibleSeats),
        ),
        case(
            "incompatible only on the board term's last day",
            vec![with(
                appoint(
                    "bestuur",
                    "8",
                    "lid",
                    "2021-03-01",
                    Some("2022-12-31"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            )],
            with(
                appoint(
                    "kascommissie",
                    "8",
                    "lid",
                    "2022-12-31",
                    Some("2023-12-31"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            ),
            Some(IncompatibleSeats),
        ),
        case(
            "the day after the board term ends",
            vec![with(
                appoint(
                    "bestuur",
                    "8",
                    "lid",
                    "2021-03-01",
                    Some("2022-12-31"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            )],
            with(
                appoint(
                    "kascommissie",
                    "8",
                    "lid",
                    "2023-01-01",
                    Some("2023-12-31"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            ),
            None,
        ),
        case(
            "a board member who left before",
            vec![
                with(
                    appoint(
                        "bestuur",
                        "8",
                        "lid",
                        "2021-03-01",
                        Some("2022-12-31"),
                        None,
                    ),
                    "decision_id",
                    json!("d-alv"),
                ),
                ev(
                    "body/bestuur",
                    "MemberLeftBody",
                    "2021-09-01",
                    json!({"body_id": "bestuur", "member_id": "8", "role": "lid", "reason": "resigned"}),
                ),
            ],
            with(
                appoint(
                    "kascommissie",
                    "8",
                    "lid",
                    "2021-09-01",
                    Some("2023-06-01"),
                    None,
                ),
                "decision_id",
                json!("d-alv"),
            ),
            None,
        ),
        // invalid-state, extended
        case(
            "a motion voted twice",
            vec![
                motion("mt", "alv-2", "ordinary", None),
                vote("mt", "2021-03-01", "ballot", (20, 10, 0)),
            ],
            vote("mt", "2021-03-01", "ballot", (10, 20, 0)),
            Some(InvalidState),
        ),
        case(
            "an amendment voted after its motion",
            vec![
                motion("mt", "alv-2", "ordinary", None),
                motion("mta", "alv-2", "ordinary", Some("mt")),
                vote("mt", "2021-03-01", "ballot", (20, 10, 0)),
            ],
            vote("mta", "2021-03-01", "ballot", (20, 10, 0)),
            Some(InvalidState),
        ),
        case(
            "an amendment voted before its motion",
            vec![
                motion("mt", "alv-2", "ordinary", None),
                motion("mta", "alv-2", "ordinary", Some("mt")),
            ],
            vote("mta", "2021-03-01", "ballot", (20, 10, 0)),
            None,
        ),
        case(
            "a vote at a meeting convened but not held",
            vec![alv3("2021-04-01"), motion("mc", "alv-3", "ordinary", None)],
            vote("mc", "2021-04-10", "ballot", (20, 10, 0)),
            Some(InvalidState),
        ),
        case(
            "a meeting held on another date than convened",
            vec![alv3("2021-04-01")],
            held("alv-3", "alv", "2021-04-11", 40, true),
            Some(InvalidState),
        ),
        case(
            "a meeting convened twice",
            vec![alv3("2021-04-01")],
            alv3("2021-04-02"),
            Some(InvalidState),
        ),
    ]
}

fn appeal_before() -> Vec<Value> {
    vec![
        ev(
            "case/c1",
            "CaseDecided",
            "2021-04-01",
            json!({"case_id": "c1", "outcome": "warning", "decision_id": "d-gc", "appeal_deadline": "2021-05-15"}),
        ),
        ev(
            "case/c1",
            "AppealFiled",
            "2021-04-20",
            json!({"case_id": "c1", "member_id": "6"}),
        ),
    ]
}

#[test]
fn every_statute_rule_with_its_boundaries() {
    let world = statutes_world();
    let mut covered = std::collections::BTreeSet::new();
    for c in cases() {
        let mut rules = Rules::after(&world);
        if let Err(r) = rules.append(&c.before) {
            panic!("{}: the events before are refused: {r:?}", c.what);
        }
        match (rules.append(std::slice::from_ref(&c.event)), c.expect) {
            (Ok(()), None) => {}
            (Err(r), Some(rule)) => {
                assert_eq!(r[0].refusal.rule, rule, "{}: {}", c.what, r[0].refusal);
                assert!(!r[0].refusal.message.is_empty());
                covered.insert(rule);
            }
            (Ok(()), Some(rule)) => panic!("{}: accepted, but {rule} was expected", c.what),
            (Err(r), None) => panic!("{}: refused: {}", c.what, r[0].refusal),
        }
    }
    for rule in [
        Rule::NoticeTooShort,
        Rule::QuorumNotMet,
        Rule::VotesExceedPresent,
        Rule::MajorityNotReached,
        Rule::NotCompetent,
        Rule::IncompatibleSeats,
    ] {
        assert!(covered.contains(&rule), "no refused case for {rule}");
    }
}

#[test]
fn a_majority_is_a_fraction_of_at_most_one() {
    for (num, den) in [(2, 0), (0, 3), (4, 3)] {
        let e = ev(
            "body/alv",
            "BodyRulesAdopted",
            "2021-05-01",
            json!({"body_id": "alv", "notice_days": 7, "quorum": 25, "statute_majority": {"num": num, "den": den}}),
        );
        let r = crate::envelope::ProposedEvent::parse(e).expect_err("refused");
        assert_eq!(
            (r.rule, r.field.as_deref()),
            (Rule::MalformedField, Some("data.statute_majority"))
        );
    }
    let e = ev(
        "body/alv",
        "BodyRulesAdopted",
        "2021-05-01",
        json!({"body_id": "alv", "notice_days": -1, "quorum": 25}),
    );
    assert_eq!(
        crate::envelope::ProposedEvent::parse(e)
            .expect_err("refused")
            .rule,
        Rule::NegativeAmount
    );
}

/// A pool of events about one meeting, a motion, decisions and appointments, with effective
/// dates in no particular order: any order of entry is possible.
fn pool() -> Vec<Value> {
    vec![
        convened(
            "alv-9",
            "alv",
            "2021-09-30",
            "2021-09-20",
            json!([{"item": "Statuten", "kind": "statute_amendment", "motion_id": "s9"}]),
            Some("2021-09-22"),
        ),
        motion("s9", "alv-9", "statute_amendment", None),
        motion("o9", "alv-9", "ordinary", None),
        held("alv-9", "alv", "2021-09-30", 50, true),
        vote("s9", "2021-09-30", "ballot", (34, 16, 0)),
        vote("o9", "2021-09-30", "ballot", (20, 25, 0)),
        decision("d9", "bestuur", Some("alv-9"), "2021-09-30"),
        decision("d10", "bestuur", None, "2021-08-01"),
        with(
            appoint(
                "dagelijks-bestuur",
                "3",
                "penningmeester",
                "2021-10-01",
                Some("2022-10-01"),
                None,
            ),
            "decision_id",
            json!("d10"),
        ),
        with(
            appoint(
                "kascommissie",
                "3",
                "lid",
                "2021-10-01",
                Some("2022-10-01"),
                None,
            ),
            "decision_id",
            json!("d-alv"),
        ),
        with(
            appoint(
                "bestuur",
                "9",
                "lid",
                "2021-07-01",
                Some("2022-07-01"),
                None,
            ),
            "decision_id",
            json!("d-alv"),
        ),
        with(
            appoint(
                "kascommissie",
                "9",
                "lid",
                "2021-11-01",
                Some("2022-11-01"),
                None,
            ),
            "decision_id",
            json!("d-alv"),
        ),
        ev(
            "body/kascommissie",
            "BodyRulesAdopted",
            "2021-06-01",
            json!({"body_id": "kascommissie", "notice_days": 7, "quorum": 2}),
        ),
    ]
}

/// Each `(body, body whose rules name it incompatible)` pair of the state's index
/// (`incompatible_listed_by`), sorted; a pair listed twice would show twice.
fn incompatibility_indexed(state: &GovernanceState) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = state
        .incompatible_listed_by
        .iter()
        .flat_map(|(named, by)| by.iter().map(move |b| (named.clone(), b.clone())))
        .collect();
    pairs.sort();
    pairs
}

/// The same pairs read from every version of every body's rules, sorted and without repeats.
fn incompatibility_in_rules(state: &GovernanceState) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = state
        .bodies
        .iter()
        .flat_map(|(b, history)| {
            history.rules.iter().flat_map(move |r| {
                r.incompatible_with
                    .iter()
                    .map(move |named| (named.clone(), b.clone()))
            })
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

/// `incompatible-seats` reads only the bodies that the rules tie to the body appointed to,
/// from an index kept with the rules: a body whose rules name another makes the other's seats
/// incompatible with its own, in either direction of appointment, and a refused batch takes
/// its rules out of the index again.
#[test]
fn the_index_of_incompatible_bodies_follows_the_rules_and_a_refused_batch() {
    let mut rules = Rules::after(&statutes_world());
    let before = incompatibility_indexed(rules.state());
    assert_eq!(before, incompatibility_in_rules(rules.state()));
    assert!(before.contains(&("kascommissie".to_owned(), "bestuur".to_owned())));
    // The partijraad's rules name the geschillencommissie; the geschillencommissie's do not
    // name the partijraad.
    let partijraad_rules = ev(
        "body/partijraad",
        "BodyRulesAdopted",
        "2021-01-01",
        json!({"body_id": "partijraad", "notice_days": 7, "quorum": 3, "incompatible_with": ["geschillencommissie"]}),
    );
    let unknown_body = appoint("no-such-body", "9", "lid", "2021-03-01", None, None);
    assert!(rules
        .append(&[partijraad_rules.clone(), unknown_body])
        .is_err());
    assert_eq!(incompatibility_indexed(rules.state()), before);
    let to_partijraad = |m: &str| {
        with(
            appoint("partijraad", m, "lid", "2021-04-01", None, None),
            "decision_id",
            json!("d-alv"),
        )
    };
    let to_geschillencommissie = |m: &str| {
        with(
            appoint("geschillencommissie", m, "lid", "2021-05-01", None, None),
            "decision_id",
            json!("d-alv"),
        )
    };
    // Without those rules, member 8 may sit in both.
    assert_eq!(rules.append(&[to_partijraad("8")]), Ok(()));
    assert_eq!(rules.append(&[to_geschillencommissie("8")]), Ok(()));
    assert_eq!(rules.append(&[partijraad_rules]), Ok(()));
    let mut expected = before;
    expected.push(("geschillencommissie".to_owned(), "partijraad".to_owned()));
    expected.sort();
    assert_eq!(incompatibility_indexed(rules.state()), expected);
    assert_eq!(
        incompatibility_indexed(rules.state()),
        incompatibility_in_rules(rules.state())
    );
    // With them, member 9 may not: refused by the rules of the body already sat in (the
    // geschillencommissie's own rules name nothing).
    assert_eq!(rules.append(&[to_partijraad("9")]), Ok(()));
    let refused = rules
        .append(&[to_geschillencommissie("9")])
        .map_err(|r| r[0].refusal.rule);
    assert_eq!(refused, Err(Rule::IncompatibleSeats));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The rules judge each event against the ledger as entered before it, whatever the order
    /// of the effective dates: in any order of entry, the verdicts of the state kept along the
    /// way are those of a state rebuilt from the accepted events (as a store rebuilds it after
    /// a restart), and the same order gives the same verdicts twice.
    #[test]
    fn verdicts_follow_the_order_of_entry(order in Just((0..pool().len()).collect::<Vec<usize>>()).prop_shuffle()) {
        let pool = pool();
        let world = statutes_world();
        let entered: Vec<Value> = order.iter().map(|i| pool[*i].clone()).collect();
        let verdicts = |entered: &[Value]| {
            let mut live = Rules::after(&world);
            let mut accepted: Vec<Value> = Vec::new();
            let mut out = Vec::new();
            for e in entered {
                let mut rebuilt = Rules::after(&world);
                rebuilt.append(&accepted).map_err(|r| format!("{r:?}")).expect("accepted events rebuild");
                let from_live = live.append(std::slice::from_ref(e)).map_err(|r| r[0].refusal.rule);
                assert_eq!(incompatibility_indexed(live.state()), incompatibility_in_rules(live.state()), "{e}");
                let from_rebuilt = rebuilt.append(std::slice::from_ref(e)).map_err(|r| r[0].refusal.rule);
                assert_eq!(from_live, from_rebuilt, "{e}");
                if from_live.is_ok() {
                    accepted.push(e.clone());
                }
                out.push(from_live);
            }
            out
        };
        let first = verdicts(&entered);
        prop_assert_eq!(&first, &verdicts(&entered));
        // In the order of entry the pool was written in (the order it promises), all pass
        // but the two that break a rule: the board's decision at the ALV meeting, and member
        // 9 on the kascommissie while on the board.
        let written: Vec<Value> = pool.clone();
        let ordered = verdicts(&written);
        let refused: Vec<usize> = ordered.iter().enumerate().filter(|(_, v)| v.is_err()).map(|(i, _)| i).collect();
        prop_assert_eq!(refused, vec![6, 11]);
    }
}
