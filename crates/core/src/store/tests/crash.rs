//! What a crash or a kill leaves, and how the next open deals with it: leftovers past the
//! head, a commit cut after any write, sled's blob files, a damaged head, a snapshot or an init
//! left half-done, and a store held open by another process.

use super::*;

#[test]
fn leftovers_past_the_head_are_discarded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let mut store = init_at(&path);
        store.chunk = 3;
        store
            .append(&[event(0, 0, ExpectedVersion::Any, None)], "admin:local")
            .unwrap();
        // Stage a chunk as an interrupted large batch would, without moving the head.
        let mut batch = Batch::new(store.head(), "admin:local".into(), now_recorded_at());
        for n in 0..3 {
            store
                .check_and_stage(
                    &mut batch,
                    n,
                    event(1, n as u8, ExpectedVersion::Any, Some(50 + n as u32)),
                    None,
                )
                .unwrap()
                .unwrap();
        }
        store.stage(&mut batch).unwrap();
        store.finish_staging(&mut batch).unwrap();
        store.flush().unwrap();
        assert_eq!(store.t.records.len(), 4);
    }
    let store = Store::open(&path).unwrap().without_rules();
    assert_eq!(store.head().count, 1);
    assert_eq!(store.t.records.len(), 1);
    assert_eq!(store.t.ids.len(), 1, "only the committed event's id");
    assert_eq!(verified(&store).count, 1);
    // The staged ids are free again.
    let AppendOutcome::Appended { count, .. } = store
        .append(
            &[event(1, 0, ExpectedVersion::Any, Some(50))],
            "admin:local",
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(count, 1);
}

/// A commit without erasures is a sequence of single-key writes ending with the head; a crash
/// leaves a prefix of sled's log. Cut the writes after every one of them: the store that
/// opens holds the old head and nothing of the batch, or (the head written) all of it.
#[test]
fn a_commit_cut_after_any_write_opens_as_before_or_whole() {
    let committed = 15u64; // the batch crosses 16 records: a stored Merkle node is among the writes
    let batch = || {
        vec![
            event(0, 7, ExpectedVersion::Exact(14), Some(900)),
            event(1, 7, ExpectedVersion::Exact(15), Some(901)),
            event(2, 7, ExpectedVersion::Any, Some(902)),
        ]
    };
    // The batch staged on a store of `committed` records, and the head it would commit.
    let stage = |store: &Store| {
        let mut b = Batch::new(store.head(), "admin:local".into(), now_recorded_at());
        b.frontier = Frontier::at(store, committed).unwrap();
        for (n, e) in batch().into_iter().enumerate() {
            store.check_and_stage(&mut b, n, e, None).unwrap().unwrap();
        }
        let head = Head {
            count: b.next,
            hash: b.prev,
        };
        (b, head)
    };
    let total_writes = {
        let (_dir, store) = filled_store(&[(1, 2); 15], None);
        let (b, head) = stage(&store);
        let writes = store.writes_in_log_order(&b.pending, head).unwrap();
        assert!(writes.iter().any(|(id, _, _)| *id == TreeId::Merkle));
        writes.len()
    };
    for cut in 0..=total_writes {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        let before = {
            let store = init_at(&path);
            for _ in 0..committed {
                store
                    .append(&[event(1, 2, ExpectedVersion::Any, None)], "admin:local")
                    .unwrap();
            }
            let (b, head) = stage(&store);
            for (id, key, value) in store
                .writes_in_log_order(&b.pending, head)
                .unwrap()
                .into_iter()
                .take(cut)
            {
                store.t.tree(id).insert(key, value).unwrap();
            }
            store.flush().unwrap();
            store.head()
        };
        let store = Store::open(&path).unwrap().without_rules();
        let whole = cut == total_writes;
        let count = store.head().count;
        assert_eq!(
            count,
            if whole { committed + 3 } else { committed },
            "cut {cut}"
        );
        assert_eq!(store.t.records.len() as u64, count, "cut {cut}");
        assert_eq!(store.t.ids.len() as u64, count, "cut {cut}");
        assert_eq!(store.t.streams.len() as u64, count, "cut {cut}");
        assert_eq!(
            store.t.personal.len(),
            if whole { 2 } else { 0 },
            "cut {cut}"
        );
        assert_eq!(verified(&store).count, count, "cut {cut}");
        if !whole {
            assert_eq!(store.head(), before);
            // The cut batch left nothing behind: the same events append again, at the same
            // stream versions, and the tree proves the new head.
            store.append(&batch(), "admin:local").unwrap();
        }
        assert_eq!(store.head().count, committed + 3);
        let proof = store.inclusion_proof(committed, committed + 3).unwrap();
        assert!(!proof.is_empty());
        assert_eq!(verified(&store).count, committed + 3);
    }
}

