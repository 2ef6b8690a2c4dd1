//! Where the store keeps its six key spaces: sled in the ledger's folder (the default, here),
//! or another engine behind the [`Backend`] interface (PostgreSQL, in `kroniek-postgres`).
//!
//! The store's logic (the chain, the rules, idempotency, the Merkle tree, erasure, the
//! commit protocol) is the same for both: it reads and writes keys of the six spaces in
//! `layout` and marks its commit points. What differs is how a commit point is made durable:
//! sled writes in place and is made durable by a flush and `fdatasync` (`commit`), a backend
//! collects the writes of one unit of work and makes them durable and visible together when
//! the store commits it ([`Backend::commit`]).

use super::*;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// The store's six key spaces (sled trees; tables in another engine), in the order a staged
/// chunk writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpace {
    /// Merkle subtrees: level (1 byte) ‖ index (u64 BE) → 32-byte hash.
    Merkle,
    /// Records: position (u64 BE) → record hash (32 bytes) ‖ hashed bytes.
    Records,
    /// Streams: stream name ‖ 0x00 ‖ version (u64 BE) → position (u64 BE).
    Streams,
    /// Event ids: UUID (16 bytes) → position (u64 BE).
    Ids,
    /// Personal data: position (u64 BE) → salt (32 bytes) ‖ JCS of `personal`.
    Personal,
    /// Metadata: a name (UTF-8) → its value (`head`, `origin`, `tree`, …).
    Meta,
}

impl KeySpace {
    /// Every key space.
    pub const ALL: [KeySpace; 6] = [
        KeySpace::Merkle,
        KeySpace::Records,
        KeySpace::Streams,
        KeySpace::Ids,
        KeySpace::Personal,
        KeySpace::Meta,
    ];
}

/// One stored entry: its key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The entries a backend's range or prefix scan yields, in key order.
pub type BackendIter = Box<dyn Iterator<Item = Result<Entry, CoreError>> + Send>;

/// A storage engine under the store, other than sled: six ordered key spaces of byte keys
/// (compared as bytes) and byte values, a few named files, and units of work.
///
/// **Units of work.** Writes (`insert`, `remove`, `clear`, `write_file`) go into the current
/// unit of work, which the first write opens; reads made on the thread that writes see them.
/// [`Backend::commit`] makes the whole unit durable (acknowledged means durable) and visible
/// to every other reader at once, or fails and keeps none of it; [`Backend::abort`] discards
/// it. Reads on other threads see only committed units. The store writes from one thread at
/// a time (its writer lock), so there is one unit of work at a time.
pub trait Backend: Send + Sync + 'static {
    /// Where the ledger is, for messages (never with a password).
    fn describe(&self) -> String;
    /// The value of `key`.
    fn get(&self, space: KeySpace, key: &[u8]) -> Result<Option<Vec<u8>>, CoreError>;
    /// The entries with keys between `lower` and `upper`, in key order.
    fn range(&self, space: KeySpace, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> BackendIter;
    /// The entries whose keys start with `prefix`, in key order.
    fn scan_prefix(&self, space: KeySpace, prefix: &[u8]) -> BackendIter;
    /// The entry with the largest key that starts with `prefix`.
    fn last_with_prefix(&self, space: KeySpace, prefix: &[u8]) -> Result<Option<Entry>, CoreError>;
    /// Opens a unit of work for a write group: locks the stored `head` (another process that
    /// writes the same ledger waits until this unit ends) and returns its value as stored, so
    /// the store can first take in what other processes appended.
    fn begin(&self) -> Result<Option<Vec<u8>>, CoreError>;
    /// Waits until another process may have committed (or `timeout` passed).
    fn wait_for_commit(&self, timeout: std::time::Duration) -> Result<(), CoreError>;
    /// Sets `key` to `value` in the current unit of work.
    fn insert(&self, space: KeySpace, key: &[u8], value: &[u8]) -> Result<(), CoreError>;
    /// Removes `key` in the current unit of work.
    fn remove(&self, space: KeySpace, key: &[u8]) -> Result<(), CoreError>;
    /// Removes every entry of `space` in the current unit of work.
    fn clear(&self, space: KeySpace) -> Result<(), CoreError>;
    /// Makes the current unit of work durable and visible, all of it or none of it.
    fn commit(&self) -> Result<(), CoreError>;
    /// Discards the current unit of work.
    fn abort(&self);
    /// A named file kept with the ledger (`signing.key`, `checkpoint`).
    fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, CoreError>;
    /// Replaces a named file, in a unit of work of its own (committed before it returns).
    fn write_file(&self, name: &str, content: &[u8]) -> Result<(), CoreError>;
    /// The space the ledger takes, in bytes.
    fn size(&self) -> Result<u64, CoreError>;
}

/// The sled database and the files the store keeps beside it.
pub(super) struct SledEngine {
    pub(super) db: sled::Db,
    /// sled's log file, to `fdatasync` after each flush (see [`Store::sync_to_disk`]).
    pub(super) log_file: std::fs::File,
    /// The blob files (name, length) already made durable (see [`Store::sync_blobs`]).
    pub(super) synced_blobs: Mutex<HashSet<(std::ffi::OsString, u64)>>,
    /// Whether sled may have blob files to sync: see [`LARGE_VALUE`].
    pub(super) blobs_possible: std::sync::atomic::AtomicBool,
    /// The store's lock, held while the store is open (see [`hold_store`]). Declared last:
    /// fields drop in order, so sled has written all it writes on closing before another
    /// process may open the store.
    pub(super) _holder_file: std::fs::File,
}

