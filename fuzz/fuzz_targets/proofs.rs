//! The proof and checkpoint verifiers: signed notes, checkpoints, cosignatures, witness
//! requests, tlog-proof bundles, verifier keys, and inclusion and consistency proofs. Never a
//! panic, whatever the bytes.
#![no_main]

use kroniek_core::merkle::{verify_consistency, verify_inclusion};
use kroniek_core::note::{Checkpoint, Note, VerifierKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The format vectors' log key and witness key.
fn keys() -> &'static (VerifierKey, VerifierKey) {
    static KEYS: OnceLock<(VerifierKey, VerifierKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            VerifierKey::parse(include_str!("../../events/vectors/log.vkey").trim())
                .expect("the vector log key"),
            VerifierKey::parse(include_str!("../../events/vectors/witness.vkey").trim())
                .expect("the vector witness key"),
        )
    })
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let (log, witness) = keys();
    // The bytes as hashes: an inclusion and a consistency proof.
    let hashes: Vec<[u8; 32]> = data
        .chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).expect("32 bytes"))
        .collect();
    if hashes.len() >= 2 {
        let (a, b, proof) = (&hashes[0], &hashes[1], &hashes[2..]);
        let (x, y) = (u64_at(data, 0), u64_at(data, 8));
        let _ = verify_inclusion(a, x, y, proof, b);
        let _ = verify_inclusion(a, x % 64, y % 128, proof, b);
        let _ = verify_consistency(x, y, a, b, proof);
        let _ = verify_consistency(x % 64, y % 128, a, b, proof);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = VerifierKey::parse(text);
    let _ = kroniek_core::witness::Request::parse(text);
    let _ = kroniek_core::bundle::verify(text, log, std::slice::from_ref(witness), 0);
    let _ = kroniek_core::bundle::verify(text, log, std::slice::from_ref(witness), 1);
    if let Ok(note) = Note::parse(text) {
        let _ = Checkpoint::parse_body(&note.text);
        let _ = log.verify_signature(&note);
        let _ = witness.verify_cosignature(&note);
        // A note that parses writes out as text that parses to the same note.
        let again = Note::parse(&note.to_text()).expect("a note's own text parses");
        assert_eq!(again.text, note.text);
    }
});
