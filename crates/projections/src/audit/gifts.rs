//! The gift regime of the Wet financiering politieke partijen (Wfpp), dated by law: which rule
//! was in force on which date, with its threshold and its source, and the report's gift and
//! debt sections computed under it (register, disclosure, returns, findings, loans).
//!
//! Each rule applies on the date a gift was received (`received_on`, else `effective`); a
//! donor's yearly total is judged under the rules in force on 31 December of the year. The
//! sources are listed in `docs/DOMAIN.md` ("The gift regime, dated by law").

use super::report::{DebtLine, DonorYear, Exception, GiftLine, ReturnLine, Severity};
use super::{euros, Gift, GiftReport, GiftReturn, Loan};
use crate::audit::report::GiftRules;
use kroniek_core::types::Date;
use serde::Serialize;
use std::collections::BTreeMap;

/// What a gift rule limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GiftRuleKind {
    /// Gifts of a donor whose yearly total reaches the threshold are registered.
    Register,
    /// Donors whose yearly total reaches the threshold are disclosed with name and residence.
    Disclose,
    /// An anonymous gift above the threshold may not be kept.
    AnonymousMax,
    /// A donor may give at most the threshold in a year.
    Cap,
    /// Only Dutch donors may give (Wfpp art. 1 onderdeel m: a Tweede Kamer voter, or a legal
    /// person or business in the Handelsregister).
    DutchDonorsOnly,
    /// A gift that brings its donor's yearly total to the threshold is reported within `days`.
    ReportWithinDays,
    /// Money debts of the threshold or more are disclosed with the lender's name and residence.
    DebtDisclose,
}

/// One rule, in force from `from` until `to` (exclusive; none: still in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GiftRule {
    pub rule: GiftRuleKind,
    pub from: &'static str,
    pub to: Option<&'static str>,
    /// The amount the rule turns on; "reaches" means this amount or more, "above" more than it.
    pub threshold_cents: Option<i64>,
    pub days: Option<i64>,
    pub source: &'static str,
}

const WFPP: &str = "Wfpp, in force from 1 May 2013";
const EVALUATIEWET: &str =
    "Evaluatiewet Wfpp, Wet van 19 oktober 2022, Stb. 2022, 412, in force from 1 January 2023";

/// The rules, by date. Before 1 May 2013 (the Wfpp's start) the first rules are applied too:
/// the report has no older regime to offer, and says so in `docs/DOMAIN.md`.
pub const GIFT_RULE_TABLE: &[GiftRule] = &[
    GiftRule {
        rule: GiftRuleKind::Register,
        from: "2013-05-01",
        to: None,
        threshold_cents: Some(100_000),
        days: None,
        source: "Wfpp art. 20: gifts of EUR 1,000 or more are registered",
    },
    GiftRule {
        rule: GiftRuleKind::Disclose,
        from: "2013-05-01",
        to: None,
        threshold_cents: Some(450_000),
        days: None,
        source: "Wfpp art. 25: donors giving EUR 4,500 or more in a year are disclosed (naam en woonplaats); the Evaluatiewet's lower EUR 1,000 boundary is not applied (the government's overviews of 2023 still use EUR 4,500)",
    },
    GiftRule {
        rule: GiftRuleKind::AnonymousMax,
        from: "2013-05-01",
        to: None,
        threshold_cents: Some(100_000),
        days: None,
        source: "Wfpp art. 23: anonymous gifts above EUR 1,000 may not be kept",
    },
    GiftRule {
        rule: GiftRuleKind::DebtDisclose,
        from: "2013-05-01",
        to: None,
        threshold_cents: Some(2_500_000),
        days: None,
        source: "Wfpp art. 25, with art. 1 onderdeel l as amended by Stb. 2022, 412: debts of EUR 25,000 or more are disclosed",
    },
    GiftRule {
        rule: GiftRuleKind::Cap,
        from: "2023-01-01",
        to: None,
        threshold_cents: Some(10_000_000),
        days: None,
        source: "Evaluatiewet Wfpp (Stb. 2022, 412): at most EUR 100,000 per donor per year",
    },
    GiftRule {
        rule: GiftRuleKind::DutchDonorsOnly,
        from: "2023-01-01",
        to: None,
        threshold_cents: None,
        days: None,
        source: "Wfpp art. 23a and art. 1 onderdeel m, inserted by Stb. 2022, 412: no gifts from donors who are not Dutch donors",
    },
    GiftRule {
        rule: GiftRuleKind::ReportWithinDays,
        from: "2023-01-01",
        to: None,
        threshold_cents: Some(1_000_000),
        days: Some(3),
        source: "Evaluatiewet Wfpp (Stb. 2022, 412): gifts bringing a donor to EUR 10,000 or more in a year are reported within 3 days of receipt",
    },
];

