//! The yearly audit report for the accountant, made from the store or from an export and its
//! checkpoint alone, and written as JSON, CSV (one file per table) or one self-contained
//! printable HTML file with an inline SVG chart. The command line (`kroniek audit`), the API
//! (`GET /v1/audit/{year}`) and the web page all use it.

use crate::AppError;
use askama::Template;
use kroniek_core::note::{Checkpoint, Note, VerifierKey};
use kroniek_core::record::{ExportLine, LinePersonal};
use kroniek_core::store::Store;
use kroniek_core::types::{hex, Date};
use kroniek_projections::audit::{
    euros, AuditBuilder, AuditParams, AuditReport, Integrity, LateEntry, PreviousCheck,
};
use std::fmt::Write as _;
use std::path::Path;

/// Reads a signed note (a checkpoint) from a file.
pub fn read_note(path: &Path) -> Result<Note, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(AppError::io(format!("cannot read {}", path.display())))?;
    Note::parse(&text).map_err(|e| AppError::Invalid(format!("{}: {e}", path.display())))
}

/// Builds the report from an open store, at a checkpoint of its current size (signed if the
/// latest does not cover it). `progress(done, total)` is called every 65,536 records.
pub fn from_open_store(
    store: &Store,
    params: &AuditParams,
    previous: Option<&Note>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<AuditReport, AppError> {
    let note = store.sign_checkpoint()?;
    let cp = Checkpoint::parse_body(&note.text).map_err(AppError::Failed)?;
    let verification = store.verify(&mut |_| {});
    let mut builder = AuditBuilder::new();
    store.replay(0, |record, personal| -> Result<(), AppError> {
        if record.position >= cp.size {
            return Ok(());
        }
        builder
            .apply(record, personal)
            .map_err(|e| AppError::Failed(e.to_string()))?;
        if record.position % 65_536 == 0 {
            progress(record.position, cp.size);
        }
        Ok(())
    })?;
    let mut integrity = Integrity {
        events: cp.size,
        head: hex(&store.head().hash),
        checkpoint: Some(note.to_text()),
        verified: verification.is_ok(),
        verification: match &verification {
            Ok(v) => format!("verified {} events", v.count),
            Err(b) => b.to_string(),
        },
        ..Integrity::default()
    };
    if let Some(prev_note) = previous {
        let vkey =
            VerifierKey::parse(&store.signing_key()?.verifier_key()).map_err(AppError::Failed)?;
        let prev = Checkpoint::parse_body(&prev_note.text).map_err(AppError::Invalid)?;
        let (consistent, detail) = match vkey.verify_signature(prev_note) {
            Ok(true) if prev.size > cp.size => (
                false,
                format!(
                    "the previous checkpoint covers {} records, this ledger {}",
                    prev.size, cp.size
                ),
            ),
            Ok(true) if store.tree_root(prev.size)? != prev.root => (
                false,
                format!(
                    "the first {} records no longer have the root signed then",
                    prev.size
                ),
            ),
            Ok(true) => (
                true,
                format!(
                    "the first {} records are unchanged (same tree root)",
                    prev.size
                ),
            ),
            Ok(false) => (
                false,
                "the previous checkpoint is not signed by this ledger's key".into(),
            ),
            Err(e) => (false, e),
        };
        integrity.previous_checkpoint = Some(PreviousCheck {
            size: prev.size,
            consistent,
            detail,
        });
        integrity.late_entries = late(store, &builder, prev.size, params.year)?;
    }
    Ok(builder.report(params, integrity))
}

fn late(
    store: &Store,
    builder: &AuditBuilder,
    size: u64,
    year: i32,
) -> Result<Vec<LateEntry>, AppError> {
    builder
        .late_entries(size, year)
        .into_iter()
        .map(|(position, effective)| {
            let r = store.record_at(position)?;
            Ok(LateEntry {
                position,
                effective: effective.to_string(),
                stream: r.stream,
                event_type: r.event_type.name().into(),
            })
        })
        .collect()
}

/// What an audit from an export alone reads: the export, its checkpoint, the log's verifier
/// key, and optionally last year's checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct ExportSource<'a> {
    pub export: &'a Path,
    pub checkpoint: &'a Path,
    pub key: &'a str,
    pub previous_checkpoint: Option<&'a Path>,
}

