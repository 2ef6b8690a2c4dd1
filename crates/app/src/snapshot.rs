//! Snapshots of the read models: every read model (and the access table) saved at a position,
//! so that a server starts by loading the newest one and folding only the records after it.
//!
//! A snapshot is a file `DIR/snapshots/read-<position>.snap` (mode 0600: it holds personal
//! data), written whole (a temporary file, synced, renamed):
//!
//! | bytes | what |
//! |---|---|
//! | 28 | `kroniek read-model snapshot\n` |
//! | 4 | format version, u32 little-endian ([`FORMAT_VERSION`]) |
//! | 8 | position: how many records were folded, u64 little-endian |
//! | 32 | the hash of the record at position − 1 |
//! | … | the read models, bincode 2 (standard configuration) |
//! | 32 | BLAKE3 of every byte before it |
//!
//! It is loaded only when its checksum, magic and format version are right, its position is
//! within the ledger, and the ledger's record at position − 1 has the hash it names; anything
//! else is ignored with a reason (the caller rebuilds from the first record), never trusted.
//! Verification of the chain does not use snapshots. The store removes every snapshot when an
//! erasure commits ([`Store::remove_snapshots`]), since one taken before it holds what it
//! erased; only the newest snapshot is kept.

use crate::AppError;
use kroniek_core::access::AccessTable;
use kroniek_core::record::{Personal, Record};
use kroniek_core::store::Store;
use kroniek_projections::audit::AuditFacts;
use kroniek_projections::Projections;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The snapshot format this build writes and reads. Any change to a type in the read models
/// changes their bincode form: raise it then, and older snapshots are ignored (a rebuild).
pub const FORMAT_VERSION: u32 = 6;

/// A server saves a snapshot in the background once this many records were folded since the
/// last one (and at a clean stop): a restart after a crash folds at most about this many.
pub const SNAPSHOT_EVERY: u64 = 100_000;

const MAGIC: &[u8; 28] = b"kroniek read-model snapshot\n";
const HEADER: usize = 28 + 4 + 8 + 32;
/// No read model decodes to more than this (a guard against a length gone wrong).
const DECODE_LIMIT: usize = 16 << 30;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
>;

fn config() -> Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Every read model a server keeps: the projections, the access table and the audit
/// report's facts, folded from the same records.
#[derive(Debug, Clone, Default, PartialEq, bincode::Encode, bincode::Decode)]
pub struct ReadModels {
    pub projections: Projections,
    pub access: AccessTable,
    pub audit: AuditFacts,
}

impl ReadModels {
    /// Folds one record into every read model.
    pub fn apply(&mut self, record: &Record, personal: Option<&Personal>) -> Result<(), AppError> {
        apply(
            &mut self.projections,
            &mut self.access,
            &mut self.audit,
            record,
            personal,
        )
    }

    /// How many records were folded.
    pub fn applied(&self) -> u64 {
        self.projections.applied()
    }

    /// Folds every record from [`ReadModels::applied`] to the ledger's head.
    pub fn catch_up(&mut self, store: &Store) -> Result<(), AppError> {
        let head = store.head().count;
        store.replay(self.applied(), |record, personal| {
            if record.position < head {
                self.apply(record, personal)?;
            }
            Ok::<(), AppError>(())
        })
    }
}

/// Folds one record into the projections, the access table and the audit facts (its data
/// parsed once for all three): the one fold of every read side (a server's, a rebuild's, a
/// snapshot's catch-up). A record held withheld (a view copy's) is counted and folds nothing.
pub fn apply(
    projections: &mut Projections,
    access: &mut AccessTable,
    audit: &mut AuditFacts,
    record: &Record,
    personal: Option<&Personal>,
) -> Result<(), AppError> {
    if record.withheld {
        return projections
            .apply(record, personal)
            .map_err(|e| AppError::Failed(format!("record {}: {e}", record.position)));
    }
    let failed = |e: String| AppError::Failed(format!("record {}: {e}", record.position));
    let event = record
        .event_data()
        .map_err(|(f, w)| failed(format!("data.{f}: {w}")))?;
    projections
        .apply_event(record, &event, personal)
        .map_err(|e| failed(e.to_string()))?;
    let effective = kroniek_core::types::Date::parse(&record.effective).map_err(failed)?;
    audit.apply(record, &event, effective, personal, projections);
    if record.event_type.name().starts_with("Access") {
        access.apply(&event, &record.effective);
    }
    Ok(())
}

