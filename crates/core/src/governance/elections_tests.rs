//! Elections as the call describes them (step 10), on plain data, at their boundaries:
//! preferences per seat (two portfolios of one role), a candidacy file with the call's
//! requirements (5 to 10 profile terms), a result against its tally (a tie decided by lot), an
//! appointment citing an election its member did not win, a candidate in the screening body.

use super::tests::{appoint, ev, with_personal, world as base, Rules};
use crate::rules::Rule;
use serde_json::{json, Value};

pub(crate) fn world() -> Vec<Value> {
    let mut w = base();
    w.extend([
        // The national board's election: two portfolios of one role, and two members' seats.
        ev("election/e4", "ElectionCalled", "2020-07-01", json!({"election_id": "e4", "body_id": "bestuur",
            "seats": [{"role": "algemeen-bestuurslid", "portfolio": "campagne", "count": 1},
                      {"role": "algemeen-bestuurslid", "portfolio": "ledenwerving", "count": 1},
                      {"role": "lid", "count": 2}],
            "candidacy_opens": "2020-07-01", "candidacy_closes": "2020-07-31", "screening_body_id": "commissie",
            "requirements": {"cv": true, "motivation": true, "profile_terms_min": 5, "profile_terms_max": 10}})),
    ]);
    for m in ["1", "2", "6"] {
        w.push(candidacy(
            m,
            json!(["lid", {"role": "algemeen-bestuurslid", "portfolio": "campagne"}]),
            5,
        ));
        w.push(ev(
            "election/e4",
            "CandidacyScreened",
            "2020-08-01",
            json!({"election_id": "e4", "member_id": m, "admitted": true}),
        ));
    }
    w
}

fn candidacy(member: &str, preferences: Value, terms: usize) -> Value {
    let terms: Vec<String> = (0..terms).map(|i| format!("term{i}")).collect();
    with_personal(
        ev(
            "election/e4",
            "CandidacySubmitted",
            "2020-07-10",
            json!({"election_id": "e4", "member_id": member,
            "preferences": preferences, "cv_blake3": "c".repeat(64), "motivation_blake3": "d".repeat(64)}),
        ),
        json!({"profile_terms": terms}),
    )
}

fn result(role: &str, tally: &[(&str, i64)], elected: &[&str], lot: bool) -> Value {
    let tally: Vec<Value> = tally
        .iter()
        .map(|(m, v)| json!({"member_id": m, "votes": v}))
        .collect();
    let mut e = ev(
        "election/e4",
        "ElectionResult",
        "2020-09-01",
        json!({"election_id": "e4", "role": role,
        "tally": tally, "blank": 0, "invalid": 0, "elected": elected}),
    );
    if lot {
        e["data"]["tie_break"] = json!("lot");
    }
    e
}

fn without(mut event: Value, key: &str) -> Value {
    if let Some(d) = event["data"].as_object_mut() {
        d.remove(key);
    }
    event
}

