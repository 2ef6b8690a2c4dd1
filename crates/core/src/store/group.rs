//! Write groups: appends that arrive while a group is being applied wait in a queue, and the
//! first of them to find no leader applies every waiting append in one go.
//!
//! The leader holds the writer lock and takes each append in arrival order: checked against
//! the governance state as the appends before it left it, and its records sealed (positions,
//! hashes, the Merkle frontier). The leader then lets the next group be checked. On sled it
//! writes the group's records past the stored head only after that, beside the next group's
//! checks, and then, in the groups' order ([`Commits`]), the head, which commits the whole
//! group; elsewhere records and head are written under the writer lock, in the backend's unit
//! of work. (An append that erases personal data commits itself, the group so far and its
//! erasures in one sled transaction, under the writer lock.) One flush + `fdatasync` (shared
//! by group commit with any group applied meanwhile) makes the group durable before every
//! caller gets its own answer. A refused append refuses only itself: nothing of it is written,
//! the state is rolled back to where it began, and the appends after it are judged without it.
//! A storage failure fails the group and stops the store's writes ([`Store::write_failure`]).
//!
//! A caller waits for its answer as a parked thread ([`Store::append_batch`]: it may be handed
//! the lead, and yields once before it leads while another group's flush is under way), or not
//! at all ([`Store::append_batch_then`]: a callback is called with the answer). Appends of the
//! second kind are led by *leader threads*, which a front end runs
//! ([`Store::lead_waiting_appends`]): an idle one is woken when such appends wait and no group
//! is being applied. The HTTP API appends so, without a blocking thread per request.

use super::*;
use std::time::Instant;

/// One append waiting for a leader: what to apply, and who is told the answer.
pub(super) struct Waiting {
    append: Pending,
    caller: Caller,
}

/// An append as its group's leader applies it.
pub(super) struct Pending {
    ticket: u64,
    events: Vec<Result<ProposedEvent, Refusal>>,
    actor: String,
}

/// What is told an append's answer: the caller's thread, or a callback.
pub type AnswerCallback = Box<dyn FnOnce(Result<AppendOutcome, CoreError>) + Send>;

/// Who waits for an append's answer.
pub(super) enum Caller {
    /// A thread parked in [`Store::append_batch`] until it is answered or handed the lead.
    Thread(std::thread::Thread),
    /// [`Store::append_batch_then`]'s callback, called by the thread that answers the group
    /// (a leader thread, see [`Store::lead_waiting_appends`], or a waiting thread that led
    /// it): no thread waits for it.
    Callback(AnswerCallback),
}

/// The appends waiting for a write group, and the answers of groups applied.
///
/// Callers are woken one by one, never all at once: a caller parks its thread, and is
/// unparked when its answer is posted, or (the first waiting caller) when a leader gives up
/// the lead while appends still wait. With 32 writers, waking every caller at each change cost
/// more CPU in context switches than the appends themselves.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) waiting: Vec<Waiting>,
    answers: HashMap<u64, Result<AppendOutcome, CoreError>>,
    /// Whether a leader is applying a group (it holds the writer lock).
    pub(super) leading: bool,
    next_ticket: u64,
    /// Imports ([`Store::append_iter`]) waiting on the condition variable for the lead.
    importers_waiting: usize,
    /// Leader threads with nothing to lead, parked until callback appends wait for a leader
    /// ([`Store::lead_waiting_appends`]).
    pub(super) idle_leaders: Vec<std::thread::Thread>,
}

impl Queue {
    /// Gives up the lead: the first waiting thread (if any) is woken to take it, an idle
    /// leader thread too when callback appends wait, and the imports waiting for it.
    fn give_up_lead(&mut self, changed: &Condvar) {
        self.leading = false;
        if let Some(first) = self.waiting.iter().find_map(|w| match &w.caller {
            Caller::Thread(thread) => Some(thread),
            Caller::Callback(_) => None,
        }) {
            first.unpark();
        }
        if self
            .waiting
            .iter()
            .any(|w| matches!(w.caller, Caller::Callback(_)))
        {
            self.wake_a_leader();
        }
        if self.importers_waiting > 0 {
            changed.notify_all();
        }
    }

