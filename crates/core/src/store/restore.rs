//! Restore: an export read into an empty store, every record checked as `verify` checks it
//! and as an append's structure is checked; all or nothing.

use super::*;

impl Store {
    /// Restores an export (JSON Lines) into this empty store, checking every line as
    /// `verify --export` does. The export must carry personal data (or its erasure).
    pub fn restore<R: std::io::BufRead>(
        &self,
        input: R,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Verified, CoreError> {
        let writer = lock(&self.writer);
        // Appends in flight write their records first.
        self.settle_commits();
        if let Engine::Backend(backend) = &self.engine {
            // Another process may have appended since this one opened the ledger.
            let stored = stored_head(backend.begin()?.as_deref())
                .map_err(|why| CoreError::Corrupt(0, why))?;
            if stored.count > 0 {
                backend.abort();
                return Err(CoreError::NotEmpty {
                    dir: self.dir.clone(),
                    count: stored.count,
                });
            }
        }
        if writer.head.count > 0 {
            return Err(CoreError::NotEmpty {
                dir: self.dir.clone(),
                count: writer.head.count,
            });
        }
        let mut chain = ChainVerifier::new();
        let mut frontier = Frontier::default();
        let mut pending: Vec<Staged> = Vec::new();
        let mut staged = false;
        let result = (|| -> Result<(), CoreError> {
            for (n, line) in input.split(b'\n').enumerate() {
                let mut line = line?;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    continue;
                }
                if n % 4096 == 0 {
                    progress(n as u64);
                }
                chain
                    .check_export_line(&line)
                    .map_err(|b| CoreError::Restore(format!("line {}: {b}", n + 1)))?;
                let parsed = crate::record::ExportLine::parse(&line)
                    .map_err(|e| CoreError::Restore(format!("line {}: {e}", n + 1)))?;
                let (record, personal) = match parsed {
                    crate::record::ExportLine::Withheld { position, .. } => {
                        return Err(CoreError::Restore(format!("line {}: record {position} is withheld: restore needs a full export (kroniek export, as admin)", n + 1)))
                    }
                    crate::record::ExportLine::Full { record, personal } => (record, personal),
                };
                let personal = match personal {
                    crate::record::LinePersonal::Present(p) => Some(p),
                    crate::record::LinePersonal::Erased => None,
                    crate::record::LinePersonal::Absent if record.personal_commitment.is_none() => None,
                    crate::record::LinePersonal::Absent => {
                        return Err(CoreError::Restore(format!(
                            "line {}: record {} has no personal data: restore needs an export made with personal data (without --no-personal)",
                            n + 1, record.position
                        )))
                    }
                };
                check_recorded_structure(&record, personal.as_ref()).map_err(|r| {
                    CoreError::Restore(format!("line {}: record {}: {}", n + 1, record.position, r))
                })?;
                let nodes = frontier.push(&record.hash);
                pending.push(Staged {
                    record,
                    personal,
                    nodes,
                    stored: None,
                });
                if pending.len() >= self.chunk {
                    self.write_staged(&pending)?;
                    pending.clear();
                    staged = true;
                }
            }
            // Missing personal data must be an erasure the export records, as the offline
            // verifier checks: a restore takes no faked erasure.
            chain
                .complete()
                .map_err(|b| CoreError::Restore(b.to_string()))?;
            Ok(())
        })();
        let done = chain.finish();
        let head = Head {
            count: done.count,
            hash: done.head,
        };
        let result = result.and_then(|()| {
            if staged {
                self.sync_to_disk()?;
            }
            self.write_chunk(&pending, Some(head), &BTreeSet::new())
        });
        if let Err(e) = result {
            match &self.engine {
                // Nothing of the unit of work is kept.
                Engine::Backend(backend) => backend.abort(),
                Engine::Sled(_) => self.discard_from(0)?,
            }
            return Err(e);
        }
        self.commit_outside_groups(writer, head)?;
        Ok(done)
    }
}
