//! The storage engine: the hash-chained log on sled, with atomic batches, optimistic
//! concurrency, idempotency, group commit, and erasable personal data.
//!
//! ## Layout
//! One sled database in `DIR/sled`, with five trees:
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
//! either whole or absent. Appends are serialised (check and append are one step); each waits
//! for a flush that covers it before it is acknowledged, and one flush covers every append
//! that was applied while the previous flush ran (group commit).

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

/// The origin (key name) a store gets when `init` is given none.
pub const DEFAULT_ORIGIN: &str = "localhost/kroniek";

/// sled's page cache in bytes: `KRONIEK_CACHE_MB` (default 16 MiB, at least 4).
///
/// Small on purpose: kroniek's reads of many records are single passes in position order
/// (verify, a rebuild of the read models, an export), which a cache does not speed up, and
/// the read models answer queries from memory. On a 1,000,000-event store a 16 MiB cache
/// gave the same import and verify times as 64 MiB, with 50-70 MB less peak RSS.
pub fn page_cache_bytes() -> u64 {
    let mb = std::env::var("KRONIEK_CACHE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(16);
    mb.max(4) * 1024 * 1024
}

/// Events per staged chunk of a large batch (small chunks keep sled's memory low: 2,048
/// gave a third of the peak RSS of 16,384 on a 1,000,000-event import, and was faster).
const CHUNK: usize = 2_048;

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

struct Trees {
    records: sled::Tree,
    streams: sled::Tree,
    ids: sled::Tree,
    personal: sled::Tree,
    meta: sled::Tree,
    merkle: sled::Tree,
}

#[derive(Debug, Default)]
struct FlushState {
    durable: u64,
    flushing: bool,
}

/// An open ledger.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    t: Trees,
    origin: String,
    /// Serialises appends; holds the applied (maybe not yet durable) head and the
    /// governance state the rules judge against (built on the first append).
    writer: Mutex<Writer>,
    /// The newest applied head, read by the flush leader.
    applied: Mutex<Head>,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    /// The durable head: what readers see.
    visible: RwLock<Head>,
    /// Events per staged chunk of a large batch.
    chunk: usize,
    /// How many flushes acknowledged appends (group commit makes this fewer than appends).
    flushes: std::sync::atomic::AtomicU64,
    /// Serialises signing checkpoints and adding cosignatures (the kept checkpoint file).
    checkpoint_lock: Mutex<()>,
    /// sled's log file, to `fdatasync` after each flush (see [`Store::sync_to_disk`]).
    log_file: std::fs::File,
    /// The blob files (name, length) already made durable (see [`Store::sync_blobs`]).
    synced_blobs: Mutex<HashSet<(std::ffi::OsString, u64)>>,
    /// Whether sled may have blob files to sync: see [`LARGE_VALUE`].
    blobs_possible: std::sync::atomic::AtomicBool,
    /// The store's lock, held while the store is open (see [`hold_store`]). Declared last:
    /// fields drop in order, so sled has written all it writes on closing before another
    /// process may open the store.
    _holder_file: std::fs::File,
}

/// sled keeps a tree node in a blob file of its own (which it never syncs, see
/// [`Store::sync_blobs`]) only when the node is over 128 KiB. A leaf holds at most about 17
/// entries and an index node about 257 keys, so a node that large needs a value over 4 KiB or
/// a key over 256 bytes (a long stream name) somewhere in the store. Until one is written, a
/// flush need not look for blob files (reading the folder costs an append about 20 µs). The
/// meta key [`META_BLOBS`] records that one was; [`META_BLOB_WATCH`] that the store keeps
/// that record (set at `init`; a store made before it is treated as possibly having blobs).
const LARGE_VALUE: usize = 4096;
/// See [`LARGE_VALUE`].
const LONG_KEY: usize = 256;
/// See [`LARGE_VALUE`].
const META_BLOBS: &str = "blobs-possible";
/// See [`LARGE_VALUE`].
const META_BLOB_WATCH: &str = "blob-watch";

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

/// The lowest level of the Merkle tree the store keeps: subtrees of 16 leaves and up. Lower
/// nodes are computed from the records' hashes when a proof needs them (at most 16 reads),
/// which keeps the tree's cost on an append to about one write per 8 records.
pub const STORED_TREE_LEVEL: u8 = 4;

/// The `meta` marker of the tree layout above.
const TREE_LAYOUT: &[u8] = b"rfc6962/level4";

/// The key of a complete Merkle subtree: level, then index (big-endian).
fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The trees a record's writes go to (see [`Store::record_writes`]), in the order a staged
/// chunk writes them (see [`Store::write_staged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeId {
    Merkle,
    Records,
    Streams,
    Ids,
    Personal,
    Meta,
}

/// One single-key write: the tree, the key, the value.
type KeyWrite = (TreeId, Vec<u8>, Vec<u8>);

fn pos_key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

fn stream_key(stream: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 9);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 1);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_fixed_int_encoding()
}

