//! kroniek's application layer: every use case that more than one front end needs — the
//! command line, the HTTP server, the web pages and the benchmark — in one place.
//!
//! Synchronous, like the core: it opens stores, appends, builds the audit report, proofs and
//! bundles, grants tokens, and returns data or an [`AppError`]. It prints nothing and draws no
//! progress bar; long work reports progress through a callback the front end supplies.
//!
//! The crate graph is `kroniek-core ← kroniek-projections ← kroniek-app ← {kroniek-api (server,
//! web pages, command line), kroniek-bench}` (ARCHITECTURE.md; `.ci/run` checks it).

pub mod append;
pub mod audit;
pub mod clock;
mod error;
pub mod ledger;
pub mod proofs;
pub mod snapshot;
pub mod synthetic;
pub mod tokens;

pub use error::AppError;
