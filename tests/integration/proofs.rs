//! Proof for outsiders through the real binary: checkpoints, proofs, a witness cosigning,
//! offline verification of an export, and the attacks it must catch.

use crate::support::Ledger;
use kroniek_core::keys::LedgerKey;
use kroniek_core::note::{Checkpoint, Note};
use kroniek_core::record::{ExportLine, LinePersonal, PersonalView};

const ORIGIN: &str = "ledger.example-party.nl/kroniek";

struct World {
    l: Ledger,
    vkey: String,
    wkey: String,
}

fn sample_with_key() -> World {
    let l = Ledger::new();
    l.run(&["init", "--origin", ORIGIN]).ok();
    l.append_sample();
    let vkey = l.run(&["key", "show"]).ok().trim().to_owned();
    let key = l.path("witness.key");
    let wkey = l
        .run(&[
            "witness",
            "key",
            "--name",
            "kascommissie.example-party.nl",
            "--out",
            key.to_str().unwrap(),
        ])
        .ok()
        .trim()
        .to_owned();
    World { l, vkey, wkey }
}

impl World {
    fn p(&self, name: &str) -> String {
        self.l.path(name).to_str().unwrap().to_owned()
    }

    /// Signs a checkpoint, has the witness cosign it from `old`, and stores the cosignature.
    fn checkpoint_cosigned(&self, name: &str, old: u64) -> String {
        let cp = self.p(name);
        self.l.run(&["checkpoint", "--out", &cp]).ok();
        let req = self.p(&format!("{name}.request"));
        self.l
            .run(&[
                "prove",
                "consistency",
                &old.to_string(),
                "--witness",
                "--out",
                &req,
            ])
            .ok();
        let line = self
            .l
            .run(&[
                "witness",
                "cosign",
                "--log-key",
                &self.vkey,
                "--checkpoint",
                &cp,
                "--proof",
                &req,
                "--state",
                &self.p("witness-state"),
                "--key",
                &self.p("witness.key"),
            ])
            .ok();
        let lines = self.p(&format!("{name}.cosignature"));
        std::fs::write(&lines, &line).unwrap();
        self.l
            .run(&[
                "checkpoint",
                "--add-cosignature",
                &lines,
                "--witness-key",
                &self.wkey,
                "--out",
                &cp,
            ])
            .ok();
        cp
    }
}

#[test]
fn an_accountant_verifies_this_years_export_against_cosigned_checkpoints() {
    let w = sample_with_key();
    let last_year = w.checkpoint_cosigned("2023.checkpoint", 0);
    let extra = r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-01","data":{"member_id":"10201","year":2025,"amount_cents":1500}}"#;
    w.l.run_with_stdin(&["append", "-"], Some(extra.as_bytes()))
        .ok();
    let this_year = w.checkpoint_cosigned("2024.checkpoint", sample_size());
    assert!(std::fs::read_to_string(&this_year)
        .unwrap()
        .contains("kascommissie.example-party.nl"));
    let export = w.p("export.jsonl");
    w.l.run(&["export", "--out", &export]).ok();
    let out =
        w.l.run(&[
            "verify",
            "--export",
            &export,
            "--checkpoint",
            &this_year,
            "--previous-checkpoint",
            &last_year,
            "--key",
            &w.vkey,
            "--witness",
            &w.wkey,
        ])
        .ok();
    assert!(
        out.contains(&format!("verified {} events", sample_size() + 1)),
        "{out}"
    );
    assert!(
        out.contains(&format!("size {} is a prefix", sample_size())),
        "{out}"
    );
    assert!(out.contains("cosigned by 1 of 1 witnesses"), "{out}");
    assert!(out.contains("explained by a PersonalDataErased"), "{out}");
    // Roles' exports (withheld records) verify against the same checkpoint.
    // A checkpoint that rolls back: last year's as this year's, this year's as the previous.
    let run = w.l.run(&[
        "verify",
        "--export",
        &export,
        "--checkpoint",
        &last_year,
        "--previous-checkpoint",
        &this_year,
        "--key",
        &w.vkey,
    ]);
    assert_eq!(run.code(), 1);
    assert!(run.stdout().contains("rolled back"), "{}", run.stdout());
    // A truncated export: the one change a checkpoint exists to catch.
    let text = std::fs::read_to_string(&export).unwrap();
    let short = w.l.file(
        "short.jsonl",
        &text
            .lines()
            .take(400)
            .map(str::to_owned)
            .collect::<Vec<_>>(),
    );
    let run = w.l.run(&[
        "verify",
        "--export",
        short.to_str().unwrap(),
        "--checkpoint",
        &this_year,
        "--key",
        &w.vkey,
    ]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout().contains("records are missing"),
        "{}",
        run.stdout()
    );
    // The wrong log key, and a quorum the witnesses do not reach.
    let other = LedgerKey::from_seed(ORIGIN, [9; 32]).verifier_key();
    assert_eq!(
        w.l.run(&[
            "verify",
            "--export",
            &export,
            "--checkpoint",
            &this_year,
            "--key",
            &other
        ])
        .code(),
        1
    );
    assert_eq!(
        w.l.run(&[
            "verify",
            "--export",
            &export,
            "--checkpoint",
            &this_year,
            "--key",
            &w.vkey,
            "--witness",
            &w.wkey,
            "--quorum",
            "2"
        ])
        .code(),
        1
    );
}