/// Builds the report from an export and its checkpoint, with no store.
pub fn from_export(
    source: ExportSource<'_>,
    params: &AuditParams,
) -> Result<AuditReport, AppError> {
    let ExportSource {
        export,
        checkpoint: cp_path,
        key,
        previous_checkpoint,
    } = source;
    let note = read_note(cp_path)?;
    let cp = Checkpoint::parse_body(&note.text).map_err(AppError::Invalid)?;
    let expect = kroniek_core::offline::Expectations {
        checkpoint: Some((
            note.clone(),
            VerifierKey::parse(key).map_err(AppError::Invalid)?,
        )),
        previous: previous_checkpoint.map(read_note).transpose()?,
        witnesses: Vec::new(),
        quorum: 0,
    };
    let bytes =
        std::fs::read(export).map_err(AppError::io(format!("cannot read {}", export.display())))?;
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let verification = kroniek_core::offline::verify(lines.iter().copied(), &expect);
    let mut builder = AuditBuilder::new();
    let mut records = Vec::new();
    for line in lines.iter().take(cp.size.try_into().unwrap_or(usize::MAX)) {
        match ExportLine::parse(line).map_err(AppError::Failed)? {
            ExportLine::Full { record, personal } => {
                let personal = match personal {
                    LinePersonal::Present(p) => Some(p),
                    _ => None,
                };
                builder
                    .apply(&record, personal.as_ref())
                    .map_err(|e| AppError::Failed(e.to_string()))?;
                records.push((
                    record.position,
                    record.stream.clone(),
                    record.event_type.name().to_owned(),
                ));
            }
            ExportLine::Withheld {
                position,
                stream,
                event_type,
                ..
            } => records.push((position, stream, event_type)),
        }
    }
    let mut integrity = Integrity {
        events: cp.size,
        head: verification
            .as_ref()
            .map(|r| hex(&r.chain.head))
            .unwrap_or_default(),
        checkpoint: Some(note.to_text()),
        verified: verification.is_ok(),
        verification: match &verification {
            Ok(r) => format!("verified {} events against the checkpoint", r.chain.count),
            Err(f) => f.to_string(),
        },
        ..Integrity::default()
    };
    if let (Some(prev), Ok(r)) = (&expect.previous, &verification) {
        let size = Checkpoint::parse_body(&prev.text)
            .map(|c| c.size)
            .unwrap_or(0);
        integrity.previous_checkpoint = Some(PreviousCheck {
            size,
            consistent: r.previous.is_some(),
            detail: format!("the first {size} records are unchanged (same tree root)"),
        });
        integrity.late_entries = builder
            .late_entries(size, params.year)
            .into_iter()
            .filter_map(|(position, effective)| {
                records.iter().find(|r| r.0 == position).map(|r| LateEntry {
                    position,
                    effective: effective.to_string(),
                    stream: r.1.clone(),
                    event_type: r.2.clone(),
                })
            })
            .collect();
    } else if expect.previous.is_some() {
        integrity.previous_checkpoint = Some(PreviousCheck {
            size: 0,
            consistent: false,
            detail: "see the verification result".into(),
        });
    }
    Ok(builder.report(params, integrity))
}

