//! Tests of the store: tampering found at the right position, restore round trips,
//! optimistic concurrency against a reference model, idempotency, staging, group commit.

use super::*;
use crate::catalogue::AccessRole;
use crate::envelope::ExpectedVersion;
use crate::note::{Checkpoint, VerifierKey};
use crate::record::ExportLine;
use open::sled_config;
use proptest::prelude::*;
use serde_json::json;

fn event(kind: u8, n: u8, expected: ExpectedVersion, id: Option<u32>) -> ProposedEvent {
    let m = format!("{}", 1000 + u32::from(n % 5));
    let mut v = match kind % 4 {
        0 => {
            json!({"stream": format!("member/{m}"), "type": "MemberJoined", "effective": "2020-01-01",
                   "data": {"member_id": m, "branch_id": null},
                   "personal": {"name": format!("Lid {n}"), "residence": "Delft \u{e9}\"\\"}})
        }
        1 => {
            json!({"stream": format!("member/{m}"), "type": "ContributionPaid", "effective": "2020-02-01",
                   "data": {"member_id": m, "year": 2020, "amount_cents": i64::from(n) * 100}})
        }
        2 => json!({"stream": "case/c1", "type": "CaseOpened", "effective": "2021-05-05",
                   "data": {"case_id": "c1", "kind": "dispute", "body_id": "geschillencommissie",
                            "complainants": [m], "respondents": [], "subject": "besluit 12"},
                   "personal": {"summary": format!("klacht {n}")}}),
        _ => {
            json!({"stream": "code/gedragscode", "type": "CodeVersionAdopted", "effective": "2018-01-01",
                   "data": {"code_id": "gedragscode", "version": u32::from(n) + 1, "title": "Gedragscode",
                            "text_blake3": "0".repeat(64)}})
        }
    };
    let expected = match expected {
        ExpectedVersion::Any => json!("any"),
        ExpectedVersion::NoStream => json!("no_stream"),
        ExpectedVersion::Exists => json!("exists"),
        ExpectedVersion::Exact(n) => json!(n),
    };
    v["expected_version"] = expected;
    if let Some(id) = id {
        v["id"] = json!(format!("00000000-0000-4000-8000-{id:012x}"));
    }
    ProposedEvent::parse(v).unwrap()
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(&dir.path().join("ledger"), "test.example/kroniek")
        .unwrap()
        .without_rules();
    (dir, store)
}

fn filled_store(kinds: &[(u8, u8)], erase: Option<u8>) -> (tempfile::TempDir, Store) {
    let (dir, store) = temp_store();
    for chunk in kinds.chunks(4) {
        let events: Vec<_> = chunk
            .iter()
            .map(|(k, n)| event(*k, *n, ExpectedVersion::Any, None))
            .collect();
        store.append(&events, "admin:local").unwrap();
    }
    if let Some(n) = erase {
        let m = format!("{}", 1000 + u32::from(n % 5));
        let e = ProposedEvent::parse(
            json!({"stream": format!("member/{m}"), "type": "PersonalDataErased",
            "effective": "2024-01-01", "data": {"subject": m, "reason": "AVG-verzoek"}}),
        )
        .unwrap();
        store.append(&[e], "admin:local").unwrap();
    }
    (dir, store)
}

fn export_lines(store: &Store, with_personal: bool) -> Vec<Vec<u8>> {
    store
        .iter_from(0)
        .map(|r| store.export_line(&r.unwrap(), with_personal).unwrap())
        .collect()
}

/// The lines `role` reads of `store` (as `GET /v1/events` gives them).
fn role_lines(store: &Store, role: AccessRole) -> Vec<Vec<u8>> {
    store
        .iter_from(0)
        .map(|r| {
            let r = r.unwrap();
            match crate::access::shown(role, &r) {
                crate::access::Shown::Withheld => r.withheld_line(),
                crate::access::Shown::Record { personal } => {
                    store.export_line(&r, personal).unwrap()
                }
            }
        })
        .collect()
}

/// The roles that do not read everything.
const VIEW_ROLES: [AccessRole; 5] = [
    AccessRole::Secretary,
    AccessRole::Board,
    AccessRole::Auditor,
    AccessRole::Disputes,
    AccessRole::Member,
];

fn verify_lines(lines: &[Vec<u8>]) -> Result<Verified, Broken> {
    let mut chain = ChainVerifier::new();
    for line in lines {
        chain.check_export_line(line)?;
    }
    chain.complete()
}

#[derive(Debug, Clone)]
enum Tamper {
    Byte {
        line: usize,
        offset: usize,
        value: u8,
    },
    Delete {
        line: usize,
    },
    Duplicate {
        line: usize,
    },
    Swap {
        a: usize,
        b: usize,
    },
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(line, offset, value)| {
            Tamper::Byte {
                line,
                offset,
                value,
            }
        }),
        any::<usize>().prop_map(|line| Tamper::Delete { line }),
        any::<usize>().prop_map(|line| Tamper::Duplicate { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
    ]
}