/// The rule of `kind` in force on `date`, if any.
pub fn rule_in_force(kind: GiftRuleKind, date: Date) -> Option<&'static GiftRule> {
    let day = date.to_string();
    let mut found = None;
    for r in GIFT_RULE_TABLE.iter().filter(|r| r.rule == kind) {
        let started = r.from <= day.as_str();
        let ended = r.to.is_some_and(|to| to <= day.as_str());
        if started && !ended {
            found = Some(r);
        }
    }
    // Before the first rule of its kind: a threshold the Wfpp had from its start still applies
    // (the report has no older regime); a rule introduced later does not.
    found.or_else(|| {
        GIFT_RULE_TABLE
            .iter()
            .find(|r| r.rule == kind && r.from == "2013-05-01" && day.as_str() < r.from)
    })
}

fn dec31(year: i32) -> Date {
    chrono::NaiveDate::from_ymd_opt(year, 12, 31)
        .map(Date::from_naive)
        .unwrap_or_else(|| Date::from_naive(chrono::NaiveDate::MAX))
}

/// The rules in force on 31 December of `year`, in the summary form the report carries.
pub fn gift_rules(year: i32) -> GiftRules {
    let at = dec31(year);
    let threshold = |k| rule_in_force(k, at).and_then(|r| r.threshold_cents);
    let in_force: Vec<&GiftRule> = [
        GiftRuleKind::Register,
        GiftRuleKind::Disclose,
        GiftRuleKind::AnonymousMax,
        GiftRuleKind::Cap,
        GiftRuleKind::DutchDonorsOnly,
        GiftRuleKind::ReportWithinDays,
        GiftRuleKind::DebtDisclose,
    ]
    .into_iter()
    .filter_map(|k| rule_in_force(k, at))
    .collect();
    let report = rule_in_force(GiftRuleKind::ReportWithinDays, at);
    GiftRules {
        register_from_cents: threshold(GiftRuleKind::Register).unwrap_or(0),
        disclose_from_cents: threshold(GiftRuleKind::Disclose).unwrap_or(0),
        report_from_cents: report.and_then(|r| r.threshold_cents),
        report_within_days: report.and_then(|r| r.days),
        cap_cents: threshold(GiftRuleKind::Cap),
        dutch_donors_only: rule_in_force(GiftRuleKind::DutchDonorsOnly, at).is_some(),
        anonymous_max_cents: threshold(GiftRuleKind::AnonymousMax),
        debt_disclose_from_cents: threshold(GiftRuleKind::DebtDisclose),
        source: in_force
            .iter()
            .map(|r| r.source)
            .collect::<Vec<_>>()
            .join("; "),
        sources: if year >= 2023 {
            format!("{WFPP}, as amended by the {EVALUATIEWET}")
        } else {
            WFPP.to_owned()
        },
        rules: in_force.into_iter().copied().collect(),
    }
}

/// The gift and debt sections of one year.
pub struct GiftSections {
    pub register: Vec<DonorYear>,
    pub disclosure: Vec<DonorYear>,
    pub returned: Vec<DonorYear>,
    pub debts: Vec<DebtLine>,
}

/// A sum of the year's cents. `AuditBuilder::report` has checked, in i128, that every group
/// of amounts of the year (gifts, returns, loans) stays within ±(2^53 − 1) gross, so a sum
/// over part of one group is exact: nothing here can wrap or pin.
fn year_sum(values: impl Iterator<Item = i64>) -> i64 {
    values.sum()
}

