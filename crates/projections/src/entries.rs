//! Decisions and motions as the read models keep them: compactly (dates as dates, choices as
//! their enums, text boxed, the id only as the map key), made into the views of [`crate::views`]
//! when a query asks.

use crate::date;
use crate::views::{DecisionView, MotionView, RevocationView, VoteView};
use kroniek_core::catalogue;
use kroniek_core::types::Date;

/// A decision as the read models keep it: dates as dates, choices as their enums, text as
/// boxed strings, its id only as its map key; [`DecisionEntry::view`] makes the
/// [`DecisionView`] a query answers. A 1,000,000-event ledger holds 53,063 decisions: kept as
/// their views they took 22 MB.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(crate) struct DecisionEntry {
    pub(crate) body_id: Box<str>,
    pub(crate) title: Box<str>,
    pub(crate) meeting_id: Option<Box<str>>,
    pub(crate) motion_id: Option<Box<str>>,
    pub(crate) amount_cents: Option<i64>,
    pub(crate) revoked: Option<Box<Revocation>>,
    /// What is wrong with the decision ([`DecisionView::findings`]); empty when nothing is.
    pub(crate) findings: Box<[String]>,
    pub(crate) position: u64,
    pub(crate) date: Date,
    pub(crate) category: catalogue::DecisionCategory,
    pub(crate) basis: catalogue::DecisionBasis,
}

/// What revoked a decision, as kept ([`RevocationView`]).
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(crate) struct Revocation {
    pub(crate) by_decision_id: Box<str>,
    pub(crate) reason: Box<str>,
    pub(crate) date: Date,
}

impl DecisionEntry {
    pub(crate) fn view(&self, decision_id: &str) -> DecisionView {
        DecisionView {
            decision_id: decision_id.to_owned(),
            body_id: self.body_id.to_string(),
            date: date(self.date),
            title: self.title.to_string(),
            category: self.category.as_str().to_owned(),
            basis: self.basis.as_str().to_owned(),
            meeting_id: self.meeting_id.as_deref().map(str::to_owned),
            motion_id: self.motion_id.as_deref().map(str::to_owned),
            amount_cents: self.amount_cents,
            revoked: self.revoked.as_ref().map(|r| RevocationView {
                by_decision_id: r.by_decision_id.to_string(),
                date: date(r.date),
                reason: r.reason.to_string(),
            }),
            position: self.position,
            findings: self.findings.to_vec(),
        }
    }
}

/// A motion or amendment as the read models keep it (see [`DecisionEntry`]);
/// [`MotionEntry::view`] makes its [`MotionView`]. 53,063 motions of the 1,000,000-event
/// ledger took 26 MB as views.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(crate) struct MotionEntry {
    pub(crate) meeting_id: Box<str>,
    pub(crate) body_id: Option<Box<str>>,
    pub(crate) title: Box<str>,
    pub(crate) submitters: Box<[Box<str>]>,
    pub(crate) amends: Option<Box<str>>,
    pub(crate) amendments: Vec<Box<str>>,
    pub(crate) votes: Vec<Vote>,
    pub(crate) position: u64,
    pub(crate) date: Date,
    pub(crate) withdrawn: Option<Date>,
}

/// A vote on a motion, as kept ([`VoteView`]).
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub(crate) struct Vote {
    pub(crate) votes_for: i64,
    pub(crate) against: i64,
    pub(crate) abstain: i64,
    pub(crate) date: Date,
    pub(crate) method: catalogue::VoteMethod,
    pub(crate) outcome: catalogue::VoteOutcome,
}

impl MotionEntry {
    pub(crate) fn view(&self, motion_id: &str) -> MotionView {
        let texts = |v: &[Box<str>]| v.iter().map(ToString::to_string).collect();
        MotionView {
            motion_id: motion_id.to_owned(),
            meeting_id: self.meeting_id.to_string(),
            body_id: self.body_id.as_deref().map(str::to_owned),
            date: date(self.date),
            title: self.title.to_string(),
            submitters: texts(&self.submitters),
            amends: self.amends.as_deref().map(str::to_owned),
            amendments: texts(&self.amendments),
            withdrawn: self.withdrawn.map(date),
            votes: self
                .votes
                .iter()
                .map(|v| VoteView {
                    date: date(v.date),
                    method: v.method.as_str().to_owned(),
                    votes_for: v.votes_for,
                    against: v.against,
                    abstain: v.abstain,
                    outcome: v.outcome.as_str().to_owned(),
                })
                .collect(),
            position: self.position,
        }
    }
}