/// Rewrites an export: changes record `k`'s data and recomputes every hash after it, so the
/// chain is valid again — a forged history that only a checkpoint can expose.
fn rewrite_chain(text: &str, k: usize) -> Vec<String> {
    let mut prev = [0u8; 32];
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ExportLine::Full {
            mut record,
            personal,
        } = ExportLine::parse(line.as_bytes()).unwrap()
        else {
            panic!("withheld")
        };
        if i == k {
            record.effective = "1999-01-01".into();
        }
        record.prev_hash = prev;
        record.hash = *blake3::hash(&record.hashed_bytes()).as_bytes();
        prev = record.hash;
        let view = match &personal {
            LinePersonal::Present(p) => PersonalView::Shown(p),
            LinePersonal::Erased => PersonalView::Erased,
            LinePersonal::Absent => PersonalView::Omitted,
        };
        out.push(String::from_utf8(record.export_line(view)).unwrap());
    }
    out
}

#[test]
fn forged_trees_forged_chains_and_unexplained_erasures_are_caught() {
    let w = sample_with_key();
    let cp = w.p("now.checkpoint");
    w.l.run(&["checkpoint", "--out", &cp]).ok();
    let export = w.p("export.jsonl");
    w.l.run(&["export", "--out", &export]).ok();
    let text = std::fs::read_to_string(&export).unwrap();
    // A valid chain, rewritten from record 100 on: `verify --export` alone accepts it…
    let forged = w.l.file("forged.jsonl", &rewrite_chain(&text, 100));
    w.l.run(&["verify", "--export", forged.to_str().unwrap()])
        .ok();
    // …but its tree is not the one the log signed.
    let run = w.l.run(&[
        "verify",
        "--export",
        forged.to_str().unwrap(),
        "--checkpoint",
        &cp,
        "--key",
        &w.vkey,
    ]);
    assert_eq!(run.code(), 1);
    assert!(run.stdout().contains("has root"), "{}", run.stdout());
    // A checkpoint signed by the log's own key over a tree that is not the chain's (a forged
    // tree over a valid chain): the verifier builds the tree from the chain and refuses it.
    let key = LedgerKey::from_file_text(
        &std::fs::read_to_string(w.l.data().join("signing.key")).unwrap(),
    )
    .unwrap();
    let body = Checkpoint {
        origin: ORIGIN.into(),
        size: sample_size(),
        root: [7; 32],
    }
    .body();
    let bogus = Note {
        signatures: vec![kroniek_core::note::sign(&key, &body)],
        text: body,
    };
    let bogus_file = w.p("bogus.checkpoint");
    std::fs::write(&bogus_file, bogus.to_text()).unwrap();
    let run = w.l.run(&[
        "verify",
        "--export",
        &export,
        "--checkpoint",
        &bogus_file,
        "--key",
        &w.vkey,
    ]);
    assert_eq!(run.code(), 1);
    // Personal data removed without a PersonalDataErased event: tampered, not erased.
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.contains("Bram Jansen") && line.contains("MemberJoined") {
                let ExportLine::Full { record, .. } = ExportLine::parse(line.as_bytes()).unwrap()
                else {
                    panic!()
                };
                String::from_utf8(record.export_line(PersonalView::Erased)).unwrap()
            } else {
                line.to_owned()
            }
        })
        .collect();
    let hidden = w.l.file("hidden.jsonl", &lines);
    let run = w.l.run(&[
        "verify",
        "--export",
        hidden.to_str().unwrap(),
        "--checkpoint",
        &cp,
        "--key",
        &w.vkey,
    ]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stdout().contains("tampered, not erased"),
        "{}",
        run.stdout()
    );
    // The same check without a checkpoint, and in a restore: the faked erasure is refused and
    // nothing is restored.
    let run = w.l.run(&["verify", "--export", hidden.to_str().unwrap()]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(
        run.stdout().contains("tampered, not erased"),
        "{}",
        run.stdout()
    );
    let other = Ledger::new();
    let run = other.run(&["restore", hidden.to_str().unwrap()]);
    assert_eq!(run.code(), 1, "{} {}", run.stdout(), run.stderr());
    assert!(
        run.stderr().contains("tampered, not erased"),
        "{}",
        run.stderr()
    );
    let log = other.run(&["log", "--limit", "1"]);
    assert!(log.stdout().trim().is_empty(), "{}", log.stdout());
    // A true erasure still restores and verifies.
    let member = w.l.run(&[
        "erase",
        "10202",
        "--reason",
        "AVG-verzoek",
        "--effective",
        "2024-06-01",
    ]);
    member.ok();
    let erased_export = w.p("erased.jsonl");
    w.l.run(&["export", "--out", &erased_export]).ok();
    let restored = Ledger::new();
    assert!(restored
        .run(&["restore", &erased_export])
        .ok()
        .contains("restored"));
    let verified = restored.run(&["verify"]).ok();
    assert!(verified.contains("verified"), "{verified}");
}

