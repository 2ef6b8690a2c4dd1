//! Cases per respondent (step 10), on plain data: a royement of two respondents, notice of the
//! decision received on different days, appeals within and after each one's term (BW 2:35 lid
//! 2: a month after receiving notice), a second appeal, a non-respondent's, closing the case
//! too early, a re-decision that ends a suspension, and an expulsion final per respondent.

use super::tests::{ev, join, open_case_of, Rules};
use crate::rules::Rule;
use crate::types::Date;
use serde_json::{json, Value};

pub(crate) fn world() -> Vec<Value> {
    let mut w = super::tests::world();
    w.extend([
        join("8", "2020-01-01"),
        join("9", "2020-01-01"),
        open_case_of("r2", "royement", "bestuur", "2020-12-01", &["8", "9"]),
        // Decided on 31 December; the deadline is one month on.
        ev(
            "case/r2",
            "CaseDecided",
            "2020-12-31",
            json!({"case_id": "r2", "outcome": "expelled", "appeal_deadline": "2021-01-31"}),
        ),
    ]);
    w
}

fn notice(member: &str, date: &str) -> Value {
    ev(
        "case/r2",
        "NoticeDelivered",
        date,
        json!({"case_id": "r2", "member_id": member}),
    )
}

fn appeal(member: &str, date: &str) -> Value {
    ev(
        "case/r2",
        "AppealFiled",
        date,
        json!({"case_id": "r2", "member_id": member}),
    )
}

fn decided(date: &str, outcome: &str, member: Option<&str>) -> Value {
    let mut e = ev(
        "case/r2",
        "AppealDecided",
        date,
        json!({"case_id": "r2", "outcome": outcome}),
    );
    if let Some(m) = member {
        e["data"]["member_id"] = json!(m);
    }
    e
}

fn close(date: &str) -> Value {
    ev("case/r2", "CaseClosed", date, json!({"case_id": "r2"}))
}

fn expel(member: &str, date: &str) -> Value {
    ev(
        &format!("member/{member}"),
        "MemberExpelled",
        date,
        json!({"member_id": member, "case_id": "r2"}),
    )
}

fn verdict(before: &[Value], event: Value) -> Result<(), Rule> {
    let mut rules = Rules::after(&world());
    rules
        .append(before)
        .unwrap_or_else(|r| panic!("the events before are refused: {r:?}"));
    rules
        .append(std::slice::from_ref(&event))
        .map_err(|r| r[0].refusal.rule)
}