fn kinds() -> impl Strategy<Value = Vec<(u8, u8)>> {
    prop::collection::vec((0u8..4, 0u8..20), 3..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any single-byte change, deleted (not last), duplicated or swapped record of an export
    /// is found, at the position of the line that was changed.
    #[test]
    fn export_tampering_is_found_where_it_is(kinds in kinds(), erase in prop::option::of(0u8..5), t in tamper()) {
        let (_dir, store) = filled_store(&kinds, erase);
        let mut lines = export_lines(&store, true);
        prop_assert!(verify_lines(&lines).is_ok());
        let n = lines.len();
        let expected = match t {
            Tamper::Byte { line, offset, value } => {
                let line = line % n;
                let offset = offset % lines[line].len();
                let value = if lines[line][offset] == value { value.wrapping_add(1) } else { value };
                lines[line][offset] = value;
                // A newline splits the line in two: the verifier reads what a file would hold.
                let joined = lines.join(&b'\n');
                lines = joined.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                line as u64
            }
            Tamper::Delete { line } => {
                let line = line % (n - 1);
                lines.remove(line);
                line as u64
            }
            Tamper::Duplicate { line } => {
                let line = line % n;
                let copy = lines[line].clone();
                lines.insert(line + 1, copy);
                line as u64 + 1
            }
            Tamper::Swap { a, b } => {
                let (a, b) = (a % n, b % n);
                let (a, b) = if a == b { (a, (a + 1) % n) } else { (a.min(b), a.max(b)) };
                let (a, b) = (a.min(b), a.max(b));
                lines.swap(a, b);
                a as u64
            }
        };
        let broken = verify_lines(&lines).expect_err("tampering must be found");
        prop_assert_eq!(broken.position, expected, "{}", broken);
    }

    /// Tampering with the stored values is found by the store's verify, at the right position;
    /// cutting the last record is found too (the store keeps its head).
    #[test]
    fn stored_tampering_is_found_where_it_is(kinds in kinds(), t in tamper(), personal in any::<bool>()) {
        let (_dir, store) = filled_store(&kinds, None);
        let n = store.head().count as usize;
        let records = &store.t.records;
        let expected = match (t, personal) {
            (Tamper::Byte { line, offset, value }, true) if store.t.personal.iter().next().is_some() => {
                let entries: Vec<_> = store.t.personal.iter().map(Result::unwrap).collect();
                let (key, mut v) = (entries[line % entries.len()].0.clone(), entries[line % entries.len()].1.to_vec());
                let offset = offset % v.len();
                v[offset] = if v[offset] == value { value.wrapping_add(1) } else { value };
                store.t.personal.insert(key.clone(), v).unwrap();
                be_u64(&key).unwrap()
            }
            (Tamper::Byte { line, offset, value }, _) => {
                let line = line % n;
                let mut v = records.get(pos_key(line as u64)).unwrap().unwrap().to_vec();
                let offset = offset % v.len();
                v[offset] = if v[offset] == value { value.wrapping_add(1) } else { value };
                records.insert(pos_key(line as u64), v).unwrap();
                line as u64
            }
            (Tamper::Delete { line }, _) => {
                let line = line % n;
                records.remove(pos_key(line as u64)).unwrap();
                line as u64
            }
            (Tamper::Duplicate { line }, _) => {
                let line = line % (n - 1);
                let v = records.get(pos_key(line as u64)).unwrap().unwrap();
                records.insert(pos_key(line as u64 + 1), v).unwrap();
                line as u64 + 1
            }
            (Tamper::Swap { a, b }, _) => {
                let (a, b) = (a % n, b % n);
                let (a, b) = if a == b { (a, (a + 1) % n) } else { (a, b) };
                let (a, b) = (a.min(b) as u64, a.max(b) as u64);
                let va = records.get(pos_key(a)).unwrap().unwrap();
                let vb = records.get(pos_key(b)).unwrap().unwrap();
                records.insert(pos_key(a), vb).unwrap();
                records.insert(pos_key(b), va).unwrap();
                a
            }
        };
        let broken = store.verify(&mut |_| {}).expect("no read fails").expect_err("tampering must be found");
        prop_assert_eq!(broken.position, expected, "{}", broken);
    }

    /// restore(export(x)) exports byte-identically, erased personal data included.
    #[test]
    fn restore_of_an_export_exports_the_same_bytes(kinds in kinds(), erase in prop::option::of(0u8..5)) {
        let (dir, store) = filled_store(&kinds, erase);
        let lines = export_lines(&store, true);
        let mut file = lines.join(&b'\n');
        file.push(b'\n');
        let restored = Store::init(&dir.path().join("restored"), "test.example/kroniek").unwrap().without_rules();
        let v = restored.restore(std::io::Cursor::new(file), &mut |_| {}).unwrap();
        prop_assert_eq!(v.count, store.head().count);
        prop_assert_eq!(restored.head(), store.head());
        prop_assert_eq!(export_lines(&restored, true), lines);
        let n = store.head().count;
        prop_assert_eq!(restored.tree_root(n).unwrap(), store.tree_root(n).unwrap());
        let verified = restored.verify(&mut |_| ()).is_ok();
        prop_assert!(verified);
    }

    /// A follower's copy, replicated in pages of any size while the source appends and erases,
    /// exports the same bytes as the source (the erasure done here too), with the same root.
    #[test]
    fn a_replicated_copy_is_the_same_ledger_erasures_included(
        kinds in kinds(), erase in 0u8..5, page in 1usize..7, split in 0usize..24
    ) {
        let (dir, source) = filled_store(&kinds, None);
        let copy = Store::init(&dir.path().join("copy"), "test.example/kroniek").unwrap();
        let mut chain = copy.chain_verifier().unwrap();
        let before = export_lines(&source, true);
        let split = split.min(before.len());
        for lines in before[..split].chunks(page) {
            copy.replicate(lines, &mut chain).unwrap();
        }
        // The source erases a member whose records the copy already holds.
        let m = format!("{}", 1000 + u32::from(erase));
        let e = ProposedEvent::parse(json!({"stream": format!("member/{m}"), "type": "PersonalDataErased",
            "effective": "2024-01-01", "data": {"subject": m, "reason": "AVG-verzoek"}})).unwrap();
        source.append(&[e], "admin:local").unwrap();
        let after = export_lines(&source, true);
        for lines in after[split..].chunks(page) {
            copy.replicate(lines, &mut chain).unwrap();
        }
        prop_assert_eq!(copy.head(), source.head());
        prop_assert_eq!(export_lines(&copy, true), after.clone());
        let n = source.head().count;
        prop_assert_eq!(copy.tree_root(n).unwrap(), source.tree_root(n).unwrap());
        prop_assert!(copy.verify(&mut |_| ()).is_ok());
        prop_assert!(chain.complete().is_ok());
        // Opened again, the copy holds the same (the head and the erasure were durable).
        let dir_copy = copy.dir().to_path_buf();
        drop(copy);
        let reopened = Store::open(&dir_copy).unwrap();
        prop_assert_eq!(export_lines(&reopened, true), after);
    }

    /// A copy of one role's view, replicated in pages of any size from what the role reads,
    /// holds exactly that: it exports (whole) the lines the role reads of the source, with the
    /// same root, verifies (counting the withheld records), and survives reopening. A copy of
    /// another role's view, or of every record, refuses those lines and writes nothing.
    #[test]
    fn a_copy_of_a_roles_view_holds_what_the_role_reads(
        kinds in kinds(), erase in prop::option::of(0u8..5), page in 1usize..7,
        role in 0usize..5, other in 0usize..5
    ) {
        let (dir, source) = filled_store(&kinds, erase);
        let (role, other) = (VIEW_ROLES[role], VIEW_ROLES[other]);
        let key = source.signing_key().unwrap().verifier_key();
        let copy = Store::init_follower(&dir.path().join("copy"), &key, Some(role)).unwrap();
        prop_assert_eq!(copy.view(), Some(role));
        let mut chain = copy.chain_verifier().unwrap();
        let lines = role_lines(&source, role);
        for batch in lines.chunks(page) {
            copy.replicate(batch, &mut chain).unwrap();
        }
        prop_assert_eq!(copy.head(), source.head());
        prop_assert_eq!(&export_lines(&copy, true), &lines);
        prop_assert_eq!(&role_lines(&copy, role), &lines);
        let n = source.head().count;
        prop_assert_eq!(copy.tree_root(n).unwrap(), source.tree_root(n).unwrap());
        let withheld = lines.iter().filter(|l| l.ends_with(b"\"withheld\":true}")).count() as u64;
        let verified = copy.verify(&mut |_| ()).unwrap().unwrap();
        prop_assert_eq!(verified.withheld, withheld);
        prop_assert!(chain.complete().is_ok());
        let dir_copy = copy.dir().to_path_buf();
        drop(copy);
        let reopened = Store::open(&dir_copy).unwrap();
        prop_assert_eq!(reopened.view(), Some(role));
        prop_assert_eq!(&export_lines(&reopened, true), &lines);
        prop_assert_eq!(reopened.chain_verifier().unwrap().finish(), chain.finish());
        // Another view, or every record whole, is not what these lines are.
        let mismatched: Vec<(Option<AccessRole>, Vec<Vec<u8>>)> = vec![
            (Some(other), role_lines(&source, other)),
            (None, export_lines(&source, true)),
        ];
        for (i, (view, theirs)) in mismatched.into_iter().enumerate() {
            let wrong = Store::init_follower(&dir.path().join(format!("wrong{i}")), &key, view).unwrap();
            let mut wrong_chain = wrong.chain_verifier().unwrap();
            if theirs != lines {
                prop_assert!(wrong.replicate(&lines, &mut wrong_chain).is_err(), "{:?} took the {} view", view, role.as_str());
                prop_assert_eq!(wrong.head().count, 0);
            } else {
                wrong.replicate(&lines, &mut wrong_chain).unwrap();
            }
        }
    }

    /// Lines that do not continue the copy's chain (another ledger's record at the next
    /// position: a fork; a line again; a changed byte) are refused, and nothing is written.
    #[test]
    fn replication_refuses_a_fork_and_writes_nothing(kinds in kinds(), other in kinds(), cut in 1usize..3) {
        let (dir, source) = filled_store(&kinds, None);
        let (_dir2, forked) = filled_store(&other, Some(1));
        let copy = Store::init(&dir.path().join("copy"), "test.example/kroniek").unwrap();
        let mut chain = copy.chain_verifier().unwrap();
        let lines = export_lines(&source, true);
        copy.replicate(&lines[..cut], &mut chain).unwrap();
        let head = copy.head();
        let theirs = export_lines(&forked, true);
        if theirs[cut] != lines[cut] {
            let refused = copy.replicate(&theirs[cut..], &mut chain);
            prop_assert!(refused.is_err(), "a fork was taken");
        }
        prop_assert!(copy.replicate(&lines[cut - 1..cut], &mut chain).is_err(), "a record again");
        let mut changed = lines[cut].clone();
        let at = changed.len() / 2;
        changed[at] ^= 0x01;
        prop_assert!(copy.replicate(&[changed], &mut chain).is_err(), "a changed record");
        prop_assert_eq!(copy.head(), head);
        prop_assert_eq!(export_lines(&copy, true), lines[..cut].to_vec());
        // The verifier did not move: the true next records still go in.
        copy.replicate(&lines[cut..], &mut chain).unwrap();
        prop_assert_eq!(copy.head(), source.head());
    }

    /// Batches with random expected versions: the store accepts exactly what a plain model
    /// accepts, and never loses or duplicates an event.
    #[test]
    fn expected_versions_match_a_reference_model(
        batches in prop::collection::vec(prop::collection::vec((0u8..4, 0u8..20, 0u8..7), 1..4), 1..12)
    ) {
        let (_dir, store) = temp_store();
        let mut model: Vec<(String, u64)> = Vec::new();
        let mut lens: HashMap<String, u64> = HashMap::new();
        for batch in batches {
            let events: Vec<ProposedEvent> = batch.iter().map(|(k, n, e)| {
                let expected = match e {
                    0 => ExpectedVersion::Any,
                    1 => ExpectedVersion::NoStream,
                    2 => ExpectedVersion::Exists,
                    x => ExpectedVersion::Exact(u64::from(*x) - 3),
                };
                event(*k, *n, expected, None)
            }).collect();
            let mut trial = lens.clone();
            let mut accepted = Vec::new();
            let mut ok = true;
            for e in &events {
                let len = trial.get(e.stream.as_str()).copied().unwrap_or(0);
                if !e.expected_version.matches(len) { ok = false; }
                trial.insert(e.stream.to_string(), len + 1);
                accepted.push((e.stream.to_string(), len));
            }
            match store.append(&events, "admin:local") {
                Ok(AppendOutcome::Appended { count, .. }) => {
                    prop_assert!(ok, "the store accepted a batch the model refuses");
                    prop_assert_eq!(count as usize, events.len());
                    lens = trial;
                    model.extend(accepted);
                }
                Err(CoreError::Refused(r)) => {
                    prop_assert!(!ok, "the store refused a batch the model accepts: {:?}", r);
                    prop_assert!(r.iter().all(|r| r.refusal.rule == Rule::VersionConflict));
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        let stored: Vec<(String, u64)> = store.iter_from(0).map(|r| { let r = r.unwrap(); (r.stream, r.version) }).collect();
        prop_assert_eq!(stored, model);
        let verified = store.verify(&mut |_| ()).is_ok();
        prop_assert!(verified);
    }
}

#[test]
fn idempotency_holds_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let batch = vec![
        event(0, 1, ExpectedVersion::Any, Some(1)),
        event(1, 1, ExpectedVersion::Any, Some(2)),
    ];
    {
        let store = Store::init(&path, "test.example/kroniek")
            .unwrap()
            .without_rules();
        let first = store.append(&batch, "admin:local").unwrap();
        assert!(matches!(
            first,
            AppendOutcome::Appended {
                first: 0,
                count: 2,
                ..
            }
        ));
        let again = store.append(&batch, "admin:local").unwrap();
        assert!(
            matches!(again, AppendOutcome::AlreadyRecorded { ref positions, .. } if positions == &vec![0, 1])
        );
    }
    let store = Store::open(&path).unwrap().without_rules();
    let again = store.append(&batch, "admin:local").unwrap();
    assert!(
        matches!(again, AppendOutcome::AlreadyRecorded { ref positions, .. } if positions == &vec![0, 1])
    );
    // The same id with other content.
    let changed = event(1, 2, ExpectedVersion::Any, Some(2));
    let Err(CoreError::Refused(r)) = store.append(&[changed], "admin:local") else {
        panic!("not refused")
    };
    assert_eq!(r[0].refusal.rule, Rule::IdReused);
    // Only some seen before.
    let mixed = vec![
        event(0, 1, ExpectedVersion::Any, Some(1)),
        event(1, 3, ExpectedVersion::Any, Some(3)),
    ];
    let Err(CoreError::Refused(r)) = store.append(&mixed, "admin:local") else {
        panic!("not refused")
    };
    assert_eq!(
        (r.len(), r[0].index, r[0].refusal.rule),
        (1, 0, Rule::IdReused)
    );
    // The same id twice in one batch.
    let twice = vec![
        event(1, 4, ExpectedVersion::Any, Some(9)),
        event(1, 4, ExpectedVersion::Any, Some(9)),
    ];
    let Err(CoreError::Refused(r)) = store.append(&twice, "admin:local") else {
        panic!("not refused")
    };
    assert_eq!((r[0].index, r[0].refusal.rule), (1, Rule::IdReused));
    assert_eq!(store.head().count, 2);
}

#[test]
fn a_large_batch_is_staged_and_committed_whole_or_not_at_all() {
    let (_dir, mut store) = temp_store();
    store.chunk = 7;
    store
        .append(&[event(3, 0, ExpectedVersion::Any, None)], "admin:local")
        .unwrap();
    let before = store.head();
    let mut events: Vec<_> = (0..40)
        .map(|n| event(1, n, ExpectedVersion::Any, None))
        .collect();
    // A conflict on the last event, after several chunks were staged.
    events.push(event(1, 0, ExpectedVersion::NoStream, None));
    let Err(CoreError::Refused(r)) = store.append(&events, "admin:local") else {
        panic!("not refused")
    };
    assert_eq!((r.len(), r[0].index), (1, 40));
    assert_eq!(store.head(), before);
    assert_eq!(store.t.records.len(), 1);
    assert_eq!(store.t.streams.len(), 1);
    assert_eq!(store.t.ids.len(), 1);
    events.pop();
    let AppendOutcome::Appended { first, count, head } =
        store.append(&events, "admin:local").unwrap()
    else {
        panic!()
    };
    assert_eq!((first, count, head.count), (1, 40, 41));
    assert_eq!(
        store
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap()
            .count,
        41
    );
}

#[test]
fn a_large_batch_sees_its_own_staged_chunks_ids_and_erasures_included() {
    let (_dir, mut store) = temp_store();
    store.chunk = 3;
    // An id repeated several chunks later (its first chunk already staged past the head) is
    // refused at the repeat, and nothing is written.
    let mut events: Vec<_> = (0..10u8)
        .map(|n| event(0, n, ExpectedVersion::Any, Some(100 + u32::from(n))))
        .collect();
    for first in [0usize, 5, 7] {
        let mut twice = events.clone();
        twice.push(event(1, 0, ExpectedVersion::Any, Some(100 + first as u32)));
        let Err(CoreError::Refused(r)) = store.append(&twice, "admin:local") else {
            panic!("a repeated id was not refused")
        };
        assert_eq!(
            (r.len(), r[0].index, r[0].refusal.rule),
            (1, 10, Rule::IdReused)
        );
        assert_eq!(store.head(), Head::EMPTY);
        assert_eq!(store.t.records.len(), 0);
        assert_eq!(store.t.ids.len(), 0);
    }
    // An erasure after staged chunks erases what those chunks hold of its subject.
    events.push(
        ProposedEvent::parse(
            json!({"stream": "member/1002", "type": "PersonalDataErased",
            "effective": "2024-01-01", "data": {"subject": "1002", "reason": "AVG-verzoek"}}),
        )
        .unwrap(),
    );
    events.extend((10..14u8).map(|n| event(1, n, ExpectedVersion::Any, None)));
    let AppendOutcome::Appended { count, .. } = store.append(&events, "admin:local").unwrap()
    else {
        panic!("not appended")
    };
    assert_eq!(count, 15);
    for position in 0..10u64 {
        // Members 1000 + n % 5: positions 2 and 7 are member 1002's.
        assert_eq!(
            store.personal_at(position).unwrap().is_none(),
            position % 5 == 2,
            "position {position}"
        );
    }
    let v = store.verify(&mut |_| {}).expect("no read fails").unwrap();
    assert_eq!((v.count, v.erased), (15, 2));
}

#[test]
fn leftovers_past_the_head_are_discarded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    {
        let mut store = Store::init(&path, "test.example/kroniek")
            .unwrap()
            .without_rules();
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
        store.flush().unwrap();
        assert_eq!(store.t.records.len(), 4);
    }
    let store = Store::open(&path).unwrap().without_rules();
    assert_eq!(store.head().count, 1);
    assert_eq!(store.t.records.len(), 1);
    assert_eq!(store.t.ids.len(), 1, "only the committed event's id");
    assert_eq!(
        store
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap()
            .count,
        1
    );
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
            let store = Store::init(&path, "test.example/kroniek")
                .unwrap()
                .without_rules();
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
                store.tree(id).insert(key, value).unwrap();
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
        assert_eq!(
            store
                .verify(&mut |_| {})
                .expect("no read fails")
                .unwrap()
                .count,
            count,
            "cut {cut}"
        );
        if !whole {
            assert_eq!(store.head(), before);
            // The cut batch left nothing behind: the same events append again, at the same
            // stream versions, and the tree proves the new head.
            store.append(&batch(), "admin:local").unwrap();
        }
        assert_eq!(store.head().count, committed + 3);
        let proof = store.inclusion_proof(committed, committed + 3).unwrap();
        assert!(!proof.is_empty());
        assert_eq!(
            store
                .verify(&mut |_| {})
                .expect("no read fails")
                .unwrap()
                .count,
            committed + 3
        );
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
        let store = Store::init(&path, "test.example/kroniek")
            .unwrap()
            .without_rules();
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
        let store = Store::init(&path, "test.example/kroniek")
            .unwrap()
            .without_rules();
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

#[test]
fn erasure_removes_personal_data_and_hashes_still_verify() {
    let (_dir, store) = filled_store(&[(0, 1), (1, 1), (0, 2), (2, 1)], None);
    let before = export_lines(&store, true);
    let e = ProposedEvent::parse(
        json!({"stream": "case/c1", "type": "PersonalDataErased", "effective": "2024-01-01",
        "data": {"subject": "case:c1", "reason": "termijn verstreken"}}),
    )
    .unwrap();
    store.append(&[e], "admin:local").unwrap();
    let e = ProposedEvent::parse(
        json!({"stream": "member/1001", "type": "PersonalDataErased", "effective": "2024-01-01",
        "data": {"subject": "1001", "reason": "AVG-verzoek"}}),
    )
    .unwrap();
    store.append(&[e], "admin:local").unwrap();
    assert!(store.personal_at(0).unwrap().is_none());
    assert!(
        store.personal_at(2).unwrap().is_some(),
        "member 1002 keeps their data"
    );
    assert!(store.personal_at(3).unwrap().is_none());
    let after = export_lines(&store, true);
    assert_ne!(before[0], after[0]);
    assert!(String::from_utf8_lossy(&after[0]).contains("\"personal\":null"));
    assert_eq!(before[2], after[2]);
    let v = store.verify(&mut |_| {}).expect("no read fails").unwrap();
    assert_eq!((v.count, v.erased), (6, 2));
    assert_eq!(verify_lines(&after).unwrap().erased, 2);
    // The store and a restore of its export both accept the erasures they record.
    let (_dir2, restored) = temp_store();
    let export: Vec<u8> = after
        .iter()
        .flat_map(|l| [l.as_slice(), b"\n"].concat())
        .collect();
    assert_eq!(
        restored.restore(&export[..], &mut |_| {}).unwrap().erased,
        2
    );
}

#[test]
fn personal_data_removed_without_an_erasure_is_tampering_in_verify_and_restore() {
    let (_dir, store) = filled_store(&[(0, 1), (1, 1), (0, 2)], None);
    let lines = export_lines(&store, true);
    // Deleted from the store behind its back: verify names the record.
    let key = store.t.personal.iter().next().unwrap().unwrap().0;
    store.t.personal.remove(&key).unwrap();
    let broken = store
        .verify(&mut |_| {})
        .expect("no read fails")
        .unwrap_err();
    assert!(broken.why.contains("tampered, not erased"), "{broken}");
    // An export whose first record's personal data is nulled: restore refuses it whole.
    let record = match ExportLine::parse(&lines[0]).unwrap() {
        ExportLine::Full { record, .. } => record,
        other => panic!("{other:?}"),
    };
    let mut faked = record.export_line(PersonalView::Erased);
    for line in &lines[1..] {
        faked.push(b'\n');
        faked.extend_from_slice(line);
    }
    let (_dir2, restored) = temp_store();
    match restored.restore(&faked[..], &mut |_| {}) {
        Err(CoreError::Restore(why)) => assert!(why.contains("tampered, not erased"), "{why}"),
        other => panic!("a faked erasure was restored: {other:?}"),
    }
    assert_eq!(restored.head().count, 0, "nothing was restored");
    let faked_lines: Vec<Vec<u8>> = faked.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let broken = verify_lines(&faked_lines).unwrap_err();
    assert!(broken.why.contains("tampered, not erased"), "{broken}");
}

#[test]
fn concurrent_writers_share_flushes() {
    let (_dir, store) = temp_store();
    let store = std::sync::Arc::new(store);
    let threads: Vec<_> = (0..16u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..10u8 {
                    let e = event(
                        1,
                        t.wrapping_mul(10).wrapping_add(n),
                        ExpectedVersion::Any,
                        None,
                    );
                    // Answered only once durable: what readers see covers it.
                    match store.append(&[e], "admin:local").unwrap() {
                        AppendOutcome::Appended { first, count, .. } => {
                            assert!(
                                store.head().count >= first + count,
                                "answered before durable"
                            )
                        }
                        other => panic!("not appended: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.head().count, 160);
    assert_eq!(
        store
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap()
            .count,
        160
    );
    eprintln!("160 appends, {} flushes", store.flush_count());
    assert!(
        store.flush_count() < 160,
        "appends that wait together share a flush"
    );
}

/// On sled a group's records are written after the writer lock is let go, beside the next
/// group's checks. Two threads send the same 240 events (with ids) in the same order while six
/// others append without ids: each id is recorded once, both threads are answered its one
/// position (a retry of a record still in flight included), every stream's versions run on
/// without a gap, and the ledger verifies and reopens whole.
#[test]
fn retries_racing_groups_in_flight_answer_the_first_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let store = std::sync::Arc::new(
        Store::init(&path, "test.example/kroniek")
            .unwrap()
            .without_rules(),
    );
    let with_id = |k: u32| event(1, (k % 200) as u8, ExpectedVersion::Any, Some(1000 + k));
    let position = |outcome: &AppendOutcome| match outcome {
        AppendOutcome::Appended { first, .. } => *first,
        AppendOutcome::AlreadyRecorded { positions, .. } => positions[0],
    };
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..240u32)
                    .map(|k| position(&store.append(&[with_id(k)], "admin:local").unwrap()))
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let others: Vec<_> = (0..6u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..40u8 {
                    let e = event(1, t * 40 + n, ExpectedVersion::Any, None);
                    store.append(&[e], "admin:local").unwrap();
                }
            })
        })
        .collect();
    let answers: Vec<Vec<u64>> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    for t in others {
        t.join().unwrap();
    }
    assert_eq!(
        answers[0], answers[1],
        "both senders get each id's one position"
    );
    assert_eq!(store.head().count, 240 + 240);
    let mut positions = answers[0].clone();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 240, "each id recorded once");
    for (k, p) in answers[0].iter().enumerate() {
        let record = store.record_at(*p).unwrap();
        assert_eq!(record.id, with_id(k as u32).id.unwrap(), "position {p}");
    }
    assert!(
        store.write_stats().ordered_nanos > 0,
        "heads written in turn"
    );
    let verified = |store: &Store| {
        store
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap()
            .count
    };
    assert_eq!(verified(&store), 480);
    let lens: Vec<u64> = (1000..1005)
        .map(|m| store.stream_len(&format!("member/{m}")).unwrap())
        .collect();
    assert_eq!(
        lens.iter().sum::<u64>(),
        480,
        "no version lost or taken twice"
    );
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(verified(&store), 480, "durable whole");
}

/// Appends queued behind a busy writer are applied as one group, each judged after the ones
/// before it and answered on its own: a refusal refuses only its own batch, a retry answers
/// the first position, an erasure in the middle commits with the group so far, and the group
/// is one chain that verifies and survives a reopen.
#[test]
fn appends_queued_together_are_one_group_each_with_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let store = Store::init(&path, "test.example/kroniek")
        .unwrap()
        .without_rules();
    // Member 1000 joins (personal data), stream member/1000 at version 0.
    store
        .append(&[event(0, 0, ExpectedVersion::Any, None)], "admin:local")
        .unwrap();
    let store = std::sync::Arc::new(store);
    let erase = ProposedEvent::parse(
        json!({"stream": "member/1000", "type": "PersonalDataErased",
        "effective": "2024-01-01", "data": {"subject": "1000", "reason": "AVG-verzoek"}}),
    )
    .unwrap();
    let batches: Vec<Vec<ProposedEvent>> = vec![
        // 0: the leader of a group of its own, held at the writer lock.
        vec![event(1, 1, ExpectedVersion::Any, None)],
        // 1: member/1001 (n = 1) is at version 0: this is version 1.
        vec![event(1, 6, ExpectedVersion::Exact(0), None)],
        // 2: expects the version batch 1 just took: refused, and only itself.
        vec![event(1, 11, ExpectedVersion::Exact(0), None)],
        // 3: a new id …
        vec![event(1, 2, ExpectedVersion::Any, Some(77))],
        // 4: … sent again in the same group: the first position.
        vec![event(1, 2, ExpectedVersion::Any, Some(77))],
        // 5: a batch with one good event and a version conflict: nothing of it is written.
        vec![
            event(1, 3, ExpectedVersion::Any, None),
            event(1, 4, ExpectedVersion::Exact(9), None),
        ],
        // 6: an erasure, committed with the group so far in one transaction.
        vec![erase],
        // 7: and one more after it.
        vec![event(1, 3, ExpectedVersion::Any, None)],
    ];
    let held = lock(&store.writer);
    let mut threads = Vec::new();
    for (n, batch) in batches.into_iter().enumerate() {
        let s = store.clone();
        threads.push(std::thread::spawn(move || s.append(&batch, "admin:local")));
        // Wait until this append is queued (the first: taken by its leader, which then waits
        // for the writer lock held here), so that the queue's order is the batches' order.
        loop {
            let queue = lock(&store.queue);
            // (For the first, `waiting` is empty before it is queued too: wait for its lead.)
            let queued = if n == 0 {
                queue.leading && queue.waiting.is_empty()
            } else {
                queue.waiting.len() == n
            };
            if queued {
                break;
            }
            drop(queue);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    drop(held);
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let appended = |a: &Result<AppendOutcome, CoreError>| match a {
        Ok(AppendOutcome::Appended { first, count, .. }) => Some((*first, *count)),
        _ => None,
    };
    assert_eq!(appended(&answers[0]), Some((1, 1)));
    assert_eq!(
        appended(&answers[1]),
        Some((2, 1)),
        "batch 1: {:?}",
        answers[1]
    );
    match &answers[2] {
        Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, Rule::VersionConflict),
        other => panic!("batch 2: {other:?}"),
    }
    assert_eq!(appended(&answers[3]), Some((3, 1)));
    match &answers[4] {
        Ok(AppendOutcome::AlreadyRecorded { positions, head }) => {
            assert_eq!(positions, &vec![3]);
            assert_eq!(head.count, 6);
        }
        other => panic!("batch 4: {other:?}"),
    }
    match &answers[5] {
        Err(CoreError::Refused(r)) => {
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].index, 1);
        }
        other => panic!("batch 5: {other:?}"),
    }
    assert_eq!(appended(&answers[6]), Some((4, 1)));
    assert_eq!(appended(&answers[7]), Some((5, 1)));
    assert_eq!(store.head().count, 6);
    let stats = store.write_stats();
    assert_eq!(stats.appends, 9, "{stats:?}");
    assert_eq!(stats.events, 6, "{stats:?}");
    assert_eq!(stats.group_sizes[4], 0, "no group of 16 or more: {stats:?}");
    assert_eq!(
        stats.group_sizes[2], 1,
        "one group of the 7 queued: {stats:?}"
    );
    assert_eq!(store.personal_at(0).unwrap(), None, "erased");
    assert_eq!(
        store
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap()
            .count,
        6
    );
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.head().count, 6, "the group is durable");
    assert_eq!(store.stream_len("member/1001").unwrap(), 2);
}