fn new_event_id() -> Result<EventId, CoreError> {
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

/// A record's stream key, stored value and stored personal data, ready to insert.
type EncodedRecord = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// What the single writer owns.
struct Writer {
    head: Head,
    state: Option<GovernanceState>,
    /// Whether appends pass the governance rules. Always true outside the storage
    /// engine's own tests, which exercise the log with events the rules would not allow.
    rules: bool,
}

/// One record about to be written, with its personal data.
struct Staged {
    record: Record,
    personal: Option<Personal>,
    /// The complete Merkle subtrees this record completes (its leaf first).
    nodes: Vec<((u8, u64), TreeHash)>,
}

/// The file that names the process holding the store open; the store's lock is on it.
const HOLDER_FILE: &str = "holder";

/// Takes the store's lock: an exclusive `flock` on the holder file, kept until the [`Store`]
/// drops (the kernel lets go of it when a killed process's files close). sled locks its log
/// file too, but only once it has started reading the folder; this lock is taken first, so
/// that [`remove_torn_snapshots`] runs only when no other process has the store open.
fn hold_store(dir: &Path) -> Result<std::fs::File, CoreError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(HOLDER_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(dir.join(HOLDER_FILE)).unwrap_or_default();
            Err(CoreError::Locked {
                dir: dir.to_owned(),
                holder: holder.trim().to_owned(),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Removes the snapshot files sled left half-written. sled 0.34.7 writes its page-table
/// snapshot to `snap.<lsn>.generating`, syncs it and renames it to `snap.<lsn>`; the rename is
/// the commit. But on opening it reads the file with the greatest name among all `snap.*`,
/// the `.generating` ones included, and a process killed while writing one leaves a file that
/// sorts after the snapshot it replaces: every later open fails with "Read corrupted data"
/// (sled issue #1527). A `.generating` file was never committed, so removing it gives the
/// folder as it was just before that write began, a state sled recovers from (it replays its
/// log from the last committed snapshot). Called only while [`hold_store`]'s lock is held; sled
/// itself writes snapshots only while it opens a store (`advance_snapshot`), so no process that
/// already has the store open can be writing one.
fn remove_torn_snapshots(sled_dir: &Path) -> Result<(), CoreError> {
    let entries = match std::fs::read_dir(sled_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The origin the signing key in `dir` names (`init` writes the key first, named by the
/// origin), else the default.
fn key_origin(dir: &Path) -> Result<String, CoreError> {
    match std::fs::read_to_string(key_path(dir)) {
        Ok(text) => LedgerKey::from_file_text(&text)
            .map(|key| key.name)
            .map_err(|why| CoreError::Key {
                path: key_path(dir),
                why,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_ORIGIN.to_owned()),
        Err(e) => Err(e.into()),
    }
}

/// Opens sled in `dir`. sled locks its log file too, and lets go of it only when the last of
/// its threads' references to the file is gone, which can be a moment after its `Db` dropped.
/// With [`hold_store`]'s lock held, no other kroniek process has the store open, so a store
/// this process closed just before is waited for, up to two seconds; then the lock's holder is
/// reported.
fn open_sled(dir: &Path) -> Result<sled::Db, CoreError> {
    let is_lock_error = |e: &sled::Error| {
        matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
            || io.to_string().contains("could not acquire lock"))
    };
    let mut waited = std::time::Duration::ZERO;
    loop {
        match sled_config(&sled_path(dir)).open() {
            Ok(db) => return Ok(db),
            Err(e) if is_lock_error(&e) && waited < std::time::Duration::from_secs(2) => {
                let pause = std::time::Duration::from_millis(10);
                std::thread::sleep(pause);
                waited += pause;
            }
            Err(e) if is_lock_error(&e) => {
                let holder = std::fs::read_to_string(dir.join(HOLDER_FILE)).unwrap_or_default();
                return Err(CoreError::Locked {
                    dir: dir.to_owned(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(e) => return Err(CoreError::Storage(e)),
        }
    }
}

/// How kroniek opens sled.
fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(page_cache_bytes())
        .mode(sled::Mode::HighThroughput)
}

/// The file names inside a store's folder.
pub fn key_path(dir: &Path) -> PathBuf {
    dir.join("signing.key")
}

fn sled_path(dir: &Path) -> PathBuf {
    dir.join("sled")
}

impl Store {
    /// True when `dir` holds a ledger: sled's log file is there (sled creates it once its
    /// `conf` file is written).
    pub fn exists(dir: &Path) -> bool {
        sled_path(dir).join("db").exists()
    }

    /// Creates a ledger in `dir` with its origin and a new Ed25519 signing key (mode 0600).
    pub fn init(dir: &Path, origin: &str) -> Result<Store, CoreError> {
        if !is_valid_key_name(origin) {
            return Err(CoreError::Invalid(format!(
                "\"{origin}\" is not a valid origin: use a schema-less URL such as ledger.example-party.nl/kroniek (no spaces, no +)"
            )));
        }
        if Store::exists(dir) {
            return Err(CoreError::AlreadyExists(dir.to_owned()));
        }
        std::fs::create_dir_all(dir)?;
        let holder_file = hold_store(dir)?;
        if Store::exists(dir) {
            // Another process made it between the check above and taking the lock.
            return Err(CoreError::AlreadyExists(dir.to_owned()));
        }
        // A folder that already holds a key (its identity kept across a restore) keeps it, and
        // its name stays the origin.
        let origin = if key_path(dir).exists() {
            key_origin(dir)?
        } else {
            let key = LedgerKey::from_seed(origin, random32()?);
            files::create_private(&key_path(dir), key.to_file_text().as_bytes())?;
            origin.to_owned()
        };
        // sled writes its `conf` file first, in two writes, and creates its log file `db` after
        // it: a `conf` without a `db` is what a process killed in between left, and would be
        // read as corrupt. (`exists` looks for `db`.)
        match std::fs::remove_file(sled_path(dir).join("conf")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        Store::open_db(dir, OpenMode::Normal, holder_file, Some(&origin))
    }

    /// Opens the ledger in `dir`, or creates it with the default origin when there is none.
    pub fn open_or_init(dir: &Path) -> Result<Store, CoreError> {
        if Store::exists(dir) {
            Store::open(dir)
        } else {
            Store::init(dir, DEFAULT_ORIGIN)
        }
    }

    /// Opens an existing ledger, discarding leftovers of an interrupted batch and checking
    /// the chain at its head.
    pub fn open(dir: &Path) -> Result<Store, CoreError> {
        Store::open_with(dir, OpenMode::Normal)
    }

    /// Opens an existing ledger in the given mode.
    pub fn open_with(dir: &Path, mode: OpenMode) -> Result<Store, CoreError> {
        if !Store::exists(dir) {
            return Err(CoreError::NoLedger(dir.to_owned()));
        }
        let holder_file = hold_store(dir)?;
        Store::open_db(dir, mode, holder_file, None)
    }

    /// Opens the sled folder of `dir`, whose lock `holder_file` holds (see [`hold_store`]).
    ///
    /// A store whose `meta` has neither an origin nor a head is new, or its `init` was killed
    /// before its entries were flushed: in [`OpenMode::Normal`] they are written (the origin
    /// is `new_origin`, else the name of the folder's signing key, else the default) and
    /// synced, with sled's `conf` file, which sled itself never syncs.
    fn open_db(
        dir: &Path,
        mode: OpenMode,
        holder_file: std::fs::File,
        new_origin: Option<&str>,
    ) -> Result<Store, CoreError> {
        remove_torn_snapshots(&sled_path(dir))?;
        let db = open_sled(dir)?;
        // Say who holds the store, for the next process that finds it locked.
        let holder = format!(
            "process {} ({})",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = holder_file
            .set_len(0)
            .and_then(|()| (&holder_file).write_all(holder.as_bytes()));
        let log_file = std::fs::File::open(sled_path(dir).join("db"))
            .map_err(|e| CoreError::Storage(sled::Error::Io(e)))?;
        let meta = db.open_tree("meta")?;
        let unfinished = mode == OpenMode::Normal
            && !meta.contains_key("origin")?
            && !meta.contains_key("head")?;
        if unfinished {
            let origin = match new_origin {
                Some(origin) => origin.to_owned(),
                None => key_origin(dir)?,
            };
            meta.insert("origin", origin.as_bytes())?;
            meta.insert("tree", TREE_LAYOUT)?;
            meta.insert(META_BLOB_WATCH, b"")?;
        }
        let blobs_possible = meta.contains_key(META_BLOBS)?
            || !meta.contains_key(META_BLOB_WATCH)?
            || std::fs::read_dir(sled_path(dir).join("blobs"))
                .is_ok_and(|mut entries| entries.next().is_some());
        let t = Trees {
            records: db.open_tree("records")?,
            streams: db.open_tree("streams")?,
            ids: db.open_tree("ids")?,
            personal: db.open_tree("personal")?,
            meta,
            merkle: db.open_tree("merkle")?,
        };
        let origin = match t.meta.get("origin")? {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => DEFAULT_ORIGIN.to_owned(),
        };
        let head = stored_head(t.meta.get("head")?.as_deref())
            .map_err(|why| CoreError::Corrupt(0, why))?;
        let store = Store {
            dir: dir.to_owned(),
            db,
            t,
            origin,
            writer: Mutex::new(Writer {
                head,
                state: None,
                rules: true,
            }),
            applied: Mutex::new(head),
            flush: Mutex::new(FlushState {
                durable: head.count,
                flushing: false,
            }),
            flushed: Condvar::new(),
            visible: RwLock::new(head),
            chunk: CHUNK,
            flushes: std::sync::atomic::AtomicU64::new(0),
            checkpoint_lock: Mutex::new(()),
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            blobs_possible: std::sync::atomic::AtomicBool::new(blobs_possible),
            _holder_file: holder_file,
        };
        if unfinished {
            store.sync_to_disk()?;
            for path in [sled_path(dir).join("conf"), sled_path(dir), dir.to_owned()] {
                std::fs::File::open(path)?.sync_all()?;
            }
        }
        if mode == OpenMode::Normal {
            store.discard_tree_from(head.count)?;
            if store
                .t
                .records
                .range(pos_key(head.count)..)
                .next()
                .is_some()
            {
                store.discard_from(head.count)?;
                store.sync_to_disk()?;
            }
            store
                .check_head(head)
                .map_err(|broken| CoreError::Damaged {
                    dir: dir.to_owned(),
                    broken,
                })?;
            store.ensure_tree(head)?;
        }
        Ok(store)
    }

    /// The folder the ledger lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ledger's origin (the checkpoint and key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The signing key, creating one for a store made before keys existed.
    pub fn signing_key(&self) -> Result<LedgerKey, CoreError> {
        let path = key_path(&self.dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                LedgerKey::from_file_text(&text).map_err(|why| CoreError::Key { path, why })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = LedgerKey::from_seed(&self.origin, random32()?);
                files::create_private(&path, key.to_file_text().as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(CoreError::Key {
                path,
                why: e.to_string(),
            }),
        }
    }

    /// The durable head: what every reader sees.
    pub fn head(&self) -> Head {
        *self
            .visible
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn check_head(&self, head: Head) -> Result<(), Broken> {
        if head.count == 0 {
            return match self.t.records.iter().next() {
                None => Ok(()),
                Some(_) => Err(Broken {
                    position: 0,
                    why: "the head says the ledger is empty, but it holds records".into(),
                }),
            };
        }
        let last = head.count - 1;
        let value = self
            .t
            .records
            .get(pos_key(last))
            .map_err(|e| Broken {
                position: last,
                why: format!("cannot read the head record: {e}"),
            })?
            .ok_or_else(|| Broken {
                position: last,
                why: "the head record is missing".into(),
            })?;
        let (stored_hash, bytes) = split_value(&value).ok_or_else(|| Broken {
            position: last,
            why: "the head record is truncated".into(),
        })?;
        let computed = *blake3::hash(bytes).as_bytes();
        if computed != stored_hash || stored_hash != head.hash {
            return Err(Broken {
                position: last,
                why: format!(
                    "hash mismatch at the head: the record hashes to {}, the head says {}",
                    hex(&computed),
                    hex(&head.hash)
                ),
            });
        }
        match HashedTail::parse(bytes) {
            Some(tail) if tail.position == last => Ok(()),
            _ => Err(Broken {
                position: last,
                why: "the head record does not hold its own position".into(),
            }),
        }
    }

    /// Removes every record at or past `from` with its index entries and the Merkle subtrees
    /// that reach past it (staged leftovers).
    fn discard_from(&self, from: u64) -> Result<(), CoreError> {
        self.discard_tree_from(from)?;
        for item in self.t.records.range(pos_key(from)..) {
            let (key, value) = item?;
            let position = be_u64(&key).unwrap_or(from);
            if let Some((hash, bytes)) = split_value(&value) {
                if let Ok(record) = Record::from_hashed_bytes(bytes, hash) {
                    self.t
                        .streams
                        .remove(stream_key(&record.stream, record.version))?;
                    let id_key = *record.id.0.as_bytes();
                    if self.t.ids.get(id_key)?.as_deref().and_then(be_u64) == Some(position) {
                        self.t.ids.remove(id_key)?;
                    }
                }
            }
            self.t.personal.remove(key.clone())?;
            self.t.records.remove(key)?;
        }
        Ok(())
    }

    /// Appends one batch atomically (see [`Store::append_iter`]).
    pub fn append(
        &self,
        events: &[ProposedEvent],
        actor: &str,
    ) -> Result<AppendOutcome, CoreError> {
        self.append_iter(events.iter().cloned().map(Ok), actor, &mut |_| {})
    }

    /// Appends every event of `events` as one atomic batch, or nothing.
    ///
    /// Items that are already refusals (lines that failed the structural rules) are reported
    /// with the refusals found here, in input order; when there is any, nothing is written.
    /// `progress` is told how many events were read so far.
    pub fn append_iter<I>(
        &self,
        events: I,
        actor: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<AppendOutcome, CoreError>
    where
        I: IntoIterator<Item = Result<ProposedEvent, Refusal>>,
    {
        let mut guard = lock(&self.writer);
        let writer = &mut *guard;
        let committed = writer.head;
        let state = match &mut writer.state {
            Some(state) => state,
            None => writer.state.insert(self.build_state()?),
        };
        state.begin();
        let mut batch = Batch::new(committed, actor.to_owned(), now_recorded_at());
        batch.frontier = Frontier::at(self, committed.count)?;
        let rules = writer.rules;
        let result = self.run_batch(&mut batch, events, state, rules, progress);
        let outcome = match result {
            Ok(())
                if !batch.refusals.is_empty() || (!batch.seen.is_empty() && batch.appended > 0) =>
            {
                let mut refusals = std::mem::take(&mut batch.refusals);
                if batch.appended > 0 {
                    for (index, position) in &batch.seen {
                        refusals.push(IndexedRefusal {
                            index: *index,
                            refusal: Refusal::at(Rule::IdReused, "id", format!(
                                "this event was recorded before (position {position}) but others in the batch are new: send a batch all new or all seen before"
                            )),
                        });
                    }
                }
                refusals.sort_by_key(|r| r.index);
                Err(CoreError::Refused(refusals))
            }
            Ok(()) if batch.appended == 0 && !batch.seen.is_empty() => {
                state.commit();
                drop(guard);
                return Ok(AppendOutcome::AlreadyRecorded {
                    positions: batch.seen.iter().map(|(_, p)| *p).collect(),
                    head: self.head(),
                });
            }
            Ok(()) => self.commit(&mut batch),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(head) => {
                state.commit();
                writer.head = head;
                drop(guard);
                self.make_durable(head)?;
                Ok(AppendOutcome::Appended {
                    first: committed.count,
                    count: batch.appended,
                    head,
                })
            }
            Err(e) => {
                state.rollback();
                if batch.staged {
                    self.discard_from(committed.count)?;
                }
                Err(e)
            }
        }
    }

    /// Folds every record of the ledger into the governance state.
    fn build_state(&self) -> Result<GovernanceState, CoreError> {
        let mut state = GovernanceState::default();
        for record in self.iter_from(0) {
            let record = record?;
            let effective = Date::parse(&record.effective)
                .map_err(|e| CoreError::Corrupt(record.position, e))?;
            let event = crate::catalogue::parse_data(record.event_type, &record.data).map_err(
                |(field, why)| CoreError::Corrupt(record.position, format!("data.{field}: {why}")),
            )?;
            state.apply(&event, effective, record.position);
        }
        Ok(state)
    }

    fn run_batch<I>(
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
        for (index, item) in events.into_iter().enumerate() {
            if index % 4096 == 0 {
                progress(index as u64);
            }
            let event = match item {
                Ok(e) => e,
                Err(refusal) => {
                    b.refusals.push(IndexedRefusal { index, refusal });
                    continue;
                }
            };
            if let Err(refusal) =
                self.check_and_stage(b, index, event, rules.then_some(&mut *state))?
            {
                b.refusals.push(IndexedRefusal { index, refusal });
            }
            if b.pending.len() >= self.chunk {
                self.stage(b)?;
            }
        }
        Ok(())
    }

    /// Applies the store's rules to one event and, when the batch is still clean, builds
    /// its record. The outer error is storage trouble; the inner one a refusal.
    fn check_and_stage(
        &self,
        b: &mut Batch,
        index: usize,
        e: ProposedEvent,
        state: Option<&mut GovernanceState>,
    ) -> Result<Result<(), Refusal>, CoreError> {
        if let Some(id) = e.id {
            let id_key = *id.0.as_bytes();
            let earlier = match b.pending_ids.get(&id) {
                Some(p) => Some(*p),
                None => self.t.ids.get(id_key)?.as_deref().and_then(be_u64),
            };
            if let Some(position) = earlier {
                if position >= b.base.count {
                    return Ok(Err(Refusal::at(
                        Rule::IdReused,
                        "id",
                        format!("the id {id} appears twice in this batch"),
                    )));
                }
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
        let len = match b.stream_lens.get(&stream) {
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
            if let Err(refusal) = state.check(&e.event, e.effective) {
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
            Some(value) => Some(Personal {
                salt: random32()?,
                value,
            }),
            None => None,
        };
        if let EventData::PersonalDataErased(d) = &e.event {
            self.erasure_targets(b, &d.subject)?;
        }
        let record = Record::seal(
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
        });
        Ok(Ok(()))
    }

    /// Whether the record at `position` holds the same content as `e` (idempotency).
    fn same_content(&self, position: u64, e: &ProposedEvent) -> Result<bool, CoreError> {
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
    fn erasure_targets(&self, b: &mut Batch, subject: &ErasureSubject) -> Result<(), CoreError> {
        let matches = |r: &Record| match subject {
            ErasureSubject::Member(m) => {
                r.stream == format!("member/{m}")
                    || (r.event_type == EventType::CandidacySubmitted
                        && r.data.get("member_id").and_then(|v| v.as_str()) == Some(m.as_str()))
            }
            ErasureSubject::Case(c) => r.stream == format!("case/{c}"),
            ErasureSubject::Donor(d) => {
                r.event_type == EventType::GiftReceived
                    && r.data.get("donor_ref").and_then(|v| v.as_str()) == Some(d.as_str())
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

    fn stream_len(&self, stream: &str) -> Result<u64, CoreError> {
        Ok(
            match self
                .t
                .streams
                .scan_prefix(stream_prefix(stream))
                .next_back()
            {
                Some(item) => {
                    let (key, _) = item?;
                    be_u64(&key[key.len() - 8..]).map_or(0, |v| v + 1)
                }
                None => 0,
            },
        )
    }

    /// Writes the pending chunk invisibly (past the head).
    fn stage(&self, b: &mut Batch) -> Result<(), CoreError> {
        if b.pending.is_empty() {
            return Ok(());
        }
        self.write_staged(&b.pending)?;
        b.pending.clear();
        b.pending_ids.clear();
        b.staged = true;
        Ok(())
    }

    /// Writes the last chunk, any erasures and the new head: the commit point.
    fn commit(&self, b: &mut Batch) -> Result<Head, CoreError> {
        let head = Head {
            count: b.next,
            hash: b.prev,
        };
        if b.appended == 0 {
            return Ok(b.base);
        }
        if b.staged {
            // Staged chunks are durable before the head that makes them visible.
            self.sync_to_disk()?;
        }
        if b.erase.is_empty() {
            self.write_in_log_order(&b.pending, head)?;
        } else {
            self.write_chunk(&b.pending, Some(head), &b.erase)?;
        }
        let mut applied = lock(&self.applied);
        *applied = head;
        Ok(head)
    }

    /// The stored form of a chunk's records. Records [`META_BLOBS`] first (a write before the
    /// chunk's) when a value or key is large enough to put a node in a blob file.
    fn encode(&self, chunk: &[Staged]) -> Result<Vec<EncodedRecord>, CoreError> {
        let encoded: Vec<EncodedRecord> = chunk
            .iter()
            .map(|s| {
                let mut value = Vec::with_capacity(400);
                value.extend_from_slice(&s.record.hash);
                value.extend_from_slice(&s.record.hashed_bytes());
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
        if large
            && !self
                .blobs_possible
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            self.t.meta.insert(META_BLOBS, b"")?;
            self.blobs_possible
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(encoded)
    }

    /// Writes a chunk past the head, invisible until a later commit moves the head. No
    /// cross-tree atomicity is needed: anything past the head is discarded on open.
    fn write_staged(&self, chunk: &[Staged]) -> Result<(), CoreError> {
        // Written tree by tree, in `TreeId`'s order, each tree's keys in one batch.
        const ORDER: [TreeId; 6] = [
            TreeId::Merkle,
            TreeId::Records,
            TreeId::Streams,
            TreeId::Ids,
            TreeId::Personal,
            TreeId::Meta,
        ];
        let mut batches: [Option<sled::Batch>; 6] = Default::default();
        for (id, key, value) in self.record_writes(chunk)? {
            batches[id as usize]
                .get_or_insert_with(sled::Batch::default)
                .insert(key, value);
        }
        for (id, batch) in ORDER.into_iter().zip(batches) {
            if let Some(batch) = batch {
                self.tree(id).apply_batch(batch)?;
            }
        }
        Ok(())
    }

    /// Writes the last chunk and then the new head as single-key writes, in that order: the
    /// commit point of a batch without erasures.
    ///
    /// No sled transaction is needed: sled recovers a contiguous prefix of its log (recovery
    /// stops at the first torn or missing message), so a head that survives a crash brings
    /// every write before it, and writes past a head that did not survive are discarded on
    /// open ([`Store::discard_from`]). Each record goes before its index entries, so an index
    /// entry never outlives its record. A transaction would cost a second synced log write per
    /// append (sled writes a batch manifest in a buffer of its own); see `kroniek bench`.
    fn write_in_log_order(&self, chunk: &[Staged], head: Head) -> Result<(), CoreError> {
        for (id, key, value) in self.writes_in_log_order(chunk, head)? {
            self.tree(id).insert(key, value)?;
        }
        Ok(())
    }

    fn tree(&self, id: TreeId) -> &sled::Tree {
        match id {
            TreeId::Records => &self.t.records,
            TreeId::Streams => &self.t.streams,
            TreeId::Ids => &self.t.ids,
            TreeId::Personal => &self.t.personal,
            TreeId::Merkle => &self.t.merkle,
            TreeId::Meta => &self.t.meta,
        }
    }

    /// The single-key writes of [`Store::write_in_log_order`], in the order they are made
    /// (a function of its own so that a test can cut them anywhere, as a crash would).
    fn writes_in_log_order(
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
    fn record_writes(&self, chunk: &[Staged]) -> Result<Vec<KeyWrite>, CoreError> {
        let mut writes = Vec::with_capacity(chunk.len() * 4 + 1);
        for (s, (skey, value, pers)) in chunk.iter().zip(self.encode(chunk)?) {
            let pk = pos_key(s.record.position).to_vec();
            writes.push((TreeId::Records, pk.clone(), value));
            writes.push((TreeId::Streams, skey, pk.clone()));
            writes.push((TreeId::Ids, s.record.id.0.as_bytes().to_vec(), pk.clone()));
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
    fn write_chunk(
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
        let trees = (
            &self.t.records,
            &self.t.streams,
            &self.t.ids,
            &self.t.personal,
            &self.t.meta,
            &self.t.merkle,
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
    fn make_durable(&self, target: Head) -> Result<(), CoreError> {
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
                let mut visible = self
                    .visible
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if covered.count > visible.count {
                    *visible = covered;
                }
            }
            self.flushed.notify_all();
            result?;
        }
    }

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
        Ok(match self.t.personal.get(pos_key(position))? {
            Some(v) if v.len() >= 32 => {
                let mut salt = [0u8; 32];
                salt.copy_from_slice(&v[..32]);
                let value = canonical::parse_strict_bytes(&v[32..])
                    .map_err(|e| CoreError::Corrupt(position, e))?;
                Some(Personal { salt, value })
            }
            Some(_) => {
                return Err(CoreError::Corrupt(
                    position,
                    "personal data is truncated".into(),
                ))
            }
            None => None,
        })
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
    fn records_between(
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
    fn with_personal(&self, record: Record) -> Result<(Record, Option<Personal>), CoreError> {
        let personal = match record.personal_commitment {
            Some(_) => self.personal_at(record.position)?,
            None => None,
        };
        Ok((record, personal))
    }

    /// Calls `apply` with each record from `from` up to the head (as it was at the call) and its
    /// personal data, in order. For more than a few records, one thread reads sled's pages and
    /// another decodes the records (and looks up their personal data) while `apply` runs, so on
    /// two cores reading, decoding and folding overlap; each reads at most a few batches ahead.
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
            // The walk checks up to the stored head, the replay up to the visible one: they
            // differ only while an append is being flushed.
            Ok(walk) if walk.head == self.head() => self
                .replay_walking(0, Some(walk), apply)
                .map(|outcome| outcome.unwrap_or_else(|| self.verify(&mut |_| {}))),
            Ok(_) => {
                self.replay(0, apply)?;
                Ok(self.verify(&mut |_| {}))
            }
            Err(broken) => self.replay(0, apply).map(|()| Err(broken)),
        }
    }

    /// [`Store::replay`], with `walk` (from the first record) checking each stored record on
    /// the reading thread. Its outcome, or `None` when the records were too few for a thread
    /// and the walk did not run.
    fn replay_walking<E>(
        &self,
        from: u64,
        walk: Option<ChainWalk>,
        mut apply: impl FnMut(&Record, Option<&Personal>) -> Result<(), E>,
    ) -> Result<Option<Result<Verified, Broken>>, E>
    where
        E: From<CoreError>,
    {
        /// Records per message from the reading thread.
        const BATCH: usize = 1_024;
        type Batch = Vec<(Record, Option<Personal>)>;
        let end = self.head().count;
        if end.saturating_sub(from) <= 2 * BATCH as u64 {
            // A few records (a read side catching up after an append): no thread.
            for record in self.records_between(from, end) {
                let (record, personal) = self.with_personal(record?)?;
                apply(&record, personal.as_ref())?;
            }
            return Ok(None);
        }
        type Raw = Vec<(sled::IVec, sled::IVec)>;
        std::thread::scope(|scope| {
            let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Result<Raw, CoreError>>(4);
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, CoreError>>(4);
            // Reading: sled's pages, as stored (and checked, with a walk).
            let reading = scope.spawn(move || {
                let mut walk = walk;
                let mut broken = None;
                let mut batch: Raw = Vec::with_capacity(BATCH);
                for item in self.t.records.range(pos_key(from)..pos_key(end)) {
                    match item {
                        Ok(pair) => {
                            if let (Some(w), None) = (walk.as_mut(), &broken) {
                                broken = w.check(&pair.0, &pair.1).err();
                            }
                            batch.push(pair);
                        }
                        Err(e) => {
                            let _ = raw_tx.send(Err(e.into()));
                            return None;
                        }
                    }
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if raw_tx.send(Ok(full)).is_err() {
                            return None; // the other side stopped
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = raw_tx.send(Ok(batch));
                }
                walk.map(|w| match broken {
                    Some(b) => Err(b),
                    None => w.finish(),
                })
            });
            // Decoding: records and their personal data.
            scope.spawn(move || {
                for message in raw_rx {
                    let decoded = message.and_then(|raw| {
                        raw.iter()
                            .map(|(key, value)| {
                                let position = be_u64(key).unwrap_or_default();
                                self.with_personal(decode_stored(position, value)?)
                            })
                            .collect::<Result<Batch, CoreError>>()
                    });
                    let failed = decoded.is_err();
                    if tx.send(decoded).is_err() || failed {
                        return;
                    }
                }
            });
            // Folding, here.
            for message in rx {
                for (record, personal) in message? {
                    apply(&record, personal.as_ref())?;
                }
            }
            // The reading thread ended: its panic (a bug) is not a verification outcome.
            Ok(reading.join().unwrap_or(None))
        })
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
    pub fn export_line(&self, record: &Record, with_personal: bool) -> Result<Vec<u8>, CoreError> {
        if !with_personal || record.personal_commitment.is_none() {
            return Ok(record.export_line(PersonalView::Omitted));
        }
        Ok(match self.personal_at(record.position)? {
            Some(p) => record.export_line(PersonalView::Shown(&p)),
            None => record.export_line(PersonalView::Erased),
        })
    }

    /// Walks the stored chain up to the head: every hash recomputed from the stored bytes,
    /// every link, position and stream version, and every personal commitment.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<Verified, Broken> {
        let mut walk = self.chain_walk()?;
        for item in self.t.records.range(..pos_key(walk.head.count)) {
            let expected = walk.checked();
            if expected.is_multiple_of(65_536) {
                progress(expected);
            }
            let (key, value) = item.map_err(|e| Broken {
                position: expected,
                why: format!("storage error: {e}"),
            })?;
            walk.check(&key, &value)?;
        }
        let done = walk.finish()?;
        progress(done.count);
        Ok(done)
    }

    /// The checks of [`Store::verify`], ready to take the stored records from the first.
    fn chain_walk(&self) -> Result<ChainWalk, Broken> {
        let head = self
            .t
            .meta
            .get("head")
            .map_err(|e| format!("the stored head cannot be read: {e}"))
            .and_then(|v| stored_head(v.as_deref()))
            .map_err(|why| Broken { position: 0, why })?;
        Ok(ChainWalk {
            head,
            chain: ChainVerifier::new(),
            personal: self.t.personal.range(..pos_key(head.count)).peekable(),
        })
    }

    /// Restores an export (JSON Lines) into this empty store, checking every line as
    /// `verify --export` does. The export must carry personal data (or its erasure).
    pub fn restore<R: std::io::BufRead>(
        &self,
        input: R,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Verified, CoreError> {
        let mut writer = lock(&self.writer);
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
            self.discard_from(0)?;
            return Err(e);
        }
        *lock(&self.applied) = head;
        writer.head = head;
        writer.state = None;
        drop(writer);
        self.make_durable(head)?;
        Ok(done)
    }

    /// Turns the governance rules off, for tests of the log alone.
    #[cfg(test)]
    pub(crate) fn without_rules(self) -> Store {
        lock(&self.writer).rules = false;
        self
    }

    /// The store's size on disk, in bytes (sled's own count).
    pub fn size_on_disk(&self) -> Result<u64, CoreError> {
        Ok(self.db.size_on_disk()?)
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
    fn sync_to_disk(&self) -> Result<(), CoreError> {
        let io = |e: std::io::Error| CoreError::Storage(sled::Error::Io(e));
        // Blob files first: they were written whole before the appends this flush covers were
        // applied, and the log entries that point to them should not reach the disk first.
        if self
            .blobs_possible
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            self.sync_blobs().map_err(io)?;
        }
        self.db.flush()?;
        self.log_file.sync_data().map_err(io)
    }

    /// Makes sled's new blob files durable. sled writes a tree node too large for its log
    /// buffers (over 128 KiB: a leaf holding an event of that size) to a file of its own in
    /// `sled/blobs` when it is inserted, and never syncs it, while the log that points to it is
    /// synced at the flush. Blob files are written once; one seen at a shorter length (still
    /// being written by another append) is synced again when it is seen complete. Called only
    /// once a store may have blob files (see [`LARGE_VALUE`]).
    fn sync_blobs(&self) -> std::io::Result<()> {
        let dir = sled_path(&self.dir).join("blobs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut synced = lock(&self.synced_blobs);
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

/// Checks a recorded event against the catalogue's structural rules, as an append would.
fn check_recorded_structure(record: &Record, personal: Option<&Personal>) -> Result<(), Refusal> {
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
    envelope.insert("data".into(), record.data.clone());
    if let Some(p) = personal {
        envelope.insert("personal".into(), p.value.clone());
    }
    ProposedEvent::parse_recorded(serde_json::Value::Object(envelope), personal.is_some())
        .map(|_| ())
}

impl NodeSource for Store {
    type Error = CoreError;
    fn node(&self, level: u8, index: u64) -> Result<TreeHash, CoreError> {
        if level == 0 {
            let value = self
                .t
                .records
                .get(pos_key(index))?
                .ok_or_else(|| CoreError::Corrupt(index, "the record is missing".into()))?;
            let (hash, _) = split_value(&value)
                .ok_or_else(|| CoreError::Corrupt(index, "the record is truncated".into()))?;
            return Ok(crate::merkle::leaf_hash(&hash));
        }
        if level < STORED_TREE_LEVEL {
            let left = self.node(level - 1, 2 * index)?;
            let right = self.node(level - 1, 2 * index + 1)?;
            return Ok(crate::merkle::node_hash(&left, &right));
        }
        let v = self.t.merkle.get(node_key(level, index))?.ok_or_else(|| {
            CoreError::Corrupt(
                index << level,
                format!("the Merkle subtree ({level}, {index}) is missing"),
            )
        })?;
        v.as_ref().try_into().map_err(|_| {
            CoreError::Corrupt(
                index << level,
                "a Merkle subtree hash is not 32 bytes".into(),
            )
        })
    }
}

impl Store {
    fn check_size(&self, size: u64) -> Result<(), CoreError> {
        let head = self.head().count;
        if size > head {
            return Err(CoreError::Invalid(format!(
                "the ledger holds {head} records; there is no tree of size {size}"
            )));
        }
        Ok(())
    }

    /// The RFC 6962 root of the first `size` records.
    pub fn tree_root(&self, size: u64) -> Result<TreeHash, CoreError> {
        self.check_size(size)?;
        crate::merkle::root(self, size)
    }

    /// The inclusion proof of the record at `index` in the tree of `size` records.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, CoreError> {
        self.check_size(size)?;
        if index >= size {
            return Err(CoreError::Invalid(format!(
                "position {index} is not in a tree of size {size}"
            )));
        }
        crate::merkle::inclusion_proof(self, index, size)
    }

    /// The consistency proof from the tree of `old` records to the tree of `new` records.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, CoreError> {
        self.check_size(new)?;
        if old > new {
            return Err(CoreError::Invalid(format!(
                "the old size {old} is larger than the new size {new}"
            )));
        }
        crate::merkle::consistency_proof(self, old, new)
    }

    /// Removes the Merkle subtrees that reach past `from` leaves (staged leftovers).
    fn discard_tree_from(&self, from: u64) -> Result<(), CoreError> {
        for level in STORED_TREE_LEVEL..64u8 {
            for item in self
                .t
                .merkle
                .range(node_key(level, from >> level)..=node_key(level, u64::MAX))
            {
                let (key, _) = item?;
                self.t.merkle.remove(key)?;
            }
        }
        Ok(())
    }

    /// Builds the Merkle subtrees a store written before the tree existed (or with another
    /// layout) lacks, once; the `tree` marker in `meta` says which layout the store keeps.
    fn ensure_tree(&self, head: Head) -> Result<(), CoreError> {
        if self.t.meta.get("tree")?.as_deref() == Some(TREE_LAYOUT) {
            return Ok(());
        }
        self.t.merkle.clear()?;
        let mut frontier = Frontier::default();
        let mut batch = sled::Batch::default();
        for (n, item) in self.t.records.range(..pos_key(head.count)).enumerate() {
            let (_, value) = item?;
            let (hash, _) = split_value(&value)
                .ok_or_else(|| CoreError::Corrupt(n as u64, "the record is truncated".into()))?;
            for ((level, index), h) in frontier.push(&hash) {
                if level >= STORED_TREE_LEVEL {
                    batch.insert(&node_key(level, index), &h);
                }
            }
            if n % 16_384 == 16_383 {
                self.t.merkle.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.t.merkle.apply_batch(batch)?;
        self.t.meta.insert("tree", TREE_LAYOUT)?;
        self.sync_to_disk()?;
        Ok(())
    }
}

impl Store {
    /// Where the latest signed checkpoint (with its cosignatures) is kept: beside the key,
    /// outside the database, so that it survives a restore into the same folder.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    /// The latest checkpoint this store signed, with its cosignatures.
    pub fn latest_checkpoint(&self) -> Result<Option<(Note, Checkpoint)>, CoreError> {
        let path = self.checkpoint_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bad = |why: String| {
            CoreError::Invalid(format!(
                "the kept checkpoint {} is unreadable: {why}",
                path.display()
            ))
        };
        let note = Note::parse(&text).map_err(bad)?;
        let checkpoint = Checkpoint::parse_body(&note.text).map_err(bad)?;
        Ok(Some((note, checkpoint)))
    }

    /// Checks that this store extends the checkpoint it signed last: it holds at least that
    /// many records and its tree at that size has that root.
    pub fn check_against_last_checkpoint(&self) -> Result<(), CoreError> {
        let Some((note, last)) = self.latest_checkpoint()? else {
            return Ok(());
        };
        let key = self.signing_key()?;
        let vkey = VerifierKey::parse(&key.verifier_key()).map_err(CoreError::Invalid)?;
        if !vkey.verify_signature(&note).map_err(CoreError::Invalid)? {
            return Err(CoreError::Invalid(
                "the kept checkpoint is not signed by this ledger's key".into(),
            ));
        }
        let head = self.head().count;
        if last.size > head {
            return Err(CoreError::Invalid(format!(
                "this ledger holds {head} records but signed a checkpoint of {} before: records are missing (restored from an older export, or rolled back); nothing will be signed",
                last.size
            )));
        }
        if self.tree_root(last.size)? != last.root {
            return Err(CoreError::Invalid(format!(
                "the first {} records no longer have the root this ledger signed: its history was changed; nothing will be signed",
                last.size
            )));
        }
        Ok(())
    }

    /// Signs a checkpoint of the durable head, unless the latest one already covers it, and
    /// never one inconsistent with the latest. Returns the latest checkpoint note.
    pub fn sign_checkpoint(&self) -> Result<Note, CoreError> {
        let _one_at_a_time = lock(&self.checkpoint_lock);
        self.check_against_last_checkpoint()?;
        let head = self.head().count;
        if let Some((note, last)) = self.latest_checkpoint()? {
            if last.size == head {
                return Ok(note);
            }
        }
        let key = self.signing_key()?;
        let checkpoint = Checkpoint {
            origin: key.name.clone(),
            size: head,
            root: self.tree_root(head)?,
        };
        let text = checkpoint.body();
        let note = Note {
            signatures: vec![crate::note::sign(&key, &text)],
            text,
        };
        files::replace(&self.checkpoint_path(), note.to_text().as_bytes())?;
        Ok(note)
    }

    /// Adds the cosignature lines of `cosigned` (the latest checkpoint cosigned by a witness,
    /// or only the lines the witness printed) to the kept checkpoint. Every line must be a valid
    /// cosignature of this checkpoint by one of `witnesses`.
    pub fn add_cosignatures(
        &self,
        cosigned: &str,
        witnesses: &[VerifierKey],
    ) -> Result<Note, CoreError> {
        let _one_at_a_time = lock(&self.checkpoint_lock);
        let Some((mut note, _)) = self.latest_checkpoint()? else {
            return Err(CoreError::Invalid(
                "this ledger has signed no checkpoint yet".into(),
            ));
        };
        // Either the whole cosigned note, or only the cosignature lines a witness printed.
        let incoming = if cosigned.starts_with('\u{2014}') {
            Note::parse(&format!("{}\n{cosigned}", note.text))
        } else {
            Note::parse(cosigned)
        }
        .map_err(|e| {
            CoreError::Invalid(format!(
                "not a cosigned checkpoint or cosignature lines: {e}"
            ))
        })?;
        if incoming.text != note.text {
            return Err(CoreError::Invalid(
                "the cosigned checkpoint is not this ledger's latest checkpoint".into(),
            ));
        }
        let origin = note
            .signatures
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let lines: Vec<_> = incoming
            .signatures
            .into_iter()
            .filter(|s| s.name != origin)
            .collect();
        if lines.is_empty() {
            return Err(CoreError::Invalid("no cosignature to add".into()));
        }
        for line in &lines {
            let key = witnesses
                .iter()
                .find(|k| k.name == line.name && Some(k.id) == line.key_id())
                .ok_or_else(|| {
                    CoreError::Invalid(format!(
                        "{} is not a known witness: pass its verifier key",
                        line.name
                    ))
                })?;
            let single = Note {
                text: note.text.clone(),
                signatures: vec![line.clone()],
            };
            key.verify_cosignature(&single)
                .map_err(|e| CoreError::Invalid(format!("{e} (is it for this checkpoint?)")))?;
        }
        note.add(lines);
        files::replace(&self.checkpoint_path(), note.to_text().as_bytes())?;
        Ok(note)
    }
}

/// A full verification, one stored record at a time (see [`Store::verify`]): each record's
/// hash, position and link, and its personal data merge-joined with the `personal` tree; at
/// the end, the head. [`Store::replay_verified`] runs it on the pages a rebuild reads anyway.
struct ChainWalk {
    head: Head,
    chain: ChainVerifier,
    personal: std::iter::Peekable<sled::Iter>,
}

impl ChainWalk {
    /// Records checked so far: the position the next one must have.
    fn checked(&self) -> u64 {
        self.chain.finish().count
    }

    /// Checks the next stored record (its `records` key and value).
    fn check(&mut self, key: &[u8], value: &[u8]) -> Result<(), Broken> {
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
        // Personal data: merge-join the personal tree with the records.
        let mut stored_personal = None;
        while let Some(Ok((pkey, _))) = self.personal.peek() {
            let ppos = be_u64(pkey).unwrap_or(u64::MAX);
            if ppos < position {
                return Err(Broken {
                    position: ppos,
                    why: "personal data is stored for a record without a personal commitment"
                        .into(),
                });
            }
            if ppos > position {
                break;
            }
            stored_personal = self.personal.next().and_then(Result::ok).map(|(_, v)| v);
        }
        let personal_missing = tail.personal_commitment.is_some() && stored_personal.is_none();
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

    /// The outcome, once every stored record up to the head was checked.
    fn finish(self) -> Result<Verified, Broken> {
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

/// The head from its `meta` value (none: the empty ledger), or why it cannot be read.
fn stored_head(value: Option<&[u8]>) -> Result<Head, String> {
    match value {
        Some(v) => bincode::decode_from_slice::<Head, _>(v, bincode_config())
            .map(|(h, _)| h)
            .map_err(|e| format!("the stored head cannot be read: {e}")),
        None => Ok(Head::EMPTY),
    }
}

/// The record at `position` from its stored value (hash ‖ hashed bytes).
fn decode_stored(position: u64, value: &[u8]) -> Result<Record, CoreError> {
    let (hash, bytes) = split_value(value)
        .ok_or_else(|| CoreError::Corrupt(position, "the record is truncated".into()))?;
    Record::from_hashed_bytes(bytes, hash).map_err(|e| CoreError::Corrupt(position, e))
}

fn split_value(value: &[u8]) -> Option<([u8; 32], &[u8])> {
    if value.len() < 32 {
        return None;
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&value[..32]);
    Some((hash, &value[32..]))
}

/// The working state of one batch being appended.
struct Batch {
    base: Head,
    actor: String,
    recorded_at: String,
    next: u64,
    prev: [u8; 32],
    appended: u64,
    pending: Vec<Staged>,
    pending_ids: HashMap<EventId, u64>,
    stream_lens: HashMap<String, u64>,
    seen: Vec<(usize, u64)>,
    refusals: Vec<IndexedRefusal>,
    erase: BTreeSet<u64>,
    staged: bool,
    frontier: Frontier,
}

impl Batch {
    fn new(base: Head, actor: String, recorded_at: String) -> Batch {
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
            seen: Vec::new(),
            refusals: Vec::new(),
            erase: BTreeSet::new(),
            staged: false,
            frontier: Frontier::default(),
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
