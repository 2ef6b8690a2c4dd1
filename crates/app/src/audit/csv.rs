//! The report as CSV, one file per table (RFC 4180), for the accountant's spreadsheet.

use kroniek_projections::audit::AuditReport;

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, a tab or a carriage
/// return first) gets a leading apostrophe, so it stays text: a decision titled
/// `=HYPERLINK(...)` is not a live link in the accountant's sheet (the OWASP advice for CSV
/// injection). A plain number (`-1200`, `+5`) is left as it is: it cannot be a formula, and the
/// sheet must still add it up.
fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = {
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.chars().filter(|c| *c == '.').count() <= 1
    };
    if risky && !number {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// One cell: neutralised, then quoted as RFC 4180 asks.
fn csv_field(s: &str) -> String {
    let s = neutralise(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

fn csv(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = header.join(",") + "\r\n";
    for row in rows {
        out.push_str(
            &row.iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

fn composition_rows(r: &AuditReport) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in &r.governance {
        for c in [&b.start, &b.end].into_iter().flatten() {
            for s in &c.seats {
                for h in &s.holders {
                    rows.push(vec![
                        b.body_id.clone(),
                        c.as_of.clone(),
                        h.role.clone(),
                        h.portfolio.clone().unwrap_or_default(),
                        h.member_id.clone(),
                        h.term_start.clone(),
                        h.term_end.clone().unwrap_or_default(),
                        h.term_expired.to_string(),
                    ]);
                }
            }
        }
    }
    rows
}

/// One CSV table per section.
pub fn csv_tables(r: &AuditReport) -> Vec<(&'static str, String)> {
    let m = &r.membership;
    let pos = |p: &[u64]| p.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    vec![
        (
            "reconciliation.csv",
            csv(
                &["line", "count", "members", "details", "positions"],
                m.reconciliation
                    .iter()
                    .map(|l| {
                        vec![
                            l.line.clone(),
                            l.count.to_string(),
                            l.members.join(" "),
                            l.details.join("; "),
                            pos(&l.positions),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "payments_by_month.csv",
            csv(
                &["month", "payments", "cents"],
                m.payments_by_month
                    .iter()
                    .map(|x| vec![x.month.clone(), x.payments.to_string(), x.cents.to_string()])
                    .collect(),
            ),
        ),
        (
            "membership.csv",
            csv(
                &[
                    "member_id",
                    "branch_id",
                    "net_cents",
                    "counted",
                    "reason",
                    "positions",
                ],
                m.members
                    .iter()
                    .map(|c| {
                        vec![
                            c.member_id.clone(),
                            c.branch_id.clone().unwrap_or_default(),
                            c.net_cents.to_string(),
                            c.counted.to_string(),
                            c.reason.clone(),
                            pos(&c.positions),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "membership_by_branch.csv",
            csv(
                &["branch_id", "active", "counted"],
                m.by_branch
                    .iter()
                    .map(|b| {
                        vec![
                            b.branch_id.clone(),
                            b.active.to_string(),
                            b.counted.to_string(),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "member_changes.csv",
            csv(
                &["change", "member_id", "date"],
                [
                    ("joined", &m.joined),
                    ("ended", &m.ended),
                    ("expelled", &m.expelled),
                ]
                .iter()
                .flat_map(|(k, list)| {
                    list.iter()
                        .map(move |c| vec![k.to_string(), c.member_id.clone(), c.date.clone()])
                })
                .collect(),
            ),
        ),
        (
            "compositions.csv",
            csv(
                &[
                    "body_id",
                    "date",
                    "role",
                    "portfolio",
                    "member_id",
                    "term_start",
                    "term_end",
                    "term_expired",
                ],
                composition_rows(r),
            ),
        ),
        (
            "seat_changes.csv",
            csv(
                &[
                    "body_id",
                    "date",
                    "change",
                    "member_id",
                    "role",
                    "portfolio",
                    "reason",
                    "decision_id",
                    "election_id",
                ],
                r.governance
                    .iter()
                    .flat_map(|b| {
                        b.changes.iter().map(move |c| {
                            vec![
                                b.body_id.clone(),
                                c.date.clone(),
                                c.change.clone(),
                                c.member_id.clone(),
                                c.role.clone(),
                                c.portfolio.clone().unwrap_or_default(),
                                c.reason.clone().unwrap_or_default(),
                                c.decision_id.clone().unwrap_or_default(),
                                c.election_id.clone().unwrap_or_default(),
                            ]
                        })
                    })
                    .collect(),
            ),
        ),
        (
            "decisions_by_body.csv",
            csv(
                &["body_id", "category", "count"],
                r.decisions
                    .by_body_and_category
                    .iter()
                    .map(|(b, c, n)| vec![b.clone(), c.clone(), n.to_string()])
                    .collect(),
            ),
        ),
        (
            "financial_decisions.csv",
            csv(
                &[
                    "decision_id",
                    "date",
                    "body_id",
                    "category",
                    "amount_cents",
                    "revoked_by",
                    "title",
                ],
                r.decisions
                    .financial
                    .iter()
                    .map(|d| {
                        vec![
                            d.decision_id.clone(),
                            d.date.clone(),
                            d.body_id.clone(),
                            d.category.clone(),
                            d.amount_cents.map(|a| a.to_string()).unwrap_or_default(),
                            d.revoked_by.clone().unwrap_or_default(),
                            d.title.clone(),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "subsidies.csv",
            csv(
                &["recipient", "amount_cents", "grantor", "position"],
                r.money
                    .subsidies
                    .iter()
                    .map(|s| {
                        vec![
                            s.recipient.clone(),
                            s.amount_cents.to_string(),
                            s.grantor.clone(),
                            s.position.to_string(),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "budgets.csv",
            csv(
                &["decision_id", "line", "amount_cents"],
                r.money
                    .budgets
                    .iter()
                    .flat_map(|b| {
                        b.lines.iter().map(move |(n, a)| {
                            vec![b.decision_id.clone(), n.clone(), a.to_string()]
                        })
                    })
                    .collect(),
            ),
        ),
        (
            "gift_register.csv",
            csv(
                &[
                    "donor_ref",
                    "donor_kind",
                    "dutch_donor",
                    "total_cents",
                    "over_cap",
                    "non_dutch",
                    "reported_late_position",
                    "positions",
                    "returned_cents",
                    "net_cents",
                    "report_status",
                ],
                r.money
                    .register
                    .iter()
                    .map(|d| {
                        vec![
                            d.donor_ref.clone(),
                            d.donor_kind.clone(),
                            d.dutch_donor.to_string(),
                            d.total_cents.to_string(),
                            d.over_cap.to_string(),
                            d.non_dutch.to_string(),
                            d.possibly_reported_late
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            pos(&d.gifts.iter().map(|g| g.position).collect::<Vec<_>>()),
                            d.returned_cents.to_string(),
                            d.net_cents.to_string(),
                            d.report_status.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "gift_returns.csv",
            csv(
                &["donor_ref", "date", "amount_cents", "reason", "position"],
                r.money
                    .returned
                    .iter()
                    .flat_map(|d| {
                        d.returns.iter().map(move |x| {
                            vec![
                                d.donor_ref.clone(),
                                x.date.clone(),
                                x.amount_cents.to_string(),
                                x.reason.clone(),
                                x.position.to_string(),
                            ]
                        })
                    })
                    .collect(),
            ),
        ),
        (
            "debts.csv",
            csv(
                &[
                    "lender_ref",
                    "total_cents",
                    "disclosed",
                    "lender_name",
                    "lender_residence",
                    "positions",
                ],
                r.money
                    .debts
                    .iter()
                    .map(|d| {
                        vec![
                            d.lender_ref.clone(),
                            d.total_cents.to_string(),
                            d.disclosed.to_string(),
                            d.lender_name.clone().unwrap_or_default(),
                            d.lender_residence.clone().unwrap_or_default(),
                            pos(&d.positions),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "gift_disclosure.csv",
            csv(
                &["donor_ref", "donor_name", "donor_residence", "total_cents"],
                r.money
                    .disclosure
                    .iter()
                    .map(|d| {
                        vec![
                            d.donor_ref.clone(),
                            d.donor_name.clone().unwrap_or_default(),
                            d.donor_residence.clone().unwrap_or_default(),
                            d.total_cents.to_string(),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "conduct.csv",
            csv(
                &[
                    "code_id",
                    "version",
                    "title",
                    "active_members",
                    "signed_current",
                    "signed_any",
                ],
                r.conduct
                    .codes
                    .iter()
                    .map(|c| {
                        vec![
                            c.code_id.clone(),
                            c.version.to_string(),
                            c.title.clone(),
                            r.conduct.active_members.to_string(),
                            c.signed_current.to_string(),
                            c.signed_any.to_string(),
                        ]
                    })
                    .collect(),
            ),
        ),
        ("cases.csv", csv(&super::CASE_COLUMNS, super::case_rows(r))),
        (
            "exceptions.csv",
            csv(
                &["section", "detail", "positions", "severity"],
                r.exceptions
                    .iter()
                    .map(|e| {
                        vec![
                            e.section.clone(),
                            e.detail.clone(),
                            pos(&e.positions),
                            e.severity.as_str().to_owned(),
                        ]
                    })
                    .collect(),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn a_formula_stays_text_and_a_number_stays_a_number() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"http://x\",\"klik\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"klik\"\")\"",
            ),
            ("+31 6 1234", "'+31 6 1234"),
            ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
            ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("-1200", "-1200"),
            ("+5", "+5"),
            ("-12.50", "-12.50"),
            ("Begroting 2023", "Begroting 2023"),
            ("", ""),
            ("-", "'-"),
        ] {
            assert_eq!(csv_field(cell), written, "{cell:?}");
        }
    }
}
