//! Reading and walking the log: records and their personal data up to the committed head,
//! streams and categories, export lines, the replay that every rebuild of the read models
//! uses, and `verify`'s walk over the stored records.

use super::*;

/// What a chain walk found: a verdict about the chain, or the read that failed (never a verdict).
pub(super) type WalkOutcome = Result<Result<Verified, Broken>, CoreError>;

/// One segment of a replay: the stored keys and values (kept for a walk), and the records
/// decoded with their personal data.
type ReadSegment = (Raw, Decoded);
/// A segment's stored keys and values.
type Raw = Vec<(sled::IVec, sled::IVec)>;
/// A segment's records, decoded with their personal data.
type Decoded = Vec<(Record, Option<Personal>)>;

/// Records per segment of a replay: what one reading thread reads and decodes at a time.
pub const REPLAY_SEGMENT: usize = 1_024;

/// The most threads that read and decode the records of a replay (see [`replay_workers`]).
pub const REPLAY_WORKERS_MAX: usize = 4;

/// How many threads read and decode the records of a replay beside the one that folds them:
/// the cores, from two (reading and decoding cost more than folding, so on two cores two
/// threads keep the fold busy) up to [`REPLAY_WORKERS_MAX`] (past that, the fold is the bound).
///
/// Counted once per process: on Linux, `available_parallelism` reads the cgroup's CPU quota
/// from `/proc` and `/sys` on every call, and a server catching its read side up after each
/// append spent 14% of its CPU there.
pub fn replay_workers() -> usize {
    static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WORKERS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, REPLAY_WORKERS_MAX)
    })
}

/// A full verification, one stored record at a time (see [`Store::verify`]): each record's
/// hash, position and link, and its personal data merge-joined with the `personal` tree; at
/// the end, the head. [`Store::replay_verified`] runs it on the pages a rebuild reads anyway.
pub(super) struct ChainWalk {
    pub(super) head: Head,
    pub(super) chain: ChainVerifier,
    pub(super) personal: std::iter::Peekable<Iter>,
    /// A read that failed: the walk stopped on it, and its outcome is that error, never a
    /// verdict about the chain (a full disk is not tampering).
    pub(super) storage: Option<CoreError>,
    /// The copy's view ([`Store::view`]): which records and personal data it must hold.
    pub(super) view: Option<crate::catalogue::AccessRole>,
}

impl ChainWalk {
    /// Records checked so far: the position the next one must have.
    pub(super) fn checked(&self) -> u64 {
        self.chain.finish().count
    }

