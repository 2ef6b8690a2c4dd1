//! Opening and creating a store: the store's own lock, the removal of snapshots sled left
//! half-written, sled's configuration, and the checks and clean-up of an open (whatever a crash
//! left past the head is discarded).

use super::*;

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

/// Takes the store's lock: an exclusive `flock` on the holder file, kept until the [`Store`]
/// drops (the kernel lets go of it when a killed process's files close). sled locks its log
/// file too, but only once it has started reading the folder; this lock is taken first, so
/// that [`remove_torn_snapshots`] runs only when no other process has the store open.
///
/// A lock found taken is tried again for up to [`HOLDER_WAIT`] before the store is reported
/// locked. The lock belongs to the open file, and a process this one is starting holds a copy
/// of every descriptor between its fork and its exec (which closes them): a store closed in
/// this process while another thread starts a program stays locked for that moment.
pub(super) fn hold_store(dir: &Path) -> Result<std::fs::File, CoreError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(HOLDER_FILE))?;
    let held = while_locked(HOLDER_WAIT, || match file.try_lock() {
        Ok(()) => Ok(Some(())),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    })?;
    match held {
        Some(()) => Ok(file),
        None => Err(locked(dir)),
    }
}

/// How long [`hold_store`] tries a lock found taken before it reports the store locked.
pub(super) const HOLDER_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Tries `attempt` every 10 ms, for up to `limit`, while it answers `Ok(None)` (a lock found
/// taken); its first other answer, or `Ok(None)` when the lock was still taken at the end.
fn while_locked<T>(
    limit: std::time::Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, CoreError>,
) -> Result<Option<T>, CoreError> {
    let pause = std::time::Duration::from_millis(10);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match attempt()? {
            None if waited < limit => {
                std::thread::sleep(pause);
                waited += pause;
            }
            answer => return Ok(answer),
        }
    }
}