#[test]
fn restore_refuses_an_export_that_breaks_the_catalogue_even_with_good_hashes() {
    let bad = Record::seal(
        0,
        0,
        "member/1".into(),
        EventType::ContributionPaid,
        EventId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
        "2020-01-01".into(),
        now_recorded_at(),
        "admin:local".into(),
        json!({"member_id": "1", "year": 2020, "amount_cents": -5}),
        None,
        ZERO_HASH,
    );
    let mut line = bad.export_line(PersonalView::Omitted);
    line.push(b'\n');
    let (_dir, store) = temp_store();
    match store.restore(std::io::Cursor::new(line), &mut |_| {}) {
        Err(CoreError::Restore(why)) => assert!(why.contains("negative-amount"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(store.head(), Head::EMPTY);
    assert_eq!(store.t.records.len(), 0);
}

#[test]
fn the_merkle_tree_follows_every_append_and_proves_against_any_earlier_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let mut store = Store::init(&path, "test.example/kroniek")
        .unwrap()
        .without_rules();
    store.chunk = 5;
    // Small batches, a staged large one, and a refused one that must leave no node behind.
    for n in 0..7u8 {
        store
            .append(&[event(1, n, ExpectedVersion::Any, None)], "admin:local")
            .unwrap();
    }
    let big: Vec<_> = (0..23u8)
        .map(|n| event(2, n, ExpectedVersion::Any, None))
        .collect();
    store.append(&big, "admin:local").unwrap();
    let mut refused: Vec<_> = (0..12u8)
        .map(|n| event(1, n, ExpectedVersion::Any, None))
        .collect();
    refused.push(event(1, 0, ExpectedVersion::NoStream, None));
    assert!(store.append(&refused, "admin:local").is_err());
    let n = store.head().count;
    assert_eq!(n, 30);
    // The tree equals one built straight from the record hashes, at every size.
    let hashes: Vec<[u8; 32]> = store.iter_from(0).map(|r| r.unwrap().hash).collect();
    let mut f = crate::merkle::Frontier::default();
    let mut roots = vec![crate::merkle::empty_root()];
    for h in &hashes {
        f.push(h);
        roots.push(f.root());
    }
    for size in 0..=n {
        assert_eq!(
            store.tree_root(size).unwrap(),
            roots[size as usize],
            "size {size}"
        );
    }
    for size in 1..=n {
        for index in 0..size {
            let proof = store.inclusion_proof(index, size).unwrap();
            let leaf = crate::merkle::leaf_hash(&hashes[index as usize]);
            assert!(crate::merkle::verify_inclusion(
                &leaf,
                index,
                size,
                &proof,
                &roots[size as usize]
            ));
        }
        for old in 0..=size {
            let proof = store.consistency_proof(old, size).unwrap();
            assert!(crate::merkle::verify_consistency(
                old,
                size,
                &roots[old as usize],
                &roots[size as usize],
                &proof
            ));
        }
    }
    assert!(store.tree_root(n + 1).is_err());
    assert!(store.inclusion_proof(n, n).is_err());
    // A store written before the tree existed gets it built on open.
    store.t.merkle.clear().unwrap();
    store.t.meta.remove("tree").unwrap();
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.tree_root(n).unwrap(), roots[n as usize]);
    assert_eq!(store.tree_root(17).unwrap(), roots[17]);
}

#[test]
fn checkpoints_are_signed_only_when_consistent_with_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let store = Store::init(&path, "ledger.example-party.nl/kroniek")
        .unwrap()
        .without_rules();
    let vkey = VerifierKey::parse(&store.signing_key().unwrap().verifier_key()).unwrap();
    let first = store.sign_checkpoint().unwrap();
    assert_eq!(Checkpoint::parse_body(&first.text).unwrap().size, 0);
    store
        .append(
            &(0..5)
                .map(|n| event(1, n, ExpectedVersion::Any, None))
                .collect::<Vec<_>>(),
            "admin:local",
        )
        .unwrap();
    let second = store.sign_checkpoint().unwrap();
    let cp = Checkpoint::parse_body(&second.text).unwrap();
    assert_eq!(
        (cp.size, cp.root, cp.origin.as_str()),
        (
            5,
            store.tree_root(5).unwrap(),
            "ledger.example-party.nl/kroniek"
        )
    );
    assert!(vkey.verify_signature(&second).unwrap());
    assert_eq!(
        store.sign_checkpoint().unwrap(),
        second,
        "nothing new: the same checkpoint"
    );
    // Cosignatures are kept with it.
    let witness = crate::note::CosignerKey::from_seed("kas.example", [5; 32]);
    let mut cosigned = second.clone();
    cosigned.add([witness.cosign(&second.text, 1_700_000_000)]);
    let wkey = VerifierKey::parse(&witness.verifier_key()).unwrap();
    assert!(
        store.add_cosignatures(&cosigned.to_text(), &[]).is_err(),
        "an unknown witness"
    );
    let kept = store
        .add_cosignatures(&cosigned.to_text(), std::slice::from_ref(&wkey))
        .unwrap();
    assert_eq!(kept.signatures.len(), 2);
    assert!(
        store
            .add_cosignatures(&first.to_text(), std::slice::from_ref(&wkey))
            .is_err(),
        "not the latest checkpoint"
    );
    // Bare lines must be cosignatures of this very checkpoint.
    let stale = witness.cosign(&first.text, 1).to_line();
    assert!(store
        .add_cosignatures(&stale, std::slice::from_ref(&wkey))
        .is_err());
    // A ledger whose records no longer match what it signed refuses to sign.
    let export: Vec<Vec<u8>> = export_lines(&store, true);
    drop(store);
    std::fs::remove_dir_all(path.join("sled")).unwrap();
    let restored = Store::init(&path, "ignored.example/other")
        .unwrap()
        .without_rules();
    assert_eq!(
        restored.origin(),
        "ledger.example-party.nl/kroniek",
        "the kept key keeps its name"
    );
    let mut short = export[..3].join(&b'\n');
    short.push(b'\n');
    restored
        .restore(std::io::Cursor::new(short), &mut |_| {})
        .unwrap();
    let err = restored.sign_checkpoint().unwrap_err().to_string();
    assert!(err.contains("records are missing"), "{err}");
}