/// What [`load`] found.
#[derive(Debug)]
pub struct Loaded {
    /// The read models of the newest snapshot that matches the ledger, if any.
    pub models: Option<ReadModels>,
    /// The snapshots ignored, each with why (for the log).
    pub ignored: Vec<String>,
}

/// The snapshot files in the store's folder, newest (greatest position) first.
fn snapshot_files(store: &Store) -> Vec<(u64, PathBuf)> {
    let Some(Ok(entries)) = store.snapshot_dir().map(std::fs::read_dir) else {
        return Vec::new();
    };
    let mut files: Vec<(u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let position = name
                .strip_prefix("read-")?
                .strip_suffix(".snap")?
                .parse()
                .ok()?;
            Some((position, e.path()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files
}

/// Loads the newest snapshot that matches the ledger.
pub fn load(store: &Store) -> Loaded {
    let mut ignored = Vec::new();
    for (_, path) in snapshot_files(store) {
        match read(store, &path) {
            Ok(models) => {
                return Loaded {
                    models: Some(models),
                    ignored,
                }
            }
            Err(why) => ignored.push(format!("{}: {why}", path.display())),
        }
    }
    Loaded {
        models: None,
        ignored,
    }
}

/// Reads one snapshot, checked against the ledger; the reason it cannot be used otherwise.
fn read(store: &Store, path: &Path) -> Result<ReadModels, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?
        .len();
    if len < (HEADER + 32) as u64 {
        return Err("too short to be a snapshot".into());
    }
    // The checksum first: nothing is decoded from a file that was not written whole.
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut (&mut file).take(len - 32), &mut hasher)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let mut trailer = [0u8; 32];
    file.read_exact(&mut trailer)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if *hasher.finalize().as_bytes() != trailer {
        return Err("its checksum does not match (a damaged or partly written file)".into());
    }
    file.rewind().map_err(|e| format!("cannot be read: {e}"))?;
    let mut header = [0u8; HEADER];
    file.read_exact(&mut header)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if &header[..28] != MAGIC {
        return Err("not a kroniek read-model snapshot".into());
    }
    let word = |range: std::ops::Range<usize>| {
        let mut b = [0u8; 8];
        b[..range.len()].copy_from_slice(&header[range]);
        u64::from_le_bytes(b)
    };
    let version = word(28..32);
    if version != u64::from(FORMAT_VERSION) {
        return Err(format!(
            "format version {version}, but this kroniek reads version {FORMAT_VERSION}"
        ));
    }
    let position = word(32..40);
    let head = store.head();
    if position == 0 || position > head.count {
        return Err(format!(
            "taken at position {position}, but the ledger holds {} records",
            head.count
        ));
    }
    let record = store
        .record_at(position - 1)
        .map_err(|e| format!("the ledger's record {} cannot be read: {e}", position - 1))?;
    if record.hash[..] != header[40..72] {
        return Err(format!(
            "its record hash does not match the ledger's at position {}",
            position - 1
        ));
    }
    // Decoded from the buffer itself (bincode's `Reader` for `BufReader`), not through
    // `std::io::Read`: a small value (most are a byte or two) is taken from the buffer in
    // place instead of by a `read_exact` of its own.
    let mut reader = BufReader::with_capacity(1 << 20, file.take(len - 32 - HEADER as u64));
    let models: ReadModels = bincode::decode_from_reader(&mut reader, config())
        .map_err(|e| format!("its read models cannot be decoded: {e}"))?;
    if models.applied() != position {
        return Err(format!(
            "its read models hold {} records, not the {position} it names",
            models.applied()
        ));
    }
    Ok(models)
}

/// A writer that hashes what it writes.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Saves `models` as the store's snapshot at their position (see [`save_parts`]).
pub fn save(store: &Store, models: &ReadModels) -> Result<Option<PathBuf>, AppError> {
    save_parts(store, &models.projections, &models.access, &models.audit)
}

/// Saves the read models as the store's snapshot at their position, durable when this returns,
/// and removes the older ones. Returns the file written, or `None` when nothing was folded. A
/// snapshot an erasure overtook while it was written is removed again (`None`). The read
/// models are encoded straight into the file: no copy of them is held in memory.
pub fn save_parts(
    store: &Store,
    projections: &Projections,
    access: &AccessTable,
    audit: &AuditFacts,
) -> Result<Option<PathBuf>, AppError> {
    let Some(target) = Target::of(store, projections.applied())? else {
        return Ok(None);
    };
    target
        .write(|out| encode_parts(out, projections, access, audit))?
        .finish(store)
}

/// The read models encoded in memory (see [`encode`]), to be written as a snapshot by
/// [`Encoded::save`] once the read models may change again.
#[derive(Debug)]
pub struct Encoded {
    target: Target,
    chunks: Chunks,
}

/// Encodes the read models into memory, with what their snapshot needs of the store (the
/// record hash at their position): a server holds its read side's lock only for this, and
/// writes the file, syncs and renames it after the lock is let go (the whole save with the
/// lock held kept every request waiting for 0.7–0.9 s on a 1,000,000-record ledger). Costs the
/// snapshot's size in memory until it is saved. `None` when nothing was folded or the store
/// keeps no snapshots.
pub fn encode(
    store: &Store,
    projections: &Projections,
    access: &AccessTable,
    audit: &AuditFacts,
) -> Result<Option<Encoded>, AppError> {
    let Some(target) = Target::of(store, projections.applied())? else {
        return Ok(None);
    };
    // A tuple's encoding is its fields' one after the other: the read models are encoded in
    // five pieces on threads of their own (the projections in four, see
    // `Projections::encoding_parts`; the access table with the audit facts) and the pieces
    // joined in order, the same bytes in less of the time the read side stays locked.
    let (state, members, entries, cases) = projections.encoding_parts();
    let pieces = std::thread::scope(|scope| {
        let started = [
            Piece::start(scope, &state),
            Piece::start(scope, &members),
            Piece::start(scope, &entries),
            Piece::start(scope, &cases),
        ];
        let last = encode_piece(&(access, audit));
        let mut pieces = Vec::with_capacity(started.len() + 1);
        for piece in started {
            pieces.push(piece.finish()?);
        }
        pieces.push(last?);
        Ok::<_, AppError>(pieces)
    })?;
    let chunks = Chunks(pieces.into_iter().flat_map(|piece| piece.0).collect());
    Ok(Some(Encoded { target, chunks }))
}

impl Encoded {
    /// The position the snapshot is of: how many records its read models folded.
    pub fn position(&self) -> u64 {
        self.target.position
    }

    /// Writes the snapshot as [`save_parts`] does, durable when this returns. It goes to the
    /// disk a little at a time ([`WRITE_STEP`] and a sync, then a pause): a whole snapshot
    /// synced at once can hold up the appends' own `fdatasync` behind it (ext4's journal
    /// commit waits for the data written before it).
    pub fn save(self, store: &Store) -> Result<Option<PathBuf>, AppError> {
        let Encoded { target, chunks } = self;
        target.write(|out| write_chunks(out, chunks))?.finish(store)
    }

    /// Writes the snapshot, synced, to `path` instead of the store's folder, leaving the
    /// store's snapshots as they are (the bench times a whole save with it).
    pub fn save_as(self, path: &Path) -> Result<(), AppError> {
        let Encoded { mut target, chunks } = self;
        target.dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        target.tmp = path.with_extension("tmp");
        target.path = path.to_path_buf();
        let written = target.write(|out| write_chunks(out, chunks))?;
        written
            .file
            .sync_all()
            .map_err(AppError::io(format!("cannot sync {}", path.display())))?;
        std::fs::rename(&written.target.tmp, path)
            .map_err(AppError::io(format!("cannot rename to {}", path.display())))
    }
}

/// Writes the pieces a little at a time (see [`Encoded::save`]), letting go of each.
fn write_chunks(
    out: &mut BufWriter<Hashing<std::fs::File>>,
    chunks: Chunks,
) -> Result<(), AppError> {
    let cannot = || AppError::io("cannot write a snapshot");
    let mut unsynced = 0;
    for chunk in chunks.0 {
        out.write_all(&chunk).map_err(cannot())?;
        unsynced += chunk.len();
        if unsynced >= WRITE_STEP {
            out.flush().map_err(cannot())?;
            out.get_ref().inner.sync_data().map_err(cannot())?;
            unsynced = 0;
            std::thread::sleep(WRITE_PAUSE);
        }
    }
    Ok(())
}

/// How much of an [`Encoded`] snapshot is written between two syncs.
const WRITE_STEP: usize = 2 << 20;
/// How long [`Encoded::save`] leaves the disk to others after each step.
const WRITE_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

/// Encoded as `ReadModels` is: its fields in order.
fn encode_parts<W: Write>(
    out: &mut W,
    projections: &Projections,
    access: &AccessTable,
    audit: &AuditFacts,
) -> Result<(), AppError> {
    bincode::encode_into_std_write((projections, access, audit), out, config())
        .map_err(cannot_encode)?;
    Ok(())
}

/// A piece of the read models being encoded on a thread of its own, or already encoded on
/// the caller's when no thread could be started.
enum Piece<'scope> {
    Running(std::thread::ScopedJoinHandle<'scope, Result<Chunks, AppError>>),
    Done(Result<Chunks, AppError>),
}

impl<'scope> Piece<'scope> {
    fn start<'env, E: bincode::Encode + Sync>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        piece: &'scope E,
    ) -> Piece<'scope> {
        match std::thread::Builder::new()
            .name("snapshot-encode".into())
            .spawn_scoped(scope, move || encode_piece(piece))
        {
            Ok(running) => Piece::Running(running),
            Err(_) => Piece::Done(encode_piece(piece)),
        }
    }

    fn finish(self) -> Result<Chunks, AppError> {
        match self {
            Piece::Running(running) => running.join().map_err(|_| {
                AppError::Failed("a thread encoding the read models panicked".into())
            })?,
            Piece::Done(done) => done,
        }
    }
}

