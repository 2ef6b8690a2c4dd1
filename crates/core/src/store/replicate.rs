//! Replication: records another copy of the ledger chained, hashed and signed, appended here
//! as they are, at this store's head (the verifying follower's copy, `kroniek follow`). Each
//! line is checked as `restore` checks an export, continuing the chain this store holds; an
//! erasure among them erases here what it erased there. All or nothing, durable on return.

use super::*;
use crate::record::{ExportLine, LinePersonal};

impl Store {
    /// A chain verifier that has walked every record this store holds (as export lines with
    /// their personal data): the state [`Store::replicate`] continues from. Reads the whole
    /// ledger once.
    pub fn chain_verifier(&self) -> Result<ChainVerifier, CoreError> {
        let mut chain = ChainVerifier::new();
        let head = self.head().count;
        for record in self.records_between(0, head) {
            let record = record?;
            let line = self.export_line(&record, true)?;
            chain
                .check_export_line(&line)
                .map_err(|b| CoreError::Corrupt(b.position, b.why))?;
        }
        Ok(chain)
    }

    /// Appends `lines` (export lines with personal data, as an admin reads them from
    /// `GET /v1/events`) at this store's head. `chain` must have walked this store's records
    /// ([`Store::chain_verifier`]); it moves on only when the whole batch is written. A line
    /// that does not continue the chain (another position, another `prev_hash`: a fork), does
    /// not hash to its hash, breaks the catalogue's structure, is withheld or lacks personal
    /// data it commits to is refused with its position, and nothing of the batch is written.
    /// Returns the new head, durable.
    pub fn replicate(
        &self,
        lines: &[Vec<u8>],
        chain: &mut ChainVerifier,
    ) -> Result<Head, CoreError> {
        let writer = lock(&self.writer);
        if let Some(why) = self.write_failure() {
            return Err(CoreError::WriteFailed(why.to_owned()));
        }
        if !matches!(self.engine, Engine::Sled(_)) {
            return Err(CoreError::Invalid(
                "a follower keeps its copy in a folder (--data DIR), not in a database".into(),
            ));
        }
        let base = writer.head;
        if chain.finish().count != base.count || chain.finish().head != base.hash {
            return Err(CoreError::Invalid(format!(
                "the chain verifier is at record {}, this store at {}: walk the store first",
                chain.finish().count,
                base.count
            )));
        }
        if lines.is_empty() {
            return Ok(base);
        }
        let mut next_chain = chain.clone();
        let mut b = Batch::new(base, String::new(), String::new());
        b.frontier = Frontier::at(self, base.count)?;
        for line in lines {
            let position = next_chain.finish().count;
            next_chain.check_export_line(line).map_err(|broken| {
                CoreError::Restore(format!("record {}: {}", broken.position, broken.why))
            })?;
            let (record, personal) = match ExportLine::parse(line).map_err(|why| CoreError::Restore(format!("record {position}: {why}")))? {
                ExportLine::Withheld { position, .. } => {
                    return Err(CoreError::Restore(format!(
                        "record {position} is withheld from this token's role: a follower keeps every record, so it needs a token of a role that reads them all (admin)"
                    )))
                }
                ExportLine::Full { record, personal } => (record, personal),
            };
            let personal = match personal {
                LinePersonal::Present(p) => Some(p),
                LinePersonal::Erased => None,
                LinePersonal::Absent if record.personal_commitment.is_none() => None,
                LinePersonal::Absent => {
                    return Err(CoreError::Restore(format!(
                        "record {} came without its personal data: a follower needs a token of a role that reads personal data (admin)",
                        record.position
                    )))
                }
            };
            check_recorded_structure(&record, personal.as_ref())
                .map_err(|r| CoreError::Restore(format!("record {}: {r}", record.position)))?;
            if record.event_type == EventType::PersonalDataErased {
                let subject = match crate::catalogue::parse_data(record.event_type, &record.data) {
                    Ok(EventData::PersonalDataErased(d)) => d.subject,
                    _ => {
                        return Err(CoreError::Restore(format!(
                            "record {}: an erasure without a subject",
                            record.position
                        )))
                    }
                };
                self.erasure_targets(&mut b, &subject)?;
            }
            let nodes = b.frontier.push(&record.hash);
            b.next = record.position + 1;
            b.prev = record.hash;
            b.pending.push(Staged {
                record,
                personal,
                nodes,
            });
        }
        let head = Head {
            count: b.next,
            hash: b.prev,
        };
        if let Err(e) = self.write_chunk(&b.pending, Some(head), &b.erase) {
            self.discard_from(base.count)?;
            return Err(e);
        }
        if !b.erase.is_empty() {
            self.erasure_committed();
        }
        self.commit_outside_groups(writer, head)?;
        *chain = next_chain;
        Ok(head)
    }
}
