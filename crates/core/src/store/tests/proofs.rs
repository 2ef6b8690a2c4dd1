//! The Merkle tree, proofs and checkpoints: every append followed, checkpoints signed only
//! when consistent, from several threads at once, and a follower's copy keeping only the
//! leader's.

use super::*;

#[test]
fn the_merkle_tree_follows_every_append_and_proves_against_any_earlier_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let mut store = init_at(&path);
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
