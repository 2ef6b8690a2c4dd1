//! Write groups: appends that arrive while a group is being applied wait in a queue, and the
//! first of them to find no leader applies every waiting append in one go.
//!
//! The leader holds the writer lock and takes each append in arrival order: checked against
//! the governance state as the appends before it left it, its records written past the stored
//! head. One write of the head then commits the whole group (an append that erases personal
//! data commits itself, the group so far and its erasures in one sled transaction), the
//! leader lets the next group be applied, and one flush + `fdatasync` (shared by group commit
//! with any group applied meanwhile) makes it durable before every caller gets its own
//! answer. A refused append refuses only itself: nothing of it is written, the state is rolled
//! back to where it began, and the appends after it are judged without it. A storage failure
//! fails the group and stops the store's writes ([`Store::write_failure`]).

use super::*;
use std::time::Instant;

/// One append waiting for a leader.
pub(super) struct Waiting {
    ticket: u64,
    events: Vec<Result<ProposedEvent, Refusal>>,
    actor: String,
}

/// The appends waiting for a write group, and the answers of groups applied.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) waiting: Vec<Waiting>,
    answers: HashMap<u64, Result<AppendOutcome, CoreError>>,
    /// Whether a leader is applying a group (it holds the writer lock).
    pub(super) leading: bool,
    next_ticket: u64,
}

/// The write path's counters since the store was opened: how appends were grouped and how long
/// the writer lock was held (the serial section every append passes through).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Write groups applied.
    pub groups: u64,
    /// Appends (batches) in them, refused ones included.
    pub appends: u64,
    /// Events written.
    pub events: u64,
    /// Time the writer lock was held by the groups' leaders, in nanoseconds.
    pub serial_nanos: u64,
    /// Groups by how many appends they held: 1, 2–3, 4–7, 8–15, 16–31, 32–63, 64 and more.
    pub group_sizes: [u64; 7],
}

impl WriteStats {
    /// The lower bound of each bucket of [`WriteStats::group_sizes`].
    pub const BUCKETS: [u64; 7] = [1, 2, 4, 8, 16, 32, 64];

    fn count_group(&mut self, appends: u64, events: u64, serial: std::time::Duration) {
        self.groups += 1;
        self.appends += appends;
        self.events += events;
        self.serial_nanos += u64::try_from(serial.as_nanos()).unwrap_or(u64::MAX);
        let bucket = Self::BUCKETS
            .iter()
            .rposition(|low| appends >= *low)
            .unwrap_or(0);
        self.group_sizes[bucket] += 1;
    }
}

/// What one append of a group came to before the group's flush.
enum Applied {
    Appended { first: u64, count: u64, head: Head },
    AlreadyRecorded(Vec<u64>),
    Failed(CoreError),
}

/// The leader's running state of a group.
struct Group<'s> {
    head: Head,
    frontier: Frontier,
    /// Whether the stored head is `head` (else records past the stored head await it).
    head_stored: bool,
    /// Whether an append of the group staged chunks (they must be durable before the head).
    staged: bool,
    recorded_at: String,
    known_lengths: &'s mut HashMap<String, u64>,
    state: &'s mut GovernanceState,
    rules: bool,
}

impl CoreError {
    /// The same failure, for another caller of a write group that failed with it (a full disk
    /// stays recognisable as one).
    pub(super) fn for_another_caller(&self) -> CoreError {
        match self {
            CoreError::Storage(sled::Error::Io(io)) | CoreError::Io(io) => {
                CoreError::Io(std::io::Error::new(io.kind(), io.to_string()))
            }
            other => CoreError::WriteFailed(other.to_string()),
        }
    }
}