#[test]
fn checkpoints_signed_from_several_threads_at_once_never_fail() {
    let (_dir, store) = temp_store();
    let store = std::sync::Arc::new(store);
    let signers: Vec<_> = (0..4)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || (0..25).all(|_| s.sign_checkpoint().is_ok()))
        })
        .collect();
    for n in 0..25u8 {
        store
            .append(&[event(1, n, ExpectedVersion::Any, None)], "admin:local")
            .unwrap();
    }
    assert!(signers.into_iter().all(|t| t.join().unwrap()));
    let cp = Checkpoint::parse_body(&store.sign_checkpoint().unwrap().text).unwrap();
    assert_eq!(cp.size, 25);
}

/// A store of 2,600 records: more than the replay reads without its threads (and more than one
/// batch of its reading thread), personal data on some, one subject's erased.
fn store_replayed_on_threads() -> (tempfile::TempDir, Store) {
    let kinds: Vec<(u8, u8)> = (0..2_600u32)
        .map(|i| ((i % 5) as u8, (i % 7) as u8))
        .collect();
    filled_store(&kinds, Some(2))
}

#[test]
fn replay_gives_every_record_with_its_personal_data_in_order_and_stops_on_an_error() {
    let (_dir, store) = store_replayed_on_threads();
    let mut expected = Vec::new();
    for r in store.iter_from(3) {
        let r = r.unwrap();
        let personal = match r.personal_commitment {
            Some(_) => store.personal_at(r.position).unwrap(),
            None => None,
        };
        expected.push((r, personal));
    }
    let replayed = |from: u64| {
        let mut seen = Vec::new();
        store
            .replay(from, |r, p| -> Result<(), CoreError> {
                seen.push((r.clone(), p.cloned()));
                Ok(())
            })
            .unwrap();
        seen
    };
    let seen = replayed(3);
    assert_eq!(seen.len(), expected.len());
    assert!(
        seen == expected,
        "the same records and personal data, in order"
    );
    assert!(seen.iter().any(|(_, p)| p.is_some()));
    assert!(
        seen.iter()
            .any(|(r, p)| r.personal_commitment.is_some() && p.is_none()),
        "erased personal data is among them, replayed as none"
    );

    // An error from the folding side stops the replay and is what it returns.
    let mut calls = 0;
    let result = store.replay(0, |r, _| {
        calls += 1;
        if r.position == 1_500 {
            return Err(CoreError::Invalid("stop here".into()));
        }
        Ok(())
    });
    assert!(matches!(result, Err(CoreError::Invalid(why)) if why == "stop here"));
    assert_eq!(calls, 1_501);

    // A short replay (no thread) gives the same.
    assert!(replayed(2_590)[..] == expected[2_587..]);

    // Whatever the number of reading threads (fewer, as many as and more than the three
    // segments), the same records in order, and an error stops it.
    for workers in 1..=4 {
        let mut seen = Vec::new();
        let outcome = store
            .replay_on(3, None, workers, |r, p| -> Result<(), CoreError> {
                seen.push((r.clone(), p.cloned()));
                Ok(())
            })
            .unwrap();
        assert!(outcome.is_none(), "no walk was asked for");
        assert!(seen == expected, "{workers} reading threads");
        let mut calls = 0;
        let result = store.replay_on(0, None, workers, |r, _| {
            calls += 1;
            if r.position == 2_100 {
                return Err(CoreError::Invalid("stop here".into()));
            }
            Ok(())
        });
        assert!(matches!(result, Err(CoreError::Invalid(_))));
        assert_eq!(calls, 2_101, "{workers} reading threads");
    }
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
    assert_eq!(
        store
            .verify(&mut |_| {})
            .expect("no read fails")
            .unwrap()
            .count,
        head.count
    );
    assert_eq!(store.iter_from(0).count() as u64, head.count);
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

#[test]
fn a_verified_replay_finds_what_verify_finds() {
    let (_dir, store) = store_replayed_on_threads();
    let n = store.head().count;
    let verified_replay = |store: &Store| {
        let mut folded = 0u64;
        let outcome = store
            .replay_verified(|_, _| -> Result<(), CoreError> {
                folded += 1;
                Ok(())
            })
            .unwrap();
        (folded, outcome)
    };
    let (folded, outcome) = verified_replay(&store);
    assert_eq!(folded, n);
    let intact = outcome.unwrap();
    assert_eq!(
        Ok(intact),
        store.verify(&mut |_| {}).expect("no read fails")
    );
    assert!(intact.erased > 0);

    // A record whose stored hash was changed still reads: the fold goes on, the walk finds it.
    let at = pos_key(1_500);
    let mut value = store.t.records.get(at).unwrap().unwrap().to_vec();
    value[0] ^= 1;
    store.t.records.insert(at, value).unwrap();
    let (folded, outcome) = verified_replay(&store);
    assert_eq!(folded, n);
    let broken = outcome.unwrap_err();
    assert_eq!(broken.position, 1_500);
    assert!(broken.why.starts_with("hash mismatch"), "{broken}");
    assert_eq!(
        Err(broken),
        store.verify(&mut |_| {}).expect("no read fails")
    );

    // The first break is the one reported: a record missing earlier is found first.
    store.t.records.remove(pos_key(700)).unwrap();
    let (folded, outcome) = verified_replay(&store);
    assert_eq!(folded, n - 1);
    let broken = outcome.unwrap_err();
    assert_eq!(broken.position, 700);
    assert_eq!(
        Err(broken),
        store.verify(&mut |_| {}).expect("no read fails")
    );

    // Whatever the number of reading threads, the walk finds the same first break.
    for workers in 1..=4 {
        let mut folded = 0u64;
        let outcome = store
            .replay_on(0, Some(store.chain_walk().unwrap()), workers, |_, _| {
                folded += 1;
                Ok::<(), CoreError>(())
            })
            .unwrap();
        assert_eq!(folded, n - 1);
        let broken = outcome.expect("the walk ran").unwrap().unwrap_err();
        assert_eq!(broken.position, 700, "{workers} reading threads");
    }

    // Few records: replayed without a thread, verified by a walk of their own.
    let kinds: Vec<(u8, u8)> = (0..40).map(|i| (i % 5, i % 7)).collect();
    let (_dir, small) = filled_store(&kinds, None);
    let (folded, outcome) = verified_replay(&small);
    assert_eq!(folded, small.head().count);
    assert_eq!(outcome, small.verify(&mut |_| {}).expect("no read fails"));
}

/// The governance rules as the store applies them: a refused batch leaves the state alone,
/// the state is rebuilt from the log after a restart, and two writers racing for one seat
/// cannot both win. (The rules themselves are tested on plain data in `governance/tests.rs`.)
mod rules {
    use super::*;
    use crate::governance::tests::{appoint, events, join, paid, world};

    #[test]
    fn a_refused_batch_leaves_the_rules_state_alone_and_the_state_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
        store.append(&events(&world()), "admin:local").unwrap();
        let batch = events(&[
            join("8", "2020-02-01"),
            appoint("commissie", "8", "lid", "2020-02-02", None, None),
            paid("99", "2020-02-03"),
        ]);
        let before = store.head();
        assert!(matches!(
            store.append(&batch, "admin:local"),
            Err(CoreError::Refused(_))
        ));
        assert_eq!(store.head(), before, "nothing written");
        let e = events(&[appoint("commissie", "8", "lid", "2020-02-02", None, None)]);
        let Err(CoreError::Refused(r)) = store.append(&e, "admin:local") else {
            panic!()
        };
        assert_eq!(r[0].refusal.rule, Rule::UnknownReference);
        store.append(&batch[..2], "admin:local").unwrap();
        drop(store);
        let store = Store::open(&dir.path().join("l")).unwrap();
        let e = events(&[appoint("commissie", "2", "lid", "2020-03-01", None, None)]);
        let Err(CoreError::Refused(r)) = store.append(&e, "admin:local") else {
            panic!()
        };
        assert_eq!(r[0].refusal.rule, Rule::SeatCountExceeded);
    }

    /// Every refused case of the statutes' table, through a store: refused with its rule, and
    /// the store's export (every record with its personal data) and head byte-identical after.
    #[test]
    fn a_refused_statute_case_leaves_the_store_byte_identical() {
        let world = events(&crate::governance::statutes_tests::statutes_world());
        for case in crate::governance::statutes_tests::cases() {
            let Some(rule) = case.expect else { continue };
            let dir = tempfile::tempdir().unwrap();
            let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
            store.append(&world, "admin:local").unwrap();
            if !case.before.is_empty() {
                store.append(&events(&case.before), "admin:local").unwrap();
            }
            let (head, lines) = (store.head(), export_lines(&store, true));
            match store.append(&events(std::slice::from_ref(&case.event)), "admin:local") {
                Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, rule, "{}", case.what),
                other => panic!("{}: {other:?}", case.what),
            }
            assert_eq!(store.head(), head, "{}", case.what);
            assert_eq!(export_lines(&store, true), lines, "{}", case.what);
        }
    }

    /// The same for the cases per respondent and the elections (step 10).
    #[test]
    fn a_refused_appeal_closing_candidacy_or_result_leaves_the_store_byte_identical() {
        use crate::governance::{cases_tests, elections_tests};
        let tables = [
            (cases_tests::world(), cases_tests::cases()),
            (elections_tests::world(), elections_tests::cases()),
        ];
        for (world, cases) in tables {
            refused_cases_leave_the_store_alone(&events(&world), cases);
        }
    }

    fn refused_cases_leave_the_store_alone(
        world: &[ProposedEvent],
        cases: Vec<crate::governance::cases_tests::Case>,
    ) {
        for (what, before, event, expected) in cases {
            let Err(rule) = expected else { continue };
            let dir = tempfile::tempdir().unwrap();
            let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
            store.append(world, "admin:local").unwrap();
            if !before.is_empty() {
                store.append(&events(&before), "admin:local").unwrap();
            }
            let (head, lines) = (store.head(), export_lines(&store, true));
            match store.append(&events(std::slice::from_ref(&event)), "admin:local") {
                Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, rule, "{what}"),
                other => panic!("{what}: {other:?}"),
            }
            assert_eq!(store.head(), head, "{what}");
            assert_eq!(export_lines(&store, true), lines, "{what}");
        }
    }

    #[test]
    fn two_writers_racing_for_the_last_seat_cannot_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(
            Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap(),
        );
        store.append(&events(&world()), "admin:local").unwrap();
        let threads: Vec<_> = ["2", "3", "4", "6"]
            .into_iter()
            .map(|m| {
                let store = store.clone();
                std::thread::spawn(move || {
                    store
                        .append(
                            &events(&[appoint("commissie", m, "lid", "2020-02-01", None, None)]),
                            "admin:local",
                        )
                        .is_ok()
                })
            })
            .collect();
        let winners = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(winners, 1);
    }
}