/// How a figure was computed, in words, with the events behind it.
pub fn explain(r: &AuditReport, figure: &str) -> Result<String, AppError> {
    let m = &r.membership;
    let mut out = String::new();
    match figure {
        "subsidy_count" | "active" => {
            let _ = writeln!(
                out,
                "{} members were active on the peildatum {}; {} of them count for the subsidy: net contributions for {} of at least {}.",
                m.active, m.peildatum, m.subsidy_count, m.contribution_year, euros(m.min_contribution_cents)
            );
            let _ = writeln!(out, "Active: a MemberJoined on or before the peildatum, no later MembershipEnded, no MemberExpelled, not suspended (MemberSuspended, or a royement decided expelled) on it.");
            for c in &m.members {
                let _ = writeln!(
                    out,
                    "  member {:<8} {:<20} net {:>12}  {}  events {:?}",
                    c.member_id,
                    c.branch_id.clone().unwrap_or_default(),
                    euros(c.net_cents),
                    if c.counted {
                        "counted".to_owned()
                    } else {
                        format!("not counted: {}", c.reason)
                    },
                    c.positions
                );
            }
        }
        "gifts" | "disclosure" | "register" => {
            let g = &r.money.gift_rules;
            let _ = writeln!(out, "Gift rules for {}: {}.", r.params.year, g.source);
            let _ = writeln!(out, "A donor's gifts in the year add up (same donor_ref); registered from {}, disclosed from {}.", euros(g.register_from_cents), euros(g.disclose_from_cents));
            for d in &r.money.register {
                let positions: Vec<u64> = d.gifts.iter().map(|x| x.position).collect();
                let _ = writeln!(
                    out,
                    "  donor {:<10} total {:>14}  gifts at {:?}{}{}{}",
                    d.donor_ref,
                    euros(d.total_cents),
                    positions,
                    if d.over_cap { "  OVER CAP" } else { "" },
                    if d.non_dutch { "  NOT DUTCH" } else { "" },
                    d.possibly_reported_late
                        .map_or(String::new(), |p| format!("  LATE REPORT (position {p})"))
                );
            }
        }
        "financial_total" | "subsidy_total" => {
            let _ = writeln!(out, "The sum of amount_cents of the year's decisions of category financial ({}) and subsidy ({}), revoked decisions left out:", euros(r.decisions.financial_total_cents), euros(r.decisions.subsidy_total_cents));
            for d in &r.decisions.financial {
                let _ = writeln!(
                    out,
                    "  {} {} {:<10} {:>14} {}{}",
                    d.date,
                    d.decision_id,
                    d.category,
                    d.amount_cents.map(euros).unwrap_or_default(),
                    d.title,
                    d.revoked_by
                        .as_ref()
                        .map_or(String::new(), |b| format!(" (revoked by {b})"))
                );
            }
        }
        other => {
            if let Some(id) = other.strip_prefix("member:") {
                let c = m
                    .members
                    .iter()
                    .find(|c| c.member_id == id)
                    .ok_or_else(|| {
                        AppError::Failed(format!(
                            "member {id} was not active on the peildatum {}",
                            m.peildatum
                        ))
                    })?;
                let _ = writeln!(
                    out,
                    "member {id}: net contributions for {} are {}; {}. Events: {:?}",
                    m.contribution_year,
                    euros(c.net_cents),
                    if c.counted {
                        "counted"
                    } else {
                        c.reason.as_str()
                    },
                    c.positions
                );
            } else {
                return Err(AppError::Invalid(format!(
                    "no figure {other}: explain subsidy_count, member:<id>, gifts, financial_total"
                )));
            }
        }
    }
    Ok(out)
}

/// RFC 4180 quoting.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
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
        (
            "cases.csv",
            csv(
                &["kind", "opened", "decided", "closed"],
                r.cases
                    .iter()
                    .map(|c| {
                        vec![
                            c.kind.clone(),
                            c.opened.to_string(),
                            c.decided.to_string(),
                            c.closed.to_string(),
                        ]
                    })
                    .collect(),
            ),
        ),
        (
            "exceptions.csv",
            csv(
                &["section", "detail", "positions"],
                r.exceptions
                    .iter()
                    .map(|e| vec![e.section.clone(), e.detail.clone(), pos(&e.positions)])
                    .collect(),
            ),
        ),
    ]
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
    m: &'a kroniek_projections::audit::Membership,
    i: &'a Integrity,
    min_contribution: String,
    late_entries: Option<Table>,
    exceptions: Option<Table>,
    branches: Table,
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
    conduct: Table,
    cases: Table,
}

fn positions(p: &[u64]) -> String {
    format!("{p:?}")
}