fn wait<'a>(changed: &Condvar, queue: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
    changed
        .wait(queue)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Appends one batch atomically (see [`Store::append_batch`]).
    pub fn append(
        &self,
        events: &[ProposedEvent],
        actor: &str,
    ) -> Result<AppendOutcome, CoreError> {
        self.append_batch(events.iter().cloned().map(Ok).collect(), actor)
    }

    /// Appends every event of `events` as one atomic batch, or nothing, in a write group with
    /// the appends that arrive meanwhile (each judged on its own).
    ///
    /// Items that are already refusals (lines that failed the structural rules) are reported
    /// with the refusals found here, in input order; when there is any, nothing is written.
    /// Answered once the batch is durable.
    pub fn append_batch(
        &self,
        events: Vec<Result<ProposedEvent, Refusal>>,
        actor: &str,
    ) -> Result<AppendOutcome, CoreError> {
        let mut queue = lock(&self.queue);
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.waiting.push(Waiting {
            ticket,
            events,
            actor: actor.to_owned(),
        });
        loop {
            if let Some(answer) = queue.answers.remove(&ticket) {
                return answer;
            }
            // Not answered and not waiting: a leader has it and is flushing.
            if !queue.leading && queue.waiting.iter().any(|w| w.ticket == ticket) {
                queue.leading = true;
                let group = std::mem::take(&mut queue.waiting);
                drop(queue);
                let (_, mut answers) = self.lead::<std::iter::Empty<_>>(None, group);
                let mine = answers
                    .iter()
                    .position(|(t, _)| *t == ticket)
                    .map(|i| answers.swap_remove(i).1);
                self.post(answers);
                return mine.unwrap_or_else(|| {
                    Err(CoreError::Invalid(
                        "the write group lost an append (a defect: please report it)".into(),
                    ))
                });
            }
            queue = wait(&self.queue_changed, queue);
        }
    }

    /// Appends every event of `events` as one atomic batch, or nothing, reading them as they
    /// come (a large import: memory stays bounded). The batch leads a write group of its own,
    /// with any appends waiting when it starts.
    ///
    /// Items that are already refusals are reported with the refusals found here, in input
    /// order; when there is any, nothing is written. `progress` is told how many events were
    /// read so far.
    pub fn append_iter<I>(
        &self,
        events: I,
        actor: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<AppendOutcome, CoreError>
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        let mut queue = lock(&self.queue);
        while queue.leading {
            queue = wait(&self.queue_changed, queue);
        }
        queue.leading = true;
        let group = std::mem::take(&mut queue.waiting);
        drop(queue);
        let (mine, answers) = self.lead(Some((events, actor, progress)), group);
        self.post(answers);
        mine.unwrap_or_else(|| {
            Err(CoreError::Invalid(
                "the write group lost an append (a defect: please report it)".into(),
            ))
        })
    }

    /// Hands the answers of a group to their waiting callers.
    fn post(&self, answers: Vec<(u64, Result<AppendOutcome, CoreError>)>) {
        if answers.is_empty() {
            return;
        }
        lock(&self.queue).answers.extend(answers);
        self.queue_changed.notify_all();
    }

    /// The write path's counters since the store was opened.
    pub fn write_stats(&self) -> WriteStats {
        lock(&self.writer).stats.clone()
    }

    /// Applies a group as its leader (`own` first, then `group` in arrival order), gives up the
    /// lead, makes the group durable and returns every answer: `own`'s apart.
    #[allow(clippy::type_complexity)]
    fn lead<I>(
        &self,
        own: Option<(I, &str, &mut dyn FnMut(u64))>,
        group: Vec<Waiting>,
    ) -> (
        Option<Result<AppendOutcome, CoreError>>,
        Vec<(u64, Result<AppendOutcome, CoreError>)>,
    )
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        let (own_applied, applied, head) = self.apply_group(own, group);
        {
            lock(&self.queue).leading = false;
            self.queue_changed.notify_all();
        }
        let needs_flush = own_applied
            .iter()
            .chain(applied.iter().map(|(_, a)| a))
            .any(|a| !matches!(a, Applied::Failed(_)));
        let durable = if needs_flush {
            self.make_durable(head).map_err(|e| self.fail_stop(e))
        } else {
            Ok(())
        };
        let answer = |applied: Applied| -> Result<AppendOutcome, CoreError> {
            match (applied, &durable) {
                (Applied::Failed(e), _) => Err(e),
                (_, Err(e)) => Err(e.for_another_caller()),
                (Applied::Appended { first, count, head }, Ok(())) => {
                    Ok(AppendOutcome::Appended { first, count, head })
                }
                (Applied::AlreadyRecorded(positions), Ok(())) => {
                    Ok(AppendOutcome::AlreadyRecorded {
                        positions,
                        head: self.head(),
                    })
                }
            }
        };
        (
            own_applied.map(answer),
            applied.into_iter().map(|(t, a)| (t, answer(a))).collect(),
        )
    }

    /// Applies a group under the writer lock: each append in turn, then the head. Returns what
    /// each came to and the group's head (to make durable).
    #[allow(clippy::type_complexity)]
    fn apply_group<I>(
        &self,
        own: Option<(I, &str, &mut dyn FnMut(u64))>,
        group: Vec<Waiting>,
    ) -> (Option<Applied>, Vec<(u64, Applied)>, Head)
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        let mut guard = lock(&self.writer);
        let started = Instant::now();
        let writer = &mut *guard;
        let appends = group.len() as u64 + u64::from(own.is_some());
        if self.write_failure().is_none() {
            if let Err(e) = self.begin_group(writer) {
                let e = self.fail_stop(e);
                return (
                    own.is_some()
                        .then(|| Applied::Failed(e.for_another_caller())),
                    group
                        .into_iter()
                        .map(|w| (w.ticket, Applied::Failed(e.for_another_caller())))
                        .collect(),
                    writer.head,
                );
            }
        }
        let before = writer.head;
        let fail_all = |e: CoreError, group: Vec<Waiting>, own: bool| {
            (
                own.then(|| Applied::Failed(e.for_another_caller())),
                group
                    .into_iter()
                    .map(|w| (w.ticket, Applied::Failed(e.for_another_caller())))
                    .collect(),
                before,
            )
        };
        if let Some(why) = self.write_failure() {
            return fail_all(CoreError::WriteFailed(why.to_owned()), group, own.is_some());
        }
        let prepared = (|| -> Result<Frontier, CoreError> {
            if writer.state.is_none() {
                writer.state = Some(self.governance_state_from_log()?);
            }
            match writer.frontier.take() {
                Some(f) if f.size() == before.count => Ok(f),
                _ => Ok(Frontier::at(self, before.count)?),
            }
        })();
        let frontier = match prepared {
            Ok(f) => f,
            Err(e) => return fail_all(e, group, own.is_some()),
        };
        if writer.known_lengths.len() > KNOWN_LENGTHS {
            writer.known_lengths.clear();
        }
        let Some(state) = writer.state.as_mut() else {
            return fail_all(
                CoreError::Invalid("the governance state was not built".into()),
                group,
                own.is_some(),
            );
        };
        let mut g = Group {
            head: before,
            frontier,
            head_stored: true,
            staged: false,
            recorded_at: now_recorded_at(),
            known_lengths: &mut writer.known_lengths,
            state,
            rules: writer.rules,
        };
        let mut fault: Option<CoreError> = None;
        let own_applied = own.map(|(events, actor, progress)| {
            let applied = self.apply_one(&mut g, events, actor, progress);
            if let Applied::Failed(e) = &applied {
                if is_fault(e) {
                    fault = Some(e.for_another_caller());
                }
            }
            applied
        });
        let mut applied: Vec<(u64, Applied)> = Vec::with_capacity(group.len());
        for w in group {
            if let Some(e) = &fault {
                applied.push((w.ticket, Applied::Failed(e.for_another_caller())));
                continue;
            }
            let a = self.apply_one(&mut g, w.events, &w.actor, &mut |_| {});
            if let Applied::Failed(e) = &a {
                if is_fault(e) {
                    fault = Some(e.for_another_caller());
                }
            }
            applied.push((w.ticket, a));
        }
        if fault.is_none() && !g.head_stored {
            let commit = (|| {
                if g.staged {
                    // Staged chunks are durable before the head that makes them visible.
                    self.sync_to_disk()?;
                }
                self.write_head(g.head)
            })();
            if let Err(e) = commit {
                fault = Some(self.fail_stop(e));
            }
        } else if fault.is_none() {
            // Nothing to commit: end the backend's unit of work (and its lock on the head).
            if let Err(e) = self.commit_backend() {
                fault = Some(self.fail_stop(e));
            }
        }
        let events = g.head.count - before.count;
        let head = g.head;
        let frontier = g.frontier;
        let (mut own_applied, mut applied) = (own_applied, applied);
        match fault {
            Some(e) => {
                // Nothing of the group is acknowledged; the store takes no more writes.
                writer.state = None;
                writer.frontier = None;
                writer.known_lengths.clear();
                let fail = |a: &mut Applied| {
                    if !matches!(a, Applied::Failed(_)) {
                        *a = Applied::Failed(e.for_another_caller());
                    }
                };
                own_applied.iter_mut().for_each(fail);
                applied.iter_mut().for_each(|(_, a)| fail(a));
                writer.stats.count_group(appends, 0, started.elapsed());
                (own_applied, applied, before)
            }
            None => {
                *lock(&self.applied) = head;
                writer.head = head;
                writer.frontier = Some(frontier);
                writer.stats.count_group(appends, events, started.elapsed());
                (own_applied, applied, head)
            }
        }
    }

    /// Applies one append of a group: checks it, and when it passes writes its records past
    /// the stored head (or, with erasures, commits it and the group so far).
    fn apply_one<I>(
        &self,
        g: &mut Group<'_>,
        events: I,
        actor: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Applied
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        g.state.begin();
        let mut batch = Batch::new(g.head, actor.to_owned(), g.recorded_at.clone());
        batch.frontier = g.frontier.clone();
        batch.known_lens = std::mem::take(g.known_lengths);
        let rules = g.rules;
        let result = self
            .run_batch(&mut batch, events, g.state, rules, progress)
            .and_then(|()| self.settle(g, &mut batch));
        *g.known_lengths = std::mem::take(&mut batch.known_lens);
        if result.is_ok() {
            g.known_lengths.extend(batch.stream_lens.drain());
        }
        match result {
            Ok(applied) => {
                g.state.commit();
                applied
            }
            Err(e) => {
                g.state.rollback();
                if is_fault(&e) {
                    return Applied::Failed(self.fail_stop(e));
                }
                if batch.staged {
                    if let Err(e) = self.discard_from(batch.base.count) {
                        return Applied::Failed(self.fail_stop(e));
                    }
                }
                Applied::Failed(e)
            }
        }
    }

    /// The end of one checked append: refused (an error), recorded before, or written.
    fn settle(&self, g: &mut Group<'_>, b: &mut Batch) -> Result<Applied, CoreError> {
        if !b.refusals.is_empty() || (!b.seen.is_empty() && b.appended > 0) {
            let mut refusals = std::mem::take(&mut b.refusals);
            if b.appended > 0 {
                for (index, position) in &b.seen {
                    refusals.push(IndexedRefusal {
                        index: *index,
                        refusal: Refusal::at(Rule::IdReused, "id", format!(
                            "this event was recorded before (position {position}) but others in the batch are new: send a batch all new or all seen before"
                        )),
                    });
                }
            }
            refusals.sort_by_key(|r| r.index);
            return Err(CoreError::Refused(refusals));
        }
        if b.appended == 0 && !b.seen.is_empty() {
            return Ok(Applied::AlreadyRecorded(
                b.seen.iter().map(|(_, p)| *p).collect(),
            ));
        }
        let head = Head {
            count: b.next,
            hash: b.prev,
        };
        if b.appended > 0 {
            if b.erase.is_empty() {
                self.write_records(&b.pending)?;
                g.head_stored = false;
            } else {
                if b.staged || g.staged {
                    self.sync_to_disk()?;
                }
                self.write_chunk(&b.pending, Some(head), &b.erase)?;
                g.head_stored = true;
                self.erasure_committed();
            }
            g.staged |= b.staged;
            g.head = head;
            g.frontier = std::mem::take(&mut b.frontier);
        }
        Ok(Applied::Appended {
            first: b.base.count,
            count: b.appended,
            head: g.head,
        })
    }
}