/// A follower's copy signs nothing of its own: it keeps the leader's checkpoints, checked with
/// the leader's key, never a smaller one, and never one of another key.
#[test]
fn a_followers_copy_keeps_only_the_leaders_checkpoints() {
    let (dir, leader) = temp_store();
    let append = |kinds: &[(u8, u8)]| {
        let events: Vec<_> = kinds
            .iter()
            .map(|(k, n)| event(*k, *n, ExpectedVersion::Any, None))
            .collect();
        leader.append(&events, "admin:local").unwrap();
    };
    append(&[(0, 1), (1, 1)]);
    let at_two = leader.sign_checkpoint().unwrap();
    append(&[(2, 2), (3, 3)]);
    let at_four = leader.sign_checkpoint().unwrap();
    let key = leader.signing_key().unwrap().verifier_key();
    let copy = Store::init_follower(&dir.path().join("copy"), &key, None).unwrap();
    assert!(
        copy.sign_checkpoint().is_err(),
        "nothing accepted yet, nothing signed"
    );
    let mut chain = copy.chain_verifier().unwrap();
    let lines = export_lines(&leader, true);
    copy.replicate(&lines[..2], &mut chain).unwrap();
    assert!(
        copy.adopt_checkpoint(&at_four).is_err(),
        "a root the copy cannot check yet"
    );
    copy.adopt_checkpoint(&at_two).unwrap();
    assert_eq!(
        copy.sign_checkpoint().unwrap(),
        at_two,
        "the leader's, as it is"
    );
    copy.replicate(&lines[2..], &mut chain).unwrap();
    assert_eq!(
        copy.sign_checkpoint().unwrap(),
        at_two,
        "never one of its own"
    );
    copy.adopt_checkpoint(&at_four).unwrap();
    let rewound = copy.adopt_checkpoint(&at_two).unwrap_err().to_string();
    assert!(rewound.contains("rewound"), "{rewound}");
    // Another key's checkpoint of the same tree is refused.
    let (_other_dir, other) = temp_store();
    let mut other_chain = other.chain_verifier().unwrap();
    other.replicate(&lines, &mut other_chain).unwrap();
    let foreign = other.sign_checkpoint().unwrap();
    let refused = copy.adopt_checkpoint(&foreign).unwrap_err().to_string();
    assert!(refused.contains("not signed"), "{refused}");
    assert_eq!(copy.latest_checkpoint().unwrap().unwrap().0, at_four);
    // A store with records, or one that follows already, is not made a follower.
    assert!(copy.become_follower(&key, None).is_err());
    assert!(leader.become_follower(&key, None).is_err());
}

