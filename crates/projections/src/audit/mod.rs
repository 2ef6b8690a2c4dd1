//! The yearly audit report: the figures the party's accountant signs off, each with the
//! positions of the events it rests on, so anyone holding the export can reproduce it.
//!
//! One pure fold (`AuditBuilder::apply`) over records, into the projections and the audit
//! facts (`facts`); `report` computes the year's figures, one section after the other.
//! The legal thresholds live in [`GIFT_RULE_TABLE`], dated and cited to where they come from.

use crate::{ProjectionError, Projections};
use kroniek_core::catalogue::CaseKind;
use kroniek_core::governance::state::MemberHistory;
use kroniek_core::governance::MemberStatus;
use kroniek_core::record::{Personal, Record};
use kroniek_core::types::Date;
use serde::Serialize;
use std::collections::BTreeMap;

mod facts;
mod findings;
mod gifts;
mod report;
pub use facts::AuditFacts;
use facts::{Gift, GiftReport, GiftReturn, Loan, MemberFacts, Payment};
pub use gifts::{gift_rules, rule_in_force, GiftRule, GiftRuleKind, GIFT_RULE_TABLE};
pub use report::*;

/// The subsidy's membership threshold (Wfpp art. 8: at least 1,000 members with voting rights).
pub const SUBSIDY_MEMBER_THRESHOLD: u64 = 1000;

/// The report's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditParams {
    pub year: i32,
    pub peildatum: Date,
    pub contribution_year: i32,
    pub min_contribution_cents: i64,
    /// Contributions for the contribution year paid after this date are flagged
    /// (`--paid-by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_by: Option<Date>,
}

impl AuditParams {
    /// The defaults: peildatum 1 January of `year`, contribution year `year`, EUR 12.
    pub fn for_year(year: i32) -> AuditParams {
        let peildatum = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
            .map(Date::from_naive)
            .unwrap_or_else(|| Date::from_naive(chrono::NaiveDate::MIN));
        AuditParams {
            year,
            peildatum,
            contribution_year: year,
            min_contribution_cents: 1200,
            paid_by: None,
        }
    }
}

/// Folds records into what the report needs: the projections and the audit facts, for a
/// report made from the records alone (the command line, an export).
#[derive(Debug, Default)]
pub struct AuditBuilder {
    projections: Projections,
    facts: AuditFacts,
    /// Every record's position and effective date (for late entries).
    effective: Vec<(u64, Date)>,
    count: u64,
}

/// The projections and the audit facts at one position: what a report is made from.
#[derive(Debug, Clone, Copy)]
pub struct AuditView<'a> {
    projections: &'a Projections,
    facts: &'a AuditFacts,
}

impl<'a> AuditView<'a> {
    /// The two read models, folded from the same records.
    pub fn new(projections: &'a Projections, facts: &'a AuditFacts) -> AuditView<'a> {
        AuditView { projections, facts }
    }
}

fn date_of(record: &Record) -> Result<Date, ProjectionError> {
    Date::parse(&record.effective).map_err(|why| ProjectionError::Unreadable {
        position: record.position,
        why,
    })
}

impl AuditBuilder {
    pub fn new() -> AuditBuilder {
        AuditBuilder::default()
    }

    /// Applies the next record (with its personal data, when shown). A record held withheld
    /// (a view copy's) is passed over, as a withheld line of an export is.
    pub fn apply(
        &mut self,
        record: &Record,
        personal: Option<&Personal>,
    ) -> Result<(), ProjectionError> {
        if record.withheld {
            return Ok(());
        }
        let event = record
            .event_data()
            .map_err(|(f, w)| ProjectionError::Unreadable {
                position: record.position,
                why: format!("data.{f}: {w}"),
            })?;
        self.projections.apply_event(record, &event, personal)?;
        let effective = date_of(record)?;
        self.count += 1;
        self.effective.push((record.position, effective));
        self.facts
            .apply(record, &event, effective, personal, &self.projections);
        Ok(())
    }

    /// How many records were applied.
    pub fn count(&self) -> u64 {
        self.count
    }
}

fn d(y: i32, m: u32, day: u32) -> Date {
    chrono::NaiveDate::from_ymd_opt(y, m, day)
        .map(Date::from_naive)
        .unwrap_or_else(|| Date::from_naive(chrono::NaiveDate::MIN))
}

/// The report's year: 1 January to 31 December.
#[derive(Debug, Clone, Copy)]
struct Year {
    year: i32,
    jan1: Date,
    dec31: Date,
}

impl Year {
    fn of(year: i32) -> Year {
        Year {
            year,
            jan1: d(year, 1, 1),
            dec31: d(year, 12, 31),
        }
    }

    fn contains(&self, x: Date) -> bool {
        x >= self.jan1 && x <= self.dec31
    }
}