    /// Checks the next stored record (its `records` key and value).
    pub(super) fn check(&mut self, key: &[u8], value: &[u8]) -> Result<(), Broken> {
        let expected = self.checked();
        let position = be_u64(key).ok_or_else(|| Broken {
            position: expected,
            why: "a record key is not a position".into(),
        })?;
        if position != expected {
            return Err(Broken {
                position: expected,
                why: format!(
                    "gap: position {expected} is missing (the next stored record is {position})"
                ),
            });
        }
        let (hash, bytes) = split_value(value).ok_or_else(|| Broken {
            position,
            why: "the record is truncated".into(),
        })?;
        if is_withheld_value(bytes) {
            return self.check_withheld(position, &hash, bytes);
        }
        let computed = *blake3::hash(bytes).as_bytes();
        if computed != hash {
            return Err(Broken {
                position,
                why: format!(
                    "hash mismatch: the record hashes to {} but says {}",
                    hex(&computed),
                    hex(&hash)
                ),
            });
        }
        let tail = HashedTail::parse(bytes).ok_or_else(|| Broken {
            position,
            why: "the record is not in the record format".into(),
        })?;
        if tail.position != position {
            return Err(Broken {
                position,
                why: format!(
                    "the record at position {position} says it is at position {}",
                    tail.position
                ),
            });
        }
        self.chain
            .link(position, &tail.prev_hash, tail.stream, tail.version, &hash)?;
        // What a view copy holds of this record: whole, and its personal data or not.
        let personal_held = match self.view {
            None => true,
            Some(role) => {
                let event_type = EventType::from_name(tail.event_type).ok_or_else(|| Broken {
                    position,
                    why: format!(
                        "\"{}\" is not an event type of the catalogue",
                        tail.event_type
                    ),
                })?;
                match crate::access::shown_in(role, tail.stream, event_type) {
                    crate::access::Shown::Withheld => {
                        return Err(Broken {
                            position,
                            why: format!(
                                "this copy holds the {} view, which withholds this record, but holds it whole",
                                role.as_str()
                            ),
                        })
                    }
                    crate::access::Shown::Record { personal } => personal,
                }
            }
        };
        let stored_personal = self.stored_personal(position)?;
        if !personal_held && stored_personal.is_some() {
            return Err(Broken {
                position,
                why: "personal data is held that this copy's view does not show".into(),
            });
        }
        let personal_missing =
            personal_held && tail.personal_commitment.is_some() && stored_personal.is_none();
        match (tail.personal_commitment, stored_personal) {
            (None, Some(_)) => {
                return Err(Broken {
                    position,
                    why: "personal data is stored for a record without a personal commitment"
                        .into(),
                })
            }
            (Some(c), Some(v)) => {
                let ok = v.len() >= 32 && {
                    let mut salt = [0u8; 32];
                    salt.copy_from_slice(&v[..32]);
                    *blake3::keyed_hash(&salt, &v[32..]).as_bytes() == c
                };
                if !ok {
                    return Err(Broken {
                        position,
                        why: "personal data does not match its commitment".into(),
                    });
                }
            }
            _ => {}
        }
        // The erasure check needs the record's subject: decode the (rare) records that record
        // an erasure or miss their personal data.
        if personal_missing || tail.event_type == "PersonalDataErased" {
            let record = decode_stored(position, value).map_err(|e| Broken {
                position,
                why: e.to_string(),
            })?;
            self.chain.note_personal(&record, personal_missing);
        }
        Ok(())
    }

    /// Checks a record a view copy holds withheld: the line's place in the chain (its hash
    /// cannot be recomputed), that the copy's view withholds it, and that no personal data is
    /// held for it.
    fn check_withheld(
        &mut self,
        position: u64,
        hash: &[u8; 32],
        line: &[u8],
    ) -> Result<(), Broken> {
        let record = decode_withheld(position, hash, line).map_err(|e| Broken {
            position,
            why: e.to_string(),
        })?;
        match self.view {
            Some(role) if matches!(crate::access::shown_in(role, &record.stream, record.event_type), crate::access::Shown::Withheld) => {}
            Some(role) => {
                return Err(Broken {
                    position,
                    why: format!(
                        "the record is held withheld, but this copy holds the {} view, which shows it",
                        role.as_str()
                    ),
                })
            }
            None => {
                return Err(Broken {
                    position,
                    why: "the record is held withheld, in a store that holds every record whole (a record was replaced)".into(),
                })
            }
        }
        self.chain.link_withheld(
            position,
            &record.prev_hash,
            &record.stream,
            record.version,
            &record.hash,
        )?;
        if self.stored_personal(position)?.is_some() {
            return Err(Broken {
                position,
                why: "personal data is stored for a withheld record".into(),
            });
        }
        Ok(())
    }

    /// The `personal` tree's entry at `position`, merge-joined with the records walked in
    /// order: an entry before `position` has no record to belong to.
    fn stored_personal(&mut self, position: u64) -> Result<Option<sled::IVec>, Broken> {
        let ppos = match self.personal.peek() {
            None => return Ok(None),
            Some(Ok((pkey, _))) => be_u64(pkey).unwrap_or(u64::MAX),
            Some(Err(_)) => {
                let e = match self.personal.next() {
                    Some(Err(e)) => e,
                    _ => CoreError::Invalid("a read failed and then did not (a defect)".into()),
                };
                return Err(self.failed_read(position, e));
            }
        };
        if ppos < position {
            return Err(Broken {
                position: ppos,
                why: "personal data is stored for a record without a personal commitment".into(),
            });
        }
        if ppos > position {
            return Ok(None);
        }
        match self.personal.next() {
            Some(Ok((_, v))) => Ok(Some(v)),
            Some(Err(e)) => Err(self.failed_read(position, e)),
            None => Ok(None),
        }
    }

