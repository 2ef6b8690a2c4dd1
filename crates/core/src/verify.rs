//! Chain verification: positions without gaps, each `prev_hash` the previous record's hash,
//! versions counting from 0 in each stream, every hash recomputed, every personal commitment
//! checked. Shared by the store's `verify` and the verification of an export file.

use crate::record::{ExportLine, LinePersonal, ZERO_HASH};
use crate::types::hex;
use std::collections::HashMap;
use std::fmt;

/// Where and why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub position: u64,
    pub why: String,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "broken at position {}: {}", self.position, self.why)
    }
}

/// What a successful verification saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub count: u64,
    /// The last record's hash (64 zeros for an empty ledger).
    pub head: [u8; 32],
    /// Records whose personal data was erased.
    pub erased: u64,
    /// Records exported *withheld*, whose hash could not be recomputed.
    pub withheld: u64,
}

/// Walks a chain record by record.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    next_position: u64,
    prev_hash: [u8; 32],
    versions: HashMap<Box<str>, u64>,
    erased: u64,
    withheld: u64,
}

impl ChainVerifier {
    /// A verifier at the start of a chain.
    pub fn new() -> Self {
        ChainVerifier {
            prev_hash: ZERO_HASH,
            ..Default::default()
        }
    }

    /// Checks that a record with these fields is the next link: its position, its `prev_hash`
    /// and its stream version. `hash` must already be checked (or be withheld).
    pub fn link(
        &mut self,
        position: u64,
        prev_hash: &[u8; 32],
        stream: &str,
        version: u64,
        hash: &[u8; 32],
    ) -> Result<(), Broken> {
        let expected = self.next_position;
        if position != expected {
            let why = if position > expected {
                format!("gap: position {expected} is missing (the next record says {position})")
            } else {
                format!(
                    "position {position} appears again after position {}",
                    expected.saturating_sub(1)
                )
            };
            return Err(Broken {
                position: expected,
                why,
            });
        }
        if *prev_hash != self.prev_hash {
            return Err(Broken {
                position,
                why: format!(
                    "broken link: prev_hash is {} but the previous record's hash is {}",
                    hex(prev_hash),
                    hex(&self.prev_hash)
                ),
            });
        }
        let next_version = match self.versions.get_mut(stream) {
            Some(v) => v,
            None => self.versions.entry(stream.into()).or_insert(0),
        };
        if version != *next_version {
            return Err(Broken {
                position,
                why: format!(
                    "version out of order: {stream} has version {version} where {} was due",
                    *next_version
                ),
            });
        }
        *next_version += 1;
        self.next_position += 1;
        self.prev_hash = *hash;
        Ok(())
    }

    /// Counts a record whose personal data was erased.
    pub fn note_erased(&mut self) {
        self.erased += 1;
    }

    /// Checks one export line (already split off, without its newline). `expected_position`
    /// is used to report a line that cannot be read at all.
    pub fn check_export_line(&mut self, line: &[u8]) -> Result<(), Broken> {
        let here = self.next_position;
        let parsed = ExportLine::parse(line).map_err(|why| Broken {
            position: here,
            why,
        })?;
        match parsed {
            ExportLine::Withheld {
                hash,
                position,
                prev_hash,
                stream,
                version,
                ..
            } => {
                self.link(position, &prev_hash, &stream, version, &hash)?;
                self.withheld += 1;
            }
            ExportLine::Full { record, personal } => {
                let computed = *blake3::hash(&record.hashed_bytes()).as_bytes();
                if computed != record.hash {
                    return Err(Broken {
                        position: here,
                        why: format!(
                            "hash mismatch: the record hashes to {} but says {}",
                            hex(&computed),
                            hex(&record.hash)
                        ),
                    });
                }
                self.link(
                    record.position,
                    &record.prev_hash,
                    &record.stream,
                    record.version,
                    &record.hash,
                )?;
                match (&personal, record.personal_commitment) {
                    (LinePersonal::Present(p), Some(c)) if p.commitment() != c => {
                        return Err(Broken {
                            position: here,
                            why: "personal data does not match its commitment".into(),
                        })
                    }
                    (LinePersonal::Erased, _) => self.note_erased(),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The result after the last record.
    pub fn finish(&self) -> Verified {
        Verified {
            count: self.next_position,
            head: self.prev_hash,
            erased: self.erased,
            withheld: self.withheld,
        }
    }
}