    /// Queues an append with the next ticket, which it returns.
    fn enqueue(
        &mut self,
        events: Vec<Result<ProposedEvent, Refusal>>,
        actor: &str,
        caller: Caller,
    ) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.push(Waiting {
            append: Pending {
                ticket,
                events,
                actor: actor.to_owned(),
            },
            caller,
        });
        ticket
    }

    /// Wakes one idle leader thread, if there is one (the busy ones look at the queue again
    /// before they park).
    fn wake_a_leader(&mut self) {
        if let Some(leader) = self.idle_leaders.pop() {
            leader.unpark();
        }
    }
}

/// A group's answers: each waiting caller's ticket, caller and answer.
type Answers = Vec<(u64, Caller, Result<AppendOutcome, CoreError>)>;

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
    /// Time the groups held their turn to write their head (on sled), in nanoseconds:
    /// the other serial section (it overlaps the next group's time under the writer lock).
    pub ordered_nanos: u64,
    /// Groups by how many appends they held: 1, 2–3, 4–7, 8–15, 16–31, 32–63, 64 and more.
    pub group_sizes: [u64; 7],
    /// Time threads spent writing the staged chunks of large batches (a large import's sled
    /// batches, written beside the appending thread), in nanoseconds: the second serial stage
    /// of an import, one chunk at a time.
    pub staging_nanos: u64,
    /// sled keys those threads wrote (records, stream and id index entries, personal data,
    /// Merkle nodes): what [`WriteStats::staging_nanos`] was spent on.
    pub staged_keys: u64,
    /// Events in the chunks those threads wrote.
    pub staged_events: u64,
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

/// On sled, the order in which write groups commit. A group takes a turn under the writer
/// lock; once that lock is let go (the next group is being checked), it writes its records past
/// the stored head, then waits until every group before it has taken its turn, and writes its
/// head. So a head is written only after every record it covers, and sled, which recovers a
/// prefix of its log, never brings back a head without them; records past the stored head are
/// discarded on open. Reads of the store while groups are in flight (the rules' state, the
/// Merkle frontier, a record recorded before) wait for them ([`Store::settle_reads`]).
#[derive(Debug, Default)]
pub(super) struct Commits {
    /// Turns given out.
    issued: u64,
    /// Turns taken: the groups before this one have written their heads.
    taken: u64,
    /// Time spent in turns, in nanoseconds.
    ordered_nanos: u64,
    /// Threads parked until `taken` reaches a turn, by that turn: each taken turn wakes only
    /// the threads waiting for it (a condition variable woke every group in flight at each).
    waiting: std::collections::BTreeMap<u64, Vec<std::thread::Thread>>,
}

