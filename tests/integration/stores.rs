//! The store's promises, tested alike on both engines: sled in a folder and PostgreSQL (a
//! server started for the run, a database per test). Atomic batches, idempotency, expected
//! versions, erasure, restore across engines, concurrent appends, reopening, and (PostgreSQL)
//! a second process that may not fork the chain; then the `kroniek` binary on PostgreSQL:
//! its commands, `kill -9` in the middle of a large append, and `serve`.

use crate::support::{self, joined, paid, uuid, Ledger};
use kroniek_core::envelope::ProposedEvent;
use kroniek_core::error::CoreError;
use kroniek_core::rules::Rule;
use kroniek_core::store::{AppendOutcome, OpenMode, Store};
use std::io::BufRead;

/// Where one run of a test keeps its ledger.
enum Place {
    Folder(tempfile::TempDir),
    Postgres(String),
}

impl Place {
    fn name(&self) -> &'static str {
        match self {
            Place::Folder(_) => "sled",
            Place::Postgres(_) => "PostgreSQL",
        }
    }

    fn init(&self) -> Store {
        match self {
            Place::Folder(dir) => Store::init(&dir.path().join("l"), "test.example/kroniek"),
            Place::Postgres(url) => Store::init_on(
                kroniek_postgres::PostgresBackend::connect(url, true)
                    .unwrap()
                    .into_backend(),
                "test.example/kroniek",
            ),
        }
        .unwrap()
    }

    fn open(&self) -> Store {
        match self {
            Place::Folder(dir) => Store::open(&dir.path().join("l")),
            Place::Postgres(url) => Store::open_on(
                kroniek_postgres::PostgresBackend::connect(url, false)
                    .unwrap()
                    .into_backend(),
                OpenMode::Normal,
            ),
        }
        .unwrap()
    }
}

/// sled, and PostgreSQL where it can run (else that half is reported skipped).
fn places() -> Vec<Place> {
    let mut places = vec![Place::Folder(tempfile::tempdir().unwrap())];
    if let Some(url) = support::postgres::database() {
        places.push(Place::Postgres(url));
    }
    places
}

fn events(lines: &[String]) -> Vec<ProposedEvent> {
    lines
        .iter()
        .map(|l| ProposedEvent::parse_line(l).unwrap())
        .collect()
}

fn with_version(line: &str, expected: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["expected_version"] = serde_json::from_str(expected).unwrap();
    v.to_string()
}

fn verified(store: &Store) -> kroniek_core::verify::Verified {
    store
        .verify(&mut |_| {})
        .expect("the store can be read")
        .expect("the chain verifies")
}

#[test]
fn a_batch_is_written_whole_or_not_at_all() {
    for place in places() {
        let store = place.init();
        let refused = store.append(
            &events(&[
                joined(1, 1),
                joined(2, 2),
                with_version(&paid(2, 500, 3), "7"),
            ]),
            "test",
        );
        match refused {
            Err(CoreError::Refused(r)) => {
                assert_eq!(r.len(), 1, "{}", place.name());
                assert_eq!(r[0].index, 2);
                assert_eq!(r[0].refusal.rule, Rule::VersionConflict);
            }
            other => panic!("{}: expected a refusal, got {other:?}", place.name()),
        }
        assert_eq!(store.head().count, 0, "{}: nothing written", place.name());
        let ok = store
            .append(&events(&[joined(1, 1), joined(2, 2)]), "test")
            .unwrap();
        assert!(
            matches!(
                ok,
                AppendOutcome::Appended {
                    first: 0,
                    count: 2,
                    ..
                }
            ),
            "{}: {ok:?}",
            place.name()
        );
        drop(store);
        let store = place.open();
        assert_eq!(store.head().count, 2, "{}", place.name());
        assert!(store.iter_from(0).all(|r| r.is_ok()));
        assert_eq!(verified(&store).count, 2);
    }
}

