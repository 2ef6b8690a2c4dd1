//! Findings of step 11 that look across sections: the kascommissie in office on every day of
//! the year (BW 2:48 lid 2), the subsidy received against what was applied for, the youth
//! organisation's own count, and the summary that opens the report.

use super::report::{
    Exception, Severity, SubsidyCheck, Summary, YouthCount, KASCOMMISSIE_MIN_MEMBERS,
};
use super::{euros, AuditView, Year};
use kroniek_core::catalogue::MemberKind;
use kroniek_core::governance::state::{BodyHistory, Holding};
use kroniek_core::types::Date;
use std::collections::BTreeMap;

/// The youth organisation's threshold: at least 1,000 members (Parlementair Documentatie
/// Centrum, parlement.com: "minstens 1000 leden tussen de 14 en 27 jaar"; the age is not in
/// the ledger, see `docs/DOMAIN.md`).
pub const YOUTH_MEMBER_THRESHOLD: u64 = 1000;

/// Whether a body is the kascommissie: its id or its name says so.
fn is_kascommissie(id: &str, b: &BodyHistory) -> bool {
    id == "kascommissie" || b.name.to_lowercase().contains("kascommissie")
}

/// A holding that validly fills its seat on `d`: begun, not left, and within the term as it
/// stood that day (a reappointment after the term ended leaves a gap).
fn valid_on(h: &Holding, d: Date) -> bool {
    h.held_on(d) && !h.term_expired_on(d)
}

fn next_day(d: Date) -> Date {
    d.naive().succ_opt().map(Date::from_naive).unwrap_or(d)
}