/// What a sled group leaves to write once the writer lock is let go.
struct Commit {
    turn: u64,
    records: Vec<Staged>,
    /// The head to write (none when the group's last append committed it, or nothing was
    /// appended).
    head: Option<Head>,
    /// The head the group's appends reached (what a flush may make visible after the turn).
    reached: Option<Head>,
    /// Whether chunks were staged (they are made durable before the head).
    staged: bool,
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
    /// On sled: the group's turn, its records not yet written and the ids of every record
    /// not yet written.
    turn: Option<u64>,
    deferred: Vec<Staged>,
    recent_ids: &'s mut HashMap<EventId, u64>,
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
        let ticket = queue.enqueue(events, actor, Caller::Thread(std::thread::current()));
        let mut yielded = false;
        loop {
            if let Some(answer) = queue.answers.remove(&ticket) {
                return answer;
            }
            // Not answered and not waiting: a leader has it and is flushing.
            if !queue.leading && queue.waiting.iter().any(|w| w.append.ticket == ticket) {
                // While another group's flush is under way, this group's flush would wait for
                // it anyway: yield once first, so that appends about to queue (the callers
                // that flush is answering) join this group instead of each leading its own.
                if !yielded && lock(&self.flush).flushing {
                    yielded = true;
                    drop(queue);
                    std::thread::yield_now();
                    queue = lock(&self.queue);
                    continue;
                }
                queue.leading = true;
                let group = std::mem::take(&mut queue.waiting);
                drop(queue);
                let (_, mut answers) = self.lead::<std::iter::Empty<_>>(None, group);
                let mine = answers
                    .iter()
                    .position(|(t, _, _)| *t == ticket)
                    .map(|i| answers.swap_remove(i).2);
                self.post(answers);
                return mine.unwrap_or_else(|| {
                    Err(CoreError::Invalid(
                        "the write group lost an append (a defect: please report it)".into(),
                    ))
                });
            }
            drop(queue);
            // Unparked when answered or handed the lead; an unpark that came before this park
            // makes it return at once, and a spurious return just looks again.
            std::thread::park();
            queue = lock(&self.queue);
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
            queue.importers_waiting += 1;
            queue = wait(&self.queue_changed, queue);
            queue.importers_waiting -= 1;
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

    /// Hands the answers of a group to their waiting callers, and wakes each of them.
    /// Callbacks are called here, on this thread, after the queue's lock is let go.
    fn post(&self, answers: Answers) {
        if answers.is_empty() {
            return;
        }
        let mut threads = Vec::with_capacity(answers.len());
        let mut callbacks = Vec::new();
        let mut queue = lock(&self.queue);
        for (ticket, caller, answer) in answers {
            match caller {
                Caller::Thread(thread) => {
                    queue.answers.insert(ticket, answer);
                    threads.push(thread);
                }
                Caller::Callback(callback) => callbacks.push((callback, answer)),
            }
        }
        drop(queue);
        for thread in threads {
            thread.unpark();
        }
        for (callback, answer) in callbacks {
            callback(answer);
        }
    }

    /// Queues `events` as one atomic batch, as [`Store::append_batch`] does, and returns at
    /// once: `answer` is called with the outcome once the batch is durable (or refused), on
    /// the thread that answers its group.
    ///
    /// No thread waits for the batch, so a *leader thread* must apply it: a thread that calls
    /// [`Store::lead_waiting_appends`] again whenever it is unparked. A front end that appends
    /// this way keeps at least one running for as long as it appends; else the batch waits
    /// until an [`Store::append_batch`] caller leads a group.
    pub fn append_batch_then(
        &self,
        events: Vec<Result<ProposedEvent, Refusal>>,
        actor: &str,
        answer: AnswerCallback,
    ) {
        let mut queue = lock(&self.queue);
        queue.enqueue(events, actor, Caller::Callback(answer));
        if !queue.leading {
            queue.wake_a_leader();
        }
    }

    /// A leader thread's step: when appends wait and no group is being applied, leads one
    /// group of them (every append waiting, whoever made it), calls `settled` once the group
    /// is durable and before its callers are answered, and returns `true`. Otherwise it
    /// registers this thread as an idle leader, to be unparked when callback appends
    /// ([`Store::append_batch_then`]) wait for a leader, and returns `false`: the thread then
    /// parks (`std::thread::park`, or `park_timeout`) and calls this again.
    ///
    /// Two or more leader threads keep groups in flight together: one applies the next group
    /// while another makes its own durable.
    pub fn lead_waiting_appends(&self, settled: &mut dyn FnMut()) -> bool {
        let mut queue = lock(&self.queue);
        if queue.leading || queue.waiting.is_empty() {
            let me = std::thread::current();
            if !queue.idle_leaders.iter().any(|t| t.id() == me.id()) {
                queue.idle_leaders.push(me);
            }
            return false;
        }
        queue.leading = true;
        let group = std::mem::take(&mut queue.waiting);
        drop(queue);
        let (_, answers) = self.lead::<std::iter::Empty<_>>(None, group);
        settled();
        self.post(answers);
        true
    }

    /// A leader thread's last step, when it stops leading while the store stays open: it is
    /// no longer woken for callback appends (else a wake-up could go to it, and the appends
    /// wait for another leader's own look at the queue).
    pub fn retire_leader_thread(&self) {
        let me = std::thread::current().id();
        lock(&self.queue).idle_leaders.retain(|t| t.id() != me);
    }

    /// The write path's counters since the store was opened.
    pub fn write_stats(&self) -> WriteStats {
        let mut stats = lock(&self.writer).stats.clone();
        stats.ordered_nanos = lock(&self.commits).ordered_nanos;
        (stats.staging_nanos, stats.staged_keys, stats.staged_events) = self.staging.read();
        stats
    }

    /// Waits until every group before `turn` has written its head.
    fn wait_for_turn(&self, turn: u64) {
        loop {
            let mut commits = lock(&self.commits);
            if commits.taken >= turn {
                return;
            }
            commits
                .waiting
                .entry(turn)
                .or_default()
                .push(std::thread::current());
            drop(commits);
            // Unparked when the turn is taken; an unpark that came before this park makes it
            // return at once, and a spurious return just looks again.
            std::thread::park();
        }
    }

    /// Waits until every group given a turn so far has written its head (the store then
    /// holds every record applied). Called under the writer lock, so no turn is given out
    /// meanwhile.
    pub(super) fn settle_commits(&self) {
        let issued = lock(&self.commits).issued;
        self.wait_for_turn(issued);
    }

    /// Before a batch reads the store for records before it: writes its group's records not
    /// yet written and waits for the groups before it, and for its own chunk in flight.
    pub(super) fn settle_reads(&self, b: &mut Batch) -> Result<(), CoreError> {
        self.finish_staging(b)?;
        if !b.deferred.is_empty() {
            self.write_records(&b.deferred)?;
            b.deferred.clear();
        }
        if let Some(turn) = b.turn {
            self.wait_for_turn(turn);
        }
        Ok(())
    }

    /// A sled group's commit, after the writer lock was let go: its records (beside other
    /// groups'), then in its turn its head. A failure stops the store's writes before the turn
    /// passes, so the groups after it fail too.
    fn commit_in_turn(&self, commit: Commit) -> Result<(), CoreError> {
        let written = match self.write_failure() {
            Some(why) => Err(CoreError::WriteFailed(why.to_owned())),
            None if commit.records.is_empty() => Ok(()),
            None => self.write_records(&commit.records),
        };
        self.wait_for_turn(commit.turn);
        let started = Instant::now();
        let result = written.and_then(|()| {
            if let Some(why) = self.write_failure() {
                return Err(CoreError::WriteFailed(why.to_owned()));
            }
            if let Some(head) = commit.head {
                if commit.staged {
                    // Staged chunks are durable before the head that makes them visible.
                    self.sync_to_disk()?;
                }
                self.write_head(head)?;
            }
            if let Some(reached) = commit.reached {
                *lock(&self.applied) = reached;
            }
            Ok(())
        });
        let result = result.map_err(|e| match e {
            CoreError::WriteFailed(_) => e,
            e => self.fail_stop(e),
        });
        let mut commits = lock(&self.commits);
        commits.taken += 1;
        commits.ordered_nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let next = commits.taken + 1;
        let later = commits.waiting.split_off(&next);
        let due = std::mem::replace(&mut commits.waiting, later);
        drop(commits);
        for thread in due.into_values().flatten() {
            thread.unpark();
        }
        result
    }

    /// Applies a group as its leader (`own` first, then `group` in arrival order), gives up the
    /// lead, makes the group durable and returns every answer (with its caller): `own`'s apart.
    #[allow(clippy::type_complexity)]
    fn lead<I>(
        &self,
        own: Option<(I, &str, &mut dyn FnMut(u64))>,
        group: Vec<Waiting>,
    ) -> (Option<Result<AppendOutcome, CoreError>>, Answers)
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        // `applied` answers `group` one for one, in its order.
        let (group, callers): (Vec<Pending>, Vec<Caller>) =
            group.into_iter().map(|w| (w.append, w.caller)).unzip();
        let (own_applied, applied, head, commit) = self.apply_group(own, group);
        lock(&self.queue).give_up_lead(&self.queue_changed);
        let committed = match commit {
            Some(commit) => self.commit_in_turn(commit),
            None => Ok(()),
        };
        let needs_flush = own_applied
            .iter()
            .chain(applied.iter().map(|(_, a)| a))
            .any(|a| !matches!(a, Applied::Failed(_)));
        let durable = match committed {
            Err(e) => Err(e),
            Ok(()) if needs_flush => self.make_durable(head).map_err(|e| self.fail_stop(e)),
            Ok(()) => Ok(()),
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
            applied
                .into_iter()
                .zip(callers)
                .map(|((t, a), caller)| (t, caller, answer(a)))
                .collect(),
        )
    }

