//! The core crate's one error type.

use crate::rules::IndexedRefusal;
use crate::verify::Broken;
use std::path::PathBuf;

/// What can go wrong in the core: refusals of an append, and storage trouble.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// One or more events of a batch broke a rule; nothing was written.
    #[error("{} event(s) refused; nothing was written", .0.len())]
    Refused(Vec<IndexedRefusal>),

    /// No ledger exists in the folder.
    #[error("no ledger in {}: run `kroniek init` or append a file to create one", .0.display())]
    NoLedger(PathBuf),

    /// The folder already holds a ledger.
    #[error("{} already holds a ledger", .0.display())]
    AlreadyExists(PathBuf),

    /// Another process holds the store open.
    #[error("the ledger in {} is in use by {}: use that process (a running `kroniek serve` has an HTTP API), or stop it first", .dir.display(), if .holder.is_empty() { "another process" } else { .holder.as_str() })]
    Locked { dir: PathBuf, holder: String },

    /// The stored chain does not verify at its head.
    #[error("the ledger in {dir} is damaged: {broken}; run `kroniek verify` for details and restore from an export")]
    Damaged { dir: PathBuf, broken: Broken },

    /// A restore was asked into a store that has events.
    #[error("restore needs an empty ledger, but {} holds {count} events", .dir.display())]
    NotEmpty { dir: PathBuf, count: u64 },

    /// An export cannot be restored.
    #[error("cannot restore: {0}")]
    Restore(String),

    /// The key file is missing or unreadable.
    #[error("the signing key {}: {why}", .path.display())]
    Key { path: PathBuf, why: String },

    /// A value passed in is not acceptable (an origin, say).
    #[error("{0}")]
    Invalid(String),

    /// sled failed.
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),

    /// Another storage engine (PostgreSQL) failed, or refused a write.
    #[error("storage error: {0}")]
    Backend(String),

    /// An earlier write or flush failed (a full disk): the store refuses writes until the
    /// process that holds it is restarted.
    #[error("the store cannot write: an earlier write failed: {0}")]
    WriteFailed(String),

    /// A file operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),

    /// Something stored cannot be read back.
    #[error("stored data cannot be read at position {0}: {1}; run `kroniek verify`")]
    Corrupt(u64, String),
}

impl CoreError {
    /// Whether this is a write or read that failed because the disk is full (ENOSPC).
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            CoreError::Storage(sled::Error::Io(io)) => io,
            CoreError::Io(io) => io,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
    }
}

impl From<sled::transaction::TransactionError<CoreError>> for CoreError {
    fn from(e: sled::transaction::TransactionError<CoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => CoreError::Storage(e),
        }
    }
}
