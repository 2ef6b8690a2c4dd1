//! The storage engine: the hash-chained log on sled, with atomic batches, optimistic
//! concurrency, idempotency, group commit, and erasable personal data.
//!
//! ## Layout
//! One sled database in `DIR/sled`, with six trees:
//! - `records`: position (u64 big-endian) → record hash (32 bytes) ‖ the record's hashed
//!   bytes (its JCS without `hash`, `personal`, `personal_salt`). `verify` hashes these bytes
//!   as they lie, without re-serialising.
//! - `streams`: stream name ‖ 0x00 ‖ version (u64 BE) → position.
//! - `ids`: event UUID (16 bytes) → position. Kept for ever: idempotency has no horizon.
//! - `personal`: position → salt (32 bytes) ‖ JCS of `personal`. Erasure removes the entry.
//! - `meta`: `head` (count and hash of the last record: the commit point), `origin`.
//!
//! ## Commit protocol
//! Records at positions at or past the committed head are invisible. A batch is written past
//! the head, record before index entries, and committed by its last write, the one that moves
//! the head (sled recovers a contiguous prefix of its log, so a head that survives a crash
//! brings everything written before it); a batch that erases personal data commits its last
//! chunk, the erasures and the head in one sled transaction. A very large batch is first staged
//! in chunks (invisible, memory stays bounded) and flushed before its head is written.
//! Opening a store discards whatever was staged past the head, so a crash leaves a batch
//! either whole or absent. Appends are serialised (check and append are one step) in write
//! groups: the appends that queue while a group is applied are applied by one leader, each
//! after the ones before it, and committed by one write of the head (see `group`). Each waits
//! for a flush that covers it before it is acknowledged, and one flush covers every group
//! applied while the previous flush ran (group commit).

use crate::canonical;
use crate::catalogue::{ErasureSubject, EventData, EventType};
use crate::envelope::ProposedEvent;
use crate::error::CoreError;
use crate::files;
use crate::governance::GovernanceState;
use crate::keys::{is_valid_key_name, LedgerKey};
use crate::merkle::{Frontier, NodeSource, TreeHash};
use crate::note::{Checkpoint, Note, VerifierKey};
use crate::random::random32;
use crate::record::{HashedTail, Personal, PersonalView, Record, ZERO_HASH};
use crate::rules::{IndexedRefusal, Refusal, Rule};
use crate::types::{hex, Date, EventId};
use crate::verify::{Broken, ChainVerifier, Verified};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, RwLock};

mod commit;
mod engine;
mod group;
mod layout;
mod open;
mod read;
mod replicate;
mod restore;
mod tree;

use commit::*;
use engine::*;
use group::Queue;
use layout::*;

pub use commit::now_recorded_at;
pub use engine::{Backend, BackendIter, Entry, KeySpace};
pub use group::{AnswerCallback, WriteStats};
pub use layout::{key_path, STORED_TREE_LEVEL};
pub use open::page_cache_bytes;
pub use read::{replay_workers, REPLAY_SEGMENT, REPLAY_WORKERS_MAX};

/// The origin (key name) a store gets when `init` is given none.
pub const DEFAULT_ORIGIN: &str = "localhost/kroniek";

/// The ledger's head: how many records it holds and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Head {
    pub count: u64,
    pub hash: [u8; 32],
}

impl Head {
    /// The head of an empty ledger.
    pub const EMPTY: Head = Head {
        count: 0,
        hash: ZERO_HASH,
    };

    /// The hash as hex.
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// New records at positions `first..first + count`.
    Appended { first: u64, count: u64, head: Head },
    /// Every event's id was recorded before with the same content: their first positions.
    AlreadyRecorded { positions: Vec<u64>, head: Head },
}

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Discard staged leftovers and check the head: the mode for work.
    Normal,
    /// Change nothing and check nothing: for `verify` of a damaged store.
    Inspect,
}

#[derive(Debug, Default)]
struct FlushState {
    durable: u64,
    flushing: bool,
}

/// A read side that folds the same records as the writer (a server's read models): asked for
/// the governance state of the first `at` records, as `(state, at)`, or `None` when it has
/// none to give now. See [`Store::set_governance_source`].
pub type GovernanceSource = Box<dyn Fn() -> Option<(GovernanceState, u64)> + Send + Sync>;