/// One self-contained, printable HTML file (no external assets; prints on A4), the same from
/// the command line (`kroniek audit --format html`) and the web page's download.
pub fn html(r: &AuditReport) -> Result<String, AppError> {
    let m = &r.membership;
    let i = &r.integrity;
    let late_entries = (!i.late_entries.is_empty()).then(|| {
        Table::new(
            &["position", "effective", "stream", "type"],
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
            &["section", "what needs attention", "events"],
            r.exceptions
                .iter()
                .map(|e| vec![e.section.clone(), e.detail.clone(), positions(&e.positions)])
                .collect(),
        )
    });
    let branches = Table::new(
        &["branch", "active", "counted"],
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
        &["member", "branch", "net contributions", "counted", "events"],
        m.members
            .iter()
            .map(|c| {
                vec![
                    c.member_id.clone(),
                    c.branch_id.clone().unwrap_or_default(),
                    euros(c.net_cents),
                    if c.counted {
                        "yes".into()
                    } else {
                        format!("no: {}", c.reason)
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
                                        "past its term".into()
                                    } else {
                                        String::new()
                                    },
                                ]
                            })
                        })
                        .collect();
                    (
                        c.as_of.clone(),
                        Table::new(&["role", "portfolio", "member", "term", "notes"], rows),
                    )
                })
                .collect(),
            changes: (!b.changes.is_empty()).then(|| {
                Table::new(
                    &[
                        "date",
                        "change",
                        "member",
                        "role",
                        "reason",
                        "decision / election",
                    ],
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
        &["body", "category", "decisions"],
        r.decisions
            .by_body_and_category
            .iter()
            .map(|(b, c, n)| vec![b.clone(), c.clone(), n.to_string()])
            .collect(),
    );
    let decisions_financial = Table::new(
        &["date", "decision", "body", "category", "amount", "title"],
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
                            .map_or(String::new(), |b| format!(" (revoked by {b})"))
                    ),
                ]
            })
            .collect(),
    );
    let subsidies = Table::new(
        &["recipient", "amount", "grantor"],
        r.money
            .subsidies
            .iter()
            .map(|s| {
                vec![
                    s.recipient.clone(),
                    euros(s.amount_cents),
                    s.grantor.clone(),
                ]
            })
            .collect(),
    );
    let register = Table::new(
        &["donor", "kind", "total", "flags"],
        r.money
            .register
            .iter()
            .map(|d| {
                vec![
                    d.donor_ref.clone(),
                    d.donor_kind.clone(),
                    euros(d.total_cents),
                    [
                        d.over_cap.then_some("over the cap"),
                        d.non_dutch.then_some("not a Dutch donor"),
                        d.possibly_reported_late.map(|_| "possibly reported late"),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
                ]
            })
            .collect(),
    );
    let disclosure = Table::new(
        &["donor", "name", "residence", "total"],
        r.money
            .disclosure
            .iter()
            .map(|d| {
                vec![
                    d.donor_ref.clone(),
                    d.donor_name.clone().unwrap_or_else(|| "(erased)".into()),
                    d.donor_residence
                        .clone()
                        .unwrap_or_else(|| "(erased)".into()),
                    euros(d.total_cents),
                ]
            })
            .collect(),
    );
    let conduct = Table::new(
        &[
            "code",
            "version in force",
            "signed this version",
            "signed any version",
            "active members",
        ],
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
    let cases = Table::new(
        &["kind", "opened", "decided", "closed"],
        r.cases
            .iter()
            .map(|c| {
                vec![
                    c.kind.clone(),
                    c.opened.to_string(),
                    c.decided.to_string(),
                    c.closed.to_string(),
                ]
            })
            .collect(),
    );
    let page = ReportPage {
        r,
        m,
        i,
        min_contribution: euros(m.min_contribution_cents),
        late_entries,
        exceptions,
        branches,
        chart: Chart::of(&m.over_the_year),
        members,
        bodies,
        decisions_by,
        decisions_financial,
        financial_total: euros(r.decisions.financial_total_cents),
        subsidy_total: euros(r.decisions.subsidy_total_cents),
        subsidies,
        budgets: r
            .money
            .budgets
            .iter()
            .map(|b| (b.decision_id.clone(), euros(b.total_cents)))
            .collect(),
        register,
        disclosure,
        conduct,
        cases,
    };
    let mut text = page
        .render()
        .map_err(|e| AppError::Failed(format!("the report could not be written: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// The peildatum given, or 1 January of the year.
pub fn params(
    year: i32,
    peildatum: Option<&str>,
    contribution_year: Option<i32>,
    min_cents: i64,
) -> Result<AuditParams, AppError> {
    let mut p = AuditParams::for_year(year);
    if let Some(d) = peildatum {
        p.peildatum = Date::parse(d).map_err(AppError::Invalid)?;
    }
    p.contribution_year = contribution_year.unwrap_or(year);
    p.min_contribution_cents = min_cents;
    Ok(p)
}