#[test]
fn retries_are_idempotent_and_a_reused_id_is_refused() {
    for place in places() {
        let store = place.init();
        store.append(&events(&[joined(1, 1)]), "test").unwrap();
        let again = store.append(&events(&[joined(1, 1)]), "test").unwrap();
        assert!(
            matches!(&again, AppendOutcome::AlreadyRecorded { positions, .. } if positions == &vec![0]),
            "{}: {again:?}",
            place.name()
        );
        // The same id with other content.
        let other = joined(2, 1);
        match store.append(&events(&[other]), "test") {
            Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, Rule::IdReused),
            other => panic!("{}: {other:?}", place.name()),
        }
        // Expected versions: the stream is at version 0.
        match store.append(
            &events(&[with_version(&paid(1, 100, 9), "\"no_stream\"")]),
            "test",
        ) {
            Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, Rule::VersionConflict),
            other => panic!("{}: {other:?}", place.name()),
        }
        store
            .append(&events(&[with_version(&paid(1, 100, 9), "0")]), "test")
            .unwrap();
        assert_eq!(store.head().count, 2);
        let stream = store.read_stream("member/1", 0).unwrap();
        assert_eq!(stream.len(), 2, "{}", place.name());
        assert_eq!(stream[1].version, 1);
    }
}

#[test]
fn erasure_destroys_the_data_and_the_chain_still_verifies() {
    for place in places() {
        let store = place.init();
        store
            .append(&events(&[joined(1, 1), joined(2, 2)]), "test")
            .unwrap();
        assert!(store.personal_at(0).unwrap().is_some());
        let erase = format!(
            r#"{{"stream":"member/1","type":"PersonalDataErased","effective":"2024-01-01","data":{{"subject":"1","reason":"verzoek"}},"id":"{}"}}"#,
            uuid(3)
        );
        store.append(&events(&[erase]), "test").unwrap();
        assert!(store.personal_at(0).unwrap().is_none(), "{}", place.name());
        assert!(store.personal_at(1).unwrap().is_some());
        drop(store);
        let store = place.open();
        assert!(store.personal_at(0).unwrap().is_none(), "{}", place.name());
        let v = verified(&store);
        assert_eq!((v.count, v.erased), (3, 1), "{}", place.name());
    }
}

/// An export of a ledger on either engine restores into either, with the same head and the
/// same Merkle root.
#[test]
fn an_export_restores_across_engines() {
    let places = places();
    for from in &places {
        let store = from.init();
        let lines: Vec<String> = (1..=40)
            .flat_map(|i| [joined(i, i), paid(i, i64::from(i) * 100, 1000 + i)])
            .collect();
        store.append(&events(&lines), "test").unwrap();
        let mut export = Vec::new();
        for record in store.iter_from(0) {
            export.extend(store.export_line(&record.unwrap(), true).unwrap());
            export.push(b'\n');
        }
        let head = store.head();
        let root = store.tree_root(head.count).unwrap();
        for to in [
            Place::Folder(tempfile::tempdir().unwrap()),
            match support::postgres::database() {
                Some(url) => Place::Postgres(url),
                None => continue,
            },
        ] {
            let copy = to.init();
            let v = copy
                .restore(std::io::Cursor::new(&export), &mut |_| {})
                .unwrap();
            assert_eq!(v.count, 80);
            assert_eq!(copy.head(), head, "{} → {}", from.name(), to.name());
            assert_eq!(copy.tree_root(head.count).unwrap(), root);
            assert_eq!(verified(&copy).head, head.hash);
            // And the copy's own export is byte for byte the same.
            let mut again = Vec::new();
            for record in copy.iter_from(0) {
                again.extend(copy.export_line(&record.unwrap(), true).unwrap());
                again.push(b'\n');
            }
            assert_eq!(again.lines().count(), 80);
            assert!(
                again == export,
                "{} → {}: the exports differ",
                from.name(),
                to.name()
            );
        }
    }
}

