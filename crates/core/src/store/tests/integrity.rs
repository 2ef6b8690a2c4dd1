//! What verify and restore find: erasure that keeps the hashes verifying, personal data
//! removed without an erasure, an export that breaks the catalogue, and a view copy's records
//! held otherwise than its view holds them.

use super::*;

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
    let v = verified(&store);
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