/// Whether an error is storage trouble (the store stops writing) rather than a refusal.
fn is_fault(e: &CoreError) -> bool {
    matches!(
        e,
        CoreError::Storage(_) | CoreError::Io(_) | CoreError::WriteFailed(_)
    )
}

impl Store {
    /// On another engine, where other processes may write the same ledger: opens the group's
    /// unit of work (locking the stored head) and, when others appended since this writer's
    /// head, takes their records in first: folded into the rules' state, the head, the Merkle
    /// frontier (read again) and the stream lengths (forgotten) moved on, and made visible.
    /// Nothing on sled, whose folder one process holds.
    fn begin_group(&self, writer: &mut Writer) -> Result<(), CoreError> {
        let Engine::Backend(backend) = &self.engine else {
            return Ok(());
        };
        let stored =
            stored_head(backend.begin()?.as_deref()).map_err(|why| CoreError::Corrupt(0, why))?;
        if stored == writer.head {
            return Ok(());
        }
        if stored.count <= writer.head.count {
            return Err(CoreError::Backend(format!(
                "the stored head ({} records, {}) is not ahead of the head this process wrote ({} records, {}): the database was rolled back or replaced; restore it, or restart this process",
                stored.count,
                stored.hash_hex(),
                writer.head.count,
                writer.head.hash_hex()
            )));
        }
        if let Some(state) = writer.state.as_mut() {
            for record in self.records_between(writer.head.count, stored.count) {
                let record = record?;
                fold_record(state, &record)?;
            }
        }
        writer.head = stored;
        writer.frontier = None;
        writer.known_lengths.clear();
        *lock(&self.applied) = stored;
        self.advance_visible(stored);
        Ok(())
    }