/// Appends from many threads at once: each acknowledged event is at its acknowledged
/// position, once, and the chain verifies.
#[test]
fn concurrent_appends_each_land_once_where_acknowledged() {
    for place in places() {
        let store = place.init();
        let acknowledged = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for t in 0..8u32 {
                let (store, acknowledged) = (&store, &acknowledged);
                scope.spawn(move || {
                    for i in 0..15u32 {
                        let id = t * 100 + i + 1;
                        match store.append(&events(&[joined(id, id)]), "test").unwrap() {
                            AppendOutcome::Appended { first, .. } => {
                                acknowledged.lock().unwrap().push((first, uuid(id)));
                            }
                            other => panic!("{other:?}"),
                        }
                    }
                });
            }
        });
        drop(store);
        let store = place.open();
        let acknowledged = acknowledged.into_inner().unwrap();
        assert_eq!(store.head().count, 120, "{}", place.name());
        for (position, id) in acknowledged {
            assert_eq!(store.record_at(position).unwrap().id.to_string(), id);
        }
        assert_eq!(verified(&store).count, 120);
    }
}

/// Two processes on one PostgreSQL ledger: each takes in the other's records before it
/// appends (the rules judge against both, idempotency covers both), so there is one chain;
/// written from many threads of both at once, every acknowledged event is at its position.
#[test]
fn two_writers_on_one_postgresql_ledger_keep_one_chain() {
    let Some(url) = support::postgres::database() else {
        return;
    };
    let place = Place::Postgres(url);
    let first = place.init();
    let second = place.open();
    first.append(&events(&[joined(1, 1)]), "a").unwrap();
    // The second one never saw member 1 join: it must fold the first one's record to accept
    // a payment (the rules refuse a payment by someone who never joined).
    let paid_by_1 = second.append(&events(&[paid(1, 500, 2)]), "b").unwrap();
    assert!(
        matches!(
            paid_by_1,
            AppendOutcome::Appended {
                first: 1,
                count: 1,
                ..
            }
        ),
        "{paid_by_1:?}"
    );
    // A retry through the other process is answered as already recorded.
    let again = first.append(&events(&[paid(1, 500, 2)]), "a").unwrap();
    assert!(
        matches!(&again, AppendOutcome::AlreadyRecorded { positions, .. } if positions == &vec![1]),
        "{again:?}"
    );
    assert_eq!(first.head().count, 2);
    // Many threads of both at once.
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for t in 0..8u32 {
            let store = if t % 2 == 0 { &first } else { &second };
            let acknowledged = &acknowledged;
            scope.spawn(move || {
                for i in 0..10u32 {
                    let id = 100 + t * 100 + i;
                    match store.append(&events(&[joined(id, id)]), "t").unwrap() {
                        AppendOutcome::Appended { first, .. } => {
                            acknowledged.lock().unwrap().push((first, uuid(id)));
                        }
                        other => panic!("{other:?}"),
                    }
                }
            });
        }
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    let mut positions: Vec<u64> = acknowledged.iter().map(|(p, _)| *p).collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 80, "no two events at one position");
    drop((first, second));
    let store = place.open();
    assert_eq!(store.head().count, 82);
    for (position, id) in acknowledged {
        assert_eq!(store.record_at(position).unwrap().id.to_string(), id);
    }
    assert_eq!(verified(&store).count, 82);
}

/// A reader process follows: `follow` makes another process's records visible.
#[test]
fn a_reader_follows_another_processes_appends() {
    let Some(url) = support::postgres::database() else {
        return;
    };
    let place = Place::Postgres(url);
    let writer = place.init();
    let reader = place.open();
    assert!(!reader.follow().unwrap());
    writer
        .append(&events(&[joined(1, 1), joined(2, 2)]), "w")
        .unwrap();
    assert_eq!(reader.head().count, 0, "not before it follows");
    reader
        .wait_for_others(std::time::Duration::from_secs(2))
        .unwrap();
    assert!(reader.follow().unwrap());
    assert_eq!(reader.head(), writer.head());
    assert_eq!(reader.read_range(0, 10).unwrap().len(), 2);
}