impl AuditView<'_> {
    /// Days of the year without a kascommissie of at least two validly seated members. None
    /// in the ledger at all is a warning (the board may have engaged a register-accountant
    /// instead, BW 2:48 lid 2); a lapse of one that exists is a violation.
    pub(super) fn kascommissie_exceptions(&self, span: Year, exceptions: &mut Vec<Exception>) {
        let p = &self.projections;
        let bodies: Vec<(String, &BodyHistory)> = p
            .body_ids()
            .into_iter()
            .filter_map(|id| p.state.bodies.get(id.as_str()).map(|b| (id, b)))
            .filter(|(id, b)| is_kascommissie(id, b) && b.established <= span.dec31)
            .collect();
        if bodies.is_empty() {
            exceptions.push(Exception {
                section: "governance".into(),
                severity: Severity::Warning,
                detail: format!(
                    "no kascommissie is recorded for {}: BW 2:48 lid 2 asks one of at least two members each year, unless the board engaged a register-accountant",
                    span.year
                ),
                positions: vec![],
            });
            return;
        }
        for (id, b) in bodies {
            // The count is constant between the days a seat begins, ends or is left.
            let mut days = vec![span.jan1];
            for h in &b.holdings {
                days.push(h.term_start);
                days.extend(h.left.map(|(l, _)| l));
                days.extend(h.appointed_term_end.map(next_day));
                for (r, end) in &h.reappointments {
                    days.push(*r);
                    days.push(next_day(*end));
                }
            }
            days.retain(|d| span.contains(*d));
            days.sort_unstable();
            days.dedup();
            let mut gaps: Vec<(Date, Date, usize)> = Vec::new();
            for (i, day) in days.iter().enumerate() {
                let seated = b.holdings.iter().filter(|h| valid_on(h, *day)).count();
                if seated >= KASCOMMISSIE_MIN_MEMBERS {
                    continue;
                }
                let until = days
                    .get(i + 1)
                    .and_then(|n| n.naive().pred_opt())
                    .map(Date::from_naive)
                    .unwrap_or(span.dec31);
                match gaps.last_mut() {
                    Some(last) if next_day(last.1) == *day => {
                        last.1 = until;
                        last.2 = last.2.min(seated);
                    }
                    _ => gaps.push((*day, until, seated)),
                }
            }
            if gaps.is_empty() {
                continue;
            }
            let mut positions: Vec<u64> = b
                .holdings
                .iter()
                .filter(|h| h.term_start <= span.dec31)
                .flat_map(|h| {
                    std::iter::once(h.position)
                        .chain(h.reappointment_positions.iter().copied())
                        .chain(h.left_position)
                })
                .collect();
            positions.sort_unstable();
            positions.dedup();
            let periods: Vec<String> = gaps
                .iter()
                .map(|(from, to, n)| format!("{from} to {to} ({n} seated)"))
                .collect();
            exceptions.push(Exception {
                section: "governance".into(),
                severity: Severity::Violation,
                detail: format!(
                    "{id}: no kascommissie of at least {KASCOMMISSIE_MIN_MEMBERS} validly seated members (BW 2:48 lid 2) from {}",
                    periods.join("; ")
                ),
                positions,
            });
        }
    }

    /// The subsidy received for the year against what was applied for, by recipient; only
    /// where an application is recorded.
    pub(super) fn subsidy_checks(
        &self,
        year: i32,
        exceptions: &mut Vec<Exception>,
    ) -> Vec<SubsidyCheck> {
        let mut by: BTreeMap<&str, SubsidyCheck> = BTreeMap::new();
        for (pos, y, recipient, cents) in &self.facts.subsidy_applications {
            if *y != year {
                continue;
            }
            let c = by
                .entry(recipient.as_str())
                .or_insert_with(|| SubsidyCheck {
                    recipient: recipient.clone(),
                    ..Default::default()
                });
            c.applied_cents = c.applied_cents.saturating_add(*cents);
            c.positions.push(*pos);
        }
        for (pos, y, recipient, cents, _) in &self.facts.subsidies {
            if let Some(c) = by.get_mut(recipient.as_str()).filter(|_| *y == year) {
                c.received_cents = c.received_cents.saturating_add(*cents);
                c.positions.push(*pos);
            }
        }
        let mut out: Vec<SubsidyCheck> = by.into_values().collect();
        for c in &mut out {
            c.positions.sort_unstable();
            c.difference_cents = c.received_cents.saturating_sub(c.applied_cents);
            if c.difference_cents != 0 {
                exceptions.push(Exception {
                    section: "money".into(),
                    severity: Severity::Warning,
                    detail: format!(
                        "subsidy for {year} ({}): applied for {}, received {}",
                        c.recipient,
                        euros(c.applied_cents),
                        euros(c.received_cents)
                    ),
                    positions: c.positions.clone(),
                });
            }
        }
        out
    }

    /// The youth organisation's own count on the peildatum: youth members active then who paid
    /// a contribution for the contribution year. A finding when the youth organisation was
    /// subsidised that year while below the threshold.
    pub(super) fn youth_count(
        &self,
        peildatum: Date,
        contribution_year: i32,
        year: i32,
        exceptions: &mut Vec<Exception>,
    ) -> YouthCount {
        let p = &self.projections;
        let mut active = 0u64;
        let mut paying = 0u64;
        let mut positions = Vec::new();
        for (id, facts) in &self.facts.members {
            let Some(h) = p.state.members.get(id.as_str()) else {
                continue;
            };
            if h.status_on(peildatum) != kroniek_core::governance::MemberStatus::Active
                || h.kind_on(peildatum) != MemberKind::YouthMember
            {
                continue;
            }
            active += 1;
            let net = self
                .facts
                .payments_of(facts)
                .filter(|x| x.year == contribution_year)
                .fold(0i64, |a, x| a.saturating_add(x.cents));
            if net > 0 {
                paying += 1;
                positions.extend(facts.status_events.iter().copied());
            }
        }
        positions.sort_unstable();
        let count = YouthCount {
            active,
            paying,
            threshold: YOUTH_MEMBER_THRESHOLD,
            meets_threshold: paying >= YOUTH_MEMBER_THRESHOLD,
            source: "at least 1,000 members aged 14 to 27 (Parlementair Documentatie Centrum); age is not in the ledger: the accountant checks it against the youth organisation's register".into(),
            positions,
        };
        let subsidised: Vec<u64> = self
            .facts
            .subsidies
            .iter()
            .filter(|s| s.1 == year && s.2 == "youth_org")
            .map(|s| s.0)
            .collect();
        if !subsidised.is_empty() && !count.meets_threshold {
            exceptions.push(Exception {
                section: "membership".into(),
                severity: Severity::Warning,
                detail: format!(
                    "the youth organisation was subsidised for {year} with {} paying youth members on {peildatum}; the threshold is {YOUTH_MEMBER_THRESHOLD}",
                    count.paying
                ),
                positions: subsidised,
            });
        }
        count
    }
}

