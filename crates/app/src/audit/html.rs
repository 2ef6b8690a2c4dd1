//! The printable report: one self-contained HTML file (no external assets, a print
//! stylesheet, an inline SVG chart) from the askama template `templates/audit_report.html`;
//! this module lays out its tables and chart, the template writes and escapes them.

use super::texts::{ReportLang, Texts};
use crate::AppError;
use askama::Template;
use kroniek_projections::audit::{euros, AuditReport, Integrity};

/// An amount as the report's reader writes it: `€ 1.234,56` in Dutch, `EUR 1,234.56` in English.
fn money(cents: i64, lang: ReportLang) -> String {
    let english = euros(cents);
    match lang {
        ReportLang::En => english,
        ReportLang::Nl => {
            let digits = english.replacen("EUR ", "", 1);
            let swapped: String = digits
                .chars()
                .map(|c| match c {
                    ',' => '.',
                    '.' => ',',
                    other => other,
                })
                .collect();
            format!("€ {swapped}")
        }
    }
}

/// A table of the printable report: its header and its rows, as text (the template escapes).
#[derive(Debug)]
struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&'static str], rows: Vec<Vec<String>>) -> Table {
        Table {
            header: header.to_vec(),
            rows,
        }
    }
}

/// One point of the membership chart, laid out.
#[derive(Debug)]
struct ChartPoint {
    x: String,
    y: String,
    label_y: String,
    value_y: String,
    date: String,
    month_day: String,
    value: u64,
}

/// The membership-over-the-year chart, laid out for inline SVG.
#[derive(Debug)]
struct Chart {
    width: f64,
    height: f64,
    pad: f64,
    axis_y: f64,
    axis_end: f64,
    path: String,
    points: Vec<ChartPoint>,
}

impl Chart {
    fn of(points: &[(String, u64)]) -> Chart {
        let (w, h, pad) = (640.0_f64, 220.0_f64, 40.0_f64);
        let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
        let n = points.len().max(2) as f64 - 1.0;
        let xy: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    pad + (w - 2.0 * pad) * i as f64 / n,
                    h - pad - (h - 2.0 * pad) * p.1 as f64 / max,
                )
            })
            .collect();
        let path = xy
            .iter()
            .enumerate()
            .map(|(i, (x, y))| format!("{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" }))
            .collect();
        Chart {
            width: w,
            height: h,
            pad,
            axis_y: h - pad,
            axis_end: w - pad,
            path,
            points: xy
                .iter()
                .zip(points)
                .map(|((x, y), (date, value))| ChartPoint {
                    x: format!("{x:.1}"),
                    y: format!("{y:.1}"),
                    label_y: format!("{:.1}", h - pad + 14.0),
                    value_y: format!("{:.1}", y - 6.0),
                    date: date.clone(),
                    month_day: date.get(5..).unwrap_or(date).to_owned(),
                    value: *value,
                })
                .collect(),
        }
    }
}

/// A body's part of the governance section.
#[derive(Debug)]
struct BodySection {
    name: String,
    body_id: String,
    /// At the start and at the end of the year: the date and who sat where.
    compositions: Vec<(String, Table)>,
    changes: Option<Table>,
}

/// The printable report: `templates/audit_report.html`, filled from an [`AuditReport`].
#[derive(Template)]
#[template(path = "audit_report.html")]
struct ReportPage<'a> {
    r: &'a AuditReport,
    t: &'static Texts,
    lang: &'static str,
    gifts_total: String,
    disclosed_total: String,
    m: &'a kroniek_projections::audit::Membership,
    i: &'a Integrity,
    min_contribution: String,
    late_entries: Option<Table>,
    exceptions: Option<Table>,
    branches: Table,
    reconciliation: Table,
    payments: Table,
    chart: Chart,
    members: Table,
    bodies: Vec<BodySection>,
    decisions_by: Table,
    decisions_financial: Table,
    financial_total: String,
    subsidy_total: String,
    subsidies: Table,
    budgets: Vec<(String, String)>,
    register: Table,
    disclosure: Table,
    returned: Table,
    debts: Table,
    subsidy_applied: Table,
    conduct: Table,
    cases: Table,
}

fn positions(p: &[u64]) -> String {
    format!("{p:?}")
}

