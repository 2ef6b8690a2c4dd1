//! The commit protocol and durability: appends checked against the governance state and
//! staged past the head, committed by the write that moves the head, made durable by one flush
//! and `fdatasync` that every waiting append shares (group commit); idempotency, optimistic
//! concurrency and erasure.

use super::*;

/// Events per staged chunk of a large batch (small chunks keep sled's memory low: 2,048
/// gave a third of the peak RSS of 16,384 on a 1,000,000-event import, and was faster).
pub(super) const CHUNK: usize = 2_048;

/// How many stream lengths the writer keeps between batches (about 2 MiB).
pub(super) const KNOWN_LENGTHS: usize = 32_768;

pub(super) fn new_event_id() -> Result<EventId, CoreError> {
    let r = random32()?;
    let mut b = [0u8; 16];
    b.copy_from_slice(&r[..16]);
    Ok(EventId::new_v4_from(b))
}

/// The current time as DOMAIN.md writes `recorded_at`: UTC, six fractional digits, `Z`.
pub fn now_recorded_at() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// What the single writer owns.
pub(super) struct Writer {
    pub(super) head: Head,
    pub(super) state: Option<GovernanceState>,
    /// Whether appends pass the governance rules. Always true outside the storage
    /// engine's own tests, which exercise the log with events the rules would not allow.
    pub(super) rules: bool,
    /// The Merkle frontier at `head`, kept between groups (read from the store when absent).
    pub(super) frontier: Option<Frontier>,
    /// The lengths of streams appended to recently, at `head` (at most
    /// [`KNOWN_LENGTHS`] streams; emptied when it would hold more, or when in doubt).
    pub(super) known_lengths: HashMap<String, u64>,
    /// On sled, the ids of the records of groups whose records may not be written yet (see
    /// [`group::Commits`]), with their positions: the ids tree may not hold them yet.
    /// Emptied when no group is in flight (waited for when it would hold more than
    /// [`KNOWN_LENGTHS`] ids).
    pub(super) recent_ids: HashMap<EventId, u64>,
    /// The write path's counters.
    pub(super) stats: WriteStats,
}

/// One record about to be written, with its personal data.
pub(super) struct Staged {
    pub(super) record: Record,
    pub(super) personal: Option<Personal>,
    /// The complete Merkle subtrees this record completes (its leaf first).
    pub(super) nodes: Vec<((u8, u64), TreeHash)>,
    /// The record's stored value (hash ‖ hashed bytes), when it was written as the record was
    /// sealed ([`Record::seal_stored`]); else [`Store::encode`] writes it.
    pub(super) stored: Option<Vec<u8>>,
}

/// Checks a recorded event against the catalogue's structural rules, as an append would.
pub(super) fn check_recorded_structure(
    record: &Record,
    personal: Option<&Personal>,
) -> Result<(), Refusal> {
    let mut envelope = serde_json::Map::new();
    envelope.insert(
        "stream".into(),
        serde_json::Value::String(record.stream.clone()),
    );
    envelope.insert(
        "type".into(),
        serde_json::Value::String(record.event_type.name().into()),
    );
    envelope.insert(
        "effective".into(),
        serde_json::Value::String(record.effective.clone()),
    );
    envelope.insert("data".into(), record.data.value().clone());
    if let Some(p) = personal {
        envelope.insert("personal".into(), p.value.value().clone());
    }
    ProposedEvent::parse_recorded(serde_json::Value::Object(envelope), personal.is_some())
        .map(|_| ())
}

/// Writes a staged chunk's keys past the head, tree by tree in [`STAGING_ORDER`], each
/// tree's keys in one batch: [`Store::write_staged`] in line, or [`Store::stage`]'s thread.
fn write_batches(trees: &Trees, writes: Vec<KeyWrite>) -> Result<(), CoreError> {
    let mut batches: [Vec<(Vec<u8>, Vec<u8>)>; 6] = Default::default();
    for (id, key, value) in writes {
        batches[id as usize].push((key, value));
    }
    for (id, batch) in STAGING_ORDER.into_iter().zip(batches) {
        if batch.is_empty() {
            continue;
        }
        if id == TreeId::Meta {
            return Err(CoreError::Invalid(
                "a staged chunk wrote to meta (a defect: please report it)".into(),
            ));
        }
        trees.tree(id).apply_batch(batch)?;
    }
    Ok(())
}

