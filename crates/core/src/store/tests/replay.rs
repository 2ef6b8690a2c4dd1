//! The replay on threads: every record with its personal data in order, an error stops
//! it, and a verified replay finds what verify finds.

use super::*;

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

#[test]
fn the_replay_reads_personal_data_beside_the_records_and_refuses_a_truncated_entry() {
    let (_dir, store) = store_replayed_on_threads();
    let with_personal: Vec<u64> = store
        .iter_from(0)
        .map(|r| r.unwrap())
        .filter(|r| r.personal_commitment.is_some())
        .map(|r| r.position)
        .filter(|&p| store.personal_at(p).unwrap().is_some())
        .collect();
    let without: Vec<u64> = store
        .iter_from(0)
        .map(|r| r.unwrap())
        .filter(|r| r.personal_commitment.is_none())
        .map(|r| r.position)
        .collect();
    // Far enough in for the replay's threads (past its first two segments).
    let truncated = *with_personal.iter().find(|&&p| p > 2_100).unwrap();
    let stray = *without
        .iter()
        .find(|&&p| p > 2_100 && p < truncated)
        .unwrap();

    // An entry under a record without a personal commitment (verify's business) is passed
    // over: the records after it still get their own.
    store
        .t
        .personal
        .insert(pos_key(stray), vec![7u8; 40])
        .unwrap();
    let mut seen = Vec::new();
    store
        .replay(0, |r, p| -> Result<(), CoreError> {
            seen.push((r.position, p.cloned()));
            Ok(())
        })
        .unwrap();
    for (position, personal) in &seen {
        let expected = match with_personal.contains(position) {
            true => store.personal_at(*position).unwrap(),
            false => None,
        };
        assert_eq!(personal, &expected, "record {position}");
    }

    // A truncated entry stops the replay there, as reading it alone does.
    store
        .t
        .personal
        .insert(pos_key(truncated), vec![1u8; 20])
        .unwrap();
    assert!(matches!(
        store.personal_at(truncated),
        Err(CoreError::Corrupt(p, _)) if p == truncated
    ));
    for workers in 1..=3 {
        let mut calls = 0u64;
        let result = store.replay_on(0, None, workers, |_, _| -> Result<(), CoreError> {
            calls += 1;
            Ok(())
        });
        assert!(
            matches!(&result, Err(CoreError::Corrupt(p, why)) if *p == truncated && why.contains("truncated")),
            "{workers} reading threads: {result:?}"
        );
        assert!(calls <= truncated, "nothing past it is folded");
    }
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
