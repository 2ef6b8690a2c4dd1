//! The store's layout on disk: the six sled trees and their keys, the stored head, the
//! stored record (hash ‖ hashed bytes), and the files beside the database.

use super::*;

/// Cloned (handles on the same trees) for the thread that writes a staged chunk.
#[derive(Clone)]
pub(super) struct Trees {
    pub(super) records: Tree,
    pub(super) streams: Tree,
    pub(super) ids: Tree,
    pub(super) personal: Tree,
    pub(super) meta: Tree,
    pub(super) merkle: Tree,
}

impl Trees {
    /// The six key spaces of a sled database.
    pub(super) fn of_sled(db: &sled::Db) -> Result<Trees, CoreError> {
        Ok(Trees {
            records: Tree::sled(KeySpace::Records, db.open_tree("records")?),
            streams: Tree::sled(KeySpace::Streams, db.open_tree("streams")?),
            ids: Tree::sled(KeySpace::Ids, db.open_tree("ids")?),
            personal: Tree::sled(KeySpace::Personal, db.open_tree("personal")?),
            meta: Tree::sled(KeySpace::Meta, db.open_tree("meta")?),
            merkle: Tree::sled(KeySpace::Merkle, db.open_tree("merkle")?),
        })
    }

    /// The tree of key space `id`.
    pub(super) fn tree(&self, id: TreeId) -> &Tree {
        match id {
            TreeId::Records => &self.records,
            TreeId::Streams => &self.streams,
            TreeId::Ids => &self.ids,
            TreeId::Personal => &self.personal,
            TreeId::Merkle => &self.merkle,
            TreeId::Meta => &self.meta,
        }
    }

    /// The six key spaces of a backend.
    pub(super) fn of_backend(backend: &std::sync::Arc<dyn Backend>) -> Trees {
        let tree = |space| Tree::backend(space, backend.clone());
        Trees {
            records: tree(KeySpace::Records),
            streams: tree(KeySpace::Streams),
            ids: tree(KeySpace::Ids),
            personal: tree(KeySpace::Personal),
            meta: tree(KeySpace::Meta),
            merkle: tree(KeySpace::Merkle),
        }
    }
}

/// sled keeps a tree node in a blob file of its own (which it never syncs, see
/// [`Store::sync_blobs`]) only when the node is over 128 KiB. A leaf holds at most about 17
/// entries and an index node about 257 keys, so a node that large needs a value over 4 KiB or
/// a key over 256 bytes (a long stream name) somewhere in the store. Until one is written, a
/// flush need not look for blob files (reading the folder costs an append about 20 µs). The
/// meta key [`META_BLOBS`] records that one was; [`META_BLOB_WATCH`] that the store keeps
/// that record (set at `init`; a store made before it is treated as possibly having blobs).
pub(super) const LARGE_VALUE: usize = 4096;
/// See [`LARGE_VALUE`].
pub(super) const LONG_KEY: usize = 256;
/// See [`LARGE_VALUE`].
pub(super) const META_BLOBS: &str = "blobs-possible";
/// See [`LARGE_VALUE`].
pub(super) const META_BLOB_WATCH: &str = "blob-watch";

/// The lowest level of the Merkle tree the store keeps: subtrees of 16 leaves and up. Lower
/// nodes are computed from the records' hashes when a proof needs them (at most 16 reads),
/// which keeps the tree's cost on an append to about one write per 8 records.
pub const STORED_TREE_LEVEL: u8 = 4;

/// The `meta` marker of the tree layout above.
pub(super) const TREE_LAYOUT: &[u8] = b"rfc6962/level4";

/// The key of a complete Merkle subtree: level, then index (big-endian).
pub(super) fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The key space a write goes to (see [`KeySpace`]).
pub(super) type TreeId = KeySpace;

/// One single-key write: the tree, the key, the value.
pub(super) type KeyWrite = (TreeId, Vec<u8>, Vec<u8>);

pub(super) fn pos_key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

pub(super) fn stream_key(stream: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 9);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

pub(super) fn stream_prefix(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 1);
    k.extend_from_slice(stream.as_bytes());
    k.push(0);
    k
}

pub(super) fn be_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

pub(super) fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_fixed_int_encoding()
}

/// A record's stream key, stored value and stored personal data, ready to insert.
pub(super) type EncodedRecord = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

/// The `meta` key of a view copy's role (see [`Store::view`]).
pub(super) const META_VIEW: &str = "view";

/// The role a `meta` `view` value names.
pub(super) fn view_role(name: &[u8]) -> Option<crate::catalogue::AccessRole> {
    serde_json::from_value(serde_json::Value::String(
        std::str::from_utf8(name).ok()?.to_owned(),
    ))
    .ok()
}

/// The file that names the process holding the store open; the store's lock is on it.
pub(super) const HOLDER_FILE: &str = "holder";

/// The name of the signing key's file (in the folder, or the backend's).
pub(super) const KEY_FILE: &str = "signing.key";

/// The file names inside a store's folder.
pub fn key_path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

pub(super) fn sled_path(dir: &Path) -> PathBuf {
    dir.join("sled")
}

/// The head from its `meta` value (none: the empty ledger), or why it cannot be read.
pub(super) fn stored_head(value: Option<&[u8]>) -> Result<Head, String> {
    match value {
        Some(v) => bincode::decode_from_slice::<Head, _>(v, bincode_config())
            .map(|(h, _)| h)
            .map_err(|e| format!("the stored head cannot be read: {e}")),
        None => Ok(Head::EMPTY),
    }
}

/// The record at `position` from its stored value (hash ‖ hashed bytes, or hash ‖ withheld
/// line for a record a view copy holds withheld).
pub(super) fn decode_stored(position: u64, value: &[u8]) -> Result<Record, CoreError> {
    let (hash, bytes) = split_value(value)
        .ok_or_else(|| CoreError::Corrupt(position, "the record is truncated".into()))?;
    if is_withheld_value(bytes) {
        return decode_withheld(position, &hash, bytes);
    }
    Record::from_hashed_bytes(bytes, hash).map_err(|e| CoreError::Corrupt(position, e))
}

/// Whether stored bytes (after the hash) are a withheld line: a record's hashed bytes begin
/// with `{"actor":`, a withheld line with `{"hash":`.
pub(super) fn is_withheld_value(bytes: &[u8]) -> bool {
    bytes.starts_with(b"{\"hash\":")
}

/// A record held withheld, from its stored withheld line; the line's hash must be the stored
/// one and its position `position`.
pub(super) fn decode_withheld(
    position: u64,
    hash: &[u8; 32],
    line: &[u8],
) -> Result<Record, CoreError> {
    let record = crate::record::ExportLine::parse(line)
        .ok()
        .and_then(|l| l.withheld_record())
        .ok_or_else(|| CoreError::Corrupt(position, "the withheld record cannot be read".into()))?;
    if record.hash != *hash || record.position != position {
        return Err(CoreError::Corrupt(
            position,
            "the withheld record's hash or position differs from where it is stored".into(),
        ));
    }
    Ok(record)
}

pub(super) fn split_value(value: &[u8]) -> Option<([u8; 32], &[u8])> {
    if value.len() < 32 {
        return None;
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&value[..32]);
    Some((hash, &value[32..]))
}
