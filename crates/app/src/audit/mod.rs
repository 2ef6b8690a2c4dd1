//! The yearly audit report for the accountant, made from the store or from an export and its
//! checkpoint alone (this module), explained figure by figure ([`explain`]), and written as
//! CSV, one file per table ([`csv_tables`]), or as one self-contained printable HTML file with
//! an inline SVG chart ([`html`], an askama template). The command line (`kroniek audit`), the
//! API (`GET /v1/audit/{year}`) and the web page all use it.

mod csv;
mod explain;
mod html;
mod texts;

pub use csv::csv_tables;
pub use explain::explain;
pub use html::html;
pub use texts::ReportLang;

use crate::AppError;
use kroniek_core::note::{Checkpoint, Note, VerifierKey};
use kroniek_core::record::{ExportLine, LinePersonal};
use kroniek_core::store::Store;
use kroniek_core::types::{hex, Date};
use kroniek_projections::audit::{
    AuditBuilder, AuditFacts, AuditParams, AuditReport, AuditView, Integrity, LateEntry,
    PreviousCheck,
};
use kroniek_projections::Projections;
use std::path::Path;

/// The columns of the cases table, the same in the CSV and the HTML report.
const CASE_COLUMNS: [&str; 4] = ["kind", "opened", "decided", "closed"];

/// The cases table's rows, one per kind of case, for the CSV and the HTML report alike.
fn case_rows(r: &AuditReport) -> Vec<Vec<String>> {
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
        .collect()
}

/// Reads a signed note (a checkpoint) from a file.
pub fn read_note(path: &Path) -> Result<Note, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(AppError::io(format!("cannot read {}", path.display())))?;
    Note::parse(&text).map_err(|e| AppError::Invalid(format!("{}: {e}", path.display())))
}

/// Builds the report from read models a server keeps (its projections and audit facts,
/// folded from the first `note`-size records: the caller checks that they are at the
/// checkpoint's size), with `verification`, a walk of the chain that covered at least those
/// records. Folds nothing and walks nothing: the report of a large ledger in the time its
/// figures take to compute. Equal to [`from_open_store`]'s at the same size.
pub fn from_read_models(
    store: &Store,
    projections: &Projections,
    facts: &AuditFacts,
    note: &Note,
    verification: &Result<kroniek_core::verify::Verified, kroniek_core::verify::Broken>,
    params: &AuditParams,
) -> Result<AuditReport, AppError> {
    let cp = Checkpoint::parse_body(&note.text).map_err(AppError::Failed)?;
    if projections.applied() != cp.size {
        return Err(AppError::Failed(format!(
            "the read models hold {} records, the checkpoint {}",
            projections.applied(),
            cp.size
        )));
    }
    let integrity = Integrity {
        events: cp.size,
        head: hex(&store.head().hash),
        checkpoint: Some(note.to_text()),
        verified: verification.is_ok(),
        verification: match verification {
            Ok(v) => format!("verified {} events", v.count),
            Err(b) => b.to_string(),
        },
        ..Integrity::default()
    };
    AuditView::new(projections, facts)
        .report(params, integrity)
        .map_err(|e| AppError::Failed(e.to_string()))
}

/// Builds the report from an open store, at a checkpoint of its current size (signed if the
/// latest does not cover it). `progress(done, total)` is called every 65,536 records, over
/// twice the ledger's size (the verification, then the fold).
pub fn from_open_store(
    store: &Store,
    params: &AuditParams,
    previous: Option<&Note>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<AuditReport, AppError> {
    let note = store.sign_checkpoint()?;
    let cp = Checkpoint::parse_body(&note.text).map_err(AppError::Failed)?;
    // Progress runs over twice the size: the verification, then the fold.
    let verification = store.verify(&mut |n| progress(n.min(cp.size), 2 * cp.size))?;
    let mut builder = AuditBuilder::new();
    store.replay(0, |record, personal| -> Result<(), AppError> {
        if record.position >= cp.size {
            return Ok(());
        }
        builder
            .apply(record, personal)
            .map_err(|e| AppError::Failed(e.to_string()))?;
        if record.position % 65_536 == 0 {
            progress(cp.size + record.position, 2 * cp.size);
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
    builder
        .report(params, integrity)
        .map_err(|e| AppError::Failed(e.to_string()))
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
    builder
        .report(params, integrity)
        .map_err(|e| AppError::Failed(e.to_string()))
}

/// The peildatum given, or 1 January of the year.
pub fn params(
    year: i32,
    peildatum: Option<&str>,
    contribution_year: Option<i32>,
    min_cents: i64,
) -> Result<AuditParams, AppError> {
    with_paid_by(
        params_for(year, peildatum, contribution_year, min_cents)?,
        None,
    )
}

/// [`params`] with the cut-off of `--paid-by`: contributions paid after it are flagged.
pub fn with_paid_by(mut p: AuditParams, paid_by: Option<&str>) -> Result<AuditParams, AppError> {
    if let Some(d) = paid_by {
        p.paid_by = Some(Date::parse(d).map_err(|e| AppError::Invalid(format!("--paid-by: {e}")))?);
    }
    Ok(p)
}

fn params_for(
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