/// A database that takes TLS connections only (as a managed database may): `sslmode=require`
/// with `sslrootcert` (the database's own CA) connects over TLS, the certificate verified;
/// a plain connection is refused by the server, and TLS with the public roots only refuses the
/// certificate before anything is written.
#[test]
fn a_ledger_on_postgresql_over_tls_verifies_the_servers_certificate() {
    if support::postgres::database().is_none() {
        return;
    }
    let server = support::postgres::server().expect("the test server");
    let plain = server.url(support::postgres::TLS_ONLY);
    let ca = server.ca_file().to_str().expect("a path").to_owned();
    let ledger = Ledger::new();
    let sample = support::root().join("events/sample.jsonl");
    let sample = sample.to_str().unwrap();
    let run = |url: &str, args: &[&str]| {
        let mut all = vec!["--store", url];
        all.extend_from_slice(args);
        ledger.run(&all)
    };
    // Plain: the server refuses it (so a success below was TLS).
    let refused = run(&plain, &["init", "--origin", "test.example/kroniek"]);
    assert_ne!(refused.code(), 0, "{}", refused.stdout());
    assert!(
        refused.stderr().contains("no encryption"),
        "{}",
        refused.stderr()
    );
    // TLS, but the public roots do not vouch for the database's own CA.
    let public = format!("{plain}?sslmode=require");
    let untrusted = run(&public, &["init", "--origin", "test.example/kroniek"]);
    assert_ne!(untrusted.code(), 0, "{}", untrusted.stdout());
    assert!(
        untrusted.stderr().to_lowercase().contains("certificate"),
        "{}",
        untrusted.stderr()
    );
    // TLS with the database's CA: the commands work.
    let tls = format!("{plain}?sslmode=require&sslrootcert={ca}");
    run(&tls, &["init", "--origin", "test.example/kroniek"]).ok();
    let appended = run(&tls, &["append", sample]).ok();
    assert!(appended.starts_with("appended 477 events"), "{appended}");
    let (count, _) = support::parse_verified(&run(&tls, &["verify"]).ok());
    assert_eq!(count, 477);
    // sslrootcert alone makes TLS required.
    let implied = format!("{plain}?sslrootcert={ca}");
    let (count, _) = support::parse_verified(&run(&implied, &["verify"]).ok());
    assert_eq!(count, 477);
}

