//! Elections as the call describes them (step 10): a candidacy file complete as the call's
//! `requirements` ask (`candidacy-incomplete`), a result whose `elected` are the candidates with
//! the most votes (`result-tally-mismatch`, ties at the boundary only by lot), an appointment
//! that cites an election in which its member was elected to that seat, and no candidate who
//! sits in the screening body (`incompatible-seats`).

use super::state::*;
use crate::catalogue::*;
use crate::rules::{Refusal, Rule};
use crate::types::{Date, Id};

type Checked = Result<(), Refusal>;

fn fail(rule: Rule, field: &str, message: String) -> Checked {
    Err(Refusal::at(rule, field, message))
}

impl GovernanceState {
    /// After a candidacy's other checks: complete as the call asks, and not by a member who
    /// sits in the screening body on the candidacy's date.
    pub(super) fn check_candidacy_file(
        &self,
        d: &CandidacySubmitted,
        effective: Date,
        personal: Option<&serde_json::Value>,
    ) -> Checked {
        let Some(e) = self.elections.get(d.election_id.as_str()) else {
            return Ok(());
        };
        if let Some(r) = e.requirements {
            let mut missing = Vec::new();
            if r.cv && d.cv_blake3.is_none() {
                missing.push("a CV (data.cv_blake3)".to_owned());
            }
            if r.motivation && d.motivation_blake3.is_none() {
                missing.push("a motivation (data.motivation_blake3)".to_owned());
            }
            let terms = personal
                .and_then(|p| p.get("profile_terms"))
                .and_then(|t| t.as_array())
                .map_or(0, |a| a.len() as i64);
            let (min, max) = (r.profile_terms_min, r.profile_terms_max);
            if min.is_some_and(|m| terms < m) || max.is_some_and(|m| terms > m) {
                missing.push(format!(
                    "{} profile terms ({terms} given)",
                    match (min, max) {
                        (Some(a), Some(b)) => format!("{a} to {b}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        (None, None) => String::new(),
                    }
                ));
            }
            if !missing.is_empty() {
                return fail(
                    Rule::CandidacyIncomplete,
                    "data",
                    format!(
                        "election {} asks of a candidacy: {}",
                        d.election_id,
                        missing.join("; ")
                    ),
                );
            }
        }
        // As step 9's not-competent: refused where the screening body or the election's body
        // has rules in force, else accepted and shown as a finding (the sample's candidates
        // committee screened one of its own members in 2020, before any rules were recorded).
        let concerned = self.rules_of(&e.screening_body_id, effective).is_some()
            || self.rules_of(&e.body_id, effective).is_some();
        if let Some(why) = self
            .screening_conflict(e, d.member_id.as_str(), effective)
            .filter(|_| concerned)
        {
            return fail(Rule::IncompatibleSeats, "data.member_id", why);
        }
        Ok(())
    }

    /// Why `member` may not stand in election `e` on `on`: they sit in its screening body.
    pub fn screening_conflict(&self, e: &ElectionState, member: &str, on: Date) -> Option<String> {
        let b = self.bodies.get(e.screening_body_id.as_str())?;
        let h = b
            .holdings
            .iter()
            .find(|h| h.member_id == member && h.counts_on(on))?;
        Some(format!(
            "member {member} sits in body {} (as {}, since {}), which screens the candidates",
            e.screening_body_id, h.role, h.term_start
        ))
    }

    /// A result's `elected` are the candidates of its tally with the most votes, as many as
    /// the seats still to fill (or the candidates there are); equal votes at the boundary are
    /// decided only by lot, its winners named in `elected`.
    pub(super) fn check_tally(&self, d: &ElectionResult) -> Checked {
        let Some(e) = self.elections.get(d.election_id.as_str()) else {
            return Ok(());
        };
        let portfolio = d.portfolio.as_ref();
        let seats: i64 = e
            .seats
            .iter()
            .filter(|s| s.role == d.role && s.portfolio.as_ref() == portfolio)
            .map(|s| s.count)
            .sum();
        let before: i64 = e
            .results
            .iter()
            .filter(|(_, r)| r.role == d.role && r.portfolio == d.portfolio)
            .map(|(_, r)| r.elected.len() as i64)
            .sum();
        let to_fill = (seats - before).max(0).min(d.tally.len() as i64) as usize;
        let mismatch = |why: String| fail(Rule::ResultTallyMismatch, "data.elected", why);
        if d.elected.len() != to_fill {
            return mismatch(format!(
                "{} seat(s) of {} remain and the tally has {} candidate(s): {to_fill} elected, not {}",
                seats - before,
                d.role,
                d.tally.len(),
                d.elected.len()
            ));
        }
        if to_fill == 0 {
            return Ok(());
        }
        let votes_of = |m: &str| {
            d.tally
                .iter()
                .find(|t| t.member_id.as_str() == m)
                .map(|t| t.votes)
        };
        if let Some(m) = d.elected.iter().find(|m| votes_of(m.as_str()).is_none()) {
            return mismatch(format!("member {m} is elected but not in the tally"));
        }
        let mut by_votes: Vec<i64> = d.tally.iter().map(|t| t.votes).collect();
        by_votes.sort_unstable_by(|a, b| b.cmp(a));
        let boundary = by_votes[to_fill - 1];
        if let Some(t) = d
            .tally
            .iter()
            .find(|t| t.votes > boundary && !d.elected.contains(&t.member_id))
        {
            return mismatch(format!(
                "member {} has {} votes, more than an elected candidate's {boundary}, and is not elected",
                t.member_id, t.votes
            ));
        }
        if let Some(m) = d
            .elected
            .iter()
            .find(|m| votes_of(m.as_str()).is_some_and(|v| v < boundary))
        {
            return mismatch(format!(
                "member {m} is elected with fewer votes than the {to_fill} with the most"
            ));
        }
        let tied = d.tally.iter().filter(|t| t.votes == boundary).count();
        let tied_elected = d
            .elected
            .iter()
            .filter(|m| votes_of(m.as_str()) == Some(boundary))
            .count();
        if tied > tied_elected && d.tie_break != Some(TieBreak::Lot) {
            return mismatch(format!(
                "{tied} candidates have {boundary} votes for the last {tied_elected} seat(s): decide by lot (tie_break \"lot\") and name its winners in elected"
            ));
        }
        Ok(())
    }

    /// An appointment or reappointment citing `election_id`: its member was elected there to
    /// that role (and portfolio), for this body.
    pub(super) fn check_elected(
        &self,
        election_id: Option<&Id>,
        member: &str,
        body_id: &str,
        role: &str,
        portfolio: Option<&str>,
        _on: Date,
    ) -> Checked {
        let Some(id) = election_id else {
            return Ok(());
        };
        let Some(e) = self.elections.get(id.as_str()) else {
            return Ok(());
        };
        if e.body_id != body_id {
            // Another body's election: not-competent's business (step 9).
            return Ok(());
        }
        let elected = e.results.iter().any(|(_, r)| {
            r.role.as_str() == role
                && r.portfolio.as_ref().map(|p| p.as_str()) == portfolio
                && r.elected.iter().any(|m| m.as_str() == member)
        });
        if !elected {
            return fail(
                Rule::ResultTallyMismatch,
                "data.election_id",
                format!(
                    "member {member} was not elected {role}{} in election {id}",
                    portfolio.map_or(String::new(), |p| format!(" (portfolio {p})"))
                ),
            );
        }
        Ok(())
    }
}
