//! The server's shared state: the store, and the read side (read models and the access
//! table) kept up to date after every append. sled calls run on blocking threads.

use super::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kroniek_core::access::AccessTable;
use kroniek_core::catalogue::AccessRole;
use kroniek_core::store::Store;
use kroniek_core::types::Date;
use kroniek_core::CoreError;
use kroniek_projections::Projections;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// Limits that keep one client from hurting the rest.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most events in one batch.
    pub max_batch: usize,
    /// Longest a request may take, in seconds.
    pub timeout_secs: u64,
    /// Verifier keys of the witnesses whose cosignatures are accepted.
    pub witnesses: Vec<String>,
    /// Whether cookies get `Secure`: the server is reached over https (`--public-url`).
    pub secure_cookies: bool,
    /// How long the web audit page waits for a report being made before it answers with the
    /// report's progress (and refreshes itself).
    pub audit_page_wait: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_batch: 10_000,
            timeout_secs: 60,
            witnesses: Vec::new(),
            secure_cookies: false,
            audit_page_wait: std::time::Duration::from_secs(1),
        }
    }
}

/// What readers read: the read models and the access table, with the position up to which
/// they have applied the log.
#[derive(Debug, Default)]
pub struct ReadSide {
    pub projections: Projections,
    pub access: AccessTable,
    /// What the audit report needs beyond the projections.
    pub audit: kroniek_projections::audit::AuditFacts,
    pub applied: u64,
}

/// Everything a handler needs.
pub struct AppState {
    pub store: Arc<Store>,
    /// For a follower (`kroniek follow`): the leader's URL. Writes answer 405 naming it.
    pub leader: Option<String>,
    /// For a follower: the token it follows with, as the leader's principal and role (a copy
    /// of a role's view may hold no access records, so its own token is admitted here).
    pub follower_token: RwLock<Option<kroniek_core::access::Principal>>,
    /// Walks of the whole chain under way.
    walking: std::sync::atomic::AtomicU32,
    /// The ledger's size when the last walk began (`u64::MAX`: none yet).
    walked_size: std::sync::atomic::AtomicU64,
    pub read: RwLock<ReadSide>,
    pub limits: Limits,
    /// "Today" in the Netherlands (a function, so tests could fix it).
    pub today: fn() -> Date,
    pub metrics: super::metrics::Metrics,
    /// The durable head's count, for subscribers to wait on.
    pub head: tokio::sync::watch::Sender<u64>,
    /// The web pages' signed-in sessions.
    pub sessions: crate::web::session::Sessions,
    /// The outcome of the last full verification, for the overview page.
    pub last_verification: std::sync::Mutex<Option<Verification>>,
    /// Exports under way, per principal (at most [`EXPORTS_PER_PRINCIPAL`] each).
    pub exports: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    /// The audit reports made, by their parameters, with the ledger size each was made at: a
    /// report reads the whole ledger, so the API, the page and its downloads reuse it until the
    /// next append (see [`AppState::audit_report`]).
    pub audit_reports: std::sync::Mutex<
        std::collections::HashMap<String, (u64, Arc<kroniek_projections::audit::AuditReport>)>,
    >,
    /// The JSON bodies of `GET /v1/audit/{year}` made, by role and parameters, with the ledger
    /// size each was made at (at most [`AUDIT_BODY_ENTRIES`]): a repeat at the same size is
    /// answered without redacting and serialising the report again.
    pub audit_bodies: std::sync::Mutex<std::collections::HashMap<String, AuditBody>>,
    /// The audit reports being made, by parameters: how far each is (done, of total), for the
    /// web page that shows it.
    pub audits_under_way: std::sync::Mutex<std::collections::HashMap<String, Arc<AuditProgress>>>,
    /// The position of the newest snapshot of the read side, loaded or saved (0: none).
    pub snapshot_at: std::sync::atomic::AtomicU64,
    /// Serialises saving snapshots.
    snapshot_lock: std::sync::Mutex<()>,
    /// Set while a snapshot's encoding holds the read side: an append answered meanwhile does
    /// not wait to fold its records (see [`AppState::catch_up_after_append`]).
    encoding: std::sync::atomic::AtomicBool,
    /// Set by an append answered before the read side folded its records; every request
    /// catches the read side up first while it is set ([`AppState::catch_up_if_lagging`]).
    lagging: std::sync::atomic::AtomicBool,
    /// Set with `lagging` when those records grant or revoke access: appends, which read
    /// nothing else of the read side, then catch it up first too (their token is checked
    /// against the access table).
    lagging_access: std::sync::atomic::AtomicBool,
    /// How the read side was built at start, for the log: from a snapshot (its position), and
    /// the snapshots ignored, each with why.
    pub started_from: Option<u64>,
    pub ignored_snapshots: Vec<String>,
    /// Leader threads running for the API's appends ([`AppState::append`]): how many.
    leader_threads: std::sync::atomic::AtomicUsize,
}

/// How many threads lead the write groups of the API's appends (see
/// [`Store::lead_waiting_appends`]): two, so that one applies the next group while the other
/// makes its own durable and catches the read side up.
pub const APPEND_LEADER_THREADS: usize = 2;

/// How long an idle leader thread sleeps before it looks at the queue again on its own (it is
/// unparked when appends wait; the look also lets it end soon after the state is dropped).
const LEADER_IDLE_LOOK: std::time::Duration = std::time::Duration::from_millis(200);

/// How many exports one principal may have under way at once.
pub const EXPORTS_PER_PRINCIPAL: usize = 2;

/// An export under way, counted for its principal until it is dropped (the export ended, or
/// its client went away).
pub struct ExportSlot {
    exports: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    principal: String,
}