/// An open ledger.
pub struct Store {
    dir: PathBuf,
    t: Trees,
    origin: String,
    /// Serialises appends; holds the applied (maybe not yet durable) head and the
    /// governance state the rules judge against (built on the first append). Held by the
    /// leader of a write group while it applies the group.
    writer: Mutex<Writer>,
    /// The appends waiting for a write group, and the answers of groups applied.
    queue: Mutex<Queue>,
    /// Signalled when a leader gives up the lead while imports ([`Store::append_iter`]) wait
    /// for it (other callers park their threads and are woken one by one).
    queue_changed: Condvar,
    /// The newest applied head, read by the flush leader (on sled: the newest head written).
    applied: Mutex<Head>,
    /// On sled, the order in which write groups write their records' head (see
    /// [`group::Commits`]).
    commits: Mutex<group::Commits>,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    /// The durable head: what readers see.
    visible: RwLock<Head>,
    /// Events per staged chunk of a large batch.
    chunk: usize,
    /// What the threads writing large batches' staged chunks beside the appending thread did
    /// ([`WriteStats::staging_nanos`], [`WriteStats::staged_keys`]).
    staging: commit::StagingCounters,
    /// How many flushes acknowledged appends (group commit makes this fewer than appends).
    flushes: std::sync::atomic::AtomicU64,
    /// Serialises signing checkpoints and adding cosignatures (the kept checkpoint file).
    checkpoint_lock: Mutex<()>,
    /// Erasures committed since the store was opened.
    erasures: std::sync::atomic::AtomicU64,
    /// Set when a write or a flush failed (a full disk): what is on disk past the committed
    /// head is then unknown, and sled keeps the error, so the store refuses every further
    /// write until it is opened again (fail-stop, as databases do after a failed fsync).
    write_failure: std::sync::OnceLock<String>,
    /// Where the writer takes its governance state from when it has none (its first append,
    /// or after records were written outside a group), instead of folding the whole log: see
    /// [`Store::set_governance_source`].
    governance_source: std::sync::OnceLock<GovernanceSource>,
    /// The role whose view this copy holds (`meta` key `view`): a follower's copy made with a
    /// token of a role that does not read everything. Records that role may not see are held
    /// withheld, personal data it may not see is not held. `None`: every record, whole.
    view: RwLock<Option<crate::catalogue::AccessRole>>,
    /// sled, or another engine. Declared last: fields drop in order, and sled's folder lock
    /// is let go of only once sled has written all it writes on closing.
    engine: Engine,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// The folder the ledger lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ledger's origin (the checkpoint and key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The durable head: what every reader sees.
    pub fn head(&self) -> Head {
        *self
            .visible
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The folder that holds snapshots of the read models (`DIR/snapshots`): written by the
    /// application layer, emptied by the store when an erasure commits (a snapshot taken
    /// before it holds the personal data the erasure destroys). None for a ledger on another
    /// engine (it has no folder: its read side is rebuilt at start).
    pub fn snapshot_dir(&self) -> Option<PathBuf> {
        match self.engine {
            Engine::Sled(_) => Some(self.dir.join("snapshots")),
            Engine::Backend(_) => None,
        }
    }

    /// How many erasures this store has committed since it was opened: a snapshot of the read
    /// models saved while one committed is removed by its writer (see
    /// [`Store::remove_snapshots`]).
    pub fn erasures_committed(&self) -> u64 {
        self.erasures.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// After an erasure committed: counts it, and removes the snapshots of the read models
    /// taken before it (they hold what it erased). The erasure is committed: a snapshot that
    /// cannot be removed must not fail it, and the next snapshot saved replaces the folder's
    /// content.
    fn erasure_committed(&self) {
        self.erasures
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = self.remove_snapshots();
    }

    /// Removes every snapshot of the read models (see [`Store::snapshot_dir`]).
    pub fn remove_snapshots(&self) -> Result<(), CoreError> {
        let Some(dir) = self.snapshot_dir() else {
            return Ok(());
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            match std::fs::remove_file(entry?.path()) {
                // A snapshot being saved was renamed (or its saver removed it) meanwhile: its
                // saver sees the erasure and removes it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                removed => removed?,
            }
        }
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(())
    }

    /// Why the store refuses writes until it is opened again, if a write or flush failed.
    pub fn write_failure(&self) -> Option<&str> {
        self.write_failure.get().map(String::as_str)
    }

    /// The store's size on disk, in bytes (sled's own count, or the backend's).
    pub fn size_on_disk(&self) -> Result<u64, CoreError> {
        match &self.engine {
            Engine::Sled(sled) => Ok(sled.db.size_on_disk()?),
            Engine::Backend(backend) => backend.size(),
        }
    }

    /// Where the ledger is: its folder, or the backend's description (a URL without its
    /// password).
    pub fn location(&self) -> String {
        match &self.engine {
            Engine::Sled(_) => self.dir.display().to_string(),
            Engine::Backend(backend) => backend.describe(),
        }
    }

    /// Whether the store runs on sled (in a folder), not on another engine.
    pub fn is_folder(&self) -> bool {
        matches!(self.engine, Engine::Sled(_))
    }

    /// The sled engine, if the store runs on sled.
    fn sled_engine(&self) -> Option<&SledEngine> {
        match &self.engine {
            Engine::Sled(sled) => Some(sled),
            Engine::Backend(_) => None,
        }
    }

    /// Whether sled may hold blob files (see [`LARGE_VALUE`]); never for another engine.
    fn blobs_possible(&self) -> bool {
        self.sled_engine()
            .is_some_and(|s| s.blobs_possible.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests;