    /// Notes a read that failed at `position`, for [`ChainWalk::outcome`].
    pub(super) fn failed_read(&mut self, position: u64, e: CoreError) -> Broken {
        let why = format!("storage error: {e}");
        self.storage = Some(e);
        Broken { position, why }
    }

    /// What the walk found: a verdict about the chain, or the read that failed.
    pub(super) fn outcome(self, broken: Option<Broken>) -> WalkOutcome {
        if let Some(e) = self.storage {
            return Err(e);
        }
        Ok(match broken {
            Some(b) => Err(b),
            None => self.finish(),
        })
    }

    /// The outcome, once every stored record up to the head was checked.
    pub(super) fn finish(self) -> Result<Verified, Broken> {
        let done = self.chain.finish();
        if done.count != self.head.count {
            return Err(Broken {
                position: done.count,
                why: format!(
                    "gap: the head says {} records, but they end at position {}",
                    self.head.count, done.count
                ),
            });
        }
        if done.head != self.head.hash {
            return Err(Broken {
                position: self.head.count.saturating_sub(1),
                why: format!(
                    "the stored head hash {} differs from the last record's hash {}",
                    hex(&self.head.hash),
                    hex(&done.head)
                ),
            });
        }
        self.chain.complete()
    }
}

impl Store {
    /// The record at `position` (visible or not: callers bound it by the head).
    pub fn record_at(&self, position: u64) -> Result<Record, CoreError> {
        let value = self
            .t
            .records
            .get(pos_key(position))?
            .ok_or_else(|| CoreError::Corrupt(position, "the record is missing".into()))?;
        decode_stored(position, &value)
    }

    /// The personal data of the record at `position`, unless there is none or it was erased.
    pub fn personal_at(&self, position: u64) -> Result<Option<Personal>, CoreError> {
        self.t
            .personal
            .get(pos_key(position))?
            .map(|v| decode_personal(position, &v))
            .transpose()
    }

    /// Records from `from`, at most `limit`, in position order.
    pub fn read_range(&self, from: u64, limit: u64) -> Result<Vec<Record>, CoreError> {
        let end = self.head().count.min(from.saturating_add(limit));
        (from..end).map(|p| self.record_at(p)).collect()
    }

