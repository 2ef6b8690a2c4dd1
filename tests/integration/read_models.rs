//! The read models through the command line: tables by default, JSON with `--json`, with the
//! keys of DOMAIN.md.

use crate::support::{root, Ledger};
use serde_json::Value;

fn sample_ledger() -> Ledger {
    let l = Ledger::new();
    l.run(&[
        "append",
        root().join("events/sample.jsonl").to_str().unwrap(),
    ])
    .ok();
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