impl ExportSlot {
    /// A slot for `principal`, unless they have [`EXPORTS_PER_PRINCIPAL`] under way.
    pub fn take(
        exports: &Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
        principal: &str,
    ) -> Option<ExportSlot> {
        let mut map = exports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(principal.to_owned()).or_default();
        if *n >= EXPORTS_PER_PRINCIPAL {
            return None;
        }
        *n += 1;
        Some(ExportSlot {
            exports: exports.clone(),
            principal: principal.to_owned(),
        })
    }
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        let mut map = self
            .exports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.principal) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.principal);
            }
        }
    }
}

/// How many audit reports (years and parameters) the server keeps: the last one made. Each
/// costs tens of MB on a large ledger (31 MB at 1,000,000 events, and 55–70 MB more while it
/// is made), and one is made again in about a second from the read side; a repeat of the API's request is
/// answered from its JSON body ([`AUDIT_BODY_ENTRIES`]). A report no longer kept is dropped
/// before the next is made, so that two are never held at once.
pub const AUDIT_CACHE_ENTRIES: usize = 1;

/// How far an audit report being made is: steps done of a total (see
/// `kroniek_app::audit::from_open_store`).
#[derive(Debug, Default)]
pub struct AuditProgress {
    pub done: std::sync::atomic::AtomicU64,
    pub total: std::sync::atomic::AtomicU64,
}

impl AuditProgress {
    /// Percent done, 0–100.
    pub fn percent(&self) -> u64 {
        let total = self.total.load(std::sync::atomic::Ordering::Relaxed);
        let done = self.done.load(std::sync::atomic::Ordering::Relaxed);
        (done * 100).checked_div(total).unwrap_or(0).min(100)
    }
}

/// An audit report's JSON body, with the ledger size it was made at.
pub type AuditBody = (u64, Arc<Vec<u8>>);

/// How many audit bodies (roles and parameters) the server keeps: the last one made (each is
/// the report's JSON, 8–18 MB at 1,000,000 events). Like the reports, a body no longer kept is
/// dropped before the next is made: with two kept, the older two bodies (30 MB) were held
/// while the next report was made, at the server's peak of memory. A request for another
/// year's report makes it again (about a second); another role's body of the report kept is
/// only its redaction and JSON.
pub const AUDIT_BODY_ENTRIES: usize = 1;

/// What a verification that passed checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub count: u64,
    pub erased: u64,
    /// Records held withheld (a follower's copy of a role's view), linked but not rehashed.
    pub withheld: u64,
    pub head: String,
}

/// The outcome of a full walk of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// When it finished (UTC, to the second).
    pub at: String,
    /// Records checked and erased personal values explained, or the position where the
    /// chain broke and why.
    pub outcome: Result<Verified, (u64, String)>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// A leader thread of the API's appends (see [`Store::lead_waiting_appends`]): leads the
/// groups of appends waiting and, once each is durable, catches the read side up before its
/// callers are answered, so that an answered append is on the read side. Holds the state only
/// while it leads; it ends at its first look after the state was dropped.
fn lead_appends(state: &std::sync::Weak<AppState>) {
    let Some(store) = state.upgrade().map(|st| Arc::downgrade(&st.store)) else {
        return;
    };
    loop {
        {
            let Some(st) = state.upgrade() else { break };
            // A failed catch-up is left to the caller's own ([`AppState::append`]), and so is
            // marking that access changed while a snapshot's encoding holds the read side.
            while st.store.lead_waiting_appends(&mut || {
                let _ = st.catch_up_after_append(false);
            }) {}
        }
        std::thread::park_timeout(LEADER_IDLE_LOOK);
    }
    // The state is gone; a store that outlives it (another state may take its appends) must
    // not wake this thread for them.
    if let Some(store) = store.upgrade() {
        store.retire_leader_thread();
    }
}

/// Runs blocking store work of [`AppState::append`] off the async threads; a task that could
/// not finish (it panicked) is a failed write.
async fn on_a_blocking_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CoreError> + Send + 'static,
) -> Result<T, CoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(CoreError::WriteFailed(e.to_string())))
}

impl AppState {
    /// Builds the state, with the read side caught up with the log: from the newest snapshot
    /// that matches the ledger (`kroniek_app::snapshot`), folding only the records after it,
    /// or else from the first record, verifying the chain on the same pass. After a start
    /// from a snapshot the chain is not verified yet: see [`AppState::verify_and_remember`].
    pub fn new(
        store: Arc<Store>,
        limits: Limits,
        today: fn() -> Date,
    ) -> Result<AppState, CoreError> {
        let (head, _) = tokio::sync::watch::channel(store.head().count);
        let loaded = kroniek_app::snapshot::load(&store);
        let started_from = loaded.models.as_ref().map(|m| m.applied());
        let read = match loaded.models {
            Some(models) => ReadSide {
                applied: models.applied(),
                projections: models.projections,
                access: models.access,
                audit: models.audit,
            },
            None => ReadSide::default(),
        };
        let state = AppState {
            store,
            leader: None,
            follower_token: RwLock::new(None),
            walking: std::sync::atomic::AtomicU32::new(0),
            walked_size: std::sync::atomic::AtomicU64::new(u64::MAX),
            read: RwLock::new(read),
            limits,
            today,
            metrics: super::metrics::Metrics::default(),
            head,
            sessions: crate::web::session::Sessions::default(),
            last_verification: std::sync::Mutex::new(None),
            exports: Arc::default(),
            audit_reports: std::sync::Mutex::new(std::collections::HashMap::new()),
            audit_bodies: std::sync::Mutex::new(std::collections::HashMap::new()),
            audits_under_way: std::sync::Mutex::new(std::collections::HashMap::new()),
            snapshot_at: std::sync::atomic::AtomicU64::new(started_from.unwrap_or(0)),
            snapshot_lock: std::sync::Mutex::new(()),
            encoding: std::sync::atomic::AtomicBool::new(false),
            lagging: std::sync::atomic::AtomicBool::new(false),
            lagging_access: std::sync::atomic::AtomicBool::new(false),
            started_from,
            ignored_snapshots: loaded.ignored,
            leader_threads: std::sync::atomic::AtomicUsize::new(0),
        };
        state.catch_up_with(started_from.is_none())?;
        Ok(state)
    }