#[test]
fn the_witness_refuses_a_split_view() {
    let w = sample_with_key();
    // A witness's key is made once: a second `witness key` to its file is refused and leaves it.
    let key_text = std::fs::read_to_string(w.p("witness.key")).unwrap();
    let again = w.l.run(&[
        "witness",
        "key",
        "--name",
        "other.example",
        "--out",
        &w.p("witness.key"),
    ]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("it must not exist yet"),
        "{}",
        again.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(w.p("witness.key")).unwrap(),
        key_text
    );
    let honest = w.checkpoint_cosigned("honest.checkpoint", 0);
    assert!(std::fs::read_to_string(honest).unwrap().lines().count() >= 6);
    // The same log key shows another history: a second ledger with the same key, whose
    // records differ (a rewritten first event).
    let fork = Ledger::new();
    std::fs::create_dir_all(fork.data()).unwrap();
    std::fs::copy(
        w.l.data().join("signing.key"),
        fork.data().join("signing.key"),
    )
    .unwrap();
    let export = w.p("export.jsonl");
    w.l.run(&["export", "--out", &export]).ok();
    let rewritten = rewrite_chain(&std::fs::read_to_string(&export).unwrap(), 3);
    let extra_line = fork.file("forged.jsonl", &rewritten);
    fork.run(&["restore", extra_line.to_str().unwrap()]).ok();
    let more = r#"{"stream":"member/10202","type":"ContributionPaid","effective":"2024-11-01","data":{"member_id":"10202","year":2025,"amount_cents":1500}}"#;
    fork.run_with_stdin(&["append", "-"], Some(more.as_bytes()))
        .ok();
    let cp = fork.path("fork.checkpoint");
    fork.run(&["checkpoint", "--out", cp.to_str().unwrap()])
        .ok();
    let req = fork.path("fork.request");
    fork.run(&[
        "prove",
        "consistency",
        &sample_size().to_string(),
        "--witness",
        "--out",
        req.to_str().unwrap(),
    ])
    .ok();
    let run = w.l.run(&[
        "witness",
        "cosign",
        "--log-key",
        &w.vkey,
        "--checkpoint",
        cp.to_str().unwrap(),
        "--proof",
        req.to_str().unwrap(),
        "--state",
        &w.p("witness-state"),
        "--key",
        &w.p("witness.key"),
    ]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(run.stderr().contains("not consistent"), "{}", run.stderr());
}

#[test]
fn proofs_in_json_and_as_a_c2sp_bundle() {
    let w = sample_with_key();
    let proof: serde_json::Value =
        serde_json::from_str(&w.l.run(&["prove", "inclusion", "17"]).ok()).unwrap();
    for key in [
        "tree_size",
        "index",
        "record_hash",
        "leaf_hash",
        "root",
        "proof",
    ] {
        assert!(proof.get(key).is_some(), "{key}");
    }
    let c: serde_json::Value =
        serde_json::from_str(&w.l.run(&["prove", "consistency", "100", "300"]).ok()).unwrap();
    assert_eq!(
        (c["old_size"].as_u64(), c["new_size"].as_u64()),
        (Some(100), Some(300))
    );
    let bundle = w.l.run(&["prove", "inclusion", "17", "--bundle"]).ok();
    let mut lines = bundle.lines();
    assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
    assert!(lines.next().unwrap().starts_with("extra "));
    assert_eq!(lines.next(), Some("index 17"));
    let n = sample_size().to_string();
    assert!(bundle.contains(&format!("\n\n{ORIGIN}\n{n}\n")));
    assert_eq!(w.l.run(&["prove", "inclusion", &n, "--size", &n]).code(), 2);
}

/// How many events the sample ledger holds (its non-blank lines).
fn sample_size() -> u64 {
    include_str!("../../events/sample.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}
