//! Offline verification of an export against signed checkpoints, with no store: the chain,
//! the Merkle tree built from the chain's own record hashes (leaf *i* from the record hash at
//! position *i*, never from a separate list), the root against the checkpoint, the log's
//! signature, a quorum of witness cosignatures, that an earlier checkpoint is a prefix, and
//! that every missing personal opening is explained by a `PersonalDataErased` event.

use crate::merkle::{Frontier, TreeHash};
use crate::note::{Checkpoint, Note, VerifierKey};
use crate::record::ExportLine;
use crate::types::hex;
use crate::verify::{Broken, ChainVerifier, Verified};

/// What to check the export against.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// The checkpoint (signed note) and the log's verifier key.
    pub checkpoint: Option<(Note, VerifierKey)>,
    /// An earlier checkpoint that must be a prefix of this export.
    pub previous: Option<Note>,
    /// Witnesses, and how many of them must have cosigned the checkpoint.
    pub witnesses: Vec<VerifierKey>,
    pub quorum: usize,
}

/// What offline verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub chain: Verified,
    pub checkpoint: Option<Checkpoint>,
    pub previous: Option<Checkpoint>,
    /// Names of the witnesses whose cosignatures verified.
    pub cosigned_by: Vec<String>,
    /// Records whose personal data was erased, each explained by a `PersonalDataErased`.
    pub erased_explained: u64,
}

/// Why offline verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The chain breaks at a position.
    Broken(Broken),
    /// A checkpoint, signature, cosignature or prefix check failed.
    Checkpoint(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Failure::Broken(b) => write!(f, "{b}"),
            Failure::Checkpoint(why) => write!(f, "checkpoint: {why}"),
        }
    }
}

/// Verifies export lines (without newlines) against `expect`.
pub fn verify<I>(lines: I, expect: &Expectations) -> Result<Report, Failure>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let parse_cp = |note: &Note| Checkpoint::parse_body(&note.text).map_err(Failure::Checkpoint);
    let current = match &expect.checkpoint {
        Some((note, key)) => {
            let cp = parse_cp(note)?;
            if cp.origin != key.name {
                return Err(Failure::Checkpoint(format!(
                    "the checkpoint is of {}, the key of {}",
                    cp.origin, key.name
                )));
            }
            match key.verify_signature(note) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Failure::Checkpoint(format!(
                        "the checkpoint carries no signature of {}",
                        key.name
                    )))
                }
                Err(e) => return Err(Failure::Checkpoint(e)),
            }
            Some(cp)
        }
        None => None,
    };
    let previous = match (&expect.previous, &expect.checkpoint) {
        (Some(note), Some((_, key))) => {
            let cp = parse_cp(note)?;
            match key.verify_signature(note) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Failure::Checkpoint(
                        "the previous checkpoint carries no signature of the log's key".into(),
                    ))
                }
                Err(e) => return Err(Failure::Checkpoint(format!("previous checkpoint: {e}"))),
            }
            if let Some(cur) = &current {
                if cp.size > cur.size {
                    return Err(Failure::Checkpoint(format!("the previous checkpoint ({} records) is larger than this one ({}): the log rolled back", cp.size, cur.size)));
                }
            }
            Some(cp)
        }
        (Some(_), None) => {
            return Err(Failure::Checkpoint(
                "a previous checkpoint needs the current one and the log's key".into(),
            ))
        }
        _ => None,
    };
    let mut cosigned_by = Vec::new();
    if let Some((note, _)) = &expect.checkpoint {
        for w in &expect.witnesses {
            match w.verify_cosignature(note) {
                Ok(Some(_)) => cosigned_by.push(w.name.clone()),
                Ok(None) => {}
                Err(e) => return Err(Failure::Checkpoint(e)),
            }
        }
        if cosigned_by.len() < expect.quorum {
            return Err(Failure::Checkpoint(format!(
                "{} of the required {} witnesses cosigned the checkpoint",
                cosigned_by.len(),
                expect.quorum
            )));
        }
    }

    let mut chain = ChainVerifier::new();
    let mut tree = Frontier::default();
    let mut roots: Vec<(u64, TreeHash)> = Vec::new();
    let want: Vec<u64> = [current.as_ref(), previous.as_ref()]
        .into_iter()
        .flatten()
        .map(|c| c.size)
        .collect();
    if want.contains(&0) {
        roots.push((0, tree.root()));
    }
    for line in lines {
        let line = line.as_ref();
        let position = chain.finish().count;
        chain.check_export_line(line).map_err(Failure::Broken)?;
        let parsed =
            ExportLine::parse(line).map_err(|why| Failure::Broken(Broken { position, why }))?;
        let hash = match &parsed {
            ExportLine::Withheld { hash, .. } => *hash,
            ExportLine::Full { record, .. } => record.hash,
        };
        // The tree's leaf is this very record's hash: the link between chain and tree.
        tree.push(&hash);
        if want.contains(&tree.size()) {
            roots.push((tree.size(), tree.root()));
        }
    }
    let counts = chain.finish();
    let root_at = |size: u64| roots.iter().find(|(s, _)| *s == size).map(|(_, r)| *r);
    for (what, cp) in [
        ("the checkpoint", current.as_ref()),
        ("the previous checkpoint", previous.as_ref()),
    ] {
        if let Some(cp) = cp {
            match root_at(cp.size) {
                None => {
                    return Err(Failure::Checkpoint(format!(
                        "{what} covers {} records but the export holds {}: records are missing",
                        cp.size, counts.count
                    )))
                }
                Some(r) if r != cp.root => {
                    return Err(Failure::Checkpoint(format!(
                        "the tree of the export's first {} records has root {}, {what} says {}",
                        cp.size,
                        hex(&r),
                        hex(&cp.root)
                    )))
                }
                Some(_) => {}
            }
        }
    }
    let chain = chain.complete().map_err(Failure::Broken)?;
    Ok(Report {
        chain,
        checkpoint: current,
        previous,
        cosigned_by,
        erased_explained: chain.erased,
    })
}