/// The order a staged chunk's trees are written in (`TreeId`'s order), each in one batch.
const STAGING_ORDER: [TreeId; 6] = [
    TreeId::Merkle,
    TreeId::Records,
    TreeId::Streams,
    TreeId::Ids,
    TreeId::Personal,
    TreeId::Meta,
];

/// What the thread writing one staged chunk did ([`Store::stage`]).
pub(super) struct ChunkWritten {
    /// The time it took, in nanoseconds.
    nanos: u64,
    /// The sled keys it wrote.
    keys: u64,
    /// The events in the chunk.
    events: u64,
}

/// The sums of every [`ChunkWritten`] since the store was opened (see [`WriteStats`]).
#[derive(Default)]
pub(super) struct StagingCounters {
    nanos: std::sync::atomic::AtomicU64,
    keys: std::sync::atomic::AtomicU64,
    events: std::sync::atomic::AtomicU64,
}

impl StagingCounters {
    fn add(&self, chunk: &ChunkWritten) {
        use std::sync::atomic::Ordering::Relaxed;
        self.nanos.fetch_add(chunk.nanos, Relaxed);
        self.keys.fetch_add(chunk.keys, Relaxed);
        self.events.fetch_add(chunk.events, Relaxed);
    }

    /// Time, keys and events, as [`WriteStats`] gives them.
    pub(super) fn read(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.nanos.load(Relaxed),
            self.keys.load(Relaxed),
            self.events.load(Relaxed),
        )
    }
}

/// The working state of one batch being appended.
pub(super) struct Batch {
    pub(super) base: Head,
    pub(super) actor: String,
    pub(super) recorded_at: String,
    pub(super) next: u64,
    pub(super) prev: [u8; 32],
    pub(super) appended: u64,
    pub(super) pending: Vec<Staged>,
    pub(super) pending_ids: HashMap<EventId, u64>,
    pub(super) stream_lens: HashMap<String, u64>,
    /// Stream lengths known from earlier batches (the writer's [`Writer::known_lengths`],
    /// lent to the batch): spares a reverse scan of the streams tree per event.
    pub(super) known_lens: HashMap<String, u64>,
    pub(super) seen: Vec<(usize, u64)>,
    pub(super) refusals: Vec<IndexedRefusal>,
    pub(super) erase: BTreeSet<u64>,
    pub(super) staged: bool,
    pub(super) frontier: Frontier,
    /// On sled: the group's turn to commit ([`group::Commits`]), the records of the group's
    /// earlier appends, not written yet, and the ids of every record not written yet (the
    /// group's, lent to the batch).
    pub(super) turn: Option<u64>,
    pub(super) deferred: Vec<Staged>,
    pub(super) recent_ids: HashMap<EventId, u64>,
    /// On sled: the chunk being written past the head by a thread of its own while the next
    /// one is checked ([`Store::stage`]), and the ids of its records (not yet in `ids`).
    /// The thread answers with what it wrote and the time it took.
    pub(super) in_flight: Option<std::thread::JoinHandle<Result<ChunkWritten, CoreError>>>,
    pub(super) in_flight_ids: HashMap<EventId, u64>,
    /// Whether the ids of the chunk being checked were recorded ([`Store::look_up`]).
    pub(super) looked_up_ids: HashMap<EventId, Option<u64>>,
}

impl Batch {
    pub(super) fn new(base: Head, actor: String, recorded_at: String) -> Batch {
        Batch {
            base,
            actor,
            recorded_at,
            next: base.count,
            prev: base.hash,
            appended: 0,
            pending: Vec::new(),
            pending_ids: HashMap::new(),
            stream_lens: HashMap::new(),
            known_lens: HashMap::new(),
            seen: Vec::new(),
            refusals: Vec::new(),
            erase: BTreeSet::new(),
            staged: false,
            frontier: Frontier::default(),
            turn: None,
            deferred: Vec::new(),
            recent_ids: HashMap::new(),
            in_flight: None,
            in_flight_ids: HashMap::new(),
            looked_up_ids: HashMap::new(),
        }
    }
}

