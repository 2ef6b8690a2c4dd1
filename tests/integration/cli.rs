//! The command line as a user meets it: append, refusals, verify, export, restore, erase, log.

use crate::support::{joined, paid, parse_verified, root, uuid, Ledger};

fn sample() -> std::path::PathBuf {
    root().join("events/sample.jsonl")
}

#[test]
fn the_sample_ledger_appends_verifies_and_appends_again_as_a_no_op() {
    let l = Ledger::new();
    let sample = sample();
    let out = l.run(&["append", sample.to_str().unwrap()]).ok();
    let lines = std::fs::read_to_string(&sample)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(
        out.starts_with(&format!(
            "appended {lines} events (positions 0..{}), head ",
            lines - 1
        )),
        "{out}"
    );
    let (count, head) = parse_verified(&l.run(&["verify"]).ok());
    assert_eq!(count, lines as u64);
    assert!(out.trim_end().ends_with(&head));
    let again = l.run(&["append", sample.to_str().unwrap()]).ok();
    assert_eq!(
        again.trim_end(),
        format!("appended 0 events ({lines} already recorded), head {head}")
    );
}

#[test]
fn init_makes_a_private_signing_key_and_refuses_a_second_time() {
    use std::os::unix::fs::PermissionsExt;
    let l = Ledger::new();
    let out = l
        .run(&["init", "--origin", "ledger.example-party.nl/kroniek"])
        .ok();
    assert!(
        out.contains("verifier key: ledger.example-party.nl/kroniek+"),
        "{out}"
    );
    let mode = std::fs::metadata(l.data().join("signing.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = l.run(&["init"]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("already holds a ledger"),
        "{}",
        again.stderr()
    );
    let bad = Ledger::new().run(&["init", "--origin", "has space"]);
    assert_eq!(bad.code(), 2);
}

/// Each bad line, and the rule it must be refused with.
#[test]
fn refused_lines_name_their_rule_and_nothing_is_written() {
    let l = Ledger::new();
    let good = vec![joined(1001, 1), paid(1001, 1200, 2)];
    l.run(&["append", l.file("good.jsonl", &good).to_str().unwrap()])
        .ok();
    let before = l.run(&["export"]).ok();
    let verified_before = parse_verified(&l.run(&["verify"]).ok());
    let table: &[(&str, &str)] = &[
        ("not json at all", "malformed-field"),
        ("[1,2,3]", "malformed-field"),
        (
            r#"{"stream":"member/1001","type":"MemberLeft","effective":"2021-01-01","data":{}}"#,
            "unknown-type",
        ),
        (
            r#"{"stream":"member/1001","type":"ContributionPaid","effective":"2021-13-01","data":{"member_id":"1001","year":2021,"amount_cents":5}}"#,
            "malformed-field",
        ),
        (
            r#"{"stream":"body/bestuur","type":"ContributionPaid","effective":"2021-01-01","data":{"member_id":"1001","year":2021,"amount_cents":5}}"#,
            "type-not-in-category",
        ),
        (
            r#"{"stream":"member/1001","type":"ContributionPaid","effective":"2021-01-01","data":{"member_id":"1002","year":2021,"amount_cents":5}}"#,
            "stream-id-mismatch",
        ),
        (
            r#"{"stream":"member/1001","type":"ContributionPaid","effective":"2021-01-01","data":{"member_id":"1001","year":2021,"amount_cents":-5}}"#,
            "negative-amount",
        ),
        (
            r#"{"stream":"member/1001","type":"ContributionPaid","effective":"2021-01-01","data":{"member_id":"1001","year":2021,"amount_cents":5},"expected_version":7}"#,
            "version-conflict",
        ),
        (
            r#"{"stream":"member/1001","type":"ContributionPaid","effective":"2021-01-01","data":{"member_id":"1001","year":2021,"amount_cents":5},"id":"00000000-0000-4000-8000-000000000001"}"#,
            "id-reused",
        ),
    ];
    let mut lines = vec![paid(1001, 100, 50)];
    lines.extend(table.iter().map(|(line, _)| line.to_string()));
    let run = l.run(&["append", l.file("bad.jsonl", &lines).to_str().unwrap()]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let stderr = run.stderr();
    for (i, (_, rule)) in table.iter().enumerate() {
        let expected = format!("line {}: {rule}: ", i + 2);
        assert!(
            stderr.contains(&expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("line 1:"),
        "the good line is not refused:\n{stderr}"
    );
    assert!(stderr.contains("nothing was written"));
    assert_eq!(l.run(&["export"]).ok(), before, "the store is unchanged");
    assert_eq!(
        parse_verified(&l.run(&["verify"]).ok()),
        verified_before,
        "head and count unchanged"
    );
    // A refused file into a folder without a ledger leaves no ledger behind.
    let empty = Ledger::new();
    let run = empty.run(&["append", l.path("bad.jsonl").to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(!empty.data().exists());
}

#[test]
fn only_the_first_hundred_refused_lines_are_listed() {
    let l = Ledger::new();
    let lines: Vec<String> = (0..150).map(|_| "{}".to_string()).collect();
    let run = l.run(&["append", l.file("many.jsonl", &lines).to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    let listed = run
        .stderr()
        .lines()
        .filter(|s| s.starts_with("line "))
        .count();
    assert_eq!(listed, 100);
    assert!(run.stderr().contains("and 50 more refused lines"));
}

#[test]
fn a_file_of_thousands_of_lines_keeps_its_line_numbers_across_reads_and_chunks() {
    // More lines than the reading thread sends at once (1,024) and than the store checks in
    // one chunk (2,048), with blank lines between.
    let l = Ledger::new();
    let mut lines: Vec<String> = Vec::new();
    for member in 0..2_600u32 {
        if member % 500 == 0 {
            lines.push(String::new());
        }
        lines.push(joined(member, member));
    }
    // An id used again 2,500 lines on, with other content: refused at its own line.
    lines.push(joined(9_000, 3));
    let bad_line = lines.len();
    let run = l.run(&["append", l.file("large.jsonl", &lines).to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains(&format!("line {bad_line}: id-reused")),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("1 of 2601 lines refused"),
        "{}",
        run.stderr()
    );
    assert!(!l.data().exists());
    lines.pop();
    let out = l
        .run(&["append", l.file("large.jsonl", &lines).to_str().unwrap()])
        .ok();
    assert!(
        out.starts_with("appended 2600 events (positions 0..2599)"),
        "{out}"
    );
    let (count, _) = parse_verified(&l.run(&["verify"]).ok());
    assert_eq!(count, 2_600);
}

#[test]
fn blank_lines_are_skipped_and_stdin_works() {
    let l = Ledger::new();
    let input = format!("\n{}\n\n   \n{}\n", joined(7, 70), paid(7, 1200, 71));
    let out = l
        .run_with_stdin(&["append", "-"], Some(input.as_bytes()))
        .ok();
    assert!(
        out.starts_with("appended 2 events (positions 0..1)"),
        "{out}"
    );
    let bad = format!("\n\n{}\n", paid(8, 1, 72).replace("\"8\"", "\"9\""));
    let run = l.run_with_stdin(&["append", "-"], Some(bad.as_bytes()));
    assert!(
        run.stderr().contains("line 3: stream-id-mismatch"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_file_that_cannot_be_read_to_its_end_writes_nothing() {
    // A folder opens as a file and fails at its first read.
    let l = Ledger::new();
    let folder = l.path("not-a-file");
    std::fs::create_dir(&folder).unwrap();
    let run = l.run(&["append", folder.to_str().unwrap()]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("cannot read") && run.stderr().contains("nothing was written"),
        "{}",
        run.stderr()
    );
    assert!(!l.data().exists(), "no empty ledger is left behind");
    // Into a ledger that has events: its head stays where it was.
    l.append_sample();
    let before = l.run(&["verify"]).ok();
    assert_eq!(l.run(&["append", folder.to_str().unwrap()]).code(), 2);
    assert_eq!(l.run(&["verify"]).ok(), before);
}

#[test]
fn usage_and_io_errors_exit_with_status_2() {
    let l = Ledger::new();
    assert_eq!(l.run(&["append", "/nonexistent/file.jsonl"]).code(), 2);
    assert_eq!(l.run(&["frobnicate"]).code(), 2);
    let run = l.run(&["verify"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("no ledger in"), "{}", run.stderr());
}

#[test]
fn export_restore_round_trip_is_byte_identical_and_verifies() {
    let l = Ledger::new();
    l.run(&["append", sample().to_str().unwrap()]).ok();
    l.run(&[
        "erase",
        "10202",
        "--reason",
        "AVG-verzoek",
        "--effective",
        "2024-05-01",
    ])
    .ok();
    let export = l.path("export.jsonl");
    l.run(&["export", "--out", export.to_str().unwrap()]).ok();
    let v = l
        .run(&["verify", "--export", export.to_str().unwrap()])
        .ok();
    assert_eq!(parse_verified(&v), parse_verified(&l.run(&["verify"]).ok()));
    let restored = Ledger::new();
    let out = restored.run(&["restore", export.to_str().unwrap()]).ok();
    assert!(out.starts_with("restored "), "{out}");
    assert_eq!(
        restored.run(&["export"]).ok().as_bytes(),
        std::fs::read(&export).unwrap()
    );
    // Into a ledger that has events: refused.
    let again = l.run(&["restore", export.to_str().unwrap()]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("restore needs an empty ledger"),
        "{}",
        again.stderr()
    );
    // An export without personal data cannot be restored.
    let bare = l.path("bare.jsonl");
    l.run(&["export", "--no-personal", "--out", bare.to_str().unwrap()])
        .ok();
    let run = Ledger::new().run(&["restore", bare.to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("without --no-personal"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_tampered_export_is_reported_at_its_position() {
    let l = Ledger::new();
    l.run(&["append", sample().to_str().unwrap()]).ok();
    let text = l.run(&["export"]).ok();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[17] = lines[17].replacen("\"effective\":\"20", "\"effective\":\"19", 1);
    let bad = l.file("bad-export.jsonl", &lines);
    let run = l.run(&["verify", "--export", bad.to_str().unwrap()]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout()
            .starts_with("broken at position 17: hash mismatch"),
        "{}",
        run.stdout()
    );
}

#[test]
fn erase_destroys_personal_data_and_keeps_every_hash() {
    let l = Ledger::new();
    l.run(&["append", sample().to_str().unwrap()]).ok();
    let (count, _) = parse_verified(&l.run(&["verify"]).ok());
    let out = l.run(&["erase", "10201", "--reason", "AVG-verzoek"]).ok();
    assert!(
        out.contains("PersonalDataErased recorded in member/10201"),
        "{out}"
    );
    let (after, _) = parse_verified(&l.run(&["verify"]).ok());
    assert_eq!(after, count + 1);
    let export = l.run(&["export"]).ok();
    assert!(!export.contains("Anna de Vries"));
    assert!(
        export.contains("Bram Jansen"),
        "other members keep their data"
    );
    // The member's candidacy profile is erased too.
    let candidacy = export
        .lines()
        .find(|line| {
            line.contains("CandidacySubmitted") && line.contains("\"member_id\":\"10201\"")
        })
        .unwrap();
    assert!(candidacy.contains("\"personal\":null,"), "{candidacy}");
    // Donors and cases by their subject form.
    l.run(&["erase", "donor:d-0042", "--reason", "verzoek donateur"])
        .ok();
    let export = l.run(&["export"]).ok();
    assert!(!export.contains("Pietersen"));
    assert!(export.contains("Stichting Vooruit"));
    let unknown = l.run(&["erase", "99999", "--reason", "x"]);
    assert_eq!(unknown.code(), 2);
    assert!(
        unknown.stderr().contains("holds no events"),
        "{}",
        unknown.stderr()
    );
}

#[test]
fn log_lists_events_of_the_ledger_and_of_a_stream() {
    let l = Ledger::new();
    l.run(&[
        "append",
        l.file("f.jsonl", &[joined(5, 1), paid(5, 1200, 2), joined(6, 3)])
            .to_str()
            .unwrap(),
    ])
    .ok();
    let all = l.run(&["log"]).ok();
    assert_eq!(all.lines().count(), 3);
    let stream = l.run(&["log", "--stream", "member/5"]).ok();
    assert_eq!(stream.lines().count(), 2);
    assert!(stream.contains("ContributionPaid"));
    let json = l.run(&["log", "--json", "--from", "2"]).ok();
    let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(value["position"], 2);
    assert_eq!(value["id"], uuid(3));
    assert_eq!(l.run(&["log", "--stream", "nonsense"]).code(), 2);
}

#[test]
fn a_store_in_use_names_the_process_that_holds_it() {
    use std::io::Write;
    let l = Ledger::new();
    l.run(&["init"]).ok();
    // `append -` holds the store open while its standard input stays open.
    let mut holder = std::process::Command::new(crate::support::kroniek_bin())
        .arg("--data")
        .arg(l.data())
        .args(["append", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(stdin, "{}", joined(1, 1)).unwrap();
    // Wait until the holder has opened the store (it names itself in DATA/holder).
    let named = format!("process {} ", holder.id());
    for _ in 0..100 {
        if std::fs::read_to_string(l.data().join("holder")).is_ok_and(|h| h.starts_with(&named)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = l.run(&["verify"]);
    assert_eq!(run.code(), 2, "{}", run.stdout());
    let expected = format!("is in use by process {} (", holder.id());
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    drop(stdin);
    let out = holder.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("appended 1 events"));
    l.run(&["verify"]).ok();
}

#[test]
fn verify_answers_in_json_as_the_api_does() {
    let l = Ledger::new();
    l.append_sample();
    let v: serde_json::Value = serde_json::from_str(&l.run(&["verify", "--json"]).ok()).unwrap();
    assert_eq!(
        (v["verified"].as_bool(), v["erased"].as_u64()),
        (Some(true), Some(1)),
        "{v}"
    );
    let export = l.path("e.jsonl");
    l.run(&["export", "--out", export.to_str().unwrap()]).ok();
    let text =
        std::fs::read_to_string(&export)
            .unwrap()
            .replacen("\"position\":3", "\"position\":4", 1);
    std::fs::write(&export, text).unwrap();
    let run = l.run(&["verify", "--export", export.to_str().unwrap(), "--json"]);
    assert_eq!(run.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["verified"], false, "{v}");
    assert!(
        v["why"].as_str().is_some() && v["position"].as_u64().is_some(),
        "{v}"
    );
}