/// One piece of the read models, encoded in memory.
fn encode_piece<E: bincode::Encode>(piece: &E) -> Result<Chunks, AppError> {
    let mut chunks = Chunks::default();
    bincode::encode_into_writer(piece, &mut chunks, config()).map_err(cannot_encode)?;
    Ok(chunks)
}

fn cannot_encode(e: bincode::error::EncodeError) -> AppError {
    AppError::Failed(format!("cannot encode the read models: {e}"))
}

/// Bytes in pieces of at least 1 MiB: a growing buffer that never copies what it holds.
#[derive(Debug, Default)]
struct Chunks(Vec<Vec<u8>>);

impl bincode::enc::write::Writer for Chunks {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        match self.0.last_mut() {
            Some(last) if last.capacity() - last.len() >= bytes.len() => {
                // Most writes are a few bytes (a varint, a short string): a loop is cheaper
                // for those than a call of `memcpy`.
                if bytes.len() <= 16 {
                    for &byte in bytes {
                        last.push(byte);
                    }
                } else {
                    last.extend_from_slice(bytes);
                }
            }
            _ => {
                let mut chunk = Vec::with_capacity(bytes.len().max(1 << 20));
                chunk.extend_from_slice(bytes);
                self.0.push(chunk);
            }
        }
        Ok(())
    }
}