/// The summary that opens the report.
pub(super) fn summary(r: &super::report::AuditReport) -> Summary {
    let by = |s: Severity| r.exceptions.iter().filter(|e| e.severity == s).count() as u64;
    Summary {
        counted_members: r.membership.subsidy_count,
        threshold: r.membership.threshold,
        meets_threshold: r.membership.meets_threshold,
        youth_members_paying: r.membership.youth.paying,
        gifts_total_cents: r.money.gifts_total_cents,
        donors_disclosed: r.money.disclosure.len() as u64,
        disclosed_cents: r
            .money
            .disclosure
            .iter()
            .fold(0i64, |a, d| a.saturating_add(d.net_cents)),
        debts_disclosed: r.money.debts.iter().filter(|d| d.disclosed).count() as u64,
        verified: r.integrity.verified,
        violations: by(Severity::Violation),
        warnings: by(Severity::Warning),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AuditBuilder, AuditParams, Integrity};
    use crate::ProjectionError;
    use kroniek_core::catalogue::EventType;
    use kroniek_core::record::Record;
    use kroniek_core::types::EventId;
    use serde_json::{json, Value};

    /// A record as a ledger written before the rules could hold it (hashes do not matter to
    /// the folds).
    fn record(position: u64, stream: &str, ty: EventType, effective: &str, data: Value) -> Record {
        Record {
            position,
            version: position,
            stream: stream.into(),
            event_type: ty,
            id: EventId::parse(&format!("00000000-0000-4000-8000-{:012x}", position + 1))
                .expect("test id"),
            effective: effective.into(),
            recorded_at: format!("{effective}T00:00:00.000000Z"),
            actor: "admin:test".into(),
            data: data.into(),
            personal_commitment: None,
            prev_hash: [0; 32],
            hash: [0; 32],
            withheld: false,
        }
    }

    fn integrity() -> Integrity {
        Integrity {
            events: 0,
            head: String::new(),
            checkpoint: None,
            verified: true,
            verification: String::new(),
            previous_checkpoint: None,
            late_entries: vec![],
        }
    }

    /// Step 11: 1,102 contributions of 2^53 − 1 cents for one member made the report a negative
    /// sum and the member view pinned at i64::MAX. Now both refuse, naming the sum.
    #[test]
    fn sums_past_what_a_report_can_add_are_refused_never_wrapped_or_pinned() {
        let max = kroniek_core::governance::state::MAX_SUM_CENTS;
        let mut records = vec![record(
            0,
            "member/1",
            EventType::MemberJoined,
            "2020-01-01",
            json!({"member_id": "1"}),
        )];
        for i in 1..=1102u64 {
            records.push(record(
                i,
                "member/1",
                EventType::ContributionPaid,
                "2020-02-01",
                json!({"member_id": "1", "year": 2021, "amount_cents": max}),
            ));
        }
        let mut builder = AuditBuilder::default();
        let mut refused = None;
        for r in &records {
            if let Err(e) = builder.apply(r, None) {
                refused = Some(e);
                break;
            }
        }
        // The member view refuses at the second contribution, which passes 2^53 − 1.
        match refused {
            Some(ProjectionError::SumOutOfRange { what, position }) => {
                assert_eq!(position, 2);
                assert!(what.contains("member 1"), "{what}");
            }
            other => panic!("expected SumOutOfRange, got {other:?}"),
        }
        // The report's own check: two members of one year, each within the bound, together past it.
        let mut builder = AuditBuilder::default();
        let mut n = 0;
        for m in ["1", "2"] {
            for r in [
                record(
                    n,
                    &format!("member/{m}"),
                    EventType::MemberJoined,
                    "2020-01-01",
                    json!({"member_id": m}),
                ),
                record(
                    n + 1,
                    &format!("member/{m}"),
                    EventType::ContributionPaid,
                    "2020-02-01",
                    json!({"member_id": m, "year": 2021, "amount_cents": max}),
                ),
            ] {
                builder.apply(&r, None).unwrap();
            }
            n += 2;
        }
        let err = builder
            .report(&AuditParams::for_year(2021), integrity())
            .unwrap_err();
        assert!(
            err.to_string().contains("the contributions for 2021"),
            "{err}"
        );
    }

    /// BW 2:48 lid 2: a kascommissie of A (to 31 March 2024), B (all year) and C (from 1 May):
    /// April has one member seated, the rest of the year two.
    #[test]
    fn a_month_with_one_kascommissie_member_is_a_finding_with_its_dates() {
        let mut records = vec![record(
            0,
            "body/kascommissie",
            EventType::BodyEstablished,
            "2020-01-01",
            json!({"body_id": "kascommissie", "name": "Kascommissie", "kind": "committee",
                   "appointed_by": "alv", "seats": [{"role": "lid", "count": 3}]}),
        )];
        for (i, m) in ["1", "2", "3"].iter().enumerate() {
            records.push(record(
                1 + i as u64,
                &format!("member/{m}"),
                EventType::MemberJoined,
                "2020-01-01",
                json!({"member_id": m}),
            ));
        }
        for (i, (m, start, end)) in [
            ("1", "2023-01-01", "2024-03-31"),
            ("2", "2023-01-01", "2024-12-31"),
            ("3", "2024-05-01", "2025-04-30"),
        ]
        .iter()
        .enumerate()
        {
            records.push(record(
                4 + i as u64,
                "body/kascommissie",
                EventType::MemberAppointed,
                start,
                json!({"body_id": "kascommissie", "member_id": m, "role": "lid",
                       "term_start": start, "term_end": end}),
            ));
        }
        let mut builder = AuditBuilder::default();
        for r in &records {
            builder.apply(r, None).unwrap();
        }
        let findings = |year: i32| -> Vec<String> {
            builder
                .report(&AuditParams::for_year(year), integrity())
                .unwrap()
                .exceptions
                .into_iter()
                .filter(|e| e.detail.contains("validly seated"))
                .map(|e| e.detail)
                .collect()
        };
        assert_eq!(
            findings(2024),
            ["kascommissie: no kascommissie of at least 2 validly seated members (BW 2:48 lid 2) from 2024-04-01 to 2024-04-30 (1 seated)"]
        );
        assert!(findings(2023).is_empty(), "A and B sat all of 2023");
    }
}
