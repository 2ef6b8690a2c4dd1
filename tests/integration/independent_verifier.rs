//! An export verified by a short Python script that shares no code with kroniek
//! (`tests/verifier/verify_export.py`, PyPI packages `jcs` and `blake3`).

use crate::support::{parse_verified, root, Ledger};
use std::process::Command;

/// Runs the Python verifier on `file` (also used by the store tests on a PostgreSQL export).
pub(crate) fn python_verify(file: &std::path::Path) -> std::process::Output {
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
    l.append_sample();
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

/// Runs `verify_proofs.py` on a set of files; true when it accepts them.
fn python_proofs(dir: &std::path::Path, files: &[(&str, &str)]) -> (bool, String) {
    let script = root().join("tests/verifier/verify_proofs.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script);
    for (flag, name) in files {
        cmd.arg(format!("--{flag}")).arg(dir.join(name));
    }
    let out = cmd.output().expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("ModuleNotFoundError"),
        "the proof verifier needs `pip install jcs blake3 cryptography`: {text}"
    );
    (out.status.success(), text)
}

/// Accepts the files, then refuses every one-byte change at several places of each file.
fn accepts_then_refuses_every_changed_byte(dir: &std::path::Path, files: &[(&str, &str)]) {
    let (ok, text) = python_proofs(dir, files);
    assert!(ok, "{text}");
    for (_, name) in files {
        let path = dir.join(name);
        let original = std::fs::read(&path).unwrap();
        let step = (original.len() / 7).max(1);
        for at in (0..original.len()).step_by(step) {
            let mut changed = original.clone();
            changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
            std::fs::write(&path, &changed).unwrap();
            let (ok, text) = python_proofs(dir, files);
            assert!(!ok, "{name} with byte {at} changed was accepted: {text}");
        }
        std::fs::write(&path, &original).unwrap();
    }
}

#[test]
fn the_python_verifier_checks_the_format_vectors_and_kroniek_proofs() {
    // The vectors of events/FORMAT.md.
    let vectors = root().join("events/vectors");
    let l = Ledger::new();
    let dir = l.path("vectors");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "export.jsonl",
        "checkpoint",
        "log.vkey",
        "witness.vkey",
        "inclusion.json",
        "consistency.json",
    ] {
        std::fs::copy(vectors.join(f), dir.join(f)).unwrap();
    }
    let files = [
        ("export", "export.jsonl"),
        ("checkpoint", "checkpoint"),
        ("log-key", "log.vkey"),
        ("witness-key", "witness.vkey"),
        ("inclusion", "inclusion.json"),
        ("consistency", "consistency.json"),
    ];
    accepts_then_refuses_every_changed_byte(&dir, &files);
    // A ledger's own: the sample, a checkpoint cosigned by a witness, proofs from the CLI.
    l.run(&["init", "--origin", "ledger.example-party.nl/kroniek"])
        .ok();
    l.append_sample();
    let p = |n: &str| l.path(n).to_str().unwrap().to_owned();
    std::fs::write(p("log.vkey"), l.run(&["key", "show"]).ok()).unwrap();
    let wkey = l
        .run(&[
            "witness",
            "key",
            "--name",
            "kascommissie.example-party.nl",
            "--out",
            &p("w.key"),
        ])
        .ok();
    std::fs::write(p("witness.vkey"), &wkey).unwrap();
    l.run(&["checkpoint", "--out", &p("checkpoint")]).ok();
    l.run(&[
        "prove",
        "consistency",
        "0",
        "--witness",
        "--out",
        &p("request"),
    ])
    .ok();
    let vkey = std::fs::read_to_string(p("log.vkey")).unwrap();
    let line = l
        .run(&[
            "witness",
            "cosign",
            "--log-key",
            vkey.trim(),
            "--checkpoint",
            &p("checkpoint"),
            "--proof",
            &p("request"),
            "--state",
            &p("ws"),
            "--key",
            &p("w.key"),
        ])
        .ok();
    std::fs::write(p("cosig"), line).unwrap();
    l.run(&[
        "checkpoint",
        "--add-cosignature",
        &p("cosig"),
        "--witness-key",
        wkey.trim(),
        "--out",
        &p("checkpoint"),
    ])
    .ok();
    l.run(&["export", "--out", &p("export.jsonl")]).ok();
    l.run(&["prove", "inclusion", "250", "--out", &p("inclusion.json")])
        .ok();
    l.run(&[
        "prove",
        "consistency",
        "100",
        "--out",
        &p("consistency.json"),
    ])
    .ok();
    let (ok, text) = python_proofs(l.dir.path(), &files);
    assert!(ok, "{text}");
}