/// A flush looks for sled's blob files only once a value over 4 KiB or a key over 256 bytes was
/// written (only then can a node reach sled's 128 KiB blob size); the store remembers it.
#[test]
fn blob_files_are_looked_for_once_a_large_value_or_key_was_written() {
    let possible = |s: &Store| s.blobs_possible();
    let code = |n: u32, title: String| {
        ProposedEvent::parse(
            json!({"stream": "code/gedragscode", "type": "CodeVersionAdopted",
            "effective": "2018-01-01", "data": {"code_id": "gedragscode", "version": n,
            "title": title, "text_blake3": "0".repeat(64)}}),
        )
        .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let store = init_at(&path);
        assert!(!possible(&store), "a new store has no blob files");
        store
            .append(&[code(1, "t".repeat(3_000))], "admin:local")
            .unwrap();
        assert!(
            !possible(&store),
            "a 3 KB record cannot make a 128 KiB node"
        );
        store
            .append(&[code(2, "t".repeat(5_000))], "admin:local")
            .unwrap();
        assert!(possible(&store));
    }
    assert!(possible(&Store::open(&path).unwrap()), "remembered");
    // A long stream name makes long keys in the stream index.
    let (_dir, store) = temp_store();
    let m = "m".repeat(300);
    let long = ProposedEvent::parse(json!({"stream": format!("member/{m}"),
        "type": "ContributionPaid", "effective": "2020-02-01",
        "data": {"member_id": m, "year": 2020, "amount_cents": 100}}))
    .unwrap();
    assert!(!possible(&store));
    store.append(&[long], "admin:local").unwrap();
    assert!(possible(&store));
    // A store made before the record was kept may have blob files.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let store = Store::init(&path, "test.example/kroniek").unwrap();
        store.t.meta.remove(META_BLOB_WATCH).unwrap();
        store.flush().unwrap();
    }
    assert!(possible(&Store::open(&path).unwrap()));
}

#[test]
fn a_damaged_head_is_reported_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let store = init_at(&path);
        store
            .append(
                &[
                    event(0, 0, ExpectedVersion::Any, None),
                    event(1, 0, ExpectedVersion::Any, None),
                ],
                "admin:local",
            )
            .unwrap();
        let mut v = store.t.records.get(pos_key(1)).unwrap().unwrap().to_vec();
        let last = v.len() - 3;
        v[last] ^= 1;
        store.t.records.insert(pos_key(1), v).unwrap();
        store.flush().unwrap();
    }
    match Store::open(&path) {
        Err(CoreError::Damaged { broken, .. }) => assert_eq!(broken.position, 1),
        other => panic!("expected Damaged, got {other:?}"),
    }
    let inspect = Store::open_with(&path, OpenMode::Inspect).unwrap();
    assert_eq!(
        inspect
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap_err()
            .position,
        1
    );
}

