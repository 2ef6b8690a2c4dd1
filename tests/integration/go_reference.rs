//! Go's own `golang.org/x/mod/sumdb/note` and `sumdb/tlog` (Debian's golang-go and
//! golang-golang-x-mod-dev) check kroniek's checkpoint signature and proofs: the reference
//! implementation agreeing is the strongest sign that kroniek speaks the standard. Where Go is
//! not installed the test says so and checks nothing else.

use crate::support::{root, Ledger};
use std::process::Command;

fn go_available() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
        && std::path::Path::new("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog").exists()
}

fn go_check(dir: &std::path::Path, vkey: &str) -> (bool, String) {
    // Go's build cache goes to a folder of its own, never beside the files checked.
    let cache = std::env::temp_dir().join("kroniek-test-gocache");
    let out = Command::new("go")
        .arg("run")
        .arg(root().join("tests/go/checkproofs.go"))
        .args([
            vkey.trim(),
            "checkpoint",
            "inclusion.json",
            "consistency.json",
        ])
        .current_dir(dir)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", &cache)
        .env("GOFLAGS", "")
        .output()
        .expect("go runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn gos_sumdb_checks_kroniek_checkpoints_and_proofs() {
    if !go_available() {
        crate::support::skipped("Go or golang.org/x/mod is not installed (apt-get install golang-go golang-golang-x-mod-dev); the Python verifier covers these checks");
        return;
    }
    let vectors = root().join("events/vectors");
    let vkey = std::fs::read_to_string(vectors.join("log.vkey")).unwrap();
    let (ok, text) = go_check(&vectors, &vkey);
    assert!(ok, "the FORMAT.md vectors: {text}");
    // A ledger's own checkpoint and proofs, then one changed byte in each.
    let l = Ledger::new();
    l.run(&["init", "--origin", "ledger.example-party.nl/kroniek"])
        .ok();
    l.append_sample();
    let p = |n: &str| l.path(n).to_str().unwrap().to_owned();
    let vkey = l.run(&["key", "show"]).ok();
    l.run(&["checkpoint", "--out", &p("checkpoint")]).ok();
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
    let (ok, text) = go_check(l.dir.path(), &vkey);
    assert!(ok, "{text}");
    let sample_size = format!(
        "{}\n",
        include_str!("../../events/sample.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    );
    for (file, needle) in [
        ("checkpoint", sample_size.as_str()),
        ("inclusion.json", "\"proof\": [\n    \""),
        ("consistency.json", "\"proof\": [\n    \""),
    ] {
        let path = l.path(file);
        let original = std::fs::read_to_string(&path).unwrap();
        let at = original.find(needle).unwrap() + needle.len()
            - if file == "checkpoint" { 2 } else { 0 };
        let mut changed = original.clone().into_bytes();
        changed[at] = if changed[at] == b'a' { b'b' } else { b'a' };
        std::fs::write(&path, &changed).unwrap();
        let (ok, text) = go_check(l.dir.path(), &vkey);
        assert!(!ok, "{file} changed was accepted by Go: {text}");
        std::fs::write(&path, original).unwrap();
    }
}