impl AuditView<'_> {
    /// The report for `params`, with the `integrity` its maker established: one section after
    /// the other, each with the exceptions it found (in the report's order: membership,
    /// governance, money, then integrity first of all, then revoked decisions).
    /// Every group of amounts the report adds up, for the report's year, as (what, gross
    /// cents in i128, the position of the last amount). Each figure of the report is a sum
    /// over part of one group, so a group within ±(2^53 − 1) keeps every figure exact.
    fn amount_groups(&self, params: &AuditParams) -> Vec<(String, i128, u64)> {
        let (year, cy) = (params.year, params.contribution_year);
        let mut groups: Vec<(String, i128, u64)> = Vec::new();
        let mut add = |what: String, amounts: &mut dyn Iterator<Item = (u64, i64)>| {
            let (mut gross, mut last) = (0i128, 0u64);
            for (pos, cents) in amounts {
                gross += i128::from(cents).abs();
                last = last.max(pos);
            }
            groups.push((what, gross, last));
        };
        add(
            format!("the contributions for {cy}"),
            &mut self
                .facts
                .payments
                .iter()
                .filter(|x| x.year == cy)
                .map(|x| (x.position, x.cents)),
        );
        add(
            format!("the gifts of {year}"),
            &mut self
                .facts
                .gifts
                .iter()
                .filter(|g| g.year == year)
                .map(|g| (g.position, g.amount_cents)),
        );
        add(
            format!("the gifts returned in {year}"),
            &mut self
                .facts
                .gift_returns
                .iter()
                .filter(|g| g.year == year)
                .map(|g| (g.position, g.amount_cents)),
        );
        add(
            format!("the loans of {year}"),
            &mut self
                .facts
                .loans
                .iter()
                .filter(|g| g.year == year)
                .map(|g| (g.position, g.amount_cents)),
        );
        add(
            format!("the subsidies of {year}"),
            &mut self
                .facts
                .subsidies
                .iter()
                .filter(|s| s.1 == year)
                .map(|s| (s.0, s.3)),
        );
        add(
            format!("the subsidies applied for {year}"),
            &mut self
                .facts
                .subsidy_applications
                .iter()
                .filter(|s| s.1 == year)
                .map(|s| (s.0, s.3)),
        );
        add(
            format!("the budget lines of {year}"),
            &mut self
                .facts
                .budgets
                .iter()
                .filter(|b| b.1 == year)
                .flat_map(|b| b.3.iter().map(move |l| (b.0, l.1))),
        );
        add(
            format!("the decisions' amounts of {year}"),
            &mut self
                .facts
                .decision_amounts
                .iter()
                .filter(|d| d.1 == year)
                .map(|d| (d.0, d.2)),
        );
        groups
    }

    /// The report for `params.year`. Refuses (never wraps or pins a figure) when a group of
    /// amounts it adds up passes ±(2^53 − 1) cents, which only a ledger written before the
    /// rule `amount-out-of-range` can hold, or the year's total across members or donors.
    pub fn report(
        &self,
        params: &AuditParams,
        integrity: Integrity,
    ) -> Result<AuditReport, ProjectionError> {
        use kroniek_core::governance::state::MAX_SUM_CENTS;
        if let Some((what, _, position)) = self
            .amount_groups(params)
            .into_iter()
            .find(|(_, gross, _)| *gross > i128::from(MAX_SUM_CENTS))
        {
            return Err(ProjectionError::SumOutOfRange { what, position });
        }
        let year = Year::of(params.year);
        let mut exceptions: Vec<Exception> = Vec::new();
        let membership = self.membership(params, year, &mut exceptions);
        let governance = self.governance(year, &mut exceptions);
        let decisions = self.decisions(year);
        let mut money = self.money(year, &mut exceptions);
        money.subsidy_applied = self.subsidy_checks(params.year, &mut exceptions);
        let cases = self.cases(year);
        integrity_exceptions(&integrity, &mut exceptions);
        revoked_exceptions(&decisions, &mut exceptions);
        self.finding_exceptions(year, &mut exceptions);
        self.royement_exceptions(year, &mut exceptions);
        self.kascommissie_exceptions(year, &mut exceptions);
        let mut membership = membership;
        membership.youth = self.youth_count(
            params.peildatum,
            params.contribution_year,
            params.year,
            &mut exceptions,
        );
        let mut report = AuditReport {
            summary: Summary::default(),
            params: params.clone(),
            integrity,
            membership,
            governance,
            decisions,
            money,
            conduct: self.projections.conduct(year.dec31),
            cases,
            exceptions,
        };
        report.summary = findings::summary(&report);
        Ok(report)
    }

    /// Membership at the peildatum: every active member, counted for the subsidy or not and
    /// why, with the events behind it; by branch; joins, ends and expulsions of the year.
    fn membership(
        &self,
        params: &AuditParams,
        span: Year,
        exceptions: &mut Vec<Exception>,
    ) -> Membership {
        let p = &self.projections;
        let (year, dec31) = (span.year, span.dec31);
        let in_year = |x: Date| span.contains(x);
        let active = |id: &String| {
            p.state
                .members
                .get(id.as_str())
                .is_some_and(|h| h.status_on(params.peildatum) == MemberStatus::Active)
        };
        // Sized exactly: the report keeps this list, and a vector grown by doubling keeps up to
        // twice its room (about 5 MB more at a server's peak on the 1,000,000-event ledger).
        let mut members: Vec<CountedMember> =
            Vec::with_capacity(self.facts.members.keys().filter(|id| active(id)).count());
        for (id, facts) in &self.facts.members {
            if !active(id) {
                continue;
            }
            let paid: Vec<&Payment> = self
                .facts
                .payments_of(facts)
                .filter(|x| x.year == params.contribution_year)
                .collect();
            let net: i64 = paid.iter().map(|x| x.cents).sum();
            // Sized exactly, as the list of members is (a clone, then grown, would double).
            let mut positions: Vec<u64> =
                Vec::with_capacity(facts.status_events.len() + paid.len());
            positions.extend_from_slice(&facts.status_events);
            positions.extend(paid.iter().map(|x| x.position));
            positions.sort_unstable();
            let counted = net >= params.min_contribution_cents;
            let reason = if counted {
                String::new()
            } else if paid.is_empty() {
                format!("no contribution for {}", params.contribution_year)
            } else {
                format!(
                    "net contributions for {} below the minimum",
                    params.contribution_year
                )
            };
            members.push(CountedMember {
                member_id: id.clone(),
                branch_id: p.branch_on(id, params.peildatum),
                net_cents: net,
                counted,
                reason,
                positions,
            });
        }
        // Only members with voting rights count (step 11); then one of each possible
        // duplicate person (the same normalised name and residence, or the same e-mail, on
        // the peildatum): the earliest joined counts, the accountant decides on the others.
        for m in members.iter_mut().filter(|m| m.counted) {
            if let Some(h) = p.state.members.get(m.member_id.as_str()) {
                let kind = h.kind_on(params.peildatum);
                if kind != kroniek_core::catalogue::MemberKind::Member {
                    m.counted = false;
                    m.reason = format!("not a voting member ({})", kind.as_str());
                }
            }
        }
        let duplicates = self.possible_duplicates(
            members
                .iter()
                .filter(|m| m.counted)
                .map(|m| m.member_id.as_str()),
            params.peildatum,
        );
        for m in members.iter_mut() {
            if let Some(first) = duplicates.get(&m.member_id) {
                m.counted = false;
                m.reason = format!("possible duplicate of member {first}");
            }
        }
        members.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        let reconciliation = self.reconciliation(params, &members, &duplicates);
        let subsidy_count = members.iter().filter(|m| m.counted).count() as u64;
        // Payment evidence (step 11): by month paid, paid after the cut-off, refunded after
        // the peildatum.
        let of_year: Vec<&Payment> = self
            .facts
            .payments
            .iter()
            .filter(|x| x.year == params.contribution_year)
            .collect();
        let mut months: BTreeMap<String, (u64, i64)> = BTreeMap::new();
        for x in of_year.iter().filter(|x| x.cents > 0) {
            let e = months
                .entry(x.paid.to_string().get(..7).unwrap_or("").to_owned())
                .or_default();
            e.0 += 1;
            e.1 = e.1.saturating_add(x.cents);
        }
        let payments_by_month = months
            .into_iter()
            .map(|(month, (payments, cents))| MonthTotal {
                month,
                payments,
                cents,
            })
            .collect();
        let paid_after_cutoff: Vec<PaymentLine> = match params.paid_by {
            Some(cutoff) => of_year
                .iter()
                .filter(|x| x.cents > 0 && x.paid > cutoff)
                .map(|x| self.facts.payment_line(x))
                .collect(),
            None => Vec::new(),
        };
        let refunds_after_peildatum: Vec<PaymentLine> = of_year
            .iter()
            .filter(|x| x.cents < 0 && x.paid > params.peildatum)
            .map(|x| self.facts.payment_line(x))
            .collect();
        for x in &paid_after_cutoff {
            exceptions.push(Exception {
                section: "membership".into(),
                severity: Severity::Warning,
                detail: format!(
                    "member {}'s contribution for {} of {} was paid on {}, after the cut-off {}",
                    x.member_id,
                    x.year,
                    euros(x.cents),
                    x.paid,
                    params.paid_by.map(|d| d.to_string()).unwrap_or_default()
                ),
                positions: vec![x.position],
            });
        }
        for x in &refunds_after_peildatum {
            exceptions.push(Exception {
                section: "membership".into(),
                severity: Severity::Warning,
                detail: format!(
                    "member {}'s contribution for {} was refunded ({}) on {}, after the peildatum {}",
                    x.member_id,
                    x.year,
                    euros(-x.cents),
                    x.paid,
                    params.peildatum
                ),
                positions: vec![x.position],
            });
        }
        let mut by_branch: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for m in &members {
            let e = by_branch
                .entry(m.branch_id.clone().unwrap_or_else(|| "(none)".into()))
                .or_default();
            e.0 += 1;
            e.1 += u64::from(m.counted);
        }
        if subsidy_count < SUBSIDY_MEMBER_THRESHOLD {
            exceptions.push(Exception {
                section: "membership".into(),
                severity: Severity::Warning,
                detail: format!("{subsidy_count} members count for the subsidy on {}; the threshold is {SUBSIDY_MEMBER_THRESHOLD}", params.peildatum),
                positions: vec![],
            });
        }
        let changes = |pick: fn(&MemberFacts) -> &Vec<Date>| -> Vec<MemberChange> {
            let mut out: Vec<MemberChange> = self
                .facts
                .members
                .iter()
                .flat_map(|(id, f)| {
                    pick(f)
                        .iter()
                        .filter(|x| in_year(**x))
                        .map(move |x| MemberChange {
                            member_id: id.clone(),
                            date: x.to_string(),
                        })
                })
                .collect();
            out.sort_by(|a, b| (&a.date, &a.member_id).cmp(&(&b.date, &b.member_id)));
            out
        };
        let month_starts: Vec<Date> = (1..=12).map(|m| d(year, m, 1)).chain([dec31]).collect();
        let mut over_the_year: Vec<(String, u64)> = month_starts
            .iter()
            .map(ToString::to_string)
            .zip(p.active_counts(&month_starts))
            .collect();
        over_the_year.dedup();
        Membership {
            peildatum: params.peildatum.to_string(),
            contribution_year: params.contribution_year,
            min_contribution_cents: params.min_contribution_cents,
            active: members.len() as u64,
            subsidy_count,
            threshold: SUBSIDY_MEMBER_THRESHOLD,
            meets_threshold: subsidy_count >= SUBSIDY_MEMBER_THRESHOLD,
            by_branch: by_branch
                .into_iter()
                .map(|(b, (a, c))| BranchCount {
                    branch_id: b,
                    active: a,
                    counted: c,
                })
                .collect(),
            members,
            joined: changes(|f| &f.joined),
            ended: changes(|f| &f.ended),
            expelled: changes(|f| &f.expelled),
            over_the_year,
            reconciliation,
            youth: YouthCount::default(),
            payments_by_month,
            paid_after_cutoff,
            refunds_after_peildatum,
        }
    }

    /// Member ids (of `candidates`) that may be a person counted under another id: the same
    /// normalised name and residence, or the same e-mail, on `d`. Each maps to the id kept
    /// (the earliest joined, then the lowest id).
    fn possible_duplicates<'a>(
        &self,
        candidates: impl Iterator<Item = &'a str>,
        d: Date,
    ) -> BTreeMap<String, String> {
        let p = &self.projections;
        let norm = |s: String| {
            s.to_lowercase()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let first_join = |id: &str| {
            p.state
                .members
                .get(id)
                .and_then(|h| h.joins.iter().map(|(at, _)| *at).min())
        };
        let mut ids: Vec<&str> = candidates.collect();
        ids.sort_by(|a, b| (first_join(a), *a).cmp(&(first_join(b), *b)));
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for id in ids {
            let mut keys = Vec::new();
            if let (Some(n), Some(r)) =
                (p.detail_on(id, "name", d), p.detail_on(id, "residence", d))
            {
                keys.push(format!("name:{}|{}", norm(n), norm(r)));
            }
            if let Some(e) = p.detail_on(id, "email", d) {
                keys.push(format!("email:{}", norm(e)));
            }
            match keys.iter().find_map(|k| seen.get(k)) {
                Some(first) => {
                    out.insert(id.to_owned(), first.clone());
                }
                None => {
                    for k in keys {
                        seen.insert(k, id.to_owned());
                    }
                }
            }
        }
        out
    }

    /// The reconciliation from the register (every member id the ledger knows) to the members
    /// counted, each member on the first line that applies.
    fn reconciliation(
        &self,
        params: &AuditParams,
        counted: &[CountedMember],
        duplicates: &BTreeMap<String, String>,
    ) -> Vec<ReconciliationLine> {
        let p = &self.projections;
        let d = params.peildatum;
        let lines = [
            "not_yet_joined",
            "ended",
            "expelled",
            "suspended",
            "not_a_voting_member",
            "below_minimum",
            "possible_duplicate",
            "counted",
        ];
        let mut out: Vec<ReconciliationLine> = std::iter::once("register")
            .chain(lines)
            .map(|line| ReconciliationLine {
                line: line.into(),
                count: 0,
                members: Vec::new(),
                details: Vec::new(),
                positions: Vec::new(),
            })
            .collect();
        let active: BTreeMap<&str, &CountedMember> =
            counted.iter().map(|m| (m.member_id.as_str(), m)).collect();
        let mut register: Vec<(&String, &MemberHistory)> = p
            .state
            .members
            .iter()
            .filter(|(_, h)| !h.joins.is_empty())
            .collect();
        register.sort_by(|a, b| a.0.cmp(b.0));
        for (id, h) in register {
            let facts = self.facts.members.get(id.as_str());
            let mut positions: Vec<u64> =
                facts.map(|f| f.status_events.clone()).unwrap_or_default();
            let (line, detail) = match h.status_on(d) {
                MemberStatus::NotMember => ("not_yet_joined", None),
                MemberStatus::Ended => ("ended", None),
                MemberStatus::Expelled => ("expelled", None),
                MemberStatus::Suspended => {
                    let cases: Vec<String> = h
                        .suspensions
                        .iter()
                        .filter(|s| s.from <= d)
                        .map(|s| s.case_id.clone())
                        .chain(
                            h.royements
                                .iter()
                                .filter(|r| r.from <= d && r.until.is_none_or(|u| d < u))
                                .map(|r| r.case_id.clone()),
                        )
                        .collect();
                    (
                        "suspended",
                        Some(format!("{id}: case {}", cases.join(", "))),
                    )
                }
                MemberStatus::Active => match active.get(id.as_str()) {
                    Some(m) => {
                        positions = m.positions.clone();
                        if m.counted {
                            ("counted", None)
                        } else if let Some(first) = duplicates.get(id.as_str()) {
                            (
                                "possible_duplicate",
                                Some(format!("{id}: the same person as {first}?")),
                            )
                        } else if m.reason.starts_with("not a voting member") {
                            ("not_a_voting_member", None)
                        } else {
                            ("below_minimum", None)
                        }
                    }
                    None => ("below_minimum", None),
                },
            };
            for l in out
                .iter_mut()
                .filter(|l| l.line == "register" || l.line == line)
            {
                l.count += 1;
                l.members.push(id.clone());
                l.positions.extend(positions.iter().copied());
                if l.line == line {
                    l.details.extend(detail.clone());
                }
            }
        }
        for l in &mut out {
            l.positions.sort_unstable();
            l.positions.dedup();
            // The report keeps these lists (every member and position twice): without the room
            // their growth left (up to half of each).
            exactly_sized(&mut l.positions);
            exactly_sized(&mut l.members);
            exactly_sized(&mut l.details);
        }
        out
    }

    /// Governance: each board, council and committee at the start and end of the year, its seat
    /// changes, and seats held past their term.
    fn governance(&self, span: Year, exceptions: &mut Vec<Exception>) -> Vec<BodyYear> {
        let p = &self.projections;
        let (jan1, dec31) = (span.jan1, span.dec31);
        let in_year = |x: Date| span.contains(x);
        let mut governance = Vec::new();
        for body_id in p.body_ids() {
            let Some(b) = p.state.bodies.get(body_id.as_str()) else {
                continue;
            };
            // Networks too (step 11): a network's core group has its own minimum (`min_members`).
            if !matches!(
                b.kind.as_str(),
                "board" | "daily_board" | "council" | "committee" | "network"
            ) || b.established > dec31
            {
                continue;
            }
            let mut seat_changes = Vec::new();
            for h in &b.holdings {
                if in_year(h.term_start) {
                    seat_changes.push(SeatChange {
                        date: h.term_start.to_string(),
                        member_id: h.member_id.clone(),
                        role: h.role.clone(),
                        portfolio: h.portfolio.clone(),
                        change: "appointed".into(),
                        reason: None,
                        decision_id: h.decision_id.clone(),
                        election_id: h.election_id.clone(),
                        position: Some(h.position),
                    });
                }
                for (i, (r, _)) in h.reappointments.iter().enumerate() {
                    if !in_year(*r) {
                        continue;
                    }
                    seat_changes.push(SeatChange {
                        date: r.to_string(),
                        member_id: h.member_id.clone(),
                        role: h.role.clone(),
                        portfolio: h.portfolio.clone(),
                        change: "reappointed".into(),
                        reason: None,
                        decision_id: None,
                        election_id: None,
                        position: h.reappointment_positions.get(i).copied(),
                    });
                }
                if let Some((l, reason)) = h.left.filter(|(l, _)| in_year(*l)) {
                    seat_changes.push(SeatChange {
                        date: l.to_string(),
                        member_id: h.member_id.clone(),
                        role: h.role.clone(),
                        portfolio: h.portfolio.clone(),
                        change: "left".into(),
                        reason: Some(reason.as_str().into()),
                        decision_id: None,
                        election_id: None,
                        position: h.left_position,
                    });
                }
            }
            seat_changes.sort_by(|a, b| {
                (&a.date, &a.role, &a.member_id).cmp(&(&b.date, &b.role, &b.member_id))
            });
            let end = p.composition(&body_id, dec31).ok();
            let past_term: Vec<String> = end
                .iter()
                .flat_map(|c| c.seats.iter().flat_map(|s| s.holders.iter()))
                .filter(|h| h.term_expired)
                .map(|h| format!("{} ({})", h.member_id, h.role))
                .collect();
            // The events behind a governance finding (step 11): the appointments (and
            // reappointments) of the holdings concerned, and the departures of the year.
            let positions_of =
                |pick: &dyn Fn(&kroniek_core::governance::state::Holding) -> bool| {
                    let mut out: Vec<u64> = b
                        .holdings
                        .iter()
                        .filter(|h| pick(h))
                        .flat_map(|h| {
                            std::iter::once(h.position)
                                .chain(h.reappointment_positions.iter().copied())
                        })
                        .collect();
                    out.sort_unstable();
                    out
                };
            if !past_term.is_empty() {
                exceptions.push(Exception {
                    section: "governance".into(),
                    severity: Severity::Violation,
                    detail: format!(
                        "{body_id}: seats held past their term on {dec31}: {}",
                        past_term.join(", ")
                    ),
                    positions: positions_of(&|h| h.held_on(dec31) && h.term_expired_on(dec31)),
                });
            }
            if let Some(c) = end.as_ref().filter(|c| c.below_min_members) {
                let mut positions = positions_of(&|h| h.counts_on(dec31));
                positions.extend(
                    b.holdings
                        .iter()
                        .filter(|h| h.left.is_some_and(|(l, _)| in_year(l)))
                        .filter_map(|h| h.left_position),
                );
                if positions.is_empty() {
                    // Nobody seated and nobody left this year: the seats that ran out before.
                    positions = positions_of(&|h| h.term_start <= dec31);
                    positions.extend(b.holdings.iter().filter_map(|h| h.left_position));
                }
                positions.sort_unstable();
                positions.dedup();
                exceptions.push(Exception {
                    section: "governance".into(),
                    severity: Severity::Violation,
                    detail: format!(
                        "{body_id} has {} seated, below its minimum of {}",
                        c.seated,
                        c.min_members.unwrap_or(0)
                    ),
                    positions,
                });
            }
            governance.push(BodyYear {
                body_id: body_id.clone(),
                name: b.name.clone(),
                kind: b.kind.as_str().into(),
                start: p.composition(&body_id, jan1).ok(),
                end,
                changes: seat_changes,
                past_term,
            });
        }
        governance
    }

    /// The decisions of the year: counts by body and category, the financial ones with their
    /// totals, and the revoked ones.
    fn decisions(&self, span: Year) -> Decisions {
        let p = &self.projections;
        let (jan1, dec31) = (span.jan1, span.dec31);
        let timeline = p.timeline(&crate::views::TimelineFilter {
            from: Some(jan1.to_string()),
            to: Some(dec31.to_string()),
            ..Default::default()
        });
        let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut financial = Vec::new();
        let mut revoked = Vec::new();
        for e in &timeline {
            if let crate::views::TimelineEntry::Decision(x) = e {
                *by.entry((x.body_id.clone(), x.category.clone()))
                    .or_default() += 1;
                let line = DecisionLine {
                    decision_id: x.decision_id.clone(),
                    date: x.date.clone(),
                    body_id: x.body_id.clone(),
                    category: x.category.clone(),
                    title: x.title.clone(),
                    amount_cents: x.amount_cents,
                    revoked_by: x.revoked.as_ref().map(|r| r.by_decision_id.clone()),
                    position: self.facts.decision_positions.get(&x.decision_id).copied(),
                };
                if matches!(x.category.as_str(), "financial" | "subsidy") {
                    financial.push(line.clone());
                }
                if x.revoked.is_some() {
                    revoked.push(line);
                }
            }
        }
        let total = |cat: &str| {
            financial
                .iter()
                .filter(|l| l.category == cat && l.revoked_by.is_none())
                .filter_map(|l| l.amount_cents)
                .sum()
        };
        Decisions {
            by_body_and_category: by.into_iter().map(|((b, c), n)| (b, c, n)).collect(),
            financial_total_cents: total("financial"),
            subsidy_total_cents: total("subsidy"),
            financial,
            revoked,
        }
    }

    /// Money: subsidies received, budgets, and gifts under the year's rules (`GIFT_RULES`):
    /// the register, the disclosure, and gifts over the cap, from abroad or reported late.
    fn money(&self, span: Year, exceptions: &mut Vec<Exception>) -> Money {
        let year = span.year;
        let subsidies: Vec<SubsidyLine> = self
            .facts
            .subsidies
            .iter()
            .filter(|s| s.1 == year)
            .map(|s| SubsidyLine {
                recipient: s.2.clone(),
                amount_cents: s.3,
                grantor: s.4.clone(),
                position: s.0,
            })
            .collect();
        let mut subsidy_totals: BTreeMap<String, i64> = BTreeMap::new();
        for s in &subsidies {
            *subsidy_totals.entry(s.recipient.clone()).or_default() += s.amount_cents;
        }
        let budgets = self
            .facts
            .budgets
            .iter()
            .filter(|b| b.1 == year)
            .map(|b| BudgetLineView {
                decision_id: b.2.clone(),
                total_cents: b.3.iter().map(|l| l.1).sum(),
                lines: b.3.clone(),
                position: b.0,
            })
            .collect();
        let rules = gift_rules(year);
        let sections = gifts::gift_sections(
            year,
            &self.facts.gifts,
            &self.facts.gift_reports,
            &self.facts.gift_returns,
            &self.facts.loans,
            exceptions,
        );
        Money {
            subsidies,
            subsidy_totals,
            budgets,
            gift_rules: rules,
            gifts_total_cents: self
                .facts
                .gifts
                .iter()
                .filter(|g| g.year == year)
                .fold(0i64, |a, g| a.saturating_add(g.amount_cents)),
            register: sections.register,
            disclosure: sections.disclosure,
            returned: sections.returned,
            debts: sections.debts,
            subsidy_applied: Vec::new(),
        }
    }

    /// Findings of the year: decisions and appointments accepted without rules in force that
    /// the statutes' rules would have refused (taken at another body's meeting, an appointing
    /// decision of another body, …). History is kept and flagged, never hidden.
    fn finding_exceptions(&self, span: Year, exceptions: &mut Vec<Exception>) {
        let p = &self.projections;
        let timeline = p.timeline(&crate::views::TimelineFilter {
            from: Some(span.jan1.to_string()),
            to: Some(span.dec31.to_string()),
            ..Default::default()
        });
        for e in &timeline {
            if let crate::views::TimelineEntry::Decision(d) = e {
                for f in &d.findings {
                    exceptions.push(Exception {
                        section: "decisions".into(),
                        severity: Severity::Violation,
                        detail: format!("decision {} ({}): {f}", d.decision_id, d.title),
                        positions: vec![d.position],
                    });
                }
            }
        }
        for body_id in p.body_ids() {
            let Some(b) = p.state.bodies.get(body_id.as_str()) else {
                continue;
            };
            for h in b.holdings.iter().filter(|h| span.contains(h.term_start)) {
                for f in p.state.holding_findings(&body_id, h) {
                    exceptions.push(Exception {
                        section: "governance".into(),
                        severity: Severity::Violation,
                        detail: format!(
                            "{body_id}: the appointment of member {} as {}: {f}",
                            h.member_id, h.role
                        ),
                        positions: vec![h.position],
                    });
                }
            }
        }
    }

    /// Royementen whose expulsion became final by 31 December (the respondent's appeal term
    /// ended without an appeal, or the appeal was upheld) with no `MemberExpelled` recorded by
    /// then: the member is still in the register. Counts and ids only, never a case's content.
    fn royement_exceptions(&self, span: Year, exceptions: &mut Vec<Exception>) {
        let p = &self.projections;
        let mut cases: Vec<(&String, &kroniek_core::governance::state::CaseState)> = p
            .state
            .cases
            .iter()
            .filter(|(_, c)| c.kind == CaseKind::Royement)
            .collect();
        cases.sort_by(|a, b| a.0.cmp(b.0));
        for (case_id, c) in cases {
            for member in &c.respondents {
                let Some((index, dec)) = c.decision_for(member) else {
                    continue;
                };
                if dec.outcome != kroniek_core::catalogue::CaseOutcome::Expelled {
                    continue;
                }
                let final_on = match c.appeal_of(member, index) {
                    Some(a) => match a.decided {
                        Some((d, kroniek_core::catalogue::AppealOutcome::Upheld)) => Some(d),
                        _ => None,
                    },
                    None => c
                        .appeal_term_end(member, index)
                        .and_then(|t| t.naive().succ_opt().map(Date::from_naive)),
                };
                let Some(final_on) = final_on.filter(|f| *f <= span.dec31) else {
                    continue;
                };
                let expelled = p
                    .state
                    .members
                    .get(member.as_str())
                    .is_some_and(|h| h.expelled.iter().any(|e| *e <= span.dec31));
                if expelled {
                    continue;
                }
                let positions: Vec<u64> = self
                    .facts
                    .cases
                    .iter()
                    .filter(|(_, id, _, what)| id == case_id && what == "decided")
                    .map(|(pos, _, _, _)| *pos)
                    .collect();
                exceptions.push(Exception {
                    section: "membership".into(),
                    severity: Severity::Warning,
                    detail: format!(
                        "royement {case_id}: the expulsion of member {member} is final since {final_on}, but no MemberExpelled was recorded by {}",
                        span.dec31
                    ),
                    positions,
                });
            }
        }
    }

    /// Cases of the year: counts by kind, never their content.
    fn cases(&self, span: Year) -> Vec<CaseCounts> {
        let p = &self.projections;
        let in_year = |x: Date| span.contains(x);
        let mut counts: BTreeMap<String, CaseCounts> = BTreeMap::new();
        for (position, case_id, _, what) in self.facts.cases.iter().filter(|c| in_year(c.2)) {
            let kind = p
                .state
                .cases
                .get(case_id.as_str())
                .map(|c| c.kind.as_str().to_owned())
                .unwrap_or_default();
            let e = counts.entry(kind.clone()).or_insert_with(|| CaseCounts {
                kind,
                opened: 0,
                decided: 0,
                closed: 0,
                positions: Vec::new(),
            });
            match what.as_str() {
                "opened" => e.opened += 1,
                "decided" => e.decided += 1,
                _ => e.closed += 1,
            }
            e.positions.push(*position);
        }
        counts.into_values().collect()
    }
}

