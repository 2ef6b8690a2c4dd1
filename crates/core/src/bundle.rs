//! Checking a C2SP tlog-proof bundle (`kroniek prove inclusion --bundle`) with no store: the
//! record in its `extra` line, its inclusion in the checkpoint's tree, the log's signature and
//! the witnesses' cosignatures. Pure: text and keys in, a report or the reason out.

use crate::merkle::{leaf_hash, verify_inclusion};
use crate::note::{Checkpoint, Note, VerifierKey};
use crate::record::{ExportLine, Record};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The first line of a tlog-proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// What a bundle that verified proves.
#[derive(Debug, Clone)]
pub struct BundleReport {
    /// The record, at its position.
    pub record: Record,
    /// The checkpoint it is included in.
    pub checkpoint: Checkpoint,
    /// The witnesses whose cosignatures verified.
    pub cosigned_by: Vec<String>,
}

/// Verifies a bundle's text against the log's key and at least `quorum` of `witnesses`.
pub fn verify(
    text: &str,
    key: &VerifierKey,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<BundleReport, String> {
    let (head, note_text) = text
        .split_once("\n\n")
        .ok_or("not a tlog-proof: no empty line before the checkpoint")?;
    let mut lines = head.split('\n');
    if lines.next() != Some(HEADER) {
        return Err(format!("the first line is not {HEADER}"));
    }
    let mut next = lines.next().ok_or("no index line")?;
    let extra = match next.strip_prefix("extra ") {
        Some(e) => {
            next = lines.next().ok_or("no index line")?;
            Some(
                BASE64
                    .decode(e)
                    .map_err(|_| "the extra line is not base64")?,
            )
        }
        None => None,
    };
    let index: u64 = next
        .strip_prefix("index ")
        .and_then(|n| n.parse().ok())
        .ok_or("no index line")?;
    let proof = lines
        .map(|l| {
            BASE64
                .decode(l)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or("a proof line is not a base64 SHA-256 hash")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let note = Note::parse(note_text)?;
    let checkpoint = Checkpoint::parse_body(&note.text)?;
    if key.name != checkpoint.origin || !key.verify_signature(&note)? {
        return Err("the checkpoint is not signed by that log key".into());
    }
    let mut cosigned_by = Vec::new();
    for w in witnesses {
        if w.verify_cosignature(&note)?.is_some() {
            cosigned_by.push(w.name.clone());
        }
    }
    if cosigned_by.len() < quorum {
        return Err(format!(
            "{} of the required {quorum} witnesses cosigned the checkpoint",
            cosigned_by.len()
        ));
    }
    let extra = extra.ok_or("no extra line: the bundle does not carry its record")?;
    let ExportLine::Full { record, .. } =
        ExportLine::parse(&extra).map_err(|e| format!("the record: {e}"))?
    else {
        return Err("the record is withheld".into());
    };
    if *blake3::hash(&record.hashed_bytes()).as_bytes() != record.hash || record.position != index {
        return Err("the record's hash or position does not match".into());
    }
    if !verify_inclusion(
        &leaf_hash(&record.hash),
        index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    ) {
        return Err("the inclusion proof does not verify against the checkpoint".into());
    }
    Ok(BundleReport {
        record,
        checkpoint,
        cosigned_by,
    })
}