    /// Makes `head` (durable: written by another process, or flushed) what readers see,
    /// unless they see more already.
    pub(super) fn advance_visible(&self, head: Head) {
        let mut flush = lock(&self.flush);
        if head.count > flush.durable {
            flush.durable = head.count;
        }
        self.raise_visible(head);
    }

    /// Makes `head` what readers see unless they see more already (the caller holds the flush
    /// lock, so visibility never runs ahead of what is durable).
    pub(super) fn raise_visible(&self, head: Head) {
        let mut visible = self
            .visible
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if head.count > visible.count {
            *visible = head;
        }
    }

    /// For a ledger other processes may write (another engine): reads the committed head and
    /// makes it visible when it is ahead of what this process sees. Returns whether it moved.
    /// Always false on sled (one process holds the folder).
    pub fn follow(&self) -> Result<bool, CoreError> {
        if self.is_folder() {
            return Ok(false);
        }
        let stored = stored_head(self.t.meta.get("head")?.as_deref())
            .map_err(|why| CoreError::Corrupt(0, why))?;
        if stored.count > self.head().count {
            self.advance_visible(stored);
            return Ok(true);
        }
        Ok(false)
    }

    /// Waits until another process may have appended (another engine's notification), at
    /// most `timeout`; then [`Store::follow`] tells. On sled it just waits.
    pub fn wait_for_others(&self, timeout: std::time::Duration) -> Result<(), CoreError> {
        match &self.engine {
            Engine::Backend(backend) => backend.wait_for_commit(timeout),
            Engine::Sled(_) => {
                std::thread::sleep(timeout);
                Ok(())
            }
        }
    }
}

/// Folds one record into the rules' state, as the store's first append does for the log.
pub(super) fn fold_record(state: &mut GovernanceState, record: &Record) -> Result<(), CoreError> {
    let effective =
        Date::parse(&record.effective).map_err(|e| CoreError::Corrupt(record.position, e))?;
    let event = record.event_data().map_err(|(field, why)| {
        CoreError::Corrupt(record.position, format!("data.{field}: {why}"))
    })?;
    state.apply(&event, effective, record.position);
    Ok(())
}