/// The integrity section's exceptions: late entries, then (first of all) a ledger that does
/// not verify or is not consistent with the previous checkpoint.
fn integrity_exceptions(integrity: &Integrity, exceptions: &mut Vec<Exception>) {
    for l in &integrity.late_entries {
        exceptions.push(Exception {
            section: "integrity".into(),
            severity: Severity::Warning,
            detail: format!(
                "late entry: {} {} dated {} was recorded after the previous checkpoint",
                l.stream, l.event_type, l.effective
            ),
            positions: vec![l.position],
        });
    }
    if !integrity.verified {
        exceptions.insert(
            0,
            Exception {
                section: "integrity".into(),
                severity: Severity::Violation,
                detail: format!("the ledger does not verify: {}", integrity.verification),
                positions: vec![],
            },
        );
    }
    if let Some(prev) = integrity
        .previous_checkpoint
        .as_ref()
        .filter(|p| !p.consistent)
    {
        exceptions.insert(
            0,
            Exception {
                section: "integrity".into(),
                severity: Severity::Violation,
                detail: format!(
                    "not consistent with the previous checkpoint: {}",
                    prev.detail
                ),
                positions: vec![],
            },
        );
    }
}

/// A revoked decision is an exception the accountant looks at.
fn revoked_exceptions(decisions: &Decisions, exceptions: &mut Vec<Exception>) {
    for r in &decisions.revoked {
        exceptions.push(Exception {
            section: "decisions".into(),
            severity: Severity::Warning,
            detail: format!(
                "decision {} ({}) was revoked by {}",
                r.decision_id,
                r.title,
                r.revoked_by.clone().unwrap_or_default()
            ),
            positions: r.position.into_iter().collect(),
        });
    }
}

