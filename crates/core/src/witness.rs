//! A witness (cosigner) of the ledger's checkpoints: the C2SP `tlog-witness` add-checkpoint
//! rules, as a pure function. The accountant or the kascommissie runs it on their own machine
//! with only the log's verifier key, their own key and their state (the last checkpoint they
//! cosigned): it cosigns a checkpoint only when it extends that one, so a log that shows two
//! histories (a split view) is caught.

use crate::merkle::{verify_consistency, TreeHash};
use crate::note::{Checkpoint, CosignerKey, Note, SignatureLine, VerifierKey};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// Why a witness refused, with the HTTP status `tlog-witness` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refused {
    Refused {
        status,
        message: message.into(),
    }
}

/// An add-checkpoint request: the old size, a consistency proof, and the checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub old: u64,
    pub proof: Vec<TreeHash>,
    pub note: Note,
}

impl Request {
    /// Reads a request body: `old N`, proof lines, an empty line, the checkpoint.
    pub fn parse(body: &str) -> Result<Request, Refused> {
        let (head, note) = body.split_once("\n\n").ok_or_else(|| {
            refuse(
                400,
                "the request is: old <size>, proof lines, an empty line, the checkpoint",
            )
        })?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(|n| {
                n.parse::<u64>()
                    .ok()
                    .filter(|_| n == "0" || !n.starts_with('0'))
            })
            .ok_or_else(|| refuse(400, "the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        for l in lines {
            let h: TreeHash = BASE64
                .decode(l)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| refuse(400, format!("\"{l}\" is not a base64 SHA-256 hash")))?;
            proof.push(h);
        }
        if proof.len() > 63 {
            return Err(refuse(400, "more than 63 proof lines"));
        }
        let note = Note::parse(note)
            .map_err(|e| refuse(400, format!("the checkpoint is not a signed note: {e}")))?;
        Ok(Request { old, proof, note })
    }