/// Where a snapshot at a position goes, and what it must name of the store.
#[derive(Debug)]
struct Target {
    dir: PathBuf,
    tmp: PathBuf,
    path: PathBuf,
    position: u64,
    /// The hash of the record at position − 1.
    hash: [u8; 32],
    /// The erasures committed before the read models were encoded.
    erasures: u64,
}

impl Target {
    /// The snapshot of read models that folded `position` records; `None` when nothing was
    /// folded or the store keeps no snapshots (a ledger on another engine has no folder).
    fn of(store: &Store, position: u64) -> Result<Option<Target>, AppError> {
        if position == 0 {
            return Ok(None);
        }
        let Some(dir) = store.snapshot_dir() else {
            return Ok(None);
        };
        let erasures = store.erasures_committed();
        let hash = store.record_at(position - 1)?.hash;
        Ok(Some(Target {
            tmp: dir.join(format!("read-{position:020}.snap.tmp")),
            path: dir.join(format!("read-{position:020}.snap")),
            dir,
            position,
            hash,
            erasures,
        }))
    }

    /// Writes the temporary file: the header, what `body` writes, the checksum. Not synced.
    fn write(
        self,
        body: impl FnOnce(&mut BufWriter<Hashing<std::fs::File>>) -> Result<(), AppError>,
    ) -> Result<Written, AppError> {
        std::fs::create_dir_all(&self.dir).map_err(AppError::io(format!(
            "cannot create the snapshot folder {}",
            self.dir.display()
        )))?;
        let tmp = &self.tmp;
        let io = |what: &str| AppError::io(format!("{what} {}", tmp.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(tmp).map_err(io("cannot create"))?;
        // The buffer before the hash: bincode writes a few bytes at a time, and BLAKE3
        // hashing them one by one took most of a second for a 65 MB snapshot.
        let mut out = BufWriter::with_capacity(
            1 << 20,
            Hashing {
                inner: file,
                hasher: blake3::Hasher::new(),
            },
        );
        out.write_all(MAGIC).map_err(io("cannot write"))?;
        out.write_all(&FORMAT_VERSION.to_le_bytes())
            .map_err(io("cannot write"))?;
        out.write_all(&self.position.to_le_bytes())
            .map_err(io("cannot write"))?;
        out.write_all(&self.hash).map_err(io("cannot write"))?;
        body(&mut out)?;
        let Hashing { mut inner, hasher } = out
            .into_inner()
            .map_err(|e| io("cannot write")(e.into_error()))?;
        inner
            .write_all(hasher.finalize().as_bytes())
            .map_err(io("cannot write"))?;
        Ok(Written {
            file: inner,
            target: self,
        })
    }
}

/// A snapshot written to its temporary file, not yet durable nor in place.
#[derive(Debug)]
struct Written {
    file: std::fs::File,
    target: Target,
}

impl Written {
    /// Makes the snapshot durable and puts it in place, and removes the older ones. Returns
    /// its path, or `None` when an erasure overtook it (it may hold what was erased: removed).
    fn finish(self, store: &Store) -> Result<Option<PathBuf>, AppError> {
        let Written {
            file,
            target:
                Target {
                    dir,
                    tmp,
                    path,
                    position,
                    erasures,
                    ..
                },
        } = self;
        file.sync_all()
            .map_err(AppError::io(format!("cannot sync {}", tmp.display())))?;
        drop(file);
        if let Err(e) = std::fs::rename(&tmp, &path) {
            if store.erasures_committed() != erasures {
                // The erasure removed the temporary file with the snapshots.
                return Ok(None);
            }
            return Err(AppError::io(format!("cannot rename {}", tmp.display()))(e));
        }
        for (older, other) in snapshot_files(store) {
            if older < position {
                let _ = std::fs::remove_file(other);
            }
        }
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(AppError::io(format!("cannot sync {}", dir.display())))?;
        if store.erasures_committed() != erasures {
            // An erasure committed meanwhile, and removed the snapshots before this one was
            // renamed into place: this one may hold what it erased.
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        Ok(Some(path))
    }
}

/// Every read model rebuilt from the first record. `progress(done, total)` is called every
/// 65,536 records.
pub fn rebuild(store: &Store, progress: &mut dyn FnMut(u64, u64)) -> Result<ReadModels, AppError> {
    let total = store.head().count;
    let mut models = ReadModels::default();
    store.replay(0, |record, personal| -> Result<(), AppError> {
        if record.position < total {
            models.apply(record, personal)?;
        }
        if record.position % 65_536 == 0 {
            progress(record.position, total);
        }
        Ok(())
    })?;
    Ok(models)
}

/// What `kroniek rebuild` found.
#[derive(Debug)]
pub struct RebuildOutcome {
    /// Records folded from the first.
    pub records: u64,
    /// The newest snapshot that matched the ledger, if any: its position, and whether it,
    /// caught up with the ledger, equals the rebuild in every read model.
    pub snapshot: Option<(u64, bool)>,
    /// The snapshots ignored, each with why.
    pub ignored: Vec<String>,
    /// The fresh snapshot written.
    pub saved: Option<PathBuf>,
}

/// Rebuilds every read model from the first record, compares the newest snapshot (caught up)
/// with it, and saves the rebuild as the new snapshot.
pub fn rebuild_and_compare(
    store: &Store,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<RebuildOutcome, AppError> {
    let loaded = load(store);
    let rebuilt = rebuild(store, progress)?;
    let snapshot = match loaded.models {
        Some(mut models) => {
            let at = models.applied();
            models.catch_up(store)?;
            Some((at, models == rebuilt))
        }
        None => None,
    };
    let saved = save(store, &rebuilt)?;
    Ok(RebuildOutcome {
        records: rebuilt.applied(),
        snapshot,
        ignored: loaded.ignored,
        saved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kroniek_core::ProposedEvent;

    fn sample_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("ledger"), "test.example/kroniek").unwrap();
        crate::append::append_sample(&store).unwrap();
        (dir, store)
    }

    /// A snapshot taken part-way, loaded and caught up, equals a rebuild from the first record
    /// in every read model.
    #[test]
    fn a_snapshot_caught_up_equals_a_rebuild() {
        let (_dir, store) = sample_store();
        let head = store.head().count;
        for cut in [1, head / 3, head / 2, head - 1, head] {
            let mut part = ReadModels::default();
            store
                .replay(0, |record, personal| {
                    if record.position < cut {
                        part.apply(record, personal)?;
                    }
                    Ok::<(), AppError>(())
                })
                .unwrap();
            save(&store, &part).unwrap().unwrap();
            let mut loaded = load(&store).models.expect("the snapshot matches");
            assert_eq!(loaded, part, "cut {cut}: the snapshot round-trips");
            loaded.catch_up(&store).unwrap();
            let rebuilt = rebuild(&store, &mut |_, _| {}).unwrap();
            assert_eq!(loaded.applied(), head);
            assert!(
                loaded == rebuilt,
                "cut {cut}: the caught-up snapshot differs"
            );
            assert_eq!(snapshot_files(&store).len(), 1, "only the newest is kept");
        }
    }

    /// The governance state folded with the read models is the one the store's rules fold:
    /// a read side may give the writer its state, asked for only when the writer needs one,
    /// and brought up to the head by the records after it; a source ahead of the writer is
    /// not taken (the log is folded).
    #[test]
    fn the_read_models_fold_the_rules_state_and_may_give_it_to_the_writer() {
        let (dir, store) = sample_store();
        let line = |member: &str, kind: &str, data: &str| {
            ProposedEvent::parse_line(&format!(
                r#"{{"stream":"member/{member}","type":"{kind}","effective":"2024-01-02","data":{data}}}"#
            ))
            .unwrap()
        };
        let join = line(
            "77777",
            "MemberJoined",
            r#"{"member_id":"77777","branch_id":"afdeling-utrecht"},"personal":{"name":"Tess Visser","residence":"Utrecht"}"#,
        );
        let pay = |member: &str| {
            line(
                member,
                "ContributionPaid",
                &format!(r#"{{"member_id":"{member}","year":2024,"amount_cents":1200}}"#),
            )
        };
        store.append(&[join], "admin:local").unwrap();
        drop(store);
        let path = dir.path().join("ledger");
        // The read models of every record but the last (the join), as a lagging read side.
        let store = Store::open(&path).unwrap();
        let head = store.head().count;
        let models = rebuild(&store, &mut |_, _| {}).unwrap();
        let from_log = store.governance_state_from_log().unwrap();
        assert!(models.projections.governance() == &from_log);
        let mut lagging = Projections::new();
        for record in store.iter_from(0).take(head as usize - 1) {
            lagging.apply(&record.unwrap(), None).unwrap();
        }
        let before_join = lagging.governance().clone();
        assert!(before_join != from_log);
        drop(store);
        for (at, source) in [(head - 1, "lagging"), (head + 5, "ahead")] {
            let store = Store::open(&path).unwrap();
            let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = asked.clone();
            let given = before_join.clone();
            assert!(store.set_governance_source(Box::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Some((given.clone(), at))
            })));
            assert!(!store.set_governance_source(Box::new(|| None)), "set once");
            assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
            // Judged as a refold would: the member who joined in the last record may pay
            // (the lagging state was brought up to the head), one never joined may not.
            assert!(store.append(&[pay("99999")], "admin:local").is_err());
            store
                .append(&[pay("77777")], "admin:local")
                .unwrap_or_else(|e| panic!("{source} source: {e}"));
            assert_eq!(
                asked.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "{source} source: asked once, on the first append"
            );
            drop(store);
            let store = Store::open(&path).unwrap();
            let models = rebuild(&store, &mut |_, _| {}).unwrap();
            assert!(models.projections.governance() == &store.governance_state_from_log().unwrap());
        }
    }

    /// A damaged, foreign, newer-format or mismatching snapshot is ignored with a reason.
    #[test]
    fn a_snapshot_that_does_not_match_is_ignored() {
        let (_dir, store) = sample_store();
        let models = rebuild(&store, &mut |_, _| {}).unwrap();
        let path = save(&store, &models).unwrap().unwrap();
        let good = std::fs::read(&path).unwrap();
        let reasons = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            let loaded = load(&store);
            assert!(loaded.models.is_none());
            loaded.ignored.join("; ")
        };
        let mut flipped = good.clone();
        flipped[HEADER + 10] ^= 1;
        assert!(reasons(&flipped).contains("checksum"));
        assert!(reasons(&good[..good.len() - 1]).contains("checksum"));
        // A well-formed snapshot of another format version, or of another ledger.
        let reseal = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good[..good.len() - 32].to_vec();
            edit(&mut b);
            let sum = *blake3::hash(&b).as_bytes();
            b.extend_from_slice(&sum);
            b
        };
        let version = reseal(&|b| b[28] = FORMAT_VERSION as u8 + 1);
        assert!(reasons(&version).contains(&format!("format version {}", FORMAT_VERSION + 1)));
        let other = reseal(&|b| b[40] ^= 1);
        assert!(reasons(&other).contains("does not match the ledger"));
        let past = reseal(&|b| b[32..40].copy_from_slice(&(1u64 << 40).to_le_bytes()));
        assert!(reasons(&past).contains("holds"));
        // Whole by its checksum, but its read models end early: the decoder runs out of
        // bytes (in the reader's buffer and in the file) and the snapshot is ignored.
        let short = reseal(&|b| b.truncate(b.len() - 100));
        assert!(reasons(&short).contains("cannot be decoded"));
        std::fs::write(&path, &good).unwrap();
        assert!(load(&store).models.is_some(), "the good one loads");
    }

    /// An erasure removes the snapshots: one taken before it holds what it erased.
    #[test]
    fn an_erasure_removes_the_snapshots() {
        let (_dir, store) = sample_store();
        let models = rebuild(&store, &mut |_, _| {}).unwrap();
        save(&store, &models).unwrap().unwrap();
        assert_eq!(snapshot_files(&store).len(), 1);
        let erase = ProposedEvent::parse_line(
            r#"{"stream":"member/10202","type":"PersonalDataErased","effective":"2026-01-05","data":{"subject":"10202","reason":"AVG-verzoek"}}"#,
        )
        .unwrap();
        store.append(&[erase], "admin:local").unwrap();
        assert!(snapshot_files(&store).is_empty());
        assert!(load(&store).models.is_none());
    }

    /// A snapshot encoded in memory and saved afterwards (as a serving server saves one) is
    /// byte for byte the one written straight into the file, and loads.
    #[test]
    fn a_snapshot_encoded_first_is_the_one_written_straight() {
        let (_dir, store) = sample_store();
        let models = rebuild(&store, &mut |_, _| {}).unwrap();
        let straight = save(&store, &models).unwrap().unwrap();
        let straight_bytes = std::fs::read(&straight).unwrap();
        std::fs::remove_file(&straight).unwrap();
        let encoded = encode(&store, &models.projections, &models.access, &models.audit)
            .unwrap()
            .unwrap();
        assert_eq!(encoded.position(), store.head().count);
        let saved = encoded.save(&store).unwrap().unwrap();
        assert_eq!(saved, straight);
        assert_eq!(std::fs::read(&saved).unwrap(), straight_bytes);
        assert_eq!(load(&store).models, Some(models));
        assert!(
            !saved.with_extension("snap.tmp").exists(),
            "no temporary file is left"
        );
    }

    /// The in-memory buffer keeps every byte in order, across its pieces, for small writes
    /// and for one larger than a piece.
    #[test]
    fn chunks_keep_every_byte_in_order() {
        use bincode::enc::write::Writer;
        let mut chunks = Chunks::default();
        let mut expected = Vec::new();
        let mut next = 0u8;
        let mut piece = |len: usize| {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    next = next.wrapping_add(7);
                    next
                })
                .collect();
            bytes
        };
        for len in [
            1,
            16,
            17,
            3,
            (1 << 20) - 30,
            40,
            5,
            3 << 20,
            2,
            0,
            16,
            1 << 20,
        ] {
            let bytes = piece(len);
            chunks.write(&bytes).unwrap();
            expected.extend_from_slice(&bytes);
        }
        assert!(chunks.0.len() > 2, "several pieces: {}", chunks.0.len());
        assert_eq!(chunks.0.concat(), expected);
    }

    /// Saving a snapshot an erasure overtook (the erasure removed the temporary file with the
    /// snapshots) saves nothing and is no error.
    #[test]
    fn an_erasure_during_a_save_leaves_no_snapshot() {
        let (_dir, store) = sample_store();
        let models = rebuild(&store, &mut |_, _| {}).unwrap();
        let encoded = encode(&store, &models.projections, &models.access, &models.audit)
            .unwrap()
            .unwrap();
        let erase = ProposedEvent::parse_line(
            r#"{"stream":"member/10202","type":"PersonalDataErased","effective":"2026-01-05","data":{"subject":"10202","reason":"AVG-verzoek"}}"#,
        )
        .unwrap();
        store.append(&[erase], "admin:local").unwrap();
        assert_eq!(encoded.save(&store).unwrap(), None);
        assert!(snapshot_files(&store).is_empty());
        assert!(load(&store).models.is_none());
    }
}