impl AuditBuilder {
    /// The report for `params` (see [`AuditView::report`]).
    pub fn report(
        &self,
        params: &AuditParams,
        integrity: Integrity,
    ) -> Result<AuditReport, ProjectionError> {
        AuditView::new(&self.projections, &self.facts).report(params, integrity)
    }

    /// Late entries: records at or past `previous_size` dated before 1 January of `year`.
    pub fn late_entries(&self, previous_size: u64, year: i32) -> Vec<(u64, Date)> {
        let jan1 = d(year, 1, 1);
        self.effective
            .iter()
            .filter(|(pos, eff)| *pos >= previous_size && *eff < jan1)
            .copied()
            .collect()
    }
}

/// EUR with two decimals.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let whole = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}EUR {grouped}.{:02}", c % 100)
}

/// `list` moved into a vector of exactly its length when it has room to spare. Shrinking in
/// place is no help: the allocator keeps a block that is still at least half used.
fn exactly_sized<T>(list: &mut Vec<T>) {
    if list.capacity() > list.len() {
        let mut exact = Vec::with_capacity(list.len());
        exact.append(list);
        *list = exact;
    }
}

#[cfg(test)]
mod sizing_tests {
    #[test]
    fn exactly_sized_keeps_the_elements_in_order_without_room_to_spare() {
        let mut list: Vec<String> = Vec::with_capacity(64);
        list.extend((0..5).map(|i| format!("m-{i}")));
        super::exactly_sized(&mut list);
        assert_eq!(list, ["m-0", "m-1", "m-2", "m-3", "m-4"]);
        assert_eq!(list.capacity(), 5);
        let mut empty: Vec<u64> = Vec::with_capacity(8);
        super::exactly_sized(&mut empty);
        assert_eq!(empty.capacity(), 0);
    }
}
