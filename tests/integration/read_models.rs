//! The read models through the command line: tables by default, JSON with `--json`, with the
//! keys of DOMAIN.md.

use crate::support::{root, Ledger};
use serde_json::Value;

fn sample_ledger() -> Ledger {
    let l = Ledger::new();
    l.append_sample();
    l
}

fn json(l: &Ledger, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&l.run(&all).ok()).expect("JSON output")
}

#[test]
fn every_read_model_answers_in_a_table_and_in_json() {
    let l = sample_ledger();
    let c = json(
        &l,
        &[
            "composition",
            "afdeling-den-haag/bestuur",
            "--as-of",
            "2020-03-01",
        ],
    );
    let holders = c["seats"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["holders"].as_array().unwrap().clone())
        .collect::<Vec<_>>();
    let expired = holders.iter().find(|h| h["member_id"] == "10211").unwrap();
    for key in [
        "member_id",
        "role",
        "portfolio",
        "term_start",
        "term_end",
        "times_reappointed",
        "term_expired",
    ] {
        assert!(expired.get(key).is_some(), "composition holder lacks {key}");
    }
    assert_eq!(expired["term_expired"], true);
    let table = l
        .run(&[
            "composition",
            "afdeling-den-haag/bestuur",
            "--as-of",
            "2020-03-01",
        ])
        .ok();
    assert!(
        table.contains("term_expired") && table.contains("10223"),
        "{table}"
    );

    let t = json(&l, &["terms", "landelijk-bestuur"]);
    assert!(t["terms"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["reappointments_remaining"] == 0));
    assert!(l
        .run(&["terms", "landelijk-bestuur"])
        .ok()
        .contains("Rooster van aftreden"));

    let m = json(&l, &["member", "10220", "--as-of", "2022-07-01"]);
    assert_eq!(m["status"], "suspended");
    assert!(l
        .run(&["member", "10220", "--as-of", "2022-07-01"])
        .ok()
        .contains("suspended"));

    let n = json(&l, &["members", "--as-of", "2023-01-01"]);
    assert_eq!(n["by_status"]["expelled"], 1);
    assert!(l
        .run(&["members", "--as-of", "2023-01-01"])
        .ok()
        .contains("afdeling-utrecht"));

    let tl = json(&l, &["timeline", "--category", "financial"]);
    assert!(tl
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] == "decision" && e["category"] == "financial"));
    let text = l
        .run(&[
            "timeline",
            "--body",
            "landelijk-bestuur",
            "--from",
            "2023-01-01",
        ])
        .ok();
    assert!(text.contains("REVOKED 2023-05-10 by 2023-004"), "{text}");

    let e = json(&l, &["election", "bestuur-2021"]);
    assert_eq!(e["profiles"].as_array().unwrap().len(), 4);
    assert!(l
        .run(&["election", "bestuur-2021"])
        .ok()
        .contains("anonymised profiles"));

    let c = json(&l, &["case", "r-2022-01", "--as-of", "2022-07-01"]);
    assert_eq!(
        (c["status"].as_str(), c["appeal_deadline"].as_str()),
        (Some("appealed"), Some("2022-07-15"))
    );
    assert!(l.run(&["case", "r-2022-01"]).ok().contains("AppealDecided"));

    let k = json(&l, &["conduct", "--as-of", "2022-05-01"]);
    assert_eq!(k["codes"][0]["code_id"], "gedragscode");
    assert!(l.run(&["conduct"]).ok().contains("safer-space"));
}

