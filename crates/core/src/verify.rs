//! Chain verification: positions without gaps, each `prev_hash` the previous record's hash,
//! versions counting from 0 in each stream, every hash recomputed, every personal commitment
//! checked, and every record whose personal data is missing explained by a
//! `PersonalDataErased` of its subject ([`ErasureCheck`]). Shared by the store's `verify`, its
//! `restore`, and the verification of an export file, with or without a checkpoint.

use crate::record::{ExportLine, LinePersonal, Record, ZERO_HASH};
use crate::types::hex;
use std::collections::{HashMap, HashSet};
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
#[derive(Debug, Default, Clone)]
pub struct ChainVerifier {
    next_position: u64,
    prev_hash: [u8; 32],
    versions: HashMap<Box<str>, u64>,
    erased: u64,
    withheld: u64,
    erasures: ErasureCheck,
}

/// That personal data is missing only where it was erased: every record without its personal
/// data must have a subject (its `member/…` or `case/…` stream, its `member_id`, its donor) that
/// a `PersonalDataErased` anywhere in the ledger names. Without this, deleting a record's
/// `personal` and `personal_salt` would pass for an erasure (the hash covers only the
/// commitment), and the ledger would lose data with no event saying why.
#[derive(Debug, Default, Clone)]
pub struct ErasureCheck {
    /// Every subject some `PersonalDataErased` names.
    erased_subjects: HashSet<String>,
    /// Records whose personal data is missing: position and the subjects that could explain it.
    missing: Vec<(u64, Vec<String>)>,
}

impl ErasureCheck {
    /// Notes a record: an erasure it records, and whether its personal data is missing.
    pub fn note(&mut self, record: &Record, personal_missing: bool) {
        if let crate::catalogue::EventType::PersonalDataErased = record.event_type {
            if let Some(subject) = record.data.get("subject").and_then(|v| v.as_str()) {
                self.erased_subjects.insert(subject.to_owned());
            }
        }
        if personal_missing {
            let mut subjects = Vec::new();
            if let Some(m) = record.stream.strip_prefix("member/") {
                subjects.push(m.to_owned());
            }
            if let Some(c) = record.stream.strip_prefix("case/") {
                subjects.push(format!("case:{c}"));
            }
            if let Some(m) = record.data.get("member_id").and_then(|v| v.as_str()) {
                subjects.push(m.to_owned());
            }
            if let Some(d) = crate::catalogue::donor_key(record.event_type)
                .and_then(|k| record.data.get(k))
                .and_then(|v| v.as_str())
            {
                subjects.push(format!("donor:{d}"));
            }
            self.missing.push((record.position, subjects));
        }
    }

    /// The first record whose missing personal data no erasure explains, once every record
    /// was noted (an erasure may come after the records it erased).
    pub fn finish(&self) -> Result<(), Broken> {
        for (position, subjects) in &self.missing {
            if !subjects.iter().any(|s| self.erased_subjects.contains(s)) {
                return Err(Broken {
                    position: *position,
                    why: "personal data is missing and no PersonalDataErased event explains it (tampered, not erased)".into(),
                });
            }
        }
        Ok(())
    }
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

    /// [`ChainVerifier::link`] for a withheld record, counted as withheld.
    pub fn link_withheld(
        &mut self,
        position: u64,
        prev_hash: &[u8; 32],
        stream: &str,
        version: u64,
        hash: &[u8; 32],
    ) -> Result<(), Broken> {
        self.link(position, prev_hash, stream, version, hash)?;
        self.withheld += 1;
        Ok(())
    }

    /// Notes a linked record for the erasure check: an erasure it records, and whether its
    /// personal data is missing (counted as erased, if an erasure explains it by the end).
    pub fn note_personal(&mut self, record: &Record, personal_missing: bool) {
        if personal_missing {
            self.erased += 1;
        }
        self.erasures.note(record, personal_missing);
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
                self.link_withheld(position, &prev_hash, &stream, version, &hash)?;
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
                    _ => {}
                }
                self.note_personal(&record, personal == LinePersonal::Erased);
            }
        }
        Ok(())
    }

    /// The result after the last record, with the erasure check: what [`ChainVerifier::finish`]
    /// gives, or the first record whose missing personal data no erasure explains.
    pub fn complete(&self) -> Result<Verified, Broken> {
        self.erasures.finish()?;
        Ok(self.finish())
    }

    /// The counts so far (the erasure check not applied: see [`ChainVerifier::complete`]).
    pub fn finish(&self) -> Verified {
        Verified {
            count: self.next_position,
            head: self.prev_hash,
            erased: self.erased,
            withheld: self.withheld,
        }
    }
}