/// One case: what it is, what is added to the world, the event judged, and its verdict.
pub(crate) type Case = (&'static str, Vec<Value>, Value, Result<(), Rule>);

/// The table.
pub(crate) fn cases() -> Vec<Case> {
    use Rule::*;
    // Member 8 received notice on 31 January: their term ends a calendar month on, on the
    // last day of February (2021: the 28th), later than the deadline of 31 January.
    let n8 = notice("8", "2021-01-31");
    vec![
        (
            "an appeal on the last day of the month after notice",
            vec![n8.clone()],
            appeal("8", "2021-02-28"),
            Ok(()),
        ),
        (
            "an appeal the day after",
            vec![n8.clone()],
            appeal("8", "2021-03-01"),
            Err(AppealNotAllowed),
        ),
        (
            "without notice, the deadline's last day",
            vec![],
            appeal("9", "2021-01-31"),
            Ok(()),
        ),
        (
            "without notice, the day after the deadline",
            vec![],
            appeal("9", "2021-02-01"),
            Err(AppealNotAllowed),
        ),
        (
            "both respondents appeal",
            vec![n8.clone(), appeal("8", "2021-02-10")],
            appeal("9", "2021-01-20"),
            Ok(()),
        ),
        (
            "a second appeal by one respondent",
            vec![appeal("8", "2021-01-10")],
            appeal("8", "2021-01-12"),
            Err(AppealNotAllowed),
        ),
        (
            "an appeal by a member who is not a respondent",
            vec![],
            appeal("2", "2021-01-10"),
            Err(AppealNotAllowed),
        ),
        (
            "notice to a member who is not a respondent",
            vec![],
            notice("2", "2021-01-10"),
            Err(InvalidState),
        ),
        (
            "notice received before the decision",
            vec![],
            notice("8", "2020-12-30"),
            Err(InvalidState),
        ),
        (
            "two appeals pending and none named",
            vec![appeal("8", "2021-01-10"), appeal("9", "2021-01-11")],
            decided("2021-03-01", "upheld", None),
            Err(InvalidState),
        ),
        (
            "the named one decided",
            vec![appeal("8", "2021-01-10"), appeal("9", "2021-01-11")],
            decided("2021-03-01", "upheld", Some("9")),
            Ok(()),
        ),
        (
            "closing while a respondent may still appeal",
            vec![
                n8.clone(),
                appeal("9", "2021-01-11"),
                decided("2021-02-01", "upheld", Some("9")),
            ],
            close("2021-02-20"),
            Err(CaseStillOpen),
        ),
        (
            "closing the day after the last term ends",
            vec![
                n8.clone(),
                appeal("9", "2021-01-11"),
                decided("2021-02-01", "upheld", Some("9")),
            ],
            close("2021-03-01"),
            Ok(()),
        ),
        (
            "closing with an appeal pending",
            vec![appeal("8", "2021-01-10")],
            close("2021-06-01"),
            Err(CaseStillOpen),
        ),
        (
            "an expulsion before the respondent's term ends",
            vec![n8.clone()],
            expel("8", "2021-02-28"),
            Err(ExpulsionNotFinal),
        ),
        (
            "the day after",
            vec![n8.clone()],
            expel("8", "2021-03-01"),
            Ok(()),
        ),
        (
            "a respondent whose appeal was upheld, the other still in their term",
            vec![
                n8.clone(),
                appeal("9", "2021-01-11"),
                decided("2021-02-01", "upheld", Some("9")),
            ],
            expel("9", "2021-02-01"),
            Ok(()),
        ),
    ]
}

#[test]
fn each_respondent_appeals_within_their_own_term() {
    for (what, before, event, expected) in cases() {
        assert_eq!(verdict(&before, event), expected, "{what}");
    }
}

#[test]
fn a_decision_about_one_respondent_and_a_redecision_that_ends_a_suspension() {
    let d = |s: &str| Date::parse(s).unwrap();
    let mut rules = Rules::after(&world());
    let suspended = |rules: &Rules, m: &str, on: &str| {
        rules.state().members.get(m).unwrap().suspended_on(d(on))
    };
    assert!(suspended(&rules, "8", "2021-01-15") && suspended(&rules, "9", "2021-01-15"));
    // Re-decided for member 9 alone: a warning. Member 9's suspension ends on that day,
    // member 8's runs on.
    rules
        .append(&[ev(
            "case/r2",
            "CaseDecided",
            "2021-01-20",
            json!({"case_id": "r2", "outcome": "warning", "respondent": "9"}),
        )])
        .unwrap();
    assert!(!suspended(&rules, "9", "2021-01-20") && suspended(&rules, "9", "2021-01-19"));
    assert!(suspended(&rules, "8", "2021-06-01"));
    // Member 9 has nothing to appeal that expels them; member 8 still has.
    let r = rules.append(&[expel("9", "2021-06-01")]).unwrap_err();
    assert_eq!(r[0].refusal.rule, Rule::ExpulsionNotFinal);
    rules.append(&[expel("8", "2021-06-01")]).unwrap();
    // A decision about someone who is not a respondent.
    let r = rules
        .append(&[ev(
            "case/r2",
            "CaseDecided",
            "2021-02-01",
            json!({"case_id": "r2", "outcome": "warning", "respondent": "2"}),
        )])
        .unwrap_err();
    assert_eq!(r[0].refusal.rule, Rule::InvalidState);
}

#[test]
fn a_case_names_an_adopted_regulation_version() {
    let mut rules = Rules::after(&world());
    let reglement = ev(
        "code/geschillenreglement",
        "CodeVersionAdopted",
        "2020-01-01",
        json!({"code_id": "geschillenreglement", "version": 1, "title": "Geschillenreglement", "text_blake3": "b".repeat(64), "kind": "regulation"}),
    );
    rules.append(&[reglement]).unwrap();
    let mut case = open_case_of("c9", "dispute", "bestuur", "2021-02-01", &["6"]);
    case["data"]["regulation"] = json!({"code_id": "geschillenreglement", "version": 2});
    let r = rules.append(std::slice::from_ref(&case)).unwrap_err();
    assert_eq!(
        (r[0].refusal.rule, r[0].refusal.field.as_deref()),
        (Rule::UnknownReference, Some("data.regulation.version"))
    );
    case["data"]["regulation"]["version"] = json!(1);
    rules.append(&[case]).unwrap();
    assert!(!rules
        .state()
        .codes
        .get("geschillenreglement")
        .unwrap()
        .is_conduct());
}
