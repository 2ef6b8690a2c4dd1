//! Proofs from an open store: inclusion and consistency proofs as JSON (FORMAT.md names the
//! fields), the C2SP tlog-proof bundle a member can keep, and the body of a C2SP tlog-witness
//! add-checkpoint request. Sizes default to the latest signed checkpoint's.

use crate::AppError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use kroniek_core::merkle::leaf_hash;
use kroniek_core::note::{Checkpoint, Note};
use kroniek_core::record::PersonalView;
use kroniek_core::store::Store;
use kroniek_core::types::hex;
use serde_json::json;

/// The checkpoint proofs default to: the latest signed (signing one when there is none).
pub fn latest(store: &Store) -> Result<(Note, Checkpoint), AppError> {
    match store.latest_checkpoint()? {
        Some(found) => Ok(found),
        None => {
            let note = store.sign_checkpoint()?;
            let cp = Checkpoint::parse_body(&note.text).map_err(AppError::Failed)?;
            Ok((note, cp))
        }
    }
}

/// The inclusion proof as JSON.
pub fn inclusion_json(store: &Store, index: u64, size: u64) -> Result<serde_json::Value, AppError> {
    let proof = store.inclusion_proof(index, size)?;
    let record = store.record_at(index)?;
    Ok(json!({
        "tree_size": size,
        "index": index,
        "record_hash": hex(&record.hash),
        "leaf_hash": hex(&leaf_hash(&record.hash)),
        "root": hex(&store.tree_root(size)?),
        "proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
    }))
}

/// The consistency proof as JSON.
pub fn consistency_json(store: &Store, old: u64, new: u64) -> Result<serde_json::Value, AppError> {
    let proof = store.consistency_proof(old, new)?;
    Ok(json!({
        "old_size": old,
        "new_size": new,
        "old_root": hex(&store.tree_root(old)?),
        "new_root": hex(&store.tree_root(new)?),
        "proof": proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
    }))
}

/// A C2SP `tlog-proof` for the record at `index` against the latest checkpoint; its `extra`
/// line carries the record (without personal data), so the bundle is checkable on its own.
pub fn bundle(store: &Store, index: u64) -> Result<String, AppError> {
    let (note, cp) = latest(store)?;
    let proof = store.inclusion_proof(index, cp.size)?;
    let record = store.record_at(index)?;
    let mut out = String::from("c2sp.org/tlog-proof@v1\n");
    out.push_str(&format!(
        "extra {}\n",
        BASE64.encode(record.export_line(PersonalView::Omitted))
    ));
    out.push_str(&format!("index {index}\n"));
    for h in &proof {
        out.push_str(&BASE64.encode(h));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&note.to_text());
    Ok(out)
}

/// The body of a C2SP tlog-witness add-checkpoint request: the consistency proof from
/// `old` to the latest checkpoint, then that checkpoint. `new`, when given, must be its size.
pub fn witness_request(store: &Store, old: u64, new: Option<u64>) -> Result<String, AppError> {
    let (note, cp) = latest(store)?;
    if new.is_some_and(|n| n != cp.size) {
        return Err(AppError::Invalid(format!(
            "a witness request proves to the latest checkpoint (size {})",
            cp.size
        )));
    }
    let proof = store.consistency_proof(old, cp.size)?;
    let mut text = format!("old {old}\n");
    for h in &proof {
        text.push_str(&BASE64.encode(h));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&note.to_text());
    Ok(text)
}
