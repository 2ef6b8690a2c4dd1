//! Snapshots of the read models through the real server: saved at a clean stop, loaded on the
//! next start (only the records after it folded), still right after a `kill -9` with records
//! past the snapshot, ignored when damaged, and equal to `kroniek rebuild`.

use crate::support::{joined, Ledger, Server};

/// The answers a snapshot must not change: the read models a user meets.
const READS: [&str; 5] = [
    "/v1/bodies/afdeling-den-haag%2Fbestuur/composition?as_of=2020-03-01",
    "/v1/members?as_of=2023-01-01&limit=1000",
    "/v1/members/10220?as_of=2022-07-01",
    "/v1/timeline?limit=1000",
    "/v1/cases/r-2022-01",
];

fn answers(s: &Server, token: &str) -> Vec<(u16, String)> {
    READS.iter().map(|path| s.get(path, token)).collect()
}

fn snapshots(l: &Ledger) -> Vec<String> {
    std::fs::read_dir(l.data().join("snapshots"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_server_starts_from_its_snapshot_and_answers_as_a_rebuild_does() {
    let ledger = Ledger::new();
    ledger.append_sample();
    let mut s = Server::start_on(ledger, &[]);
    assert!(
        s.startup.iter().any(|l| l.contains("rebuilt from")),
        "{:?}",
        s.startup
    );
    let token = s.admin_token.clone();
    let first = answers(&s, &token);
    assert!(first.iter().all(|(code, _)| *code == 200), "{first:?}");
    s.stop_cleanly();
    let ledger = std::mem::replace(&mut s.ledger, Ledger::new());
    drop(s);
    let files = snapshots(&ledger);
    assert_eq!(files.len(), 1, "a clean stop saves one snapshot: {files:?}");
    let count: u64 = files[0]
        .trim_start_matches("read-")
        .trim_end_matches(".snap")
        .parse()
        .unwrap();

    // A clean start: everything from the snapshot.
    let mut s = Server::start_on(ledger, &[]);
    let from = format!("from the snapshot at {count} records, 0 folded since");
    assert!(
        s.startup.iter().any(|l| l.contains(&from)),
        "{:?}",
        s.startup
    );
    assert_eq!(answers(&s, &token), first);
    // Records past the snapshot, then kill -9: the next start folds them after it.
    let (code, body) = s.post(
        "/v1/events",
        &token,
        &format!("[{}]", joined(90_001, 900_001)),
    );
    assert_eq!(code, 201, "{body}");
    let _ = s.child.kill();
    let _ = s.child.wait();
    let ledger = std::mem::replace(&mut s.ledger, Ledger::new());
    drop(s);
    let mut s = Server::start_on(ledger, &[]);
    let from = format!("from the snapshot at {count} records, 1 folded since");
    assert!(
        s.startup.iter().any(|l| l.contains(&from)),
        "{:?}",
        s.startup
    );
    let mut after = answers(&s, &token);
    after.push(s.get("/v1/members/90001?as_of=2025-01-01", &token));
    assert_eq!(after.last().map(|a| a.0), Some(200), "{after:?}");
    assert_eq!(after[0], first[0], "the new member sits in no body");
    // The background verification of the chain reaches its verdict as before.
    let verified = (0..100)
        .find_map(|_| {
            let (code, body) = s.get("/v1/verify", &token);
            assert_eq!(code, 200, "{body}");
            if body.contains("\"verified\":true") {
                return Some(body);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            None
        })
        .expect("the chain verifies");
    assert!(verified.contains("\"verified\":true"));
    // The same answers from a server that rebuilt everything from the first record.
    let _ = s.child.kill();
    let _ = s.child.wait();
    let ledger = std::mem::replace(&mut s.ledger, Ledger::new());
    drop(s);
    std::fs::remove_dir_all(ledger.data().join("snapshots")).unwrap();
    let s = Server::start_on(ledger, &[]);
    assert!(
        s.startup.iter().any(|l| l.contains("rebuilt from")),
        "{:?}",
        s.startup
    );
    let mut rebuilt = answers(&s, &token);
    rebuilt.push(s.get("/v1/members/90001?as_of=2025-01-01", &token));
    assert_eq!(rebuilt, after);
}

#[test]
fn rebuild_checks_the_snapshot_and_a_damaged_one_is_ignored() {
    let ledger = Ledger::new();
    ledger.append_sample();
    // No snapshot yet.
    let out = ledger.run(&["rebuild"]).ok();
    assert!(out.contains("no snapshot to compare"), "{out}");
    assert_eq!(snapshots(&ledger).len(), 1, "rebuild saves one");
    let out = ledger.run(&["rebuild"]).ok();
    assert!(
        out.contains("equals the rebuild in every read model"),
        "{out}"
    );
    // A damaged snapshot is ignored, never trusted: the server rebuilds.
    let path = ledger.data().join("snapshots").join(&snapshots(&ledger)[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let out = ledger.run(&["rebuild"]).ok();
    assert!(
        out.contains("snapshot ignored") && out.contains("checksum"),
        "{out}"
    );
    std::fs::write(&path, &bytes).unwrap();
    let s = Server::start_on(ledger, &[]);
    assert!(
        s.startup.iter().any(|l| l.contains("rebuilt from")),
        "{:?}",
        s.startup
    );
}
