//! An export verified by a short Python script that shares no code with kroniek
//! (`tests/verifier/verify_export.py`, PyPI packages `jcs` and `blake3`).

use crate::support::{parse_verified, root, Ledger};
use std::process::Command;

fn python_verify(file: &std::path::Path) -> std::process::Output {
    let script = root().join("tests/verifier/verify_export.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the independent verifier needs `pip install jcs blake3` (.ci/run installs them): {stderr}"
    );
    out
}

#[test]
fn the_python_verifier_accepts_kroniek_exports_and_finds_tampering() {
    let l = Ledger::new();
    l.run(&[
        "append",
        root().join("events/sample.jsonl").to_str().unwrap(),
    ])
    .ok();
    l.run(&["erase", "10205", "--reason", "AVG-verzoek"]).ok();
    let expected = parse_verified(&l.run(&["verify"]).ok());
    for (name, args) in [
        ("full.jsonl", vec![]),
        ("bare.jsonl", vec!["--no-personal"]),
    ] {
        let file = l.path(name);
        let mut export = vec!["export", "--out", file.to_str().unwrap()];
        export.extend(args);
        l.run(&export).ok();
        let out = python_verify(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(parse_verified(&stdout), expected);
    }
    // A changed personal value: the commitment no longer matches.
    let text = std::fs::read_to_string(l.path("full.jsonl")).unwrap();
    let tampered = text.replacen("Bram Jansen", "Bram Janssen", 1);
    let position = text
        .lines()
        .position(|line| line.contains("Bram Jansen"))
        .unwrap();
    std::fs::write(l.path("tampered.jsonl"), tampered).unwrap();
    let out = python_verify(&l.path("tampered.jsonl"));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "broken at position {position}: personal data does not match"
        )),
        "{stdout}"
    );
}
