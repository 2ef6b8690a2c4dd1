//! Replication: records another copy of the ledger chained, hashed and signed, appended here
//! as they are, at this store's head (the verifying follower's copy, `kroniek follow`). Each
//! line is checked as `restore` checks an export, continuing the chain this store holds; an
//! erasure among them erases here what it erased there. All or nothing, durable on return.

use super::*;
use crate::record::{ExportLine, LinePersonal};

impl Store {
    /// A chain verifier that has walked every record this store holds (as export lines, as
    /// this store holds them): the state [`Store::replicate`] continues from. Reads the whole
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

    /// Appends `lines` (export lines as the copy's role reads them from `GET /v1/events`:
    /// every record whole with its personal data for an admin, else as [`Store::view`] holds
    /// them) at this store's head. `chain` must have walked this store's records
    /// ([`Store::chain_verifier`]); it moves on only when the whole batch is written. A line
    /// that does not continue the chain (another position, another `prev_hash`: a fork), does
    /// not hash to its hash, breaks the catalogue's structure, or is shown otherwise than the
    /// copy's view holds it (withheld, or without personal data it holds) is refused with its
    /// position, and nothing of the batch is written.
    /// Returns the new head, durable.
    pub fn replicate(
        &self,
        lines: &[Vec<u8>],
        chain: &mut ChainVerifier,
    ) -> Result<Head, CoreError> {
        let writer = lock(&self.writer);
        // Appends in flight write their records first.
        self.settle_commits();
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
            let parsed = ExportLine::parse(line)
                .map_err(|why| CoreError::Restore(format!("record {position}: {why}")))?;
            let (record, personal) = self.held_record(parsed, position)?;
            if !record.withheld {
                check_recorded_structure(&record, personal.as_ref())
                    .map_err(|r| CoreError::Restore(format!("record {}: {r}", record.position)))?;
                if record.event_type == EventType::PersonalDataErased {
                    let subject = match record.event_data().map(std::borrow::Cow::into_owned) {
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
            }
            let nodes = b.frontier.push(&record.hash);
            b.next = record.position + 1;
            b.prev = record.hash;
            b.pending.push(Staged {
                record,
                personal,
                nodes,
                stored: None,
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

    /// A replicated line as this store holds it: withheld, or whole with the personal data its
    /// view holds. A line shown otherwise than this copy's view ([`Store::view`]) shows it is
    /// refused: the token's role is not the copy's, or the leader showed the role what it may
    /// not see.
    fn held_record(
        &self,
        line: ExportLine,
        position: u64,
    ) -> Result<(Record, Option<Personal>), CoreError> {
        let copy = match self.view() {
            Some(role) => format!("this copy holds the {} view", role.as_str()),
            None => "this copy holds every record whole".to_owned(),
        };
        let refuse = |why: String| {
            Err(CoreError::Restore(format!(
                "record {position} {why}: follow with a token of the copy's role, into a new folder for another role"
            )))
        };
        match line {
            ExportLine::Withheld {
                ref event_type,
                ref stream,
                ..
            } => {
                let Some(record) = line.withheld_record() else {
                    return Err(CoreError::Restore(format!(
                        "record {position}: \"{event_type}\" is not an event type of the catalogue"
                    )));
                };
                match self.held_as(stream, record.event_type) {
                    crate::access::Shown::Withheld => Ok((record, None)),
                    crate::access::Shown::Record { .. } => {
                        refuse(format!("came withheld from the token's role, but {copy}"))
                    }
                }
            }
            ExportLine::Full { record, personal } => {
                let personal_held = match self.held_as(&record.stream, record.event_type) {
                    crate::access::Shown::Withheld => {
                        return refuse(format!("came whole, but {copy}, which withholds it"))
                    }
                    crate::access::Shown::Record { personal } => personal,
                };
                let personal = match (personal, personal_held) {
                    (LinePersonal::Present(p), true) => Some(p),
                    (LinePersonal::Erased, true) => None,
                    (LinePersonal::Absent, _) if record.personal_commitment.is_none() => None,
                    (LinePersonal::Absent, false) => None,
                    (LinePersonal::Absent, true) => {
                        return refuse(format!(
                            "came without its personal data, but {copy}, which holds it"
                        ))
                    }
                    (LinePersonal::Present(_) | LinePersonal::Erased, false) => {
                        return refuse(format!(
                            "came with its personal data (or it erased), but {copy}, which does not hold it"
                        ))
                    }
                };
                Ok((record, personal))
            }
        }
    }
}