/// One self-contained, printable HTML file (no external assets; prints on A4 with page
/// numbers), the same from the command line (`kroniek audit --format html --lang nl|en`) and
/// the web page's download, in Dutch unless English is asked for.
pub fn html(r: &AuditReport, lang: ReportLang) -> Result<String, AppError> {
    let eur = move |cents: i64| money(cents, lang);
    let t = lang.texts();
    let m = &r.membership;
    let i = &r.integrity;
    let late_entries = (!i.late_entries.is_empty()).then(|| {
        Table::new(
            &t.h_late,
            i.late_entries
                .iter()
                .map(|l| {
                    vec![
                        l.position.to_string(),
                        l.effective.clone(),
                        l.stream.clone(),
                        l.event_type.clone(),
                    ]
                })
                .collect(),
        )
    });
    let exceptions = (!r.exceptions.is_empty()).then(|| {
        Table::new(
            &t.h_findings,
            r.exceptions
                .iter()
                .map(|e| {
                    vec![
                        t.section(&e.section, e.severity.as_str()),
                        e.detail.clone(),
                        positions(&e.positions),
                    ]
                })
                .collect(),
        )
    });
    let reconciliation = Table::new(
        &t.h_reconciliation,
        m.reconciliation
            .iter()
            .map(|l| {
                vec![
                    t.line(&l.line),
                    l.count.to_string(),
                    l.members.join(", "),
                    l.details.join("; "),
                ]
            })
            .collect(),
    );
    let payments = Table::new(
        &t.h_payments,
        m.payments_by_month
            .iter()
            .map(|x| vec![x.month.clone(), x.payments.to_string(), eur(x.cents)])
            .chain(
                m.paid_after_cutoff
                    .iter()
                    .chain(&m.refunds_after_peildatum)
                    .map(|x| {
                        vec![
                            format!("{} ({} {}, {})", x.paid, t.member, x.member_id, t.flagged),
                            String::from("1"),
                            eur(x.cents),
                        ]
                    }),
            )
            .collect(),
    );
    let branches = Table::new(
        &t.h_branches,
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
    );
    let members = Table::new(
        &t.h_members,
        m.members
            .iter()
            .map(|c| {
                vec![
                    c.member_id.clone(),
                    c.branch_id.clone().unwrap_or_default(),
                    eur(c.net_cents),
                    if c.counted {
                        t.yes.into()
                    } else {
                        format!("{}: {}", t.no, c.reason)
                    },
                    positions(&c.positions),
                ]
            })
            .collect(),
    );
    let bodies = r
        .governance
        .iter()
        .map(|b| BodySection {
            name: b.name.clone(),
            body_id: b.body_id.clone(),
            compositions: [&b.start, &b.end]
                .into_iter()
                .flatten()
                .map(|c| {
                    let rows = c
                        .seats
                        .iter()
                        .flat_map(|s| {
                            s.holders.iter().map(move |h| {
                                vec![
                                    s.role.clone(),
                                    s.portfolio.clone().unwrap_or_default(),
                                    format!(
                                        "{} {}",
                                        h.member_id,
                                        h.name.clone().unwrap_or_default()
                                    ),
                                    format!(
                                        "{} – {}",
                                        h.term_start,
                                        h.term_end.clone().unwrap_or_default()
                                    ),
                                    if h.term_expired {
                                        t.past_term.into()
                                    } else {
                                        String::new()
                                    },
                                ]
                            })
                        })
                        .collect();
                    (c.as_of.clone(), Table::new(&t.h_composition, rows))
                })
                .collect(),
            changes: (!b.changes.is_empty()).then(|| {
                Table::new(
                    &t.h_changes,
                    b.changes
                        .iter()
                        .map(|c| {
                            vec![
                                c.date.clone(),
                                c.change.clone(),
                                c.member_id.clone(),
                                c.role.clone(),
                                c.reason.clone().unwrap_or_default(),
                                [c.decision_id.clone(), c.election_id.clone()]
                                    .into_iter()
                                    .flatten()
                                    .collect::<Vec<_>>()
                                    .join(" / "),
                            ]
                        })
                        .collect(),
                )
            }),
        })
        .collect();
    let decisions_by = Table::new(
        &t.h_decisions_by,
        r.decisions
            .by_body_and_category
            .iter()
            .map(|(b, c, n)| vec![b.clone(), c.clone(), n.to_string()])
            .collect(),
    );
    let decisions_financial = Table::new(
        &t.h_decisions_financial,
        r.decisions
            .financial
            .iter()
            .map(|d| {
                vec![
                    d.date.clone(),
                    d.decision_id.clone(),
                    d.body_id.clone(),
                    d.category.clone(),
                    d.amount_cents.map(euros).unwrap_or_default(),
                    format!(
                        "{}{}",
                        d.title,
                        d.revoked_by
                            .as_ref()
                            .map_or(String::new(), |b| format!(" ({} {b})", t.revoked_by))
                    ),
                ]
            })
            .collect(),
    );
    let subsidies = Table::new(
        &t.h_subsidies,
        r.money
            .subsidies
            .iter()
            .map(|s| vec![s.recipient.clone(), eur(s.amount_cents), s.grantor.clone()])
            .collect(),
    );
    let register = Table::new(
        &t.h_register,
        r.money
            .register
            .iter()
            .map(|d| {
                let in_kind: Vec<String> = d
                    .gifts
                    .iter()
                    .filter_map(|g| g.in_kind.as_ref())
                    .map(|what| format!("{}: {what}", t.in_kind))
                    .collect();
                vec![
                    d.donor_ref.clone(),
                    d.donor_kind.clone(),
                    eur(d.total_cents),
                    eur(d.net_cents),
                    [
                        d.over_cap.then(|| t.over_cap.to_owned()),
                        d.non_dutch.then(|| t.not_dutch.to_owned()),
                        (d.returned_cents > 0)
                            .then(|| format!("{} {}", t.returned, eur(d.returned_cents))),
                        d.report_status.clone(),
                    ]
                    .into_iter()
                    .flatten()
                    .chain(in_kind)
                    .collect::<Vec<_>>()
                    .join("; "),
                ]
            })
            .collect(),
    );
    let disclosure = Table::new(
        &t.h_disclosure,
        r.money
            .disclosure
            .iter()
            .map(|d| {
                vec![
                    d.donor_ref.clone(),
                    d.donor_name.clone().unwrap_or_else(|| t.erased.into()),
                    d.donor_residence.clone().unwrap_or_else(|| t.erased.into()),
                    eur(d.net_cents),
                ]
            })
            .collect(),
    );
    let returned = Table::new(
        &t.h_returned,
        r.money
            .returned
            .iter()
            .flat_map(|d| {
                d.returns.iter().map(move |x| {
                    vec![
                        d.donor_ref.clone(),
                        x.date.clone(),
                        eur(x.amount_cents),
                        x.reason.clone(),
                    ]
                })
            })
            .collect(),
    );
    let debts = Table::new(
        &t.h_debts,
        r.money
            .debts
            .iter()
            .map(|d| {
                vec![
                    d.lender_ref.clone(),
                    d.lender_name.clone().unwrap_or_default(),
                    d.lender_residence.clone().unwrap_or_default(),
                    eur(d.total_cents),
                    if d.disclosed { t.yes } else { t.no }.to_owned(),
                ]
            })
            .collect(),
    );
    let subsidy_applied = Table::new(
        &t.h_subsidy_applied,
        r.money
            .subsidy_applied
            .iter()
            .map(|c| {
                vec![
                    c.recipient.clone(),
                    eur(c.applied_cents),
                    eur(c.received_cents),
                    eur(c.difference_cents),
                ]
            })
            .collect(),
    );
    let conduct = Table::new(
        &t.h_conduct,
        r.conduct
            .codes
            .iter()
            .map(|c| {
                vec![
                    c.code_id.clone(),
                    c.version.to_string(),
                    c.signed_current.to_string(),
                    c.signed_any.to_string(),
                    r.conduct.active_members.to_string(),
                ]
            })
            .collect(),
    );
    let cases = Table::new(&t.h_cases, super::case_rows(r));
    let page = ReportPage {
        r,
        t,
        lang: lang.code(),
        gifts_total: eur(r.summary.gifts_total_cents),
        disclosed_total: eur(r.summary.disclosed_cents),
        m,
        i,
        min_contribution: eur(m.min_contribution_cents),
        late_entries,
        exceptions,
        branches,
        reconciliation,
        payments,
        chart: Chart::of(&m.over_the_year),
        members,
        bodies,
        decisions_by,
        decisions_financial,
        financial_total: eur(r.decisions.financial_total_cents),
        subsidy_total: eur(r.decisions.subsidy_total_cents),
        subsidies,
        budgets: r
            .money
            .budgets
            .iter()
            .map(|b| (b.decision_id.clone(), eur(b.total_cents)))
            .collect(),
        register,
        disclosure,
        returned,
        debts,
        subsidy_applied,
        conduct,
        cases,
    };
    let mut text = page
        .render()
        .map_err(|e| AppError::Failed(format!("the report could not be written: {e}")))?;
    text.push('\n');
    Ok(text)
}
