//! kroniek's domain core: the event catalogue, canonical hashing, the chain, and the storage
//! engine on sled.
//!
//! The catalogue, the hashing and the verification are pure and synchronous; the store is
//! the one place that touches the disk. Nothing here knows of tokio or HTTP.

pub mod access;
pub mod bundle;
pub mod canonical;
pub mod catalogue;
pub mod envelope;
pub mod erasure;
pub mod error;
pub mod files;
pub mod governance;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod offline;
pub mod random;
pub mod record;
pub mod rules;
pub mod store;
pub mod types;
pub mod verify;
pub mod witness;

#[cfg(test)]
mod format_vectors;

pub use envelope::{ExpectedVersion, ProposedEvent, StreamName};
pub use error::CoreError;
pub use record::{Personal, Record};
pub use rules::{IndexedRefusal, Refusal, Rule};
pub use store::{AppendOutcome, Head, Store};
pub use verify::{Broken, ChainVerifier, Verified};
