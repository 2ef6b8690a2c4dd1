//! The test vectors of `events/FORMAT.md`: three chained records built from fixed inputs.
//! This test keeps the document and the code in agreement.

use crate::catalogue::EventType;
use crate::record::{Personal, PersonalView, Record, ZERO_HASH};
use crate::types::EventId;
use serde_json::json;

/// The three vector records and the personal data of the second.
pub(crate) fn vectors() -> (Vec<Record>, Personal) {
    let salt: [u8; 32] = std::array::from_fn(|i| i as u8);
    let personal = Personal::new(salt, json!({"name": "Anna de Vries", "residence": "Delft"}));
    let r0 = Record::seal(
        0,
        0,
        "code/gedragscode".into(),
        EventType::CodeVersionAdopted,
        EventId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
        "2018-01-06".into(),
        "2026-11-24T21:49:07.123456Z".into(),
        "admin:local".into(),
        json!({"code_id": "gedragscode", "version": 1, "title": "Gedragscode 2018",
               "text_blake3": "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"}),
        None,
        ZERO_HASH,
    );
    let r1 = Record::seal(
        1,
        0,
        "member/10234".into(),
        EventType::MemberJoined,
        EventId::parse("00000000-0000-4000-8000-000000000002").unwrap(),
        "2019-03-01".into(),
        "2026-11-24T21:49:07.123457Z".into(),
        "secretary:partijbureau".into(),
        json!({"member_id": "10234", "branch_id": null}),
        Some(personal.commitment()),
        r0.hash,
    );
    let r2 = Record::seal(
        2,
        1,
        "member/10234".into(),
        EventType::ContributionPaid,
        EventId::parse("00000000-0000-4000-8000-000000000003").unwrap(),
        "2019-03-02".into(),
        "2026-11-24T21:49:07.123458Z".into(),
        "secretary:partijbureau".into(),
        json!({"member_id": "10234", "year": 2019, "amount_cents": 2400}),
        None,
        r1.hash,
    );
    (vec![r0, r1, r2], personal)
}

#[test]
fn format_md_vectors() {
    let (records, personal) = vectors();
    let lines: Vec<String> = records
        .iter()
        .map(|r| {
            let view = if r.personal_commitment.is_some() {
                PersonalView::Shown(&personal)
            } else {
                PersonalView::Omitted
            };
            String::from_utf8(r.export_line(view)).unwrap()
        })
        .collect();
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/FORMAT.md"
    ))
    .unwrap_or_default();
    for (r, line) in records.iter().zip(&lines) {
        let hashed = String::from_utf8(r.hashed_bytes()).unwrap();
        println!("{hashed}\n{}\n{line}", crate::types::hex(&r.hash));
    }
    println!("commitment {}", crate::types::hex(&personal.commitment()));
    for (r, line) in records.iter().zip(&lines) {
        let hashed = String::from_utf8(r.hashed_bytes()).unwrap();
        assert!(
            doc.contains(line.as_str()),
            "events/FORMAT.md lacks the vector line:\n{line}"
        );
        assert!(
            doc.contains(&hashed),
            "events/FORMAT.md lacks the hashed bytes of record {}",
            r.position
        );
        assert!(
            doc.contains(&crate::types::hex(&r.hash)),
            "events/FORMAT.md lacks the hash of record {}",
            r.position
        );
    }
    assert!(
        doc.contains(&crate::types::hex(&personal.commitment())),
        "events/FORMAT.md lacks the commitment"
    );
}

/// The proof vectors of FORMAT.md: the three records as an export, the tree over them, a
/// checkpoint signed by a fixed log key and cosigned by a fixed witness key, an inclusion and
/// a consistency proof. Kept as files in `events/vectors/` (set KRONIEK_WRITE_VECTORS=1 to
/// write them after a deliberate change).
#[test]
fn proof_vectors_match_events_vectors() {
    use crate::keys::LedgerKey;
    use crate::merkle::{
        consistency_proof, inclusion_proof, leaf_hash, root, Frontier, NodeSource, TreeHash,
    };
    use crate::note::{sign, Checkpoint, CosignerKey, Note};
    use std::collections::HashMap;

    struct Nodes(HashMap<(u8, u64), TreeHash>);
    impl NodeSource for Nodes {
        type Error = ();
        fn node(&self, l: u8, i: u64) -> Result<TreeHash, ()> {
            self.0.get(&(l, i)).copied().ok_or(())
        }
    }
    let (records, personal) = vectors();
    let export: String = records
        .iter()
        .map(|r| {
            let view = if r.personal_commitment.is_some() {
                PersonalView::Shown(&personal)
            } else {
                PersonalView::Omitted
            };
            String::from_utf8(r.export_line(view)).unwrap() + "\n"
        })
        .collect();
    let mut f = Frontier::default();
    let mut nodes = HashMap::new();
    for r in &records {
        nodes.extend(f.push(&r.hash));
    }
    let tree = Nodes(nodes);
    let hex = crate::types::hex;
    let log = LedgerKey::from_seed("ledger.example-party.nl/kroniek", [0x11; 32]);
    let witness = CosignerKey::from_seed("kascommissie.example-party.nl", [0x22; 32]);
    let cp = Checkpoint {
        origin: log.name.clone(),
        size: 3,
        root: root(&tree, 3).unwrap(),
    };
    let text = cp.body();
    let mut note = Note {
        signatures: vec![sign(&log, &text)],
        text: text.clone(),
    };
    note.add([witness.cosign(&text, 1_764_201_600)]);
    let inclusion = serde_json::json!({
        "tree_size": 3, "index": 1, "record_hash": hex(&records[1].hash), "leaf_hash": hex(&leaf_hash(&records[1].hash)),
        "root": hex(&cp.root), "proof": inclusion_proof(&tree, 1, 3).unwrap().iter().map(|h| hex(h)).collect::<Vec<_>>(),
    });
    let consistency = serde_json::json!({
        "old_size": 2, "new_size": 3, "old_root": hex(&root(&tree, 2).unwrap()), "new_root": hex(&cp.root),
        "proof": consistency_proof(&tree, 2, 3).unwrap().iter().map(|h| hex(h)).collect::<Vec<_>>(),
    });
    let files: Vec<(&str, String)> = vec![
        ("export.jsonl", export),
        ("checkpoint", note.to_text()),
        ("log.vkey", log.verifier_key() + "\n"),
        ("witness.vkey", witness.verifier_key() + "\n"),
        (
            "inclusion.json",
            serde_json::to_string_pretty(&inclusion).unwrap() + "\n",
        ),
        (
            "consistency.json",
            serde_json::to_string_pretty(&consistency).unwrap() + "\n",
        ),
    ];
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/vectors"));
    if std::env::var("KRONIEK_WRITE_VECTORS").is_ok() {
        std::fs::create_dir_all(dir).unwrap();
        for (name, content) in &files {
            std::fs::write(dir.join(name), content).unwrap();
        }
    }
    for (name, content) in &files {
        let kept = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert_eq!(
            &kept, content,
            "events/vectors/{name} differs from what the code computes"
        );
    }
}