    /// Every visible record in position order, lazily.
    pub fn iter_from(&self, from: u64) -> impl Iterator<Item = Result<Record, CoreError>> + '_ {
        self.records_between(from, self.head().count)
    }

    /// The records at positions `from..end`, in order.
    pub(super) fn records_between(
        &self,
        from: u64,
        end: u64,
    ) -> impl Iterator<Item = Result<Record, CoreError>> + '_ {
        self.t
            .records
            .range(pos_key(from)..pos_key(end))
            .map(|item| {
                let (key, value) = item?;
                decode_stored(be_u64(&key).unwrap_or_default(), &value)
            })
    }

    /// A record with its personal data (none when it has none or it was erased).
    pub(super) fn with_personal(
        &self,
        record: Record,
    ) -> Result<(Record, Option<Personal>), CoreError> {
        let personal = match record.personal_commitment {
            Some(_) => self.personal_at(record.position)?,
            None => None,
        };
        Ok((record, personal))
    }

    /// Calls `apply` with each record from `from` up to the head (as it was at the call) and its
    /// personal data, in order. For more than a few records, [`replay_workers`] threads read
    /// sled's pages and decode the records (with their personal data, read in one pass beside
    /// them) while `apply` runs, so reading, decoding and folding overlap; each reads at most a
    /// few segments ahead.
    /// An error of any side stops them all and is returned.
    pub fn replay<E>(
        &self,
        from: u64,
        apply: impl FnMut(&Record, Option<&Personal>) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<CoreError>,
    {
        self.replay_walking(from, None, apply).map(|_| ())
    }

    /// [`Store::replay`] from the first record, with [`Store::verify`]'s checks run on the
    /// same pages as they are read, instead of in a walk of their own: one pass over the log
    /// instead of two, and the memory of one. Returns what the verification found; a broken
    /// chain does not stop the replay (a record that cannot be read does, as in `replay`).
    pub fn replay_verified<E>(
        &self,
        apply: impl FnMut(&Record, Option<&Personal>) -> Result<(), E>,
    ) -> Result<Result<Verified, Broken>, E>
    where
        E: From<CoreError>,
    {
        match self.chain_walk() {
            // The walk and the replay end at the same committed head, unless an append commits
            // in between: then the walk checks the shorter prefix, which is still the ledger.
            Ok(walk) => match self.replay_walking(0, Some(walk), apply)? {
                Some(outcome) => Ok(outcome?),
                None => Ok(self.verify(&mut |_| {})?),
            },
            Err(broken) => self.replay(0, apply).map(|()| Err(broken)),
        }
    }

    /// [`Store::replay`], with `walk` (from the first record) checking each stored record on
    /// a thread of its own. Its outcome, or `None` when the records were too few for threads
    /// and the walk did not run.
    ///
    /// The records are cut into segments of [`REPLAY_SEGMENT`]; [`replay_workers`] threads
    /// each read and decode every so-many-th segment, so reading and decoding scale with the
    /// cores, and the caller folds the segments in order, taking segment `s` from worker
    /// `s mod workers` (no reordering; each worker holds at most two segments it has read and
    /// one it is reading). A
    /// folded segment goes back to the worker that decoded it to be freed there: freeing
    /// memory on the thread that allocated it is cheaper, and keeps that work off the fold,
    /// the one serial stage. With a walk, the caller hands each segment's stored bytes, in
    /// order, to the walking thread.
    pub(super) fn replay_walking<E>(
        &self,
        from: u64,
        walk: Option<ChainWalk>,
        apply: impl FnMut(&Record, Option<&Personal>) -> Result<(), E>,
    ) -> Result<Option<WalkOutcome>, E>
    where
        E: From<CoreError>,
    {
        self.replay_on(from, walk, replay_workers(), apply)
    }

    /// [`Store::replay_walking`] with `workers` reading threads (at least one).
    pub(super) fn replay_on<E>(
        &self,
        from: u64,
        walk: Option<ChainWalk>,
        workers: usize,
        mut apply: impl FnMut(&Record, Option<&Personal>) -> Result<(), E>,
    ) -> Result<Option<WalkOutcome>, E>
    where
        E: From<CoreError>,
    {
        type Segment = Result<ReadSegment, CoreError>;
        // With a walk, exactly the records it checks: its head may be behind one committed
        // since (the walk would otherwise meet records past the head it was given).
        let end = walk
            .as_ref()
            .map_or_else(|| self.head().count, |w| w.head.count);
        let segment = REPLAY_SEGMENT as u64;
        if end.saturating_sub(from) <= 2 * segment {
            // A few records (a read side catching up after an append): no thread.
            for record in self.records_between(from, end) {
                let (record, personal) = self.with_personal(record?)?;
                apply(&record, personal.as_ref())?;
            }
            return Ok(None);
        }
        let segments = (end - from).div_ceil(segment);
        let workers = workers.max(1);
        let keep_raw = walk.is_some();
        std::thread::scope(|scope| {
            let mut from_workers = Vec::with_capacity(workers);
            let mut to_workers = Vec::with_capacity(workers);
            for worker in 0..workers {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Segment>(2);
                let (done_tx, done_rx) = std::sync::mpsc::channel::<(Raw, Decoded)>();
                from_workers.push(rx);
                to_workers.push(done_tx);
                scope.spawn(move || {
                    let mut s = worker as u64;
                    while s < segments {
                        // Free what the fold is done with, here where it was allocated.
                        while let Ok(folded) = done_rx.try_recv() {
                            drop(folded);
                        }
                        let lower = from + s * segment;
                        let upper = (lower + segment).min(end);
                        let read = self.read_segment(lower, upper, keep_raw);
                        let failed = read.is_err();
                        if tx.send(read).is_err() || failed {
                            return; // the fold stopped, or this is its last segment
                        }
                        s += workers as u64;
                    }
                });
            }
            // Walking: the stored bytes, in order, on a thread of their own.
            let (raw_tx, walking) = match walk {
                Some(mut walk) => {
                    let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Raw>(2);
                    let walking = scope.spawn(move || {
                        let mut broken = None;
                        for raw in raw_rx {
                            for (key, value) in &raw {
                                if broken.is_none() {
                                    broken = walk.check(key, value).err();
                                }
                            }
                        }
                        walk.outcome(broken)
                    });
                    (Some(raw_tx), Some(walking))
                }
                None => (None, None),
            };
            // Folding, here, segment by segment in order.
            for s in 0..segments {
                let worker = (s % workers as u64) as usize;
                let (raw, decoded) = match from_workers[worker].recv() {
                    Ok(read) => read?,
                    Err(_) => {
                        return Err(CoreError::Io(std::io::Error::other(
                            "a thread reading the records stopped (a defect: please report it)",
                        ))
                        .into())
                    }
                };
                let raw = match &raw_tx {
                    Some(walker) if !raw.is_empty() => {
                        // The walk ended early only if its thread did (a bug): the fold
                        // goes on, and the walk's outcome says what it found.
                        let _ = walker.send(raw);
                        Vec::new()
                    }
                    _ => raw,
                };
                for (record, personal) in &decoded {
                    apply(record, personal.as_ref())?;
                }
                let _ = to_workers[worker].send((raw, decoded));
            }
            drop(raw_tx);
            // The walking thread ended: its panic (a bug) is not a verification outcome.
            Ok(walking.and_then(|w| w.join().ok()))
        })
    }

    /// The records at positions `lower..upper`, decoded with their personal data, and (when
    /// `keep_raw`) their stored keys and values.
    fn read_segment(
        &self,
        lower: u64,
        upper: u64,
        keep_raw: bool,
    ) -> Result<ReadSegment, CoreError> {
        let capacity = (upper - lower) as usize;
        let mut raw = Vec::with_capacity(if keep_raw { capacity } else { 0 });
        let mut decoded = Vec::with_capacity(capacity);
        // The segment's personal data, merge-joined in one pass beside its records instead of
        // a look-up per record: most records of a party's ledger carry some.
        let mut stored_personal = self
            .t
            .personal
            .range(pos_key(lower)..pos_key(upper))
            .peekable();
        for item in self.t.records.range(pos_key(lower)..pos_key(upper)) {
            let (key, value) = item?;
            let position = be_u64(&key).unwrap_or_default();
            let record = decode_stored(position, &value)?;
            // The fold's typed read, done here beside the reading and decoding.
            record.data.read_typed(record.event_type);
            let personal = match record.personal_commitment {
                Some(_) => personal_in(&mut stored_personal, position)?,
                None => None,
            };
            decoded.push((record, personal));
            if keep_raw {
                raw.push((key, value));
            }
        }
        Ok((raw, decoded))
    }

    /// The records of one stream from `from_version`, in version order.
    pub fn read_stream(&self, stream: &str, from_version: u64) -> Result<Vec<Record>, CoreError> {
        let end = self.head().count;
        let mut out = Vec::new();
        for item in self
            .t
            .streams
            .range(stream_key(stream, from_version)..stream_key(stream, u64::MAX))
        {
            let (_, pos) = item?;
            let Some(position) = be_u64(&pos) else {
                continue;
            };
            if position < end {
                out.push(self.record_at(position)?);
            }
        }
        Ok(out)
    }

    /// The records of every stream of one category (`access`), in stream then version order.
    pub fn read_category(
        &self,
        category: crate::catalogue::Category,
    ) -> Result<Vec<Record>, CoreError> {
        let end = self.head().count;
        let prefix = format!("{}/", category.name());
        let mut out = Vec::new();
        for item in self.t.streams.scan_prefix(prefix.as_bytes()) {
            let (_, pos) = item?;
            let Some(position) = be_u64(&pos) else {
                continue;
            };
            if position < end {
                out.push(self.record_at(position)?);
            }
        }
        Ok(out)
    }

    /// The export line of a record, with its personal data as `view_personal` allows.
    /// A record held withheld gives its withheld line, and personal data a view copy does not
    /// hold is left out (never shown as erased).
    pub fn export_line(&self, record: &Record, with_personal: bool) -> Result<Vec<u8>, CoreError> {
        if record.withheld {
            return Ok(record.withheld_line());
        }
        let held = self.held_as(&record.stream, record.event_type)
            == crate::access::Shown::Record { personal: true };
        if !with_personal || !held || record.personal_commitment.is_none() {
            return Ok(record.export_line(PersonalView::Omitted));
        }
        Ok(match self.personal_at(record.position)? {
            Some(p) => record.export_line(PersonalView::Shown(&p)),
            None => record.export_line(PersonalView::Erased),
        })
    }

    /// Walks the stored chain up to the committed head (what readers see; a batch whose flush
    /// failed is not part of it): every hash recomputed from the stored bytes, every link,
    /// position and stream version, and every personal commitment. The inner result is the
    /// verdict; a read that fails is the outer error, never a verdict.
    pub fn verify(
        &self,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Result<Verified, Broken>, CoreError> {
        let mut walk = match self.chain_walk() {
            Ok(w) => w,
            Err(b) => return Ok(Err(b)),
        };
        let mut broken = None;
        for item in self.t.records.range(..pos_key(walk.head.count)) {
            let expected = walk.checked();
            if expected.is_multiple_of(65_536) {
                progress(expected);
            }
            let (key, value) = item?;
            if let Err(b) = walk.check(&key, &value) {
                broken = Some(b);
                break;
            }
        }
        let outcome = walk.outcome(broken)?;
        if let Ok(done) = &outcome {
            progress(done.count);
        }
        Ok(outcome)
    }

    /// The checks of [`Store::verify`], ready to take the stored records from the first.
    /// The walk ends at the committed head, the one readers see: sled's stored `head` may be
    /// ahead of it after a write whose flush failed (a full disk), and nothing past the
    /// committed head is part of the ledger.
    pub(super) fn chain_walk(&self) -> Result<ChainWalk, Broken> {
        let head = self.head();
        Ok(ChainWalk {
            head,
            chain: ChainVerifier::new(),
            personal: self.t.personal.range(..pos_key(head.count)).peekable(),
            storage: None,
            view: self.view(),
        })
    }
}

/// Decodes the stored personal data of the record at `position`: its salt, then its value.
fn decode_personal(position: u64, stored: &[u8]) -> Result<Personal, CoreError> {
    let Some((salt, value)) = stored.split_first_chunk::<32>() else {
        return Err(CoreError::Corrupt(
            position,
            "personal data is truncated".into(),
        ));
    };
    let value =
        crate::record::JsonData::read_stored(value).map_err(|e| CoreError::Corrupt(position, e))?;
    Ok(Personal { salt: *salt, value })
}

/// The personal data stored for `position`, from an iterator over the `personal` tree in key
/// order that has not passed it: entries before it (of records that hold none) are skipped,
/// and the iterator is left on the first entry after it.
fn personal_in(
    stored: &mut std::iter::Peekable<Iter>,
    position: u64,
) -> Result<Option<Personal>, CoreError> {
    let key = pos_key(position);
    while let Some(entry) = stored.peek() {
        match entry {
            Ok((k, _)) if k.as_ref() < key.as_slice() => {
                stored.next();
            }
            Ok((k, v)) if k.as_ref() == key.as_slice() => {
                let personal = decode_personal(position, v)?;
                stored.next();
                return Ok(Some(personal));
            }
            Ok(_) => return Ok(None),
            Err(_) => {
                return match stored.next() {
                    Some(Err(e)) => Err(e),
                    _ => Ok(None),
                }
            }
        }
    }
    Ok(None)
}