    /// Applies a group under the writer lock: each append in turn, then (except on sled) the
    /// head. Returns what each came to, the group's head (to make durable) and, on sled, what
    /// is left to write ([`Store::commit_in_turn`]).
    #[allow(clippy::type_complexity)]
    fn apply_group<I>(
        &self,
        own: Option<(I, &str, &mut dyn FnMut(u64))>,
        group: Vec<Pending>,
    ) -> (Option<Applied>, Vec<(u64, Applied)>, Head, Option<Commit>)
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
                    None,
                );
            }
        }
        let before = writer.head;
        let fail_all = |e: CoreError, group: Vec<Pending>, own: bool| {
            (
                own.then(|| Applied::Failed(e.for_another_caller())),
                group
                    .into_iter()
                    .map(|w| (w.ticket, Applied::Failed(e.for_another_caller())))
                    .collect(),
                before,
                None,
            )
        };
        if let Some(why) = self.write_failure() {
            return fail_all(CoreError::WriteFailed(why.to_owned()), group, own.is_some());
        }
        let deferring = self.sled_engine().is_some();
        let reads_store = writer.state.is_none()
            || !matches!(&writer.frontier, Some(f) if f.size() == before.count)
            || writer.known_lengths.len() > KNOWN_LENGTHS
            || writer.recent_ids.len() > KNOWN_LENGTHS;
        if deferring && reads_store {
            // Read below from the store, or forgotten: every group in flight is written first.
            self.settle_commits();
        }
        let prepared = (|| -> Result<Frontier, CoreError> {
            if writer.state.is_none() {
                writer.state = Some(self.governance_state_at(before.count)?);
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
        let turn = deferring.then(|| {
            let mut commits = lock(&self.commits);
            if commits.taken == commits.issued {
                // No group in flight: the ids tree holds every id.
                writer.recent_ids.clear();
            }
            commits.issued += 1;
            commits.issued - 1
        });
        let Some(state) = writer.state.as_mut() else {
            let e = CoreError::Invalid("the governance state was not built".into());
            let (own, group, head, _) = fail_all(e, group, own.is_some());
            let commit = turn.map(|turn| Commit {
                turn,
                records: Vec::new(),
                head: None,
                reached: None,
                staged: false,
            });
            return (own, group, head, commit);
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
            turn,
            deferred: Vec::new(),
            recent_ids: &mut writer.recent_ids,
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
        if turn.is_some() {
            // On sled the records and the head are written once the writer lock is let go.
        } else if fault.is_none() && !g.head_stored {
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
        let commit = turn.map(|turn| Commit {
            turn,
            records: if fault.is_none() {
                g.deferred
            } else {
                Vec::new()
            },
            head: (fault.is_none() && !g.head_stored).then_some(head),
            reached: fault.is_none().then_some(head),
            staged: g.staged,
        });
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
                (own_applied, applied, before, commit)
            }
            None => {
                if commit.is_none() {
                    *lock(&self.applied) = head;
                }
                writer.head = head;
                writer.frontier = Some(frontier);
                writer.stats.count_group(appends, events, started.elapsed());
                (own_applied, applied, head, commit)
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
        batch.turn = g.turn;
        batch.deferred = std::mem::take(&mut g.deferred);
        batch.recent_ids = std::mem::take(g.recent_ids);
        let rules = g.rules;
        let checked = self.run_batch(&mut batch, events, g.state, rules, progress);
        // Every chunk is written (or has failed) before the batch is settled or discarded.
        let staged = self.finish_staging(&mut batch);
        let result = checked
            .and(staged)
            .and_then(|()| self.settle(g, &mut batch));
        *g.known_lengths = std::mem::take(&mut batch.known_lens);
        g.deferred = std::mem::take(&mut batch.deferred);
        *g.recent_ids = std::mem::take(&mut batch.recent_ids);
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
                if b.turn.is_some() {
                    // Written once the writer lock is let go (see `Commits`).
                    for staged in &b.pending {
                        b.recent_ids
                            .insert(staged.record.id, staged.record.position);
                    }
                    b.deferred.append(&mut b.pending);
                } else {
                    self.write_records(&b.pending)?;
                }
                g.head_stored = false;
            } else {
                // The head written with the erasures covers the group's records so far.
                self.settle_reads(b)?;
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
            self.fold_records(state, writer.head.count, stored.count)?;
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
fn fold_record(state: &mut GovernanceState, record: &Record) -> Result<(), CoreError> {
    let effective =
        Date::parse(&record.effective).map_err(|e| CoreError::Corrupt(record.position, e))?;
    let event = record.event_data().map_err(|(field, why)| {
        CoreError::Corrupt(record.position, format!("data.{field}: {why}"))
    })?;
    state.apply(&event, effective, record.position);
    Ok(())
}

impl Store {
    /// Folds the records at positions `from..end` into `state`, in order.
    pub(super) fn fold_records(
        &self,
        state: &mut GovernanceState,
        from: u64,
        end: u64,
    ) -> Result<(), CoreError> {
        for record in self.records_between(from, end) {
            fold_record(state, &record?)?;
        }
        Ok(())
    }
}