pub(crate) type Case = (&'static str, Vec<Value>, Value, Result<(), Rule>);

pub(crate) fn cases() -> Vec<Case> {
    use Rule::*;
    let portfolios = json!([{"role": "algemeen-bestuurslid", "portfolio": "campagne"}, {"role": "algemeen-bestuurslid", "portfolio": "ledenwerving"}]);
    let elected_1_2 = result(
        "lid",
        &[("1", 30), ("2", 20), ("6", 10)],
        &["1", "2"],
        false,
    );
    vec![
        (
            "two portfolios of one role are two seats",
            vec![],
            candidacy("3", portfolios.clone(), 5),
            Ok(()),
        ),
        (
            "one portfolio twice is one seat",
            vec![],
            candidacy(
                "3",
                json!([{"role": "algemeen-bestuurslid", "portfolio": "campagne"}, {"role": "algemeen-bestuurslid", "portfolio": "campagne"}]),
                5,
            ),
            Err(TooFewPreferences),
        ),
        (
            "a portfolio the election does not fill",
            vec![],
            candidacy(
                "3",
                json!([{"role": "algemeen-bestuurslid", "portfolio": "digitaal"}, "lid"]),
                5,
            ),
            Err(TooFewPreferences),
        ),
        (
            "exactly the fewest profile terms",
            vec![],
            candidacy("3", portfolios.clone(), 5),
            Ok(()),
        ),
        (
            "one profile term too few",
            vec![],
            candidacy("3", portfolios.clone(), 4),
            Err(CandidacyIncomplete),
        ),
        (
            "exactly the most profile terms",
            vec![],
            candidacy("3", portfolios.clone(), 10),
            Ok(()),
        ),
        (
            "one profile term too many",
            vec![],
            candidacy("3", portfolios.clone(), 11),
            Err(CandidacyIncomplete),
        ),
        (
            "no CV",
            vec![],
            without(candidacy("3", portfolios.clone(), 5), "cv_blake3"),
            Err(CandidacyIncomplete),
        ),
        (
            "no motivation",
            vec![],
            without(candidacy("3", portfolios.clone(), 5), "motivation_blake3"),
            Err(CandidacyIncomplete),
        ),
        (
            "a candidate who sits in the screening body, which has rules",
            vec![
                appoint("commissie", "3", "lid", "2020-06-01", None, None),
                commissie_rules(),
            ],
            candidacy("3", portfolios.clone(), 5),
            Err(IncompatibleSeats),
        ),
        (
            "the same without rules in force: accepted, a finding",
            vec![appoint("commissie", "3", "lid", "2020-06-01", None, None)],
            candidacy("3", portfolios.clone(), 5),
            Ok(()),
        ),
        (
            "the two with the most votes elected",
            vec![],
            elected_1_2.clone(),
            Ok(()),
        ),
        (
            "one with fewer votes elected",
            vec![],
            result(
                "lid",
                &[("1", 30), ("2", 20), ("6", 10)],
                &["1", "6"],
                false,
            ),
            Err(ResultTallyMismatch),
        ),
        (
            "fewer elected than seats and candidates",
            vec![],
            result("lid", &[("1", 30), ("2", 20), ("6", 10)], &["1"], false),
            Err(ResultTallyMismatch),
        ),
        (
            "a tie at the boundary not decided",
            vec![],
            result(
                "lid",
                &[("1", 30), ("2", 20), ("6", 20)],
                &["1", "6"],
                false,
            ),
            Err(ResultTallyMismatch),
        ),
        (
            "a tie at the boundary decided by lot",
            vec![],
            result("lid", &[("1", 30), ("2", 20), ("6", 20)], &["1", "6"], true),
            Ok(()),
        ),
        (
            "a lot that passes over the one with the most votes",
            vec![],
            result("lid", &[("1", 30), ("2", 20), ("6", 20)], &["2", "6"], true),
            Err(ResultTallyMismatch),
        ),
        (
            "an appointment of a member elected",
            vec![elected_1_2.clone()],
            with_election(appoint(
                "bestuur",
                "2",
                "lid",
                "2020-10-01",
                Some("2022-10-01"),
                None,
            )),
            Ok(()),
        ),
        (
            "an appointment of a member not elected",
            vec![elected_1_2.clone()],
            with_election(appoint(
                "bestuur",
                "6",
                "lid",
                "2020-10-01",
                Some("2022-10-01"),
                None,
            )),
            Err(ResultTallyMismatch),
        ),
    ]
}

fn commissie_rules() -> Value {
    ev(
        "body/commissie",
        "BodyRulesAdopted",
        "2020-06-01",
        json!({"body_id": "commissie", "notice_days": 7, "quorum": 1}),
    )
}

fn with_election(mut e: Value) -> Value {
    e["data"]["election_id"] = json!("e4");
    e
}

#[test]
fn elections_as_the_call_describes_them() {
    for (what, before, event, expected) in cases() {
        let mut rules = Rules::after(&world());
        rules
            .append(&before)
            .unwrap_or_else(|r| panic!("{what}: the events before are refused: {r:?}"));
        let verdict = rules
            .append(std::slice::from_ref(&event))
            .map_err(|r| r[0].refusal.rule);
        assert_eq!(verdict, expected, "{what}");
    }
}

#[test]
fn a_window_that_closes_before_it_opens_and_a_refusal_without_reasons_are_malformed() {
    let called = ev(
        "election/e5",
        "ElectionCalled",
        "2020-07-01",
        json!({"election_id": "e5", "body_id": "bestuur",
        "seats": [{"role": "lid", "count": 1}], "candidacy_opens": "2020-07-31", "candidacy_closes": "2020-07-01",
        "screening_body_id": "commissie"}),
    );
    let screened = ev(
        "election/e4",
        "CandidacyScreened",
        "2020-08-01",
        json!({"election_id": "e4", "member_id": "1", "admitted": false}),
    );
    for (event, field) in [(called, "data.candidacy_closes"), (screened, "data.reason")] {
        let r = crate::envelope::ProposedEvent::parse(event).expect_err("refused");
        assert_eq!(
            (r.rule, r.field.as_deref()),
            (Rule::MalformedField, Some(field))
        );
    }
}
