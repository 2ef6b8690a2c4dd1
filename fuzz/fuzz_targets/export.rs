//! The export verifier: lines (full, withheld, with personal data and its commitment) checked
//! as `kroniek verify --export` checks them, with and without the format vectors' signed
//! checkpoint. Never a panic; a verdict of "verified" only for a chain the verifier really
//! walked (every line counted).
#![no_main]

use kroniek_core::note::{Note, VerifierKey};
use kroniek_core::offline::{verify, Expectations};
use kroniek_core::record::ExportLine;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The format vectors' checkpoint (size 3) and log key.
fn vectors() -> &'static Expectations {
    static EXPECT: OnceLock<Expectations> = OnceLock::new();
    EXPECT.get_or_init(|| Expectations {
        checkpoint: Some((
            Note::parse(include_str!("../../events/vectors/checkpoint")).expect("the vector note"),
            VerifierKey::parse(include_str!("../../events/vectors/log.vkey").trim())
                .expect("the vector key"),
        )),
        ..Expectations::default()
    })
}

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    for line in &lines {
        let _ = ExportLine::parse(line);
    }
    if let Ok(report) = verify(lines.iter().copied(), &Expectations::default()) {
        assert_eq!(report.chain.count, lines.len() as u64);
    }
    if let Ok(report) = verify(lines.iter().copied(), vectors()) {
        assert!(
            report.chain.count >= 3,
            "verified against a size-3 checkpoint"
        );
    }
});
