//! The test vectors of `events/FORMAT.md`: three chained records built from fixed inputs.
//! This test keeps the document and the code in agreement.

use crate::catalogue::EventType;
use crate::record::{Personal, PersonalView, Record, ZERO_HASH};
use crate::types::EventId;
use serde_json::json;

/// The three vector records and the personal data of the second.
pub(crate) fn vectors() -> (Vec<Record>, Personal) {
    let salt: [u8; 32] = std::array::from_fn(|i| i as u8);
    let personal = Personal {
        salt,
        value: json!({"name": "Anna de Vries", "residence": "Delft"}),
    };
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