    /// The request body.
    pub fn to_text(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for h in &self.proof {
            out.push_str(&BASE64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note.to_text());
        out
    }
}

/// Judges an add-checkpoint request against the last checkpoint this witness cosigned for the
/// log; on success returns the cosignature line and the new checkpoint to remember.
pub fn add_checkpoint(
    log_key: &VerifierKey,
    latest: Option<&Checkpoint>,
    request: &Request,
    key: &CosignerKey,
    now: u64,
) -> Result<(SignatureLine, Checkpoint), Refused> {
    let checkpoint = Checkpoint::parse_body(&request.note.text)
        .map_err(|e| refuse(400, format!("not a checkpoint: {e}")))?;
    if checkpoint.origin != log_key.name {
        return Err(refuse(
            404,
            format!(
                "unknown log {}: this witness follows {}",
                checkpoint.origin, log_key.name
            ),
        ));
    }
    match log_key.verify_signature(&request.note) {
        Ok(true) => {}
        Ok(false) => {
            return Err(refuse(
                403,
                "the checkpoint carries no signature of the log's key",
            ))
        }
        Err(e) => return Err(refuse(403, e)),
    }
    if request.old > checkpoint.size {
        return Err(refuse(
            400,
            format!(
                "old size {} is larger than the checkpoint's {}",
                request.old, checkpoint.size
            ),
        ));
    }
    let latest_size = latest.map_or(0, |c| c.size);
    if request.old != latest_size {
        return Err(refuse(409, format!("{latest_size}")));
    }
    if checkpoint.size == 0 && checkpoint.root != crate::merkle::empty_root() {
        return Err(refuse(
            422,
            "a checkpoint of size 0 must have the empty tree's root",
        ));
    }
    match latest {
        None => {
            if !request.proof.is_empty() {
                return Err(refuse(
                    422,
                    "from size 0 the consistency proof must be empty",
                ));
            }
        }
        Some(prev) => {
            if !verify_consistency(
                prev.size,
                checkpoint.size,
                &prev.root,
                &checkpoint.root,
                &request.proof,
            ) {
                return Err(refuse(
                    422,
                    format!("the checkpoint of size {} is not consistent with the one of size {} cosigned before: a split view or a rewritten history", checkpoint.size, prev.size),
                ));
            }
        }
    }
    Ok((key.cosign(&request.note.text, now), checkpoint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LedgerKey;
    use crate::merkle::{consistency_proof, Frontier, NodeSource};
    use std::collections::HashMap;

    struct Tree(HashMap<(u8, u64), TreeHash>);
    impl NodeSource for Tree {
        type Error = ();
        fn node(&self, l: u8, i: u64) -> Result<TreeHash, ()> {
            self.0.get(&(l, i)).copied().ok_or(())
        }
    }

    fn tree(seed: u8, n: u64) -> Tree {
        let mut f = Frontier::default();
        let mut nodes = HashMap::new();
        for i in 0..n {
            let mut h = [seed; 32];
            h[..8].copy_from_slice(&i.to_be_bytes());
            nodes.extend(f.push(&h));
        }
        Tree(nodes)
    }

    fn signed(log: &LedgerKey, size: u64, root: TreeHash) -> Note {
        let text = Checkpoint {
            origin: log.name.clone(),
            size,
            root,
        }
        .body();
        Note {
            signatures: vec![crate::note::sign(log, &text)],
            text,
        }
    }

    #[test]
    fn the_witness_cosigns_an_extending_history_and_refuses_a_split_view() {
        let log = LedgerKey::from_seed("ledger.example/kroniek", [1; 32]);
        let vkey = VerifierKey::parse(&log.verifier_key()).unwrap();
        let witness = CosignerKey::from_seed("kas.example", [2; 32]);
        let wkey = VerifierKey::parse(&witness.verifier_key()).unwrap();
        let honest = tree(7, 20);
        let root = |t: &Tree, n| crate::merkle::root(t, n).unwrap();
        // First contact: from 0, no proof.
        let first = Request {
            old: 0,
            proof: vec![],
            note: signed(&log, 10, root(&honest, 10)),
        };
        let (line, latest) = add_checkpoint(
            &vkey,
            None,
            &Request::parse(&first.to_text()).unwrap(),
            &witness,
            1_700_000_000,
        )
        .unwrap();
        let mut cosigned = first.note.clone();
        cosigned.add([line]);
        assert_eq!(
            wkey.verify_cosignature(&cosigned).unwrap(),
            Some(1_700_000_000)
        );
        // The log grows honestly: cosigned.
        let grow = Request {
            old: 10,
            proof: consistency_proof(&honest, 10, 20).unwrap(),
            note: signed(&log, 20, root(&honest, 20)),
        };
        let (_, latest2) =
            add_checkpoint(&vkey, Some(&latest), &grow, &witness, 1_700_000_100).unwrap();
        // A split view: another history of 20 records from the same log key.
        let forked = tree(8, 20);
        let fork = Request {
            old: 10,
            proof: consistency_proof(&forked, 10, 20).unwrap(),
            note: signed(&log, 20, root(&forked, 20)),
        };
        assert_eq!(
            add_checkpoint(&vkey, Some(&latest), &fork, &witness, 1)
                .unwrap_err()
                .status,
            422
        );
        // A rollback: an old size that is not the last cosigned one → 409 with the size.
        let rollback = Request {
            old: 10,
            proof: vec![],
            note: signed(&log, 10, root(&honest, 10)),
        };
        let r = add_checkpoint(&vkey, Some(&latest2), &rollback, &witness, 1).unwrap_err();
        assert_eq!((r.status, r.message.as_str()), (409, "20"));
        // A forged signature, an unknown log.
        let mut forged = grow.clone();
        forged.note.text = Checkpoint {
            origin: log.name.clone(),
            size: 21,
            root: [0; 32],
        }
        .body();
        assert_eq!(
            add_checkpoint(&vkey, Some(&latest), &forged, &witness, 1)
                .unwrap_err()
                .status,
            403
        );
        let other = LedgerKey::from_seed("other.example/log", [3; 32]);
        let stranger = Request {
            old: 0,
            proof: vec![],
            note: signed(&other, 5, root(&honest, 5)),
        };
        assert_eq!(
            add_checkpoint(&vkey, None, &stranger, &witness, 1)
                .unwrap_err()
                .status,
            404
        );
    }
}