#[test]
fn unknown_ids_and_bad_dates_are_reported() {
    let l = sample_ledger();
    let run = l.run(&["composition", "nergens"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("no body nergens in the ledger"),
        "{}",
        run.stderr()
    );
    let run = l.run(&["member", "10201", "--as-of", "1-1-2020"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("YYYY-MM-DD"), "{}", run.stderr());
}

#[test]
fn a_refused_governance_event_names_its_rule_and_facts() {
    let l = sample_ledger();
    let line = r#"{"stream":"body/landelijk-bestuur","type":"MemberAppointed","effective":"2022-06-01","data":{"body_id":"landelijk-bestuur","member_id":"10212","role":"voorzitter","term_start":"2022-06-01","term_end":"2025-06-01"}}"#;
    let run = l.run(&[
        "append",
        l.file("seat.jsonl", &[line.to_string()]).to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("line 1: seat-count-exceeded: body landelijk-bestuur has 1 seat for role voorzitter on 2022-06-01, held by member 10201"),
        "{}",
        run.stderr()
    );
}

/// Step 9 through the real binary: a meeting's page, the findings of a ledger entered before
/// its statutes, and a body's rules as they come into force, with a statute amendment convened
/// and adopted by two thirds, and one refused for too short a notice.
#[test]
fn meetings_rules_and_findings() {
    let l = sample_ledger();
    let m = json(&l, &["meeting", "alv-2020-11"]);
    assert_eq!(
        (m["body_id"].as_str(), m["held"]["present_count"].as_i64()),
        (Some("alv"), Some(87))
    );
    assert!(m["convened"].is_null() && m["rules"].is_null());
    let motions: Vec<&str> = m["motions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["motion_id"].as_str().unwrap())
        .collect();
    assert_eq!(motions, ["2020-m07", "2020-m07a", "2020-m08"]);
    assert!(m["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["decision_id"] == "2020-015"));
    assert_eq!(l.run(&["meeting", "nergens"]).code(), 1);
    // The sample's daily board was appointed by ALV decisions, though the national board
    // appoints it: no rules were in force, so it stands, with a finding.
    let c = json(
        &l,
        &["composition", "dagelijks-bestuur", "--as-of", "2021-06-01"],
    );
    let holder = &c["seats"][0]["holders"][0];
    assert!(
        holder["findings"][0]
            .as_str()
            .unwrap()
            .contains("is appointed by body landelijk-bestuur"),
        "{holder}"
    );
    assert!(l
        .run(&["composition", "dagelijks-bestuur", "--as-of", "2021-06-01"])
        .ok()
        .contains("FINDING: decision 2018-002 is body alv's"));
    // Rules for the ALV from 2025, a convocation three weeks ahead with the amendment on the
    // agenda, its proposal open ten days ahead, and the amendment adopted 40-20: two thirds.
    let statutes = [
        r#"{"stream":"body/alv","type":"BodyRulesAdopted","effective":"2025-01-01","data":{"body_id":"alv","notice_days":14,"quorum":50}}"#,
        r#"{"stream":"meeting/alv-2025-03","type":"MeetingConvened","effective":"2025-02-20","data":{"meeting_id":"alv-2025-03","body_id":"alv","date":"2025-03-15","agenda":[{"item":"Statutenwijziging: digitaal stemmen","kind":"statute_amendment","motion_id":"2025-m01"}],"proposal_available_on":"2025-03-05"}}"#,
        r#"{"stream":"motion/2025-m01","type":"MotionSubmitted","effective":"2025-02-20","data":{"motion_id":"2025-m01","meeting_id":"alv-2025-03","title":"Digitaal stemmen in de statuten","submitters":["10201"],"kind":"statute_amendment"}}"#,
        r#"{"stream":"meeting/alv-2025-03","type":"MeetingHeld","effective":"2025-03-15","data":{"meeting_id":"alv-2025-03","body_id":"alv","date":"2025-03-15","present_count":70,"quorum_met":true}}"#,
        r#"{"stream":"motion/2025-m01","type":"MotionVoted","effective":"2025-03-15","data":{"motion_id":"2025-m01","method":"ballot","for":40,"against":20,"abstain":10,"outcome":"adopted"}}"#,
    ];
    let file = l.file("statutes.jsonl", &statutes.map(str::to_owned));
    l.run(&["append", file.to_str().unwrap()]).ok();
    let m = json(&l, &["meeting", "alv-2025-03"]);
    assert_eq!(m["convened"]["notice_days"], 23);
    assert_eq!(m["rules"]["quorum"], 50);
    assert_eq!(m["motions"][0]["votes"][0]["outcome"], "adopted");
    let text = l.run(&["meeting", "alv-2025-03"]).ok();
    assert!(
        text.contains("convened on 2025-02-20 (23 days' notice)"),
        "{text}"
    );
    let c = json(&l, &["composition", "alv", "--as-of", "2025-06-01"]);
    assert_eq!(c["rules"]["statute_majority"], "2/3");
    assert!(json(&l, &["composition", "alv", "--as-of", "2024-06-01"])
        .get("rules")
        .is_none());
    // A meeting convened 13 days ahead, where the rules ask 14: refused, naming the rule.
    let short = [
        r#"{"stream":"meeting/alv-2025-06","type":"MeetingConvened","effective":"2025-06-01","data":{"meeting_id":"alv-2025-06","body_id":"alv","date":"2025-06-14","agenda":[]}}"#,
        r#"{"stream":"meeting/alv-2025-06","type":"MeetingHeld","effective":"2025-06-14","data":{"meeting_id":"alv-2025-06","body_id":"alv","date":"2025-06-14","present_count":70,"quorum_met":true}}"#,
    ];
    let file = l.file("short.jsonl", &short.map(str::to_owned));
    let run = l.run(&["append", file.to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("line 2: notice-too-short: meeting alv-2025-06 was convened on 2025-06-01, 13 days before 2025-06-14; body alv's rules ask 14 days"),
        "{}",
        run.stderr()
    );
}

/// The step-9 sample (rules for the ALV, the national board and the kascommissie,
/// convocations, a statute amendment adopted by exactly two thirds) loads on a store made from
/// the earlier sample: its first 405 lines are that sample, unchanged, and the rest appends.
#[test]
fn the_sample_appends_onto_a_store_made_from_the_earlier_sample() {
    let sample = std::fs::read_to_string(root().join("events/sample.jsonl")).unwrap();
    let lines: Vec<String> = sample.lines().map(str::to_owned).collect();
    let (old, new) = lines.split_at(405);
    let l = Ledger::new();
    l.run(&["append", l.file("old.jsonl", old).to_str().unwrap()])
        .ok();
    let out = l
        .run(&["append", l.file("new.jsonl", new).to_str().unwrap()])
        .ok();
    assert!(
        out.contains(&format!("appended {} events (positions 405..", new.len())),
        "{out}"
    );
    assert!(l
        .run(&["verify"])
        .ok()
        .contains(&format!("verified {} events", lines.len())));
    let m = json(&l, &["meeting", "alv-2024-11"]);
    assert_eq!(m["motions"][0]["votes"][0]["for"], 64);
    assert_eq!(m["held"]["present_count"], 96);
    let c = json(
        &l,
        &["composition", "kascommissie", "--as-of", "2025-01-01"],
    );
    assert_eq!(c["rules"]["incompatible_with"][0], "landelijk-bestuur");
}

/// Step 10 on the sample: the two-respondent royement file per respondent, as it stood on a
/// date, and the election with portfolio preferences.
#[test]
fn a_case_per_respondent_and_an_election_per_seat() {
    let l = sample_ledger();
    let c = json(&l, &["case", "r-2025-01", "--as-of", "2025-04-10"]);
    let by = c["by_respondent"].as_array().unwrap();
    let late = by.iter().find(|r| r["member_id"] == "10224").unwrap();
    assert_eq!(
        (
            late["notice_received"].as_str(),
            late["appeal_term_ends"].as_str(),
            late["days_left"].as_i64()
        ),
        (Some("2025-03-31"), Some("2025-04-30"), Some(20))
    );
    let early = by.iter().find(|r| r["member_id"] == "10226").unwrap();
    assert_eq!(early["appeal_term_ends"], "2025-04-05");
    assert!(early["days_left"].is_null(), "{early}");
    assert_eq!(c["later_events"], 3);
    assert_eq!(c["status"], "decided");
    let before = json(&l, &["case", "r-2025-01", "--as-of", "2025-01-15"]);
    assert_eq!(before["status"], "not_yet_opened");
    assert_eq!(before["events"].as_array().unwrap().len(), 0);
    let closed = json(&l, &["case", "r-2025-01", "--as-of", "2025-07-01"]);
    let late = &closed["by_respondent"][0];
    assert_eq!(
        (
            late["appeal_filed"].as_str(),
            late["appeal_outcome"].as_str()
        ),
        (Some("2025-04-20"), Some("upheld"))
    );
    let e = json(&l, &["election", "bestuur-2025"]);
    let prefs = &e["candidacies"][0]["preferences"];
    assert_eq!(
        prefs,
        &serde_json::json!([
            "algemeen-bestuurslid/campagne",
            "algemeen-bestuurslid/ledenwerving"
        ])
    );
}