/// The `kroniek` binary on PostgreSQL: `--store` (and `KRONIEK_STORE`) for every command that
/// opens a ledger; the same answers as on a folder.
#[test]
fn the_commands_work_on_postgresql_as_on_a_folder() {
    let Some(url) = support::postgres::database() else {
        return;
    };
    let ledger = Ledger::new();
    let sample = support::root().join("events/sample.jsonl");
    let sample = sample.to_str().unwrap();
    let on_pg = |args: &[&str]| {
        let mut all = vec!["--store", url.as_str()];
        all.extend_from_slice(args);
        ledger.run(&all)
    };
    on_pg(&["init", "--origin", "test.example/kroniek"]).ok();
    let appended = on_pg(&["append", sample]).ok();
    assert!(appended.starts_with("appended 477 events"), "{appended}");
    ledger.run(&["append", sample]).ok();
    let (count, _) = support::parse_verified(&on_pg(&["verify"]).ok());
    assert_eq!(count, 477);
    for args in [
        vec![
            "composition",
            "landelijk-bestuur",
            "--as-of",
            "2023-06-01",
            "--json",
        ],
        vec!["members", "--as-of", "2023-06-01", "--json"],
        vec!["terms", "landelijk-bestuur", "--json"],
    ] {
        let folder = ledger.run(&args).ok();
        assert_eq!(on_pg(&args).ok(), folder, "{args:?}");
    }
    // The folder's export restored into another database: the same records, byte for byte,
    // and the same answers, hashes included.
    let export = ledger.path("export.jsonl");
    ledger
        .run(&["export", "--out", export.to_str().unwrap()])
        .ok();
    let copy = support::postgres::database().unwrap();
    let restored = ledger
        .run(&["--store", &copy, "restore", export.to_str().unwrap()])
        .ok();
    assert!(restored.starts_with("restored 477 events"), "{restored}");
    let again = ledger.path("again.jsonl");
    ledger
        .run(&["--store", &copy, "export", "--out", again.to_str().unwrap()])
        .ok();
    assert!(std::fs::read(&export).unwrap() == std::fs::read(&again).unwrap());
    let case = ["case", "r-2022-01", "--as-of", "2024-01-01", "--json"];
    let mut on_copy = vec!["--store", copy.as_str()];
    on_copy.extend_from_slice(&case);
    assert_eq!(ledger.run(&on_copy).ok(), ledger.run(&case).ok());
    // A signed checkpoint is kept with the ledger, and proofs are made from it.
    let checkpoint = on_pg(&["checkpoint"]).ok();
    assert!(
        checkpoint.starts_with("test.example/kroniek\n477\n"),
        "{checkpoint}"
    );
    on_pg(&["prove", "inclusion", "5"]).ok();
    // The environment variable does what --store does.
    let run = std::process::Command::new(support::kroniek_bin())
        .args(["verify"])
        .env("KRONIEK_STORE", &url)
        .env("KRONIEK_DATA", ledger.path("nowhere"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // A second init is refused; a URL that is not PostgreSQL's is a usage error.
    assert_eq!(on_pg(&["init"]).code(), 2);
    let wrong = ledger.run(&["--store", "mysql://x/y", "verify"]);
    assert_eq!(wrong.code(), 2);
    assert!(
        wrong.stderr().contains("PostgreSQL URL"),
        "{}",
        wrong.stderr()
    );
}

/// `kill -9` of a large `append` on PostgreSQL: the batch is there whole or not at all, and
/// the ledger verifies.
#[cfg(unix)]
#[test]
fn a_killed_append_on_postgresql_leaves_its_batch_whole_or_absent() {
    let Some(url) = support::postgres::database() else {
        return;
    };
    let ledger = Ledger::new();
    let lines: Vec<String> = (1..=3000)
        .flat_map(|i| [joined(i, i), paid(i, 100, 10_000 + i)])
        .collect();
    let file = ledger.file("big.jsonl", &lines);
    ledger
        .run(&[
            "--store",
            &url,
            "append",
            ledger
                .file("one.jsonl", &[joined(9999, 99_999)])
                .to_str()
                .unwrap(),
        ])
        .ok();
    for delay_ms in [50u64, 150, 400] {
        let mut child = std::process::Command::new(support::kroniek_bin())
            .args(["--store", &url, "append", file.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let (count, _) = support::parse_verified(&ledger.run(&["--store", &url, "verify"]).ok());
        assert!(
            count == 1 || count == 6001,
            "after {delay_ms} ms: {count} records"
        );
        if count == 6001 {
            break;
        }
    }
}

/// `kroniek serve --store postgres://…`: the API answers from the database and appends go
/// into it.
#[test]
fn serve_on_postgresql_answers_and_appends() {
    let Some(url) = support::postgres::database() else {
        return;
    };
    let ledger = Ledger::new();
    let mut server = support::Server::start_on(ledger, &["--store", &url, "--demo"]);
    let token = server.admin_token.clone();
    let (status, body) = server.get("/v1/head", &token);
    assert_eq!(status, 200, "{body}");
    let head: serde_json::Value = serde_json::from_str(&body).unwrap();
    let before = head["count"].as_u64().unwrap();
    assert!(before >= 477, "{body}");
    let (status, body) = server.post("/v1/events", &token, &joined(7001, 7001));
    assert_eq!(status, 201, "{body}");
    let (_, body) = server.get("/v1/head", &token);
    let head: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(head["count"].as_u64().unwrap(), before + 1);
    server.stop();
    let check = Ledger::new();
    let (count, _) = support::parse_verified(&check.run(&["--store", &url, "verify"]).ok());
    assert_eq!(count, before + 1);
}

/// `migrate` moves a folder's ledger into PostgreSQL and back: the same head, root, key and
/// last checkpoint, and byte for byte the same export; a target that holds a ledger is
/// refused.
#[test]
fn migrate_copies_a_ledger_between_engines_and_proves_it() {
    let Some(url) = support::postgres::database() else {
        return;
    };
    let ledger = Ledger::new();
    ledger.append_sample();
    let checkpoint = ledger.run(&["checkpoint"]).ok();
    let key = ledger.run(&["key", "show"]).ok();
    // `kroniek` on the folder `back` (Ledger::run names its own folder).
    let back = ledger.path("back");
    let on_back = |args: &[&str]| {
        let run = std::process::Command::new(support::kroniek_bin())
            .arg("--data")
            .arg(&back)
            .args(args)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8(run.stdout).unwrap()
    };
    let export = |args: &[&str], name: &str| {
        let out = ledger.path(name);
        let mut all = args.to_vec();
        all.extend_from_slice(&["export", "--out", out.to_str().unwrap()]);
        if args.first() == Some(&"back") {
            on_back(&all[1..]);
        } else {
            ledger.run(&all).ok();
        }
        std::fs::read(out).unwrap()
    };
    let original = export(&[], "original.jsonl");

    let moved = ledger.run(&["migrate", "--to", &url]).ok();
    assert!(moved.starts_with("copied 477 events from "), "{moved}");
    assert!(moved.contains("the same head"), "{moved}");
    assert!(
        moved.contains("the last signed checkpoint (size 477) went with it"),
        "{moved}"
    );
    assert!(export(&["--store", &url], "pg.jsonl") == original);
    // The export of the PostgreSQL ledger verifies with the independent Python verifier, and
    // offline against the checkpoint and key that moved with it.
    let by_python = crate::independent_verifier::python_verify(&ledger.path("pg.jsonl"));
    let python_said = String::from_utf8_lossy(&by_python.stdout);
    assert!(by_python.status.success(), "{python_said}");
    assert_eq!(support::parse_verified(&python_said).0, 477);
    std::fs::write(ledger.path("pg.checkpoint"), &checkpoint).unwrap();
    let offline = ledger
        .run(&[
            "verify",
            "--export",
            ledger.path("pg.jsonl").to_str().unwrap(),
            "--checkpoint",
            ledger.path("pg.checkpoint").to_str().unwrap(),
            "--key",
            key.trim(),
        ])
        .ok();
    assert!(offline.contains("477"), "{offline}");
    assert_eq!(
        ledger.run(&["--store", &url, "checkpoint"]).ok(),
        checkpoint
    );
    assert_eq!(ledger.run(&["--store", &url, "key", "show"]).ok(), key);
    let (count, _) = support::parse_verified(&ledger.run(&["--store", &url, "verify"]).ok());
    assert_eq!(count, 477);

    let moved = ledger
        .run(&["--store", &url, "migrate", "--to", back.to_str().unwrap()])
        .ok();
    assert!(moved.starts_with("copied 477 events from "), "{moved}");
    assert!(export(&["back"], "back.jsonl") == original);
    assert_eq!(on_back(&["checkpoint"]), checkpoint);

    // A target that holds a ledger is refused, and left as it was.
    let refused = ledger.run(&["migrate", "--to", back.to_str().unwrap()]);
    assert_ne!(refused.code(), 0);
    assert!(
        refused.stderr().contains("already holds a ledger"),
        "{}",
        refused.stderr()
    );
    assert!(export(&["back"], "back2.jsonl") == original);
    let same = ledger.run(&["migrate", "--to", ledger.data().to_str().unwrap()]);
    assert_eq!(same.code(), 2, "{}", same.stderr());
}

/// Two `kroniek serve` processes on one PostgreSQL ledger, appended to through both at once
/// while one or the other is killed with SIGKILL (and started again) 24 times: every
/// acknowledged event is there once, at its acknowledged position; one chain that verifies;
/// both servers answer the same head and composition, and a subscription on one sees the
/// other's records.
#[cfg(unix)]
#[test]
fn two_servers_on_one_database_survive_sigkill_with_one_chain() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, RwLock};
    let Some(url) = support::postgres::database() else {
        return;
    };
    let start = |demo: bool| {
        let mut args = vec!["--store", url.as_str()];
        if demo {
            args.push("--demo");
        }
        support::Server::start_on(Ledger::new(), &args)
    };
    let first = start(true);
    let token = first.admin_token.clone();
    assert!(token.starts_with("krn_"));
    let second = start(false);
    let servers = Arc::new(Mutex::new([Some(first), Some(second)]));
    let bases: Arc<RwLock<[String; 2]>> = Arc::new(RwLock::new({
        let s = servers.lock().unwrap();
        [
            s[0].as_ref().unwrap().base.clone(),
            s[1].as_ref().unwrap().base.clone(),
        ]
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(10))
        .build();
    let clients: Vec<_> = (0..4u32)
        .map(|c| {
            let (bases, stop, acknowledged, agent, token) = (
                bases.clone(),
                stop.clone(),
                acknowledged.clone(),
                agent.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let id = 20_000 + c * 10_000 + n;
                    let event = joined(id, id);
                    // Until acknowledged, through either server (a retry is idempotent).
                    for attempt in 0..400u32 {
                        let base = bases.read().unwrap()[((n + attempt + c) % 2) as usize].clone();
                        let answer = agent
                            .post(&format!("{base}/v1/events"))
                            .set("Authorization", &format!("Bearer {token}"))
                            .set("Content-Type", "application/json")
                            .send_string(&event);
                        if let Ok(response) = answer {
                            let body: serde_json::Value =
                                serde_json::from_str(&response.into_string().unwrap()).unwrap();
                            let position = body["positions"][0].as_u64().unwrap();
                            acknowledged.lock().unwrap().push((position, uuid(id)));
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let mut seed = 0x2545_f491_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for kill in 0..24usize {
        std::thread::sleep(std::time::Duration::from_millis(
            100 + u64::from(next() % 300),
        ));
        let which = kill % 2;
        let mut dead = servers.lock().unwrap()[which].take().unwrap();
        dead.child.kill().unwrap();
        dead.child.wait().unwrap();
        let fresh = start(false);
        bases.write().unwrap()[which] = fresh.base.clone();
        servers.lock().unwrap()[which] = Some(fresh);
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "only {} appends acknowledged",
        acknowledged.len()
    );

    // Both servers converge on one head and answer alike.
    let servers = servers.lock().unwrap();
    let [Some(a), Some(b)] = &*servers else {
        panic!("both servers run")
    };
    let head = |s: &support::Server| s.get("/v1/head", &token).1;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while head(a) != head(b) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(head(a), head(b));
    let composition = "/v1/bodies/landelijk-bestuur/composition?as_of=2023-06-01";
    assert_eq!(a.get(composition, &token), b.get(composition, &token));
    assert_eq!(a.get(composition, &token).0, 200);

    // A subscription on one server sees what is appended through the other, in order, with
    // no gap and no duplicate.
    let from: serde_json::Value = serde_json::from_str(&head(a)).unwrap();
    let from = from["count"].as_u64().unwrap();
    let stream = agent
        .get(&format!("{}/v1/subscribe?from={from}", b.base))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_reader();
    for i in 0..5u32 {
        let (status, body) = a.post("/v1/events", &token, &joined(90_000 + i, 90_000 + i));
        assert_eq!(status, 201, "{body}");
    }
    let seen: Vec<u64> = std::io::BufReader::new(stream)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("id:").map(|id| id.trim().parse().unwrap()))
        .take(5)
        .collect();
    assert_eq!(seen, (from..from + 5).collect::<Vec<_>>());
    eprintln!(
        "{} appends acknowledged through two servers killed 24 times",
        acknowledged.len()
    );

    // One chain, and every acknowledged event once at its position.
    let check = Ledger::new();
    let (count, _) = support::parse_verified(&check.run(&["--store", &url, "verify"]).ok());
    let head: serde_json::Value = serde_json::from_str(&head(a)).unwrap();
    assert_eq!(head["count"].as_u64().unwrap(), count);
    let export = check.run(&["--store", &url, "export"]).ok();
    let ids: Vec<String> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an event id twice in the chain");
    for (position, id) in &acknowledged {
        assert_eq!(
            &ids[usize::try_from(*position).unwrap()],
            id,
            "position {position}"
        );
    }
}