/// The `snap.*` files in a store's sled folder, sorted by name (as sled sorts them).
fn snapshot_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sled_path(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_snapshot_left_half_written_by_a_kill_does_not_stop_the_store_opening() {
    let kinds: Vec<(u8, u8)> = (0..40).map(|n| (n % 2, n)).collect();
    let (tmp, store) = filled_store(&kinds, None);
    let dir = tmp.path().join("ledger");
    let head = store.head();
    drop(store);
    // Reopening replays the log past the last snapshot and writes a new one.
    drop(Store::open(&dir).unwrap());
    let snapshots = snapshot_files(&dir);
    let committed = snapshots.last().expect("sled wrote a snapshot").clone();
    // What a process killed while writing its next snapshot leaves: the first half of it,
    // under the name sled writes it to before the rename.
    let bytes = std::fs::read(&committed).unwrap();
    let torn = committed.with_file_name(format!(
        "{}.generating",
        committed.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    // sled alone reads the torn file as the newest snapshot and refuses to open.
    let sled_alone = sled::Config::new().path(sled_path(&dir)).open();
    assert!(
        matches!(sled_alone, Err(sled::Error::Corruption { .. })),
        "sled 0.34.7 opens a folder with a torn snapshot: {sled_alone:?}"
    );
    drop(sled_alone);

    let store = Store::open(&dir).unwrap();
    assert!(!torn.exists(), "the torn snapshot was removed");
    assert_eq!(store.head(), head);
    assert_eq!(verified(&store).count, head.count);
    assert_eq!(store.iter_from(0).count() as u64, head.count);
}

#[test]
fn a_store_closed_while_a_copy_of_its_lock_lives_on_for_a_moment_is_waited_for() {
    let (tmp, store) = filled_store(&[(0, 1)], None);
    let dir = tmp.path().join("ledger");
    drop(store);
    // A copy of the holder file's descriptor, as a process being started holds one between
    // its fork and its exec: the lock lives on while it does.
    let held = hold_store(&dir).unwrap();
    let copy = held.try_clone().unwrap();
    drop(held);
    let released = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(copy);
    });
    let started = std::time::Instant::now();
    let store = Store::open(&dir).expect("the lock is waited for");
    assert!(started.elapsed() >= std::time::Duration::from_millis(90));
    assert_eq!(store.head().count, 1);
    released.join().unwrap();
    drop(store);

    // A copy that outlives the wait: the store is reported locked, after the wait.
    let held = hold_store(&dir).unwrap();
    let copy = held.try_clone().unwrap();
    drop(held);
    let started = std::time::Instant::now();
    assert!(matches!(Store::open(&dir), Err(CoreError::Locked { .. })));
    assert!(started.elapsed() >= HOLDER_WAIT);
    drop(copy);
    assert_eq!(Store::open(&dir).unwrap().head().count, 1);
}

#[test]
fn a_store_held_open_is_locked_and_its_files_are_left_alone() {
    let (tmp, store) = filled_store(&[(0, 1), (1, 1)], None);
    let dir = tmp.path().join("ledger");
    // A snapshot being written by the process holding the store.
    let generating = sled_path(&dir).join("snap.00000000000FFFFF.generating");
    std::fs::write(&generating, b"being written").unwrap();
    match Store::open(&dir) {
        Err(CoreError::Locked { holder, .. }) => assert!(
            holder.starts_with(&format!("process {} (", std::process::id())),
            "{holder}"
        ),
        other => panic!("a second open is refused as locked: {other:?}"),
    }
    assert!(
        generating.exists(),
        "another process's snapshot is untouched"
    );
    drop(store);
    let reopened = Store::open(&dir).unwrap();
    assert!(!generating.exists());
    assert_eq!(reopened.head().count, 2);
}

#[test]
fn an_init_killed_part_way_is_finished_by_the_next_open_or_init() {
    let tmp = tempfile::tempdir().unwrap();
    // Killed between sled's two writes of its `conf` file, before its log file existed: no
    // ledger yet, and the torn `conf` does not stop the next `init`.
    let dir = tmp.path().join("torn-conf");
    std::fs::create_dir_all(sled_path(&dir)).unwrap();
    std::fs::write(
        sled_path(&dir).join("conf"),
        b"segment_size: 524288\nuse_compr",
    )
    .unwrap();
    assert!(!Store::exists(&dir));
    let store = Store::open_or_init(&dir).unwrap();
    assert_eq!(store.origin(), DEFAULT_ORIGIN);
    drop(store);
    assert_eq!(Store::open(&dir).unwrap().origin(), DEFAULT_ORIGIN);

    // Killed after sled made its folder but before the store's entries were flushed: the key
    // `init` wrote first names the origin, and the next open writes what was lost.
    let dir = tmp.path().join("no-meta");
    std::fs::create_dir_all(&dir).unwrap();
    let key = LedgerKey::from_seed("party.example/kroniek", [7; 32]);
    files::create_private(&key_path(&dir), key.to_file_text().as_bytes()).unwrap();
    drop(sled_config(&sled_path(&dir)).open().unwrap());
    assert!(Store::exists(&dir));
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.origin(), "party.example/kroniek");
    assert_eq!(
        store.t.meta.get("tree").unwrap().as_deref(),
        Some(TREE_LAYOUT)
    );
    assert_eq!(store.head(), Head::EMPTY);
    drop(store);
    assert_eq!(Store::open(&dir).unwrap().origin(), "party.example/kroniek");
    // Only the store's own files: no temporary key file left behind.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["holder", "signing.key", "sled"]);
    // A key is never replaced.
    assert!(files::create_private(&key_path(&dir), b"another").is_err());
    assert_eq!(
        std::fs::read_to_string(key_path(&dir)).unwrap(),
        key.to_file_text()
    );
}