/// The store in `dir` reported in use, naming the process `DATA/holder` names.
fn locked(dir: &Path) -> CoreError {
    let holder = std::fs::read_to_string(dir.join(HOLDER_FILE)).unwrap_or_default();
    CoreError::Locked {
        dir: dir.to_owned(),
        holder: holder.trim().to_owned(),
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
pub(super) fn remove_torn_snapshots(sled_dir: &Path) -> Result<(), CoreError> {
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
pub(super) fn key_origin(dir: &Path) -> Result<String, CoreError> {
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
pub(super) fn open_sled(dir: &Path) -> Result<sled::Db, CoreError> {
    let is_lock_error = |e: &sled::Error| {
        matches!(e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
            || io.to_string().contains("could not acquire lock"))
    };
    let opened = while_locked(std::time::Duration::from_secs(2), || {
        match sled_config(&sled_path(dir)).open() {
            Ok(db) => Ok(Some(db)),
            Err(e) if is_lock_error(&e) => Ok(None),
            Err(e) => Err(CoreError::Storage(e)),
        }
    })?;
    opened.ok_or_else(|| locked(dir))
}

/// How kroniek opens sled.
pub(super) fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(page_cache_bytes())
        .mode(sled::Mode::HighThroughput)
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
    pub(super) fn open_db(
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
        drop(meta);
        let t = Trees::of_sled(&db)?;
        let engine = Engine::Sled(SledEngine {
            db,
            log_file,
            synced_blobs: Mutex::new(HashSet::new()),
            blobs_possible: std::sync::atomic::AtomicBool::new(blobs_possible),
            _holder_file: holder_file,
        });
        let store = Store::assemble(dir.to_owned(), t, engine)?;
        if unfinished {
            store.sync_to_disk()?;
            for path in [sled_path(dir).join("conf"), sled_path(dir), dir.to_owned()] {
                std::fs::File::open(path)?.sync_all()?;
            }
        }
        store.check_on_open(mode)?;
        Ok(store)
    }

    /// The open store over its key spaces: its origin and head read from `meta`.
    fn assemble(dir: PathBuf, t: Trees, engine: Engine) -> Result<Store, CoreError> {
        let origin = match t.meta.get("origin")? {
            Some(v) => String::from_utf8_lossy(&v).into_owned(),
            None => DEFAULT_ORIGIN.to_owned(),
        };
        let head = stored_head(t.meta.get("head")?.as_deref())
            .map_err(|why| CoreError::Corrupt(0, why))?;
        let view = match t.meta.get(META_VIEW)? {
            None => None,
            Some(name) => Some(view_role(&name).ok_or_else(|| {
                CoreError::Corrupt(
                    0,
                    format!(
                        "the copy's view is \"{}\", not a role",
                        String::from_utf8_lossy(&name)
                    ),
                )
            })?),
        };
        Ok(Store {
            dir,
            t,
            origin,
            writer: Mutex::new(Writer {
                head,
                state: None,
                rules: true,
                frontier: None,
                known_lengths: HashMap::new(),
                recent_ids: HashMap::new(),
                stats: WriteStats::default(),
            }),
            applied: Mutex::new(head),
            commits: Mutex::new(group::Commits::default()),
            flush: Mutex::new(FlushState {
                durable: head.count,
                flushing: false,
            }),
            flushed: Condvar::new(),
            queue: Mutex::new(Queue::default()),
            queue_changed: Condvar::new(),
            visible: RwLock::new(head),
            chunk: CHUNK,
            flushes: std::sync::atomic::AtomicU64::new(0),
            staging: commit::StagingCounters::default(),
            checkpoint_lock: Mutex::new(()),
            erasures: std::sync::atomic::AtomicU64::new(0),
            write_failure: std::sync::OnceLock::new(),
            governance_source: std::sync::OnceLock::new(),
            view: RwLock::new(view),
            engine,
        })
    }

    /// What opening does in [`OpenMode::Normal`]: discards what was staged past the head, and
    /// checks the chain at the head.
    fn check_on_open(&self, mode: OpenMode) -> Result<(), CoreError> {
        if mode != OpenMode::Normal {
            return Ok(());
        }
        let head = self.head();
        // Only sled can hold writes past the head (another engine commits a unit whole, and
        // rows past the head this process read may be another process's newer records).
        if self.is_folder() {
            self.discard_tree_from(head.count)?;
            if self.t.records.range(pos_key(head.count)..).next().is_some() {
                self.discard_from(head.count)?;
                self.sync_to_disk()?;
            }
        }
        self.check_head(head).map_err(|broken| CoreError::Damaged {
            dir: self.dir.clone(),
            broken,
        })?;
        self.ensure_tree(head)
    }

    /// Creates a ledger on `backend` (which must hold none) with its origin and a new Ed25519
    /// signing key, kept as the backend's `signing.key` file.
    pub fn init_on(backend: std::sync::Arc<dyn Backend>, origin: &str) -> Result<Store, CoreError> {
        if !is_valid_key_name(origin) {
            return Err(CoreError::Invalid(format!(
                "\"{origin}\" is not a valid origin: use a schema-less URL such as ledger.example-party.nl/kroniek (no spaces, no +)"
            )));
        }
        let t = Trees::of_backend(&backend);
        if t.meta.contains_key("origin")? {
            return Err(CoreError::AlreadyExists(PathBuf::from(backend.describe())));
        }
        let origin = match backend.read_file(KEY_FILE)? {
            Some(text) => LedgerKey::from_file_text(&String::from_utf8_lossy(&text))
                .map(|key| key.name)
                .map_err(|why| CoreError::Key {
                    path: PathBuf::from(format!("{} ({KEY_FILE})", backend.describe())),
                    why,
                })?,
            None => {
                let key = LedgerKey::from_seed(origin, random32()?);
                backend.write_file(KEY_FILE, key.to_file_text().as_bytes())?;
                origin.to_owned()
            }
        };
        let head = bincode::encode_to_vec(Head::EMPTY, bincode_config())
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        t.meta.insert("origin", origin.as_bytes())?;
        t.meta.insert("tree", TREE_LAYOUT)?;
        t.meta.insert("head", head)?;
        backend.commit()?;
        Store::open_on(backend, OpenMode::Normal)
    }

    /// Opens the ledger on `backend`.
    pub fn open_on(
        backend: std::sync::Arc<dyn Backend>,
        mode: OpenMode,
    ) -> Result<Store, CoreError> {
        let t = Trees::of_backend(&backend);
        if !t.meta.contains_key("origin")? {
            return Err(CoreError::NoLedger(PathBuf::from(backend.describe())));
        }
        let store = Store::assemble(
            PathBuf::from(backend.describe()),
            t,
            Engine::Backend(backend),
        )?;
        store.check_on_open(mode)?;
        Ok(store)
    }

    /// The signing key, creating one for a store made before keys existed.
    pub fn signing_key(&self) -> Result<LedgerKey, CoreError> {
        let path = match self.engine {
            Engine::Sled(_) => key_path(&self.dir),
            Engine::Backend(_) => PathBuf::from(format!("{} ({KEY_FILE})", self.location())),
        };
        match self.read_kept_file(KEY_FILE) {
            Ok(Some(text)) => LedgerKey::from_file_text(&String::from_utf8_lossy(&text))
                .map_err(|why| CoreError::Key { path, why }),
            Ok(None) => {
                let key = LedgerKey::from_seed(&self.origin, random32()?);
                self.write_kept_file(KEY_FILE, key.to_file_text().as_bytes(), true)?;
                Ok(key)
            }
            Err(e) => Err(CoreError::Key {
                path,
                why: e.to_string(),
            }),
        }
    }

    pub(super) fn check_head(&self, head: Head) -> Result<(), Broken> {
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
        if is_withheld_value(bytes) && self.view().is_some() {
            // A view copy's withheld record: its hash cannot be recomputed here, only its
            // place checked (`verify` checks its link).
            return match decode_withheld(last, &stored_hash, bytes) {
                Ok(_) if stored_hash == head.hash => Ok(()),
                Ok(_) => Err(Broken {
                    position: last,
                    why: format!(
                        "hash mismatch at the head: the withheld record is {}, the head says {}",
                        hex(&stored_hash),
                        hex(&head.hash)
                    ),
                }),
                Err(e) => Err(Broken {
                    position: last,
                    why: e.to_string(),
                }),
            };
        }
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
    pub(super) fn discard_from(&self, from: u64) -> Result<(), CoreError> {
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
}
