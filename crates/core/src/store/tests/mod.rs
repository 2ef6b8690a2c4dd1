//! Tests of the store. Here: the helpers the others share, and the property tests (tampering
//! found at the right position, restore round trips, optimistic concurrency against a
//! reference model). By subject: `writes` (idempotency, staging, group commit), `crash` (what
//! a kill leaves and the next open), `integrity` (erasure, verify and restore), `proofs`
//! (the Merkle tree, checkpoints), `replay`, and `rules` (the governance rules as the store
//! applies them).

use super::*;
use crate::catalogue::AccessRole;
use crate::envelope::ExpectedVersion;
use crate::note::{Checkpoint, VerifierKey};
use crate::record::ExportLine;
use open::{hold_store, sled_config, HOLDER_WAIT};
use proptest::prelude::*;
use serde_json::json;

mod crash;
mod integrity;
mod proofs;
mod replay;
mod rules;
mod writes;

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

/// A new store at `path` (the tests' origin), its rules off.
fn init_at(path: &std::path::Path) -> Store {
    Store::init(path, "test.example/kroniek")
        .unwrap()
        .without_rules()
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = init_at(&dir.path().join("ledger"));
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

/// `store`'s chain walked whole: what verify finds, which must be an intact chain.
fn verified(store: &Store) -> Verified {
    store
        .verify(&mut |_| {})
        .expect("no read fails")
        .expect("the chain verifies")
}

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

    /// A large batch is checked a chunk at a time, its reads made ahead and the chunk before
    /// written on another thread: however small the chunks, every answer (appended, recorded
    /// before, or refused at which events by which rule) and the stored ledger are what one
    /// chunk gives. Ids are drawn from a small pool (repeats in a batch, across chunks and
    /// across batches), or follow from the content (retries of the same event).
    #[test]
    fn the_chunk_size_never_changes_an_answer(
        chunk in 1usize..5,
        batches in prop::collection::vec(
            prop::collection::vec((0u8..4, 0u8..20, 0u8..7, 0u8..3, 0u32..12), 1..14), 1..6)
    ) {
        let (_dir_small, mut small) = temp_store();
        small.chunk = chunk;
        let (_dir_one, one) = temp_store();
        let answer = |outcome: Result<AppendOutcome, CoreError>| match outcome {
            Ok(AppendOutcome::Appended { first, count, .. }) => format!("appended {first} +{count}"),
            Ok(AppendOutcome::AlreadyRecorded { positions, .. }) => format!("recorded before at {positions:?}"),
            Err(CoreError::Refused(r)) => format!(
                "refused {:?}",
                r.iter().map(|r| (r.index, r.refusal.rule)).collect::<Vec<_>>()
            ),
            Err(e) => format!("failed: {e}"),
        };
        for batch in batches {
            let events: Vec<ProposedEvent> = batch.iter().map(|(k, n, e, id_kind, pooled)| {
                let expected = match e {
                    0 => ExpectedVersion::Any,
                    1 => ExpectedVersion::NoStream,
                    2 => ExpectedVersion::Exists,
                    x => ExpectedVersion::Exact(u64::from(*x) - 3),
                };
                let id = match id_kind {
                    0 => None,
                    1 => Some(*pooled),
                    _ => Some(1_000 + u32::from(*k) * 100 + u32::from(*n)),
                };
                event(*k, *n, expected, id)
            }).collect();
            let in_chunks = answer(small.append(&events, "admin:local"));
            let whole = answer(one.append(&events, "admin:local"));
            prop_assert_eq!(in_chunks, whole);
        }
        // Ids the input leaves out are new random ones: the rest of each record is compared.
        let ledger = |store: &Store| -> Vec<(String, u64, EventType, Vec<u8>)> {
            store.iter_from(0).map(|r| {
                let r = r.unwrap();
                let data = canonical::to_canonical(&r.data);
                (r.stream, r.version, r.event_type, data)
            }).collect()
        };
        prop_assert_eq!(ledger(&small), ledger(&one));
        prop_assert_eq!(verified(&small).count, one.head().count);
    }
}