/// Gifts, returns, reports and loans of `year` under the rules in force.
pub fn gift_sections(
    year: i32,
    gifts: &[Gift],
    reports: &[GiftReport],
    returns: &[GiftReturn],
    loans: &[Loan],
    exceptions: &mut Vec<Exception>,
) -> GiftSections {
    let year_end = dec31(year);
    let rules = gift_rules(year);
    let mut donors: BTreeMap<&str, Vec<&Gift>> = BTreeMap::new();
    for g in gifts.iter().filter(|g| g.year == year) {
        donors.entry(g.donor_ref.as_str()).or_default().push(g);
    }
    let mut out = GiftSections {
        register: Vec::new(),
        disclosure: Vec::new(),
        returned: Vec::new(),
        debts: Vec::new(),
    };
    for (donor, mut list) in donors {
        list.sort_by_key(|g| (g.received, g.position));
        let total = year_sum(list.iter().map(|g| g.amount_cents));
        let my_returns: Vec<&GiftReturn> = returns
            .iter()
            .filter(|r| r.year == year && r.donor_ref == donor)
            .collect();
        let returned_cents = year_sum(my_returns.iter().map(|r| r.amount_cents));
        let net = total.saturating_sub(returned_cents);
        let positions: Vec<u64> = list.iter().map(|g| g.position).collect();
        let anonymous = list.iter().any(|g| g.donor_kind == "anonymous");

        // What the law forbade keeping, by rule.
        let anonymous_excess = year_sum(list.iter().filter(|g| g.donor_kind == "anonymous").map(
            |g| {
                match rule_in_force(GiftRuleKind::AnonymousMax, g.received)
                    .and_then(|r| r.threshold_cents)
                {
                    Some(max) if g.amount_cents > max => g.amount_cents - max,
                    _ => 0,
                }
            },
        ));
        let non_dutch_cents = year_sum(
            list.iter()
                // An anonymous gift is judged by the anonymous limit: who gave is not known.
                .filter(|g| g.donor_kind != "anonymous" && !g.dutch)
                .filter(|g| rule_in_force(GiftRuleKind::DutchDonorsOnly, g.received).is_some())
                .map(|g| g.amount_cents),
        );
        let cap = rule_in_force(GiftRuleKind::Cap, year_end).and_then(|r| r.threshold_cents);
        let over_cap_cents = cap.map_or(0, |c| total.saturating_sub(c).max(0));
        let must_return = anonymous_excess.max(non_dutch_cents).max(over_cap_cents);
        let unreturned = must_return.saturating_sub(returned_cents).max(0);
        let return_positions: Vec<u64> = my_returns.iter().map(|r| r.position).collect();
        let with_returns = |mut p: Vec<u64>| {
            p.extend(&return_positions);
            p.sort_unstable();
            p
        };
        if unreturned > 0 {
            let mut say = |detail: String| {
                exceptions.push(Exception {
                    section: "money".into(),
                    severity: Severity::Violation,
                    detail,
                    positions: with_returns(positions.clone()),
                })
            };
            if anonymous_excess > returned_cents {
                say(format!(
                    "anonymous gifts ({donor}) above EUR 1,000 each: {} over the limit, {} returned (Wfpp art. 23)",
                    euros(anonymous_excess),
                    euros(returned_cents)
                ));
            }
            if non_dutch_cents > returned_cents {
                say(format!(
                    "donor {donor} is not a Dutch donor: {} received from 2023 on, {} returned (Wfpp art. 23a)",
                    euros(non_dutch_cents),
                    euros(returned_cents)
                ));
            }
            if over_cap_cents > returned_cents {
                say(format!(
                    "donor {donor} gave {} in {year}, {} over the cap of {}; {} returned",
                    euros(total),
                    euros(over_cap_cents),
                    euros(cap.unwrap_or(0)),
                    euros(returned_cents)
                ));
            }
        }

        // The 3-day report: the gift that brought the donor to the threshold, under the rule
        // in force on the day it was received.
        let mut report_status = None;
        let mut reported_late = None;
        let mut running = 0i64;
        for g in &list {
            let before = running;
            running = running.saturating_add(g.amount_cents);
            let Some(rule) = rule_in_force(GiftRuleKind::ReportWithinDays, g.received) else {
                continue;
            };
            let (Some(from), Some(days)) = (rule.threshold_cents, rule.days) else {
                continue;
            };
            if before < from && running >= from {
                let report = reports
                    .iter()
                    .filter(|r| {
                        r.year == year && r.donor_ref == donor && r.reported_on >= g.received
                    })
                    .min_by_key(|r| (r.reported_on, r.position));
                let (status, late, mut at) = match report {
                    None => ("no report recorded".to_owned(), true, vec![g.position]),
                    Some(r) => {
                        let after = (r.reported_on.naive() - g.received.naive()).num_days();
                        (
                            format!(
                                "reported on {}, {after} day(s) after receipt",
                                r.reported_on
                            ),
                            after > days,
                            vec![g.position, r.position],
                        )
                    }
                };
                if late {
                    reported_late = Some(g.position);
                    at.sort_unstable();
                    exceptions.push(Exception {
                        section: "money".into(),
                        severity: Severity::Violation,
                        detail: format!(
                            "donor {donor}'s gift of {} received on {} brought the year's total to {} or more: it must be reported within {days} days; {status}",
                            euros(g.amount_cents),
                            g.received,
                            euros(from)
                        ),
                        positions: at,
                    });
                }
                report_status = Some(status);
            }
        }

        let last = list.last().copied();
        let line = DonorYear {
            donor_ref: donor.to_owned(),
            donor_kind: last.map(|g| g.donor_kind.clone()).unwrap_or_default(),
            dutch_donor: list.iter().all(|g| g.dutch),
            total_cents: total,
            returned_cents,
            net_cents: net,
            donor_name: None,
            donor_residence: None,
            gifts: list
                .iter()
                .map(|g| GiftLine {
                    position: g.position,
                    date: g.received.to_string(),
                    amount_cents: g.amount_cents,
                    recorded_at: g.recorded_at.clone(),
                    in_kind: g.in_kind.then(|| g.description.clone().unwrap_or_default()),
                })
                .collect(),
            returns: my_returns
                .iter()
                .map(|r| ReturnLine {
                    position: r.position,
                    date: r.returned_on.to_string(),
                    amount_cents: r.amount_cents,
                    reason: r.reason.clone(),
                })
                .collect(),
            over_cap: over_cap_cents > 0,
            non_dutch: non_dutch_cents > 0,
            possibly_reported_late: reported_late,
            report_status,
        };
        if returned_cents > 0 {
            out.returned.push(line.clone());
        }
        if net >= rules.register_from_cents && net > 0 {
            out.register.push(line.clone());
        }
        // An anonymous donor has no name to disclose; a gift returned is shown as returned.
        if !anonymous && net >= rules.disclose_from_cents && net > 0 {
            let mut line = line;
            line.donor_name = last.and_then(|g| g.name.clone());
            line.donor_residence = last.and_then(|g| g.residence.clone());
            out.disclosure.push(line);
        }
    }

    // Debts: a lender's loans of the year, disclosed from the threshold.
    let mut lenders: BTreeMap<&str, Vec<&Loan>> = BTreeMap::new();
    for l in loans.iter().filter(|l| l.year == year) {
        lenders.entry(l.lender_ref.as_str()).or_default().push(l);
    }
    let from = rule_in_force(GiftRuleKind::DebtDisclose, year_end).and_then(|r| r.threshold_cents);
    for (lender, list) in lenders {
        let total = year_sum(list.iter().map(|l| l.amount_cents));
        let disclosed = from.is_some_and(|f| total >= f);
        let last = list.last().copied();
        out.debts.push(DebtLine {
            lender_ref: lender.to_owned(),
            total_cents: total,
            disclosed,
            lender_name: if disclosed {
                last.and_then(|l| l.name.clone())
            } else {
                None
            },
            lender_residence: if disclosed {
                last.and_then(|l| l.residence.clone())
            } else {
                None
            },
            positions: list.iter().map(|l| l.position).collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).expect("test date")
    }

    #[test]
    fn each_year_applies_the_rules_in_force() {
        let r2022 = gift_rules(2022);
        assert_eq!(r2022.disclose_from_cents, 450_000);
        assert_eq!(r2022.cap_cents, None);
        assert!(!r2022.dutch_donors_only);
        assert_eq!(r2022.report_from_cents, None);
        let r2023 = gift_rules(2023);
        assert_eq!(r2023.disclose_from_cents, 450_000);
        assert_eq!(r2023.cap_cents, Some(10_000_000));
        assert!(r2023.dutch_donors_only);
        assert_eq!(
            (r2023.report_from_cents, r2023.report_within_days),
            (Some(1_000_000), Some(3))
        );
        assert_eq!(r2023.debt_disclose_from_cents, Some(2_500_000));
        // A per-gift rule turns on the day: 31 December 2022 is before the ban, 1 January 2023 under it.
        assert!(rule_in_force(GiftRuleKind::DutchDonorsOnly, date("2022-12-31")).is_none());
        assert!(rule_in_force(GiftRuleKind::DutchDonorsOnly, date("2023-01-01")).is_some());
        // Rules the Wfpp had from its start apply to older years; later ones do not.
        assert!(rule_in_force(GiftRuleKind::Disclose, date("2010-06-01")).is_some());
        assert!(rule_in_force(GiftRuleKind::Cap, date("2010-06-01")).is_none());
    }
}