/// A view copy's walk checks that it holds what its view holds: a record its view withholds
/// put back whole is found, and a withheld record in a store that holds every record whole
/// (a record replaced by its withheld line) is found too.
#[test]
fn a_record_held_otherwise_than_the_view_is_found_by_verify() {
    let kinds = [(0, 1), (2, 2), (1, 1), (3, 3)];
    let (dir, source) = filled_store(&kinds, None);
    let key = source.signing_key().unwrap().verifier_key();
    let copy =
        Store::init_follower(&dir.path().join("copy"), &key, Some(AccessRole::Board)).unwrap();
    let mut chain = copy.chain_verifier().unwrap();
    let lines = role_lines(&source, AccessRole::Board);
    copy.replicate(&lines, &mut chain).unwrap();
    assert!(copy.verify(&mut |_| ()).unwrap().is_ok());
    // Position 1 is the case record: withheld from the board.
    assert!(lines[1].ends_with(b"\"withheld\":true}"));
    let whole = source.t.records.get(pos_key(1)).unwrap().unwrap();
    let stub = copy.t.records.get(pos_key(1)).unwrap().unwrap();
    copy.t.records.insert(pos_key(1), &whole).unwrap();
    let broken = copy.verify(&mut |_| ()).unwrap().unwrap_err();
    assert_eq!(broken.position, 1, "{broken}");
    assert!(broken.why.contains("withholds"), "{broken}");
    source.t.records.insert(pos_key(1), &stub).unwrap();
    let broken = source.verify(&mut |_| ()).unwrap().unwrap_err();
    assert_eq!(broken.position, 1, "{broken}");
    assert!(broken.why.contains("whole"), "{broken}");
    // The member's personal data put into the board's copy is found as well.
    copy.t.records.insert(pos_key(1), &stub).unwrap();
    let personal = source.t.personal.get(pos_key(0)).unwrap().unwrap();
    copy.t.personal.insert(pos_key(0), &personal).unwrap();
    let broken = copy.verify(&mut |_| ()).unwrap().unwrap_err();
    assert_eq!(broken.position, 0, "{broken}");
}
