//! The governance ledger's rules and the state they judge against.
//!
//! [`state::GovernanceState`] is a fold over events (`apply`); [`check`] judges a new event
//! against it. Both are pure and synchronous. The store keeps one state, checks and applies
//! each event of a batch in order (so an event sees those before it), and rolls the state back
//! when the batch is refused.

mod cases;
pub mod check;
mod elections;
pub mod journal;
pub mod state;
pub mod statutes;

#[cfg(test)]
pub(crate) mod cases_tests;
#[cfg(test)]
pub(crate) mod elections_tests;
#[cfg(test)]
pub(crate) mod statutes_tests;
#[cfg(test)]
pub(crate) mod tests;

pub use state::{GovernanceState, MemberStatus};