impl Store {
    /// Folds every visible record of the ledger into the governance state (what the writer
    /// does when it needs a state and no [`GovernanceSource`] gives it one).
    pub fn governance_state_from_log(&self) -> Result<GovernanceState, CoreError> {
        let mut state = GovernanceState::default();
        self.fold_records(&mut state, 0, self.head().count)?;
        Ok(state)
    }

    /// Checks every event of a batch and stages its full chunks; the last chunk stays
    /// pending, and the chunk before it may still be in flight: the caller waits for it with
    /// [`Store::finish_staging`], whatever this answers.
    pub(super) fn run_batch<I>(
        &self,
        b: &mut Batch,
        events: I,
        state: &mut GovernanceState,
        rules: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), CoreError>
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        // Events are taken a chunk at a time: the store's reads for a chunk (its ids, the
        // lengths of streams new to the batch) are made before the chunk before it is handed to
        // its writing thread ([`Store::stage`]), whose sled batches hold sled's lock that every
        // read takes; the chunk is then checked without reading the store.
        let mut items = events.into_iter().enumerate();
        let mut chunk: Vec<(usize, ProposedEvent)> = Vec::new();
        let mut exhausted = false;
        while !exhausted {
            chunk.clear();
            while chunk.len() < self.chunk {
                let Some((index, item)) = items.next() else {
                    exhausted = true;
                    break;
                };
                if index % 4096 == 0 {
                    progress(index as u64);
                }
                match item {
                    Ok(event) => chunk.push((index, event)),
                    Err(refusal) => b.refusals.push(IndexedRefusal { index, refusal }),
                }
            }
            if chunk.is_empty() {
                continue;
            }
            self.finish_staging(b)?;
            self.look_up(b, &chunk)?;
            self.stage(b)?;
            for (index, event) in chunk.drain(..) {
                if let Err(refusal) =
                    self.check_and_stage(b, index, event, rules.then_some(&mut *state))?
                {
                    b.refusals.push(IndexedRefusal { index, refusal });
                }
            }
        }
        Ok(())
    }

    /// The store's reads a chunk's checks need, made before the chunk is checked: whether each
    /// id was recorded (unless the batch or its group has it already), and the length of each
    /// stream the batch has not met yet (kept with the lengths known from earlier batches:
    /// nothing of this batch is in such a stream).
    fn look_up(&self, b: &mut Batch, chunk: &[(usize, ProposedEvent)]) -> Result<(), CoreError> {
        b.looked_up_ids.clear();
        for (_, e) in chunk {
            if let Some(id) = e.id {
                if !b.pending_ids.contains_key(&id)
                    && !b.in_flight_ids.contains_key(&id)
                    && !b.recent_ids.contains_key(&id)
                {
                    let stored = self.t.ids.get(id.0.as_bytes())?.as_deref().and_then(be_u64);
                    b.looked_up_ids.insert(id, stored);
                }
            }
            let stream = e.stream.as_str();
            if !b.stream_lens.contains_key(stream) && !b.known_lens.contains_key(stream) {
                let len = self.stream_len(stream)?;
                b.known_lens.insert(stream.to_owned(), len);
            }
        }
        Ok(())
    }

    /// Applies the store's rules to one event and, when the batch is still clean, builds
    /// its record. The outer error is storage trouble; the inner one a refusal.
    pub(super) fn check_and_stage(
        &self,
        b: &mut Batch,
        index: usize,
        e: ProposedEvent,
        state: Option<&mut GovernanceState>,
    ) -> Result<Result<(), Refusal>, CoreError> {
        if let Some(id) = e.id {
            let id_key = *id.0.as_bytes();
            let earlier = match b
                .pending_ids
                .get(&id)
                .or_else(|| b.in_flight_ids.get(&id))
                .or_else(|| b.recent_ids.get(&id))
            {
                Some(p) => Some(*p),
                None => match b.looked_up_ids.get(&id) {
                    Some(stored) => *stored,
                    None => self.t.ids.get(id_key)?.as_deref().and_then(be_u64),
                },
            };
            if let Some(position) = earlier {
                if position >= b.base.count {
                    return Ok(Err(Refusal::at(
                        Rule::IdReused,
                        "id",
                        format!("the id {id} appears twice in this batch"),
                    )));
                }
                // The earlier record is read from the store: written first if still in flight.
                self.settle_reads(b)?;
                if self.same_content(position, &e)? {
                    b.seen.push((index, position));
                    return Ok(Ok(()));
                }
                return Ok(Err(Refusal::at(
                    Rule::IdReused,
                    "id",
                    format!(
                        "the id {id} was recorded before (position {position}) with other content"
                    ),
                )));
            }
        }
        let stream = e.stream.as_str().to_owned();
        let len = match b
            .stream_lens
            .get(&stream)
            .or_else(|| b.known_lens.get(&stream))
        {
            Some(n) => *n,
            None => self.stream_len(&stream)?,
        };
        if !e.expected_version.matches(len) {
            let actual = if len == 0 {
                "has no events".to_owned()
            } else {
                format!("is at version {}", len - 1)
            };
            return Ok(Err(Refusal::at(
                Rule::VersionConflict,
                "expected_version",
                format!(
                    "stream {stream} {actual}, but the event expects {}",
                    e.expected_version
                ),
            )));
        }
        if let Some(state) = state {
            if let Err(refusal) =
                state.check_with_personal(&e.event, e.effective, e.personal.as_ref())
            {
                return Ok(Err(refusal));
            }
            state.apply(&e.event, e.effective, b.next);
        }
        b.stream_lens.insert(stream.clone(), len + 1);
        if !b.refusals.is_empty() {
            // Nothing will be written: keep checking, build nothing.
            b.appended += 1;
            b.next += 1;
            return Ok(Ok(()));
        }
        let id = match e.id {
            Some(id) => id,
            None => new_event_id()?,
        };
        let personal = match e.personal {
            Some(value) => Some(Personal::new(random32()?, value)),
            None => None,
        };
        if let EventData::PersonalDataErased(d) = &e.event {
            self.erasure_targets(b, &d.subject)?;
        }
        let (record, stored) = Record::seal_stored(
            b.next,
            len,
            stream,
            e.event_type,
            id,
            e.effective.to_string(),
            b.recorded_at.clone(),
            b.actor.clone(),
            e.data,
            personal.as_ref().map(Personal::commitment),
            b.prev,
        );
        b.prev = record.hash;
        b.pending_ids.insert(id, b.next);
        b.next += 1;
        b.appended += 1;
        let nodes = b.frontier.push(&record.hash);
        b.pending.push(Staged {
            record,
            personal,
            nodes,
            stored: Some(stored),
        });
        Ok(Ok(()))
    }

    /// Whether the record at `position` holds the same content as `e` (idempotency).
    pub(super) fn same_content(&self, position: u64, e: &ProposedEvent) -> Result<bool, CoreError> {
        let record = self.record_at(position)?;
        let same = record.stream == e.stream.as_str()
            && record.event_type == e.event_type
            && record.effective == e.effective.to_string()
            && canonical::to_canonical(&record.data) == canonical::to_canonical(&e.data);
        if !same {
            return Ok(false);
        }
        Ok(match (record.personal_commitment, &e.personal) {
            (None, None) => true,
            (None, Some(_)) | (Some(_), None) => false,
            (Some(c), Some(p)) => match self.personal_at(position)? {
                Some(stored) => crate::record::commitment(&stored.salt, p) == c,
                // Erased: the personal data can no longer be compared.
                None => true,
            },
        })
    }

    /// Collects the positions whose personal data an erasure of `subject` removes.
    pub(super) fn erasure_targets(
        &self,
        b: &mut Batch,
        subject: &ErasureSubject,
    ) -> Result<(), CoreError> {
        // The scan below reads the store: every record before the batch must be in it.
        self.settle_reads(b)?;
        let matches = |r: &Record| match subject {
            ErasureSubject::Member(m) => {
                r.stream == format!("member/{m}")
                    || (r.event_type == EventType::CandidacySubmitted
                        && r.data.get("member_id").and_then(|v| v.as_str()) == Some(m.as_str()))
            }
            ErasureSubject::Case(c) => r.stream == format!("case/{c}"),
            ErasureSubject::Donor(d) => {
                crate::catalogue::names_donor(r.event_type, &r.data, d.as_str())
            }
        };
        let prefixes: Vec<Vec<u8>> = match subject {
            ErasureSubject::Member(m) => {
                vec![stream_prefix(&format!("member/{m}")), b"election/".to_vec()]
            }
            ErasureSubject::Case(c) => vec![stream_prefix(&format!("case/{c}"))],
            ErasureSubject::Donor(_) => vec![b"finance/".to_vec()],
        };
        for prefix in prefixes {
            for item in self.t.streams.scan_prefix(&prefix) {
                let (_, pos) = item?;
                let Some(position) = be_u64(&pos) else {
                    continue;
                };
                if !self.t.personal.contains_key(pos_key(position))? {
                    continue;
                }
                let record = self.record_at(position)?;
                if matches(&record) {
                    b.erase.insert(position);
                }
            }
        }
        for staged in &b.pending {
            if staged.personal.is_some() && matches(&staged.record) {
                b.erase.insert(staged.record.position);
            }
        }
        Ok(())
    }

    pub(super) fn stream_len(&self, stream: &str) -> Result<u64, CoreError> {
        Ok(
            match self.t.streams.last_with_prefix(stream_prefix(stream))? {
                Some((key, _)) if key.len() >= 8 => {
                    be_u64(&key[key.len() - 8..]).map_or(0, |v| v + 1)
                }
                _ => 0,
            },
        )
    }

    /// Writes the pending chunk invisibly (past the head). On sled the writes are made by a
    /// thread of their own while the appending thread checks the next chunk (one chunk in
    /// flight at a time): a large import's sled inserts leave the appending thread, whose
    /// checks are the serial part of an import.
    pub(super) fn stage(&self, b: &mut Batch) -> Result<(), CoreError> {
        if b.pending.is_empty() {
            return Ok(());
        }
        self.finish_staging(b)?;
        match self.sled_engine() {
            Some(_) => {
                let trees = self.t.clone();
                let writes = self.record_writes(&b.pending)?;
                let chunk = std::mem::take(&mut b.pending);
                b.in_flight_ids = std::mem::take(&mut b.pending_ids);
                b.in_flight = Some(
                    std::thread::Builder::new()
                        .name("kroniek-stage".into())
                        .spawn(move || {
                            let started = std::time::Instant::now();
                            let events = chunk.len() as u64;
                            drop(chunk);
                            let keys = writes.len() as u64;
                            write_batches(&trees, writes)?;
                            Ok(ChunkWritten {
                                nanos: u64::try_from(started.elapsed().as_nanos())
                                    .unwrap_or(u64::MAX),
                                keys,
                                events,
                            })
                        })?,
                );
            }
            None => {
                self.write_staged(&b.pending)?;
                b.pending.clear();
                b.pending_ids.clear();
            }
        }
        b.staged = true;
        Ok(())
    }

    /// Waits for the chunk in flight ([`Store::stage`]) to be written; its error, if any.
    pub(super) fn finish_staging(&self, b: &mut Batch) -> Result<(), CoreError> {
        let Some(writing) = b.in_flight.take() else {
            return Ok(());
        };
        let written = writing.join().unwrap_or_else(|_| {
            Err(CoreError::WriteFailed(
                "the thread writing a chunk of the import stopped (a defect: please report it)"
                    .into(),
            ))
        });
        b.in_flight_ids.clear();
        self.staging.add(&written?);
        Ok(())
    }

    /// The stored form of a chunk's records. Records [`META_BLOBS`] first (a write before the
    /// chunk's) when a value or key is large enough to put a node in a blob file.
    pub(super) fn encode(&self, chunk: &[Staged]) -> Result<Vec<EncodedRecord>, CoreError> {
        let encoded: Vec<EncodedRecord> = chunk
            .iter()
            .map(|s| {
                let value = match &s.stored {
                    Some(stored) => stored.clone(),
                    None => {
                        let mut value = Vec::with_capacity(400);
                        value.extend_from_slice(&s.record.hash);
                        if s.record.withheld {
                            value.extend_from_slice(&s.record.withheld_line());
                        } else {
                            value.extend_from_slice(&s.record.hashed_bytes());
                        }
                        value
                    }
                };
                let personal = s.personal.as_ref().map(|p| {
                    let mut v = p.salt.to_vec();
                    v.extend_from_slice(&canonical::to_canonical(&p.value));
                    v
                });
                (
                    stream_key(&s.record.stream, s.record.version),
                    value,
                    personal,
                )
            })
            .collect();
        let large = encoded.iter().any(|(key, value, personal)| {
            key.len() > LONG_KEY
                || value.len() > LARGE_VALUE
                || personal.as_ref().is_some_and(|p| p.len() > LARGE_VALUE)
        });
        if let Some(sled) = self.sled_engine() {
            if large
                && !sled
                    .blobs_possible
                    .load(std::sync::atomic::Ordering::SeqCst)
            {
                self.t.meta.insert(META_BLOBS, b"")?;
                sled.blobs_possible
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        Ok(encoded)
    }

    /// Writes a chunk past the head, invisible until a later commit moves the head. No
    /// cross-tree atomicity is needed: anything past the head is discarded on open.
    pub(super) fn write_staged(&self, chunk: &[Staged]) -> Result<(), CoreError> {
        write_batches(&self.t, self.record_writes(chunk)?)
    }

    /// Writes a batch's last chunk as single-key writes, past the stored head: a write group
    /// writes each batch's records so, and then the new head ([`Store::write_head`]), the
    /// commit point of a group without erasures.
    ///
    /// No sled transaction is needed: sled recovers a contiguous prefix of its log (recovery
    /// stops at the first torn or missing message), so a head that survives a crash brings
    /// every write before it, and writes past a head that did not survive are discarded on
    /// open ([`Store::discard_from`]). Each record goes before its index entries, so an index
    /// entry never outlives its record. A transaction would cost a second synced log write per
    /// append (sled writes a batch manifest in a buffer of its own); see `kroniek bench`.
    pub(super) fn write_records(&self, chunk: &[Staged]) -> Result<(), CoreError> {
        for (id, key, value) in self.record_writes(chunk)? {
            self.t.tree(id).insert(key, value)?;
        }
        Ok(())
    }

    /// Writes the head: the commit point of everything written before it (on another
    /// engine, the head's write ends the unit of work, and its commit makes it durable).
    pub(super) fn write_head(&self, head: Head) -> Result<(), CoreError> {
        let head_bytes = bincode::encode_to_vec(head, bincode_config())
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        self.t.meta.insert(b"head", head_bytes)?;
        self.commit_backend()
    }

    /// Commits the backend's unit of work (nothing on sled, whose writes are in place and
    /// made durable by [`Store::sync_to_disk`]).
    pub(super) fn commit_backend(&self) -> Result<(), CoreError> {
        match &self.engine {
            Engine::Sled(_) => Ok(()),
            Engine::Backend(backend) => backend.commit(),
        }
    }

    /// The single-key writes of a batch committed alone ([`Store::write_records`], then
    /// [`Store::write_head`]), in the order they are made, for a test to cut them anywhere, as
    /// a crash would.
    #[cfg(test)]
    pub(super) fn writes_in_log_order(
        &self,
        chunk: &[Staged],
        head: Head,
    ) -> Result<Vec<KeyWrite>, CoreError> {
        let head_bytes = bincode::encode_to_vec(head, bincode_config())
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        let mut writes = self.record_writes(chunk)?;
        writes.push((TreeId::Meta, b"head".to_vec(), head_bytes));
        Ok(writes)
    }

    /// The single-key writes that store a chunk's records (each record before its index
    /// entries, its personal data and the tree nodes it completes): the one description of
    /// a record's keys, used whether they are staged, committed in log order or in a
    /// transaction.
    pub(super) fn record_writes(&self, chunk: &[Staged]) -> Result<Vec<KeyWrite>, CoreError> {
        let mut writes = Vec::with_capacity(chunk.len() * 4 + 1);
        for (s, (skey, value, pers)) in chunk.iter().zip(self.encode(chunk)?) {
            let pk = pos_key(s.record.position).to_vec();
            writes.push((TreeId::Records, pk.clone(), value));
            writes.push((TreeId::Streams, skey, pk.clone()));
            if !s.record.withheld {
                // A withheld record's id is not known here.
                writes.push((TreeId::Ids, s.record.id.0.as_bytes().to_vec(), pk.clone()));
            }
            if let Some(p) = pers {
                writes.push((TreeId::Personal, pk, p));
            }
            for ((level, index), hash) in
                s.nodes.iter().filter(|((l, _), _)| *l >= STORED_TREE_LEVEL)
            {
                writes.push((
                    TreeId::Merkle,
                    node_key(*level, *index).to_vec(),
                    hash.to_vec(),
                ));
            }
        }
        Ok(writes)
    }

    /// Writes a chunk, the erasures and the new head in one sled transaction: the commit point
    /// of a batch that erases personal data (the erasures and the event that records them
    /// become durable together, or neither does).
    pub(super) fn write_chunk(
        &self,
        chunk: &[Staged],
        head: Option<Head>,
        erase: &BTreeSet<u64>,
    ) -> Result<(), CoreError> {
        let writes = self.record_writes(chunk)?;
        let head_bytes = match head {
            Some(h) => Some(
                bincode::encode_to_vec(h, bincode_config())
                    .map_err(|e| CoreError::Invalid(e.to_string()))?,
            ),
            None => None,
        };
        match &self.engine {
            Engine::Sled(_) => {}
            Engine::Backend(backend) => {
                // One unit of work: the chunk, the erasures and the head commit together.
                for (id, key, value) in &writes {
                    backend.insert(*id, key, value)?;
                }
                for position in erase {
                    backend.remove(KeySpace::Personal, &pos_key(*position))?;
                }
                if let Some(h) = &head_bytes {
                    backend.insert(KeySpace::Meta, b"head", h)?;
                    backend.commit()?;
                }
                return Ok(());
            }
        };
        let trees = (
            in_sled(&self.t.records)?,
            in_sled(&self.t.streams)?,
            in_sled(&self.t.ids)?,
            in_sled(&self.t.personal)?,
            in_sled(&self.t.meta)?,
            in_sled(&self.t.merkle)?,
        );
        trees.transaction(
            |(records, streams, ids, personal, meta, merkle): &(
                TransactionalTree,
                TransactionalTree,
                TransactionalTree,
                TransactionalTree,
                TransactionalTree,
                TransactionalTree,
            )| {
                for (id, key, value) in &writes {
                    let tree = match id {
                        TreeId::Records => records,
                        TreeId::Streams => streams,
                        TreeId::Ids => ids,
                        TreeId::Personal => personal,
                        TreeId::Merkle => merkle,
                        TreeId::Meta => meta,
                    };
                    tree.insert(key.as_slice(), value.as_slice())?;
                }
                for position in erase {
                    personal.remove(&pos_key(*position))?;
                }
                if let Some(h) = &head_bytes {
                    meta.insert("head", h.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<CoreError>>(())
            },
        )?;
        Ok(())
    }

    /// Waits until a flush covers `target`; the first waiter flushes for all (group commit).
    /// Records that a write or flush failed, so the store refuses further writes (see
    /// `write_failure`), and passes the error on. Readers keep seeing the committed head.
    pub(super) fn fail_stop(&self, e: CoreError) -> CoreError {
        if let Engine::Backend(backend) = &self.engine {
            backend.abort();
        }
        let _ = self.write_failure.set(format!(
            "{e}; the ledger is safe up to its committed head, but this process cannot write until it is restarted{}",
            if e.is_disk_full() { " (free disk space first)" } else { "" }
        ));
        e
    }

    /// After records were written outside a write group (a restore, a replication) and the
    /// head committed: the head moves, the writer's cached state (rules, Merkle frontier, stream
    /// lengths) is dropped to be read again, and the head is made durable and visible.
    pub(super) fn commit_outside_groups(
        &self,
        mut writer: MutexGuard<'_, Writer>,
        head: Head,
    ) -> Result<(), CoreError> {
        *lock(&self.applied) = head;
        writer.head = head;
        writer.state = None;
        writer.frontier = None;
        writer.known_lengths.clear();
        drop(writer);
        self.make_durable(head)
    }

    pub(super) fn make_durable(&self, target: Head) -> Result<(), CoreError> {
        let mut state = lock(&self.flush);
        loop {
            if state.durable >= target.count {
                return Ok(());
            }
            if state.flushing {
                state = self
                    .flushed
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            state.flushing = true;
            drop(state);
            let covered = *lock(&self.applied);
            let result = self.sync_to_disk();
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            state = lock(&self.flush);
            state.flushing = false;
            if result.is_ok() && covered.count > state.durable {
                state.durable = covered.count;
                self.raise_visible(covered);
            }
            self.flushed.notify_all();
            result?;
        }
    }

    /// Lets the writer take its governance state from `source` (a server's read side, which
    /// folds the same records) when it needs one and has none, instead of folding the whole
    /// ledger again: on its first append, and after records were written outside a write
    /// group. The state is asked for only then, so a server that takes no appends keeps one
    /// copy of it, not two. The state given is brought up to the writer's head by folding the
    /// records after its position; when the source has none to give, or is ahead of the
    /// writer, the log is folded. Set once; returns whether it was set.
    pub fn set_governance_source(&self, source: GovernanceSource) -> bool {
        self.governance_source.set(source).is_ok()
    }

    /// The governance state of the first `head` records: the source's, brought up to `head`,
    /// or else folded from the log. The writer's lock is held and every group in flight
    /// written (the records up to `head` are in the store).
    pub(super) fn governance_state_at(&self, head: u64) -> Result<GovernanceState, CoreError> {
        let given = self.governance_source.get().and_then(|source| source());
        let (mut state, from) = match given {
            Some((state, at)) if at <= head => (state, at),
            _ => (GovernanceState::default(), 0),
        };
        self.fold_records(&mut state, from, head)?;
        Ok(state)
    }

    /// Turns the governance rules off, for tests of the log alone.
    #[cfg(test)]
    pub(crate) fn without_rules(self) -> Store {
        lock(&self.writer).rules = false;
        self
    }

    /// How many flushes have acknowledged appends since the store was opened.
    pub fn flush_count(&self) -> u64 {
        self.flushes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Flushes everything to disk.
    pub fn flush(&self) -> Result<(), CoreError> {
        self.sync_to_disk()
    }

    /// Makes sled's new blob files durable, then writes sled's buffers to its log file and
    /// makes them durable.
    ///
    /// sled's own flush ends each write with `sync_file_range`, which saves neither the file's
    /// size (the log grows at its end) nor the drive's write cache: enough after `kill -9`, not
    /// after a power cut or a kernel crash, until sled's periodic `fsync` (every 500 ms). So an
    /// append is acknowledged only after an `fdatasync` of the log file as well; group commit
    /// shares it among the appends waiting for it.
    pub(super) fn sync_to_disk(&self) -> Result<(), CoreError> {
        let io = |e: std::io::Error| CoreError::Storage(sled::Error::Io(e));
        // Another engine's commits are durable when they return.
        let Some(sled) = self.sled_engine() else {
            return Ok(());
        };
        // Blob files first: they were written whole before the appends this flush covers were
        // applied, and the log entries that point to them should not reach the disk first.
        if self.blobs_possible() {
            self.sync_blobs(sled).map_err(io)?;
        }
        sled.db.flush()?;
        sled.log_file.sync_data().map_err(io)
    }

    /// Makes sled's new blob files durable. sled writes a tree node too large for its log
    /// buffers (over 128 KiB: a leaf holding an event of that size) to a file of its own in
    /// `sled/blobs` when it is inserted, and never syncs it, while the log that points to it is
    /// synced at the flush. Blob files are written once; one seen at a shorter length (still
    /// being written by another append) is synced again when it is seen complete. Called only
    /// once a store may have blob files (see [`LARGE_VALUE`]).
    pub(super) fn sync_blobs(&self, sled: &SledEngine) -> std::io::Result<()> {
        let dir = sled_path(&self.dir).join("blobs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut synced = lock(&sled.synced_blobs);
        let mut present = HashSet::new();
        let mut new = false;
        for entry in entries {
            let entry = entry?;
            let blob = (entry.file_name(), entry.metadata()?.len());
            if !synced.contains(&blob) {
                std::fs::File::open(entry.path())?.sync_all()?;
                new = true;
            }
            present.insert(blob);
        }
        if new {
            std::fs::File::open(&dir)?.sync_all()?;
        }
        *synced = present;
        Ok(())
    }
}

/// A sled store's key space as the sled tree it is.
fn in_sled(tree: &Tree) -> Result<&sled::Tree, CoreError> {
    tree.sled_tree().ok_or_else(|| {
        CoreError::Invalid("a sled store's key space is not in sled (a defect)".into())
    })
}
