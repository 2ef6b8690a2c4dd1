//! A full disk (step 14): a server whose ledger sits on a 40 MB tmpfs takes batches of 20
//! events with 2 KB names until the disk is full. The failing append is a problem that names
//! the cause; the head and the verification stay at the committed head (a failed read is a
//! problem, never a verdict); `/healthz` says a restart is required and appends are refused
//! until then; after a restart, with space freed, every acknowledged batch is there and appends
//! work again.

use crate::support::{skipped, uuid, Ledger, Server};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// Unmounts the test's tmpfs (lazily, so a process still holding a file does not block it).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Batch `i`: 20 members joining, each with a 2 KB name.
fn batch(i: u32) -> String {
    let name = "n".repeat(2048);
    let events: Vec<String> = (0..20)
        .map(|j| {
            let member = 100_000 + i * 20 + j;
            format!(
                r#"{{"stream":"member/{member}","type":"MemberJoined","effective":"2024-01-02","data":{{"member_id":"{member}"}},"personal":{{"name":"{name}","residence":"Utrecht"}},"id":"{}"}}"#,
                uuid(member)
            )
        })
        .collect();
    format!("[{}]", events.join(","))
}

#[test]
fn a_full_disk_is_a_problem_not_a_verdict_and_the_server_asks_for_a_restart() {
    let ledger = Ledger::new();
    let disk = ledger.dir.path().to_path_buf();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=40m", "tmpfs"])
        .arg(&disk)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        skipped("cannot mount a 40 MB tmpfs here (it needs root; .ci/run runs as root)");
        return;
    }
    let _mount = Mount(disk.clone());
    // Room to free later: 4 MB beside the ledger.
    let filler = disk.join("filler");
    std::fs::write(&filler, vec![1u8; 4 << 20]).unwrap();

    let mut s = Server::start_on(ledger, &[]);
    let t = s.admin_token.clone();
    let head = |s: &Server| json(&s.get("/v1/head", &t).1)["count"].as_u64().unwrap();
    let start = head(&s);
    let mut acknowledged: Vec<(u32, Value)> = Vec::new();
    let mut failure = None;
    for i in 0..4000 {
        let (code, body) = s.post("/v1/events", &t, &batch(i));
        if code == 201 {
            acknowledged.push((i, json(&body)["positions"].clone()));
        } else {
            failure = Some((code, body));
            break;
        }
    }
    let (code, body) = failure.expect("40 MB fill up before 4,000 batches of 40 KB");
    assert!(
        acknowledged.len() > 10,
        "some batches fit: {}",
        acknowledged.len()
    );
    eprintln!(
        "disk full after {} batches: {code} {body}",
        acknowledged.len()
    );
    // The failing append: a problem that says what failed, not "the server failed".
    let problem = json(&body);
    assert!(matches!(code, 503 | 507), "{code} {body}");
    assert!(
        problem["detail"].as_str().unwrap_or("").contains("disk")
            || problem["detail"].as_str().unwrap_or("").contains("storage"),
        "{body}"
    );
    let committed = start + 20 * acknowledged.len() as u64;
    // Readers stop at the committed head; verification too, and a read that fails is a
    // problem, never `verified: false`.
    assert_eq!(head(&s), committed);
    let (code, body) = s.get("/v1/verify", &t);
    eprintln!("verify on the full disk: {code} {body}");
    match code {
        200 => {
            let v = json(&body);
            assert_eq!(v["verified"], true, "{body}");
            assert_eq!(v["count"].as_u64(), Some(committed), "{body}");
        }
        503 | 507 => assert!(json(&body)["detail"].is_string(), "{body}"),
        other => panic!("verify answered {other}: {body}"),
    }
    // The export answers (the records up to the committed head, or a problem), never a
    // connection closed with no reply.
    let (code, body) = s.get("/v1/export", &t);
    eprintln!("export on the full disk: {code}, {} bytes", body.len());
    assert!(matches!(code, 200 | 503), "{code} {body}");
    // The server knows it cannot write: /healthz says so (a supervisor restarts it), and
    // appends are refused with the reason, even once space is freed.
    let (code, body) = s.call("GET", "/healthz", None, None);
    assert_eq!(code, 503, "{body}");
    assert_eq!(json(&body)["status"], "restart required");
    std::fs::remove_file(&filler).unwrap();
    let next = acknowledged.len() as u32 + 1;
    let (code, body) = s.post("/v1/events", &t, &batch(next));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("restart"), "{body}");
    assert_eq!(head(&s), committed, "nothing more became visible");

    // A restart, with space freed: every acknowledged batch at its acknowledged positions
    // (an idempotent retry answers them), the chain verifies, appends work.
    let ledger = std::mem::replace(&mut s.ledger, Ledger::new());
    drop(s);
    // The first admin's token stays valid: it is in the ledger.
    let s = Server::start_on(ledger, &[]);
    assert!(head(&s) >= committed);
    for (i, positions) in [acknowledged.first(), acknowledged.last()]
        .into_iter()
        .flatten()
    {
        let (code, body) = s.post("/v1/events", &t, &batch(*i));
        assert_eq!(code, 200, "batch {i} is recorded: {body}");
        assert_eq!(&json(&body)["positions"], positions, "batch {i}");
    }
    let (code, body) = s.get("/v1/verify", &t);
    assert_eq!(
        (code, json(&body)["verified"].clone()),
        (200, Value::Bool(true)),
        "{body}"
    );
    let (code, _) = s.call("GET", "/healthz", None, None);
    assert_eq!(code, 200);
    let (code, body) = s.post("/v1/events", &t, &batch(next + 1));
    assert_eq!(code, 201, "appends work again: {body}");
}