    /// Shares the state among the server's tasks, and makes its read side the source of the
    /// writer's governance state: the writer's first append takes the rules' state from the
    /// read side, which folds the same records, instead of folding the whole ledger again, and
    /// until then the server holds one copy of it, not two (see
    /// [`Store::set_governance_source`]). The writer asks holding its lock, so the read side is
    /// not waited for without bound: while it is being written for over a second, the writer
    /// folds the log instead.
    ///
    /// A follower's read side is not a source: its copy may be a role's view, whose withheld
    /// records its read side folds as nothing (and a follower takes no appends).
    ///
    /// It also starts the leader threads of the API's appends ([`APPEND_LEADER_THREADS`]),
    /// which hold the state only while they lead a group and end once it is dropped.
    pub fn into_shared(self) -> Arc<AppState> {
        let state = Arc::new(self);
        if state.leader.is_some() {
            return state;
        }
        for i in 0..APPEND_LEADER_THREADS {
            let weak = Arc::downgrade(&state);
            let started = std::thread::Builder::new()
                .name(format!("append-leader-{i}"))
                .spawn(move || lead_appends(&weak));
            if started.is_ok() {
                state
                    .leader_threads
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        // Weak: the store must not keep alive the state that holds it.
        let read_side = Arc::downgrade(&state);
        state.store.set_governance_source(Box::new(move || {
            let state = read_side.upgrade()?;
            for _ in 0..200 {
                if let Ok(read) = state.read.try_read() {
                    return Some((read.projections.governance().clone(), read.applied));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            None
        }));
        state
    }

    /// Whether enough records were folded since the newest snapshot to save another
    /// ([`kroniek_app::snapshot::SNAPSHOT_EVERY`]).
    pub fn snapshot_due(&self) -> bool {
        let at = self.snapshot_at.load(std::sync::atomic::Ordering::SeqCst);
        self.read().applied >= at + kroniek_app::snapshot::SNAPSHOT_EVERY
    }

    /// Saves a snapshot of the read side unless the newest one is at its position, while the
    /// server serves: holds the read side for reading only while the read models are encoded
    /// into memory (reads wait for it; appends are answered without folding their records, see
    /// [`AppState::catch_up_after_append`]); the file is written, synced and renamed after the
    /// lock is let go, at the cost of the snapshot's size in memory meanwhile. Blocking.
    pub fn save_snapshot(&self) -> Result<Option<std::path::PathBuf>, kroniek_app::AppError> {
        self.save_snapshot_with(true)
    }

    /// [`AppState::save_snapshot`] when nobody waits (a clean stop): the read models are
    /// encoded straight into the file, with no copy of them in memory.
    pub fn save_snapshot_at_stop(
        &self,
    ) -> Result<Option<std::path::PathBuf>, kroniek_app::AppError> {
        self.save_snapshot_with(false)
    }

    fn save_snapshot_with(
        &self,
        serving: bool,
    ) -> Result<Option<std::path::PathBuf>, kroniek_app::AppError> {
        let saved = self.save_snapshot_holding(serving);
        // Fold what the appends answered during the encoding left (the next request would,
        // but none may come).
        self.catch_up_if_lagging()?;
        saved
    }

    fn save_snapshot_holding(
        &self,
        serving: bool,
    ) -> Result<Option<std::path::PathBuf>, kroniek_app::AppError> {
        let _one = self
            .snapshot_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let encoded = {
            // Appends from now on are answered without waiting for the read side, which this
            // holds (the flag is cleared when the block ends, however it ends).
            let _encoding = serving.then(|| Flag::raise(&self.encoding));
            let read = self.read();
            let at = self.snapshot_at.load(std::sync::atomic::Ordering::SeqCst);
            if read.applied == 0 || read.applied == at {
                return Ok(None);
            }
            if !serving {
                let saved = kroniek_app::snapshot::save_parts(
                    &self.store,
                    &read.projections,
                    &read.access,
                    &read.audit,
                )?;
                return Ok(self.saved_at(saved, read.applied));
            }
            kroniek_app::snapshot::encode(
                &self.store,
                &read.projections,
                &read.access,
                &read.audit,
            )?
        };
        let Some(encoded) = encoded else {
            return Ok(None);
        };
        let position = encoded.position();
        let saved = encoded.save(&self.store)?;
        Ok(self.saved_at(saved, position))
    }

    /// Remembers the position of a snapshot that was `saved` (none when an erasure overtook it).
    fn saved_at(
        &self,
        saved: Option<std::path::PathBuf>,
        position: u64,
    ) -> Option<std::path::PathBuf> {
        if saved.is_some() {
            self.snapshot_at
                .store(position, std::sync::atomic::Ordering::SeqCst);
        }
        saved
    }

    /// Applies every record the read side has not seen yet. Blocking (reads sled).
    pub fn catch_up(&self) -> Result<(), CoreError> {
        self.catch_up_with(false)
    }

    /// An append's catch-up of the read side, once its records are durable (`access`: they
    /// grant or revoke access): as [`AppState::catch_up`], except while a snapshot's encoding
    /// holds the read side, when the append is answered at once and the read side marked as
    /// lagging. Every request after it that reads the read side catches it up before it is
    /// served (the router's `read_your_writes`), and so does the snapshot's save when its
    /// encoding ends: an acknowledged append is still seen by every request made after its
    /// answer. Appends read only the access table (their token), so they go on without
    /// waiting unless access changed. (An append that looks just before an encoding takes the
    /// read side waits for it, as every append did before.)
    pub fn catch_up_after_append(&self, access: bool) -> Result<(), CoreError> {
        if self.encoding.load(std::sync::atomic::Ordering::SeqCst) {
            if access {
                self.lagging_access
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
            self.lagging
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Ok(());
        }
        self.catch_up()
    }

    /// The API's append path without a blocking thread: the batch is queued for the leader
    /// threads ([`Store::append_batch_then`]) and this task awaits its answer; the leader
    /// caught the read side up before answering (else it is caught up here, on a blocking
    /// thread). Refusals are counted by rule, appended events counted. Without leader threads
    /// (a follower's state) it is [`super::routes::append_checked`] on a blocking thread.
    pub async fn append(
        self: &Arc<Self>,
        events: Vec<Result<kroniek_core::ProposedEvent, kroniek_core::rules::Refusal>>,
        actor: String,
    ) -> Result<kroniek_core::store::AppendOutcome, CoreError> {
        use kroniek_core::store::AppendOutcome;
        if self
            .leader_threads
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            let st = self.clone();
            return on_a_blocking_thread(move || {
                super::routes::append_checked(&st, events, &actor)
            })
            .await;
        }
        let access = super::routes::grants_or_revokes_access(&events);
        let (answered, answer) = tokio::sync::oneshot::channel();
        self.store.append_batch_then(
            events,
            &actor,
            Box::new(move |outcome| {
                let _ = answered.send(outcome);
            }),
        );
        let result = answer.await.unwrap_or_else(|_| {
            Err(CoreError::Invalid(
                "the write group dropped an append unanswered (a defect: please report it)".into(),
            ))
        });
        if result.is_err() {
            self.metrics.append_answered(&result);
        }
        let outcome = result?;
        let head = match &outcome {
            AppendOutcome::Appended { head, .. } | AppendOutcome::AlreadyRecorded { head, .. } => {
                head.count
            }
        };
        // Folded when the head the read side last caught up to covers the batch (sent by
        // every catch-up under the read side's write lock; no lock taken here).
        let folded = *self.head.borrow() >= head;
        let encoding = self.encoding.load(std::sync::atomic::Ordering::SeqCst);
        if !folded && encoding && self.is_lagging() {
            // Answered without folding, as `catch_up_after_append` answers while a snapshot's
            // encoding holds the read side (the leader marked it lagging).
            if access {
                self.lagging_access
                    .store(true, std::sync::atomic::Ordering::SeqCst);
            }
        } else if !folded {
            let st = self.clone();
            on_a_blocking_thread(move || st.catch_up_after_append(access)).await?;
        }
        let answered = Ok(outcome);
        self.metrics.append_answered(&answered);
        answered
    }

    /// Whether an append was answered before the read side folded its records.
    pub fn is_lagging(&self) -> bool {
        self.lagging.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether such an append granted or revoked access.
    pub fn is_lagging_access(&self) -> bool {
        self.lagging_access
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Catches the read side up when an append was answered before it folded its records
    /// (see [`AppState::catch_up_after_append`]). Blocking when it does.
    pub fn catch_up_if_lagging(&self) -> Result<(), CoreError> {
        if self.is_lagging() {
            self.catch_up_waiting(false, true)?;
        }
        Ok(())
    }

    /// [`AppState::catch_up`]; when the read side starts from the first record and `verify`
    /// is set, the chain is verified on the same pass (`Store::replay_verified`) and the
    /// outcome kept for the overview, as [`AppState::verify_and_remember`] does with a walk of
    /// its own.
    fn catch_up_with(&self, verify: bool) -> Result<(), CoreError> {
        self.catch_up_waiting(verify, false)
    }

    /// The read side for writing, once no one holds it: asked for again every millisecond
    /// instead of queueing for it, because a writer in the queue holds up every reader after
    /// it, and the appends answered during a snapshot's encoding read the access table.
    fn write_when_free(&self) -> std::sync::RwLockWriteGuard<'_, ReadSide> {
        loop {
            match self.read.try_write() {
                Ok(read) => return read,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
            }
        }
    }

    /// [`AppState::catch_up_with`]; `politely`: without queueing for the write lock (see
    /// [`AppState::write_when_free`]).
    fn catch_up_waiting(&self, verify: bool, politely: bool) -> Result<(), CoreError> {
        // Cleared before the head is read: an append that marks the read side lagging after
        // this keeps it marked; one that marked it before is below the head read here, and
        // folded by this catch-up (or found folded). A failed catch-up marks it again. Only
        // looked at, not written, when nothing is marked (every append passes here).
        let lagging = self.is_lagging();
        let access = lagging
            && self
                .lagging_access
                .swap(false, std::sync::atomic::Ordering::SeqCst);
        if lagging {
            self.lagging
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        let caught_up = self.catch_up_from_head(verify, politely);
        if lagging && caught_up.is_err() {
            self.lagging_access
                .fetch_or(access, std::sync::atomic::Ordering::SeqCst);
            self.lagging
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        caught_up
    }

    fn catch_up_from_head(&self, verify: bool, politely: bool) -> Result<(), CoreError> {
        // Concurrent appends each catch up; most find that another one already folded their
        // records, and need no write lock (which would hold up every read).
        if !verify {
            let head = self.store.head().count;
            let applied = self
                .read
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .applied;
            if applied >= head {
                return Ok(());
            }
        }
        let mut read = if politely {
            self.write_when_free()
        } else {
            self.read
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let head = self.store.head().count;
        let read = &mut *read;
        let from = read.applied;
        let fold = |record: &kroniek_core::Record, personal: Option<&kroniek_core::Personal>| {
            if record.position >= head {
                return Ok(());
            }
            kroniek_app::snapshot::apply(
                &mut read.projections,
                &mut read.access,
                &mut read.audit,
                record,
                personal,
            )
            .map_err(|e| CoreError::Corrupt(record.position, e.to_string()))?;
            read.applied = record.position + 1;
            Ok::<(), CoreError>(())
        };
        if verify && from == 0 {
            let outcome = self.store.replay_verified(fold)?;
            self.remember(outcome);
            self.walked_size
                .store(head, std::sync::atomic::Ordering::SeqCst);
        } else {
            self.store.replay(from, fold)?;
        }
        self.head.send_replace(head);
        Ok(())
    }

    /// The audit report for `params` at the current head: made once per head and parameters
    /// (the cache keeps the newest [`AUDIT_CACHE_ENTRIES`]), unredacted; the caller applies
    /// the role's view. Blocking.
    pub fn audit_report(
        &self,
        params: &kroniek_projections::audit::AuditParams,
    ) -> Result<Arc<kroniek_projections::audit::AuditReport>, kroniek_app::AppError> {
        if let Some(report) = self.audit_report_made(params) {
            return Ok(report);
        }
        let key = format!("{params:?}");
        self.make_room_for_audit_report(&key);
        let progress = self
            .audits_under_way
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let made = self.audit_from_read_side(params, &progress);
        self.audits_under_way
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key);
        let report = Arc::new(made?);
        let lock = || {
            self.audit_reports
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut cache = lock();
        evict_for(
            &mut cache,
            &key,
            report.integrity.events,
            AUDIT_CACHE_ENTRIES,
        );
        cache.insert(key, (report.integrity.events, report.clone()));
        Ok(report)
    }

    /// Before an audit report is made for `key`: drops the reports made at another ledger size
    /// (never answered again) and, while the cache is full, the oldest, so that the memory
    /// they hold is free for the one being made.
    fn make_room_for_audit_report(&self, key: &str) {
        let size = self.store.head().count;
        let mut cache = self
            .audit_reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        evict_for(&mut cache, key, size, AUDIT_CACHE_ENTRIES);
    }

    /// Makes the audit report from the read side, which already holds every figure's facts:
    /// at a checkpoint of the read side's size, with the chain walk of that size (the one at
    /// start, or the last `/v1/verify`, when no record was appended since; else a walk now).
    /// When appends keep moving the head between the checkpoint and the read side, the report
    /// is made from the store as the command line makes it.
    fn audit_from_read_side(
        &self,
        params: &kroniek_projections::audit::AuditParams,
        progress: &AuditProgress,
    ) -> Result<kroniek_projections::audit::AuditReport, kroniek_app::AppError> {
        let set = |done: u64, total: u64| {
            progress
                .total
                .store(total, std::sync::atomic::Ordering::Relaxed);
            progress
                .done
                .store(done, std::sync::atomic::Ordering::Relaxed);
        };
        for _ in 0..3 {
            self.catch_up()?;
            let note = self.store.sign_checkpoint()?;
            let size = kroniek_core::note::Checkpoint::parse_body(&note.text)
                .map_err(kroniek_app::AppError::Failed)?
                .size;
            let verification = match self.walk_of_size(size) {
                Some(walk)
                    if size > 0
                        && walk.as_ref().is_ok_and(|v| {
                            self.store
                                .record_at(size - 1)
                                .is_ok_and(|r| r.hash == v.head)
                        }) =>
                {
                    walk
                }
                _ => {
                    let at = self.store.head().count;
                    let outcome = self.store.verify(&mut |n| set(n.min(size), 2 * size))?;
                    self.remember(outcome.clone());
                    self.walked_size
                        .store(at, std::sync::atomic::Ordering::SeqCst);
                    outcome
                }
            };
            set(size, 2 * size);
            let read = self.read();
            if read.applied != size {
                continue; // an append came between: its checkpoint is the next one
            }
            let report = kroniek_app::audit::from_read_models(
                &self.store,
                &read.projections,
                &read.audit,
                &note,
                &verification,
                params,
            );
            set(2 * size, 2 * size);
            return report;
        }
        kroniek_app::audit::from_open_store(&self.store, params, None, &mut |done, total| {
            set(done, total)
        })
    }

    /// The last full walk of the chain, when it passed and covered exactly `size` records.
    fn walk_of_size(
        &self,
        size: u64,
    ) -> Option<Result<kroniek_core::verify::Verified, kroniek_core::verify::Broken>> {
        let last = self
            .last_verification
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.as_ref().map(|v| &v.outcome) {
            Some(Ok(v)) if v.count == size => Some(Ok(kroniek_core::verify::Verified {
                count: v.count,
                head: kroniek_core::types::parse_hex32(&v.head)?,
                erased: v.erased,
                withheld: v.withheld,
            })),
            _ => None,
        }
    }

    /// The audit report for `params` if it was made at the current head already.
    pub fn audit_report_made(
        &self,
        params: &kroniek_projections::audit::AuditParams,
    ) -> Option<Arc<kroniek_projections::audit::AuditReport>> {
        let size = self.store.head().count;
        self.audit_reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&format!("{params:?}"))
            .filter(|(made_at, _)| *made_at == size)
            .map(|(_, report)| report.clone())
    }

    /// How far the audit report for `params` is, while it is being made.
    pub fn audit_under_way(
        &self,
        params: &kroniek_projections::audit::AuditParams,
    ) -> Option<Arc<AuditProgress>> {
        self.audits_under_way
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&format!("{params:?}"))
            .cloned()
    }

    /// The JSON of the audit report for `params` as `role` may see it, at the current head:
    /// made once per head, role and parameters. Blocking.
    pub fn audit_body(
        &self,
        role: AccessRole,
        params: &kroniek_projections::audit::AuditParams,
    ) -> Result<Arc<Vec<u8>>, kroniek_app::AppError> {
        let key = format!("{role:?} {params:?}");
        let size = self.store.head().count;
        let lock = || {
            self.audit_bodies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some((_, body)) = lock().get(&key).filter(|(made_at, _)| *made_at == size) {
            return Ok(body.clone());
        }
        evict_for(&mut lock(), &key, size, AUDIT_BODY_ENTRIES);
        let report = self.audit_report(params)?;
        let made_at = report.integrity.events;
        let body = Arc::new(
            json_exact(&*super::policy::audit_report(role, report.clone()))
                .map_err(|e| kroniek_app::AppError::Failed(e.to_string()))?,
        );
        let mut cache = lock();
        evict_for(&mut cache, &key, made_at, AUDIT_BODY_ENTRIES);
        cache.insert(key, (made_at, body.clone()));
        Ok(body)
    }

    /// Walks the whole chain and keeps the outcome for the overview. Blocking.
    /// A read that fails is an error (a 5xx problem), never a verdict, and is not remembered.
    pub fn verify_and_remember(&self) -> Result<Verification, CoreError> {
        self.walking
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let size = self.store.head().count;
        let walked = self.store.verify(&mut |_| {});
        self.walking
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let remembered = self.remember(walked?);
        self.walked_size
            .store(size, std::sync::atomic::Ordering::SeqCst);
        Ok(remembered)
    }

    /// Whether a walk of the whole chain is under way.
    pub fn verifying(&self) -> bool {
        self.walking.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// The ledger's size when the last walk of the whole chain began (at least the records it
    /// covered), if one was made.
    pub fn last_walk_size(&self) -> Option<u64> {
        let size = self.walked_size.load(std::sync::atomic::Ordering::SeqCst);
        (size != u64::MAX).then_some(size)
    }

    /// Keeps the outcome of a full verification for the overview, stamped with the time.
    fn remember(
        &self,
        outcome: Result<kroniek_core::verify::Verified, kroniek_core::verify::Broken>,
    ) -> Verification {
        let outcome = match outcome {
            Ok(v) => Ok(Verified {
                count: v.count,
                erased: v.erased,
                withheld: v.withheld,
                head: kroniek_core::types::hex(&v.head),
            }),
            Err(b) => Err((b.position, b.why)),
        };
        let v = Verification {
            at: chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            outcome,
        };
        *self
            .last_verification
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(v.clone());
        v
    }

    /// The principal `token` stands for: a standing grant of the access table, or the
    /// follower's own token (see [`AppState::follower_token`]).
    pub fn authenticate(&self, token: &str) -> Option<(String, AccessRole)> {
        if let Some(p) = self.read().access.authenticate(token) {
            return Some((p.name.clone(), p.role));
        }
        let follower = self
            .follower_token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        follower
            .as_ref()
            .filter(|p| blake3::hash(token.as_bytes()) == blake3::Hash::from_bytes(p.token_blake3))
            .map(|p| (p.name.clone(), p.role))
    }

    /// Whether `principal` still stands with this role and token hash (a web session's check
    /// on every request: revocation ends it at once).
    pub fn stands(&self, principal: &str, role: AccessRole, token_blake3: &[u8; 32]) -> bool {
        let standing = |p: &kroniek_core::access::Principal| {
            p.revoked.is_none() && p.role == role && p.token_blake3 == *token_blake3
        };
        if self.read().access.get(principal).is_some_and(standing) {
            return true;
        }
        self.follower_token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .is_some_and(|p| p.name == principal && standing(p))
    }

    /// The read side, for a short look (never held across an `.await`).
    pub fn read(&self) -> RwLockReadGuard<'_, ReadSide> {
        self.read
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An atomic flag raised for as long as this lives.
struct Flag<'a>(&'a std::sync::atomic::AtomicBool);

impl<'a> Flag<'a> {
    fn raise(flag: &'a std::sync::atomic::AtomicBool) -> Flag<'a> {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        Flag(flag)
    }
}

impl Drop for Flag<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The authenticated caller: who, and in which role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: String,
    pub role: AccessRole,
}

impl Caller {
    /// The `actor` of the events this caller appends: `role:principal`.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.principal)
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, ApiError> {
        let mut values = parts
            .headers
            .get_all(axum::http::header::AUTHORIZATION)
            .iter();
        let header = values
            .next()
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        if values.next().is_some() {
            return Err(ApiError::bad_request(
                "send one Authorization header, not several",
            ));
        }
        // The scheme is case-insensitive (RFC 7235 section 2.1): `bearer` is `Bearer`.
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be Bearer <token>")
            })?;
        let (principal, role) = state
            .authenticate(token)
            .ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))?;
        Ok(Caller { principal, role })
    }
}

/// Makes room in a cache of things made at a ledger size for one more under `key`, made at
/// `size`: drops what was made at another size, then, while `entries` or more are kept beside
/// `key`, the one made at the smallest size.
fn evict_for<V>(
    cache: &mut std::collections::HashMap<String, (u64, V)>,
    key: &str,
    size: u64,
    entries: usize,
) {
    cache.retain(|_, (made_at, _)| *made_at == size);
    while cache.len() >= entries && !cache.contains_key(key) {
        let Some(oldest) = cache
            .iter()
            .min_by_key(|(_, (made_at, _))| *made_at)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        cache.remove(&oldest);
    }
}

/// `value` as JSON in a buffer of exactly its size: it is written twice, first only to count
/// the bytes. A report's body is 8–18 MB on a 1,000,000-event ledger; written into a growing
/// buffer it would take up to twice that while kept, and three times while the buffer grows.
fn json_exact<T: serde::Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, value)?;
    let mut out = Vec::with_capacity(counter.0);
    serde_json::to_writer(&mut out, value)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_exact_writes_what_serde_json_writes_in_a_buffer_of_its_size() {
        let value = serde_json::json!({"members": (0..10_000).map(|i| format!("m-{i}")).collect::<Vec<_>>(), "é": "\u{1}"});
        let body = super::json_exact(&value).unwrap();
        assert_eq!(body, serde_json::to_vec(&value).unwrap());
        assert_eq!(body.capacity(), body.len());
    }

    /// A server's state over a new ledger holding the sample events, in `dir`.
    fn sample_state(dir: &tempfile::TempDir) -> std::sync::Arc<super::AppState> {
        let store =
            kroniek_core::store::Store::init(&dir.path().join("l"), "test.example/k").unwrap();
        kroniek_app::append::append_sample(&store).unwrap();
        super::AppState::new(
            std::sync::Arc::new(store),
            crate::server::Limits::default(),
            kroniek_app::clock::today,
        )
        .unwrap()
        .into_shared()
    }

    /// A 2025 contribution of member 10201 of `cents`, as a JSON line.
    fn payment_line(cents: usize) -> String {
        format!(
            r#"{{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-01","data":{{"member_id":"10201","year":2025,"amount_cents":{cents}}}}}"#
        )
    }

    /// [`payment_line`], parsed.
    fn payment(cents: usize) -> kroniek_core::envelope::ProposedEvent {
        kroniek_core::envelope::ProposedEvent::parse_line(&payment_line(cents)).unwrap()
    }

    /// Member 10201's net contributions for 2025, on the read side.
    fn paid_in_2025(state: &super::AppState) -> i64 {
        let on = kroniek_core::types::Date::parse("2030-01-01").unwrap();
        let member = state.read().projections.member("10201", on).unwrap();
        member
            .contributions
            .iter()
            .filter(|c| c.year == 2025)
            .map(|c| c.net_cents)
            .sum()
    }

    /// Asserts that `outcome` appended records and that the read side has folded them.
    fn assert_appended_and_folded(state: &super::AppState, outcome: &kroniek_core::AppendOutcome) {
        let kroniek_core::AppendOutcome::Appended { first, count, .. } = outcome else {
            panic!("not appended: {outcome:?}");
        };
        assert!(
            state.read().applied >= first + count,
            "answered before the read side folded its own record"
        );
    }

    /// Appends from many threads at once, as the API's handlers make them: each caller, once
    /// answered, finds its own payment on the read side, whether it folded it itself or found
    /// it folded by another caller's catch-up (which then takes no write lock).
    #[test]
    fn every_concurrent_append_is_on_the_read_side_when_it_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let state = sample_state(&dir);
        let before = paid_in_2025(&state);
        let (threads, each) = (8, 25);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let state = &state;
                scope.spawn(move || {
                    for i in 0..each {
                        let event = payment(1 + t * each + i);
                        let outcome =
                            crate::server::routes::append_checked(state, vec![Ok(event)], "t")
                                .unwrap();
                        assert_appended_and_folded(state, &outcome);
                    }
                });
            }
        });
        assert_eq!(state.read().applied, state.store.head().count);
        // The amounts are 1 to threads × each cents, each paid once.
        let n = (threads * each) as i64;
        assert_eq!(paid_in_2025(&state) - before, n * (n + 1) / 2);
    }

    /// The API's own append path ([`super::AppState::append`]: queued for the leader threads,
    /// no blocking thread per request), from many tasks at once: each, once answered, finds
    /// its own payment on the read side (the leader caught it up before answering); a refused
    /// append is counted by its rule; the state's leader threads end once it is dropped, so
    /// the ledger can be opened again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_apis_appends_are_answered_on_the_read_side_without_blocking_threads() {
        let dir = tempfile::tempdir().unwrap();
        let state = sample_state(&dir);
        assert!(
            state
                .leader_threads
                .load(std::sync::atomic::Ordering::SeqCst)
                > 0,
            "no leader threads"
        );
        let before = paid_in_2025(&state);
        let (tasks, each) = (16, 10);
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let state = state.clone();
                tokio::spawn(async move {
                    for i in 0..each {
                        let outcome = state
                            .append(vec![Ok(payment(1 + t * each + i))], "t".into())
                            .await
                            .unwrap();
                        assert_appended_and_folded(&state, &outcome);
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let n = (tasks * each) as i64;
        assert_eq!(paid_in_2025(&state) - before, n * (n + 1) / 2);
        // A version conflict: refused, counted by its rule, nothing written.
        let head = state.store.head().count;
        let conflict = kroniek_core::ProposedEvent::parse_line(
            &payment_line(7).replace(r#""type""#, r#""expected_version":0,"type""#),
        )
        .unwrap();
        match state.append(vec![Ok(conflict)], "t".into()).await {
            Err(kroniek_core::CoreError::Refused(r)) => {
                assert_eq!(
                    r[0].refusal.rule,
                    kroniek_core::rules::Rule::VersionConflict
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(state.store.head().count, head);
        assert!(state.metrics.render(0, 0).contains("version-conflict"));
        // Dropped, the state lets go of the store (the leader threads end): it opens again.
        drop(state);
        let mut reopened = None;
        for _ in 0..100 {
            match kroniek_core::store::Store::open(&dir.path().join("l")) {
                Ok(store) => {
                    reopened = Some(store);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        assert_eq!(
            reopened.expect("the store was not let go").head().count,
            head
        );
    }

    /// Snapshots saved while appends go on (encoded under the read lock, written after it)
    /// each load as the read models at their position: the newest equals the read side.
    #[test]
    fn snapshots_saved_while_appends_go_on_load_as_the_read_side_was() {
        let dir = tempfile::tempdir().unwrap();
        let state = sample_state(&dir);
        let appending = std::sync::atomic::AtomicBool::new(true);
        let mut saved = 0;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..60 {
                    let event = payment(1 + i);
                    crate::server::routes::append_checked(&state, vec![Ok(event)], "t").unwrap();
                }
                appending.store(false, std::sync::atomic::Ordering::SeqCst);
            });
            // At least once, however soon the appends are done.
            loop {
                let done = !appending.load(std::sync::atomic::Ordering::SeqCst);
                if let Some(path) = state.save_snapshot().unwrap() {
                    saved += 1;
                    assert!(path.exists());
                }
                if done {
                    break;
                }
            }
        });
        assert!(saved > 0, "no snapshot was saved while appending");
        let head = state.store.head().count;
        assert_eq!(state.read().applied, head);
        let last = state.save_snapshot().unwrap();
        assert!(
            last.is_some() || state.snapshot_at.load(std::sync::atomic::Ordering::SeqCst) == head
        );
        assert!(!state.snapshot_due());
        let loaded = kroniek_app::snapshot::load(&state.store)
            .models
            .expect("the newest snapshot matches the chain");
        let read = state.read();
        assert_eq!(loaded.projections, read.projections);
        assert_eq!(loaded.access, read.access);
        assert_eq!(loaded.audit, read.audit);
    }

    /// While a snapshot's encoding holds the read side, appends over HTTP are answered without
    /// waiting for it; an append after one that revoked access waits, and its revoked token is
    /// refused; the next read (a member's page) is served only after the read side folded
    /// every append answered before it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_answered_during_a_snapshot_encoding_are_seen_by_the_next_request() {
        use tower::ServiceExt;
        let dir = tempfile::tempdir().unwrap();
        let state = sample_state(&dir);
        let grant = |name: &str| {
            kroniek_app::tokens::grant(
                &state.store,
                name,
                kroniek_core::catalogue::AccessRole::Admin,
                "admin:local",
                kroniek_app::clock::today(),
            )
            .unwrap()
        };
        let (token, other) = (grant("t-admin"), grant("t-other"));
        state.catch_up().unwrap();
        let app = crate::server::router(state.clone());
        let before = paid_in_2025(&state);
        // As a snapshot's encoding does: the flag raised, the read side held for reading,
        // until `release` is sent.
        let (held, is_held) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = {
            let state = state.clone();
            std::thread::spawn(move || {
                let _encoding = super::Flag::raise(&state.encoding);
                let _read = state.read();
                held.send(()).unwrap();
                // Let go after 10 s at the latest, so that a request that waits for the read
                // side when it should not fails this test instead of hanging it.
                let _ = released.recv_timeout(std::time::Duration::from_secs(10));
            })
        };
        is_held.recv().unwrap();
        let request = |method: &str, uri: &str, token: &str, body: &str| {
            axum::http::Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap()
        };
        // An append answered while the read side is held, in well under the hold's 10 s.
        let append_quickly = |as_token: &str, body: &str| {
            let started = std::time::Instant::now();
            let answer = app
                .clone()
                .oneshot(request("POST", "/v1/events", as_token, body));
            async move {
                let answer = answer.await.unwrap();
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(5),
                    "the append waited for the read side"
                );
                answer.status()
            }
        };
        let created = axum::http::StatusCode::CREATED;
        assert_eq!(append_quickly(&token, &payment_line(4242)).await, created);
        // A read made now waits for the read side, without holding up the appends after it.
        let waiting_read =
            tokio::spawn(
                app.clone()
                    .oneshot(request("GET", "/v1/members/10201", &token, "")),
            );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !waiting_read.is_finished(),
            "the read waits for the read side"
        );
        assert_eq!(append_quickly(&token, &payment_line(1)).await, created);
        assert_eq!(append_quickly(&other, &payment_line(2)).await, created);
        assert!(state.is_lagging() && !state.is_lagging_access());
        assert!(state.read().applied < state.store.head().count);
        let revoke = r#"{"stream":"access/t-other","type":"AccessRevoked","effective":"2024-11-01","data":{"principal":"t-other"}}"#;
        assert_eq!(append_quickly(&token, revoke).await, created);
        assert!(state.is_lagging_access());
        // The next append waits for the read side: let it go a little later.
        let releasing = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let _ = release.send(());
        });
        let refused = app
            .clone()
            .oneshot(request("POST", "/v1/events", &other, &payment_line(3)))
            .await
            .unwrap();
        assert_eq!(refused.status(), axum::http::StatusCode::UNAUTHORIZED);
        let waited = waiting_read.await.unwrap().unwrap();
        assert_eq!(waited.status(), axum::http::StatusCode::OK);
        releasing.join().unwrap();
        holder.join().unwrap();
        assert!(!state.is_lagging() && !state.is_lagging_access());
        let page = app
            .clone()
            .oneshot(request("GET", "/v1/members/10201", &token, ""))
            .await
            .unwrap();
        assert_eq!(page.status(), axum::http::StatusCode::OK);
        let body = axum::body::to_bytes(page.into_body(), usize::MAX)
            .await
            .unwrap();
        let total = before + 4242 + 1 + 2;
        assert!(
            String::from_utf8_lossy(&body).contains(&format!("\"net_cents\":{total}")),
            "the member's page shows the payments answered before it"
        );
        assert_eq!(paid_in_2025(&state), total);
    }

    #[test]
    fn evict_for_drops_what_another_size_made_then_the_oldest_until_there_is_room() {
        let mut cache: std::collections::HashMap<String, (u64, &str)> =
            [("a", 7), ("b", 9), ("c", 9)]
                .into_iter()
                .map(|(k, at)| (k.to_string(), (at, k)))
                .collect();
        super::evict_for(&mut cache, "b", 9, 2);
        let mut kept: Vec<&String> = cache.keys().collect();
        kept.sort();
        assert_eq!(
            kept,
            ["b", "c"],
            "made at 7: dropped; b is replaced, not evicted"
        );
        super::evict_for(&mut cache, "d", 9, 2);
        assert_eq!(cache.len(), 1, "room for d: one of b and c dropped");
        super::evict_for(&mut cache, "d", 9, 1);
        assert!(
            cache.is_empty(),
            "one entry: the other is dropped before d is made"
        );
        cache.insert("d".into(), (9, "d"));
        super::evict_for(&mut cache, "d", 9, 1);
        assert_eq!(cache.len(), 1, "d itself stays until it is replaced");
    }
}