/// The engine a store runs on.
pub(super) enum Engine {
    Sled(SledEngine),
    Backend(Arc<dyn Backend>),
}

/// One key space of the open store (a clone is another handle on the same key space).
#[derive(Clone)]
pub(super) struct Tree {
    space: KeySpace,
    inner: TreeInner,
}

#[derive(Clone)]
enum TreeInner {
    Sled(sled::Tree),
    Backend(Arc<dyn Backend>),
}

/// A range or prefix scan of a [`Tree`].
#[allow(
    clippy::large_enum_variant,
    reason = "sled's iterator is the hot path, kept unboxed; a scan is one value on the stack"
)]
pub(super) enum Iter {
    Sled(sled::Iter),
    Backend(BackendIter),
}

impl Iterator for Iter {
    type Item = Result<(sled::IVec, sled::IVec), CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Sled(iter) => iter.next().map(|item| item.map_err(CoreError::from)),
            Iter::Backend(iter) => iter
                .next()
                .map(|item| item.map(|(k, v)| (sled::IVec::from(k), sled::IVec::from(v)))),
        }
    }
}

fn owned(bound: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(b) => Bound::Included(b.to_vec()),
        Bound::Excluded(b) => Bound::Excluded(b.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl Tree {
    pub(super) fn sled(space: KeySpace, tree: sled::Tree) -> Tree {
        Tree {
            space,
            inner: TreeInner::Sled(tree),
        }
    }

    pub(super) fn backend(space: KeySpace, backend: Arc<dyn Backend>) -> Tree {
        Tree {
            space,
            inner: TreeInner::Backend(backend),
        }
    }

    /// The sled tree, on sled.
    pub(super) fn sled_tree(&self) -> Option<&sled::Tree> {
        match &self.inner {
            TreeInner::Sled(t) => Some(t),
            TreeInner::Backend(_) => None,
        }
    }

    pub(super) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<sled::IVec>, CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => Ok(t.get(key)?),
            TreeInner::Backend(b) => Ok(b.get(self.space, key.as_ref())?.map(sled::IVec::from)),
        }
    }

    pub(super) fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => Ok(t.contains_key(key)?),
            TreeInner::Backend(b) => Ok(b.get(self.space, key.as_ref())?.is_some()),
        }
    }

    pub(super) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => {
                t.insert(key.as_ref(), value.as_ref())?;
                Ok(())
            }
            TreeInner::Backend(b) => b.insert(self.space, key.as_ref(), value.as_ref()),
        }
    }

    pub(super) fn remove(&self, key: impl AsRef<[u8]>) -> Result<(), CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => {
                t.remove(key)?;
                Ok(())
            }
            TreeInner::Backend(b) => b.remove(self.space, key.as_ref()),
        }
    }

    pub(super) fn clear(&self) -> Result<(), CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => Ok(t.clear()?),
            TreeInner::Backend(b) => b.clear(self.space),
        }
    }

    /// Inserts every entry of `entries` (in one sled batch).
    pub(super) fn apply_batch(&self, entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => {
                let mut batch = sled::Batch::default();
                for (key, value) in entries {
                    batch.insert(key, value);
                }
                Ok(t.apply_batch(batch)?)
            }
            TreeInner::Backend(b) => {
                for (key, value) in entries {
                    b.insert(self.space, &key, &value)?;
                }
                Ok(())
            }
        }
    }

    pub(super) fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        match &self.inner {
            TreeInner::Sled(t) => Iter::Sled(t.range(range)),
            TreeInner::Backend(b) => {
                let lower = owned(range.start_bound().map(AsRef::as_ref));
                let upper = owned(range.end_bound().map(AsRef::as_ref));
                Iter::Backend(b.range(self.space, lower, upper))
            }
        }
    }

    pub(super) fn iter(&self) -> Iter {
        self.range::<&[u8], _>(..)
    }

    pub(super) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        match &self.inner {
            TreeInner::Sled(t) => Iter::Sled(t.scan_prefix(prefix)),
            TreeInner::Backend(b) => Iter::Backend(b.scan_prefix(self.space, prefix.as_ref())),
        }
    }

    pub(super) fn last_with_prefix(
        &self,
        prefix: impl AsRef<[u8]>,
    ) -> Result<Option<(sled::IVec, sled::IVec)>, CoreError> {
        match &self.inner {
            TreeInner::Sled(t) => Ok(t.scan_prefix(prefix).next_back().transpose()?),
            TreeInner::Backend(b) => Ok(b
                .last_with_prefix(self.space, prefix.as_ref())?
                .map(|(k, v)| (sled::IVec::from(k), sled::IVec::from(v)))),
        }
    }

    /// How many entries the key space holds (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        match &self.inner {
            TreeInner::Sled(t) => t.len(),
            TreeInner::Backend(_) => self.iter().count(),
        }
    }
}
