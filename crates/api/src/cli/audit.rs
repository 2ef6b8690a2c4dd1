//! `kroniek audit`: the yearly report for the accountant ([`kroniek_app::audit`] builds it),
//! written to a file or standard output as HTML, JSON or CSV, or one figure explained.

use super::error::CliError;
use super::progress;
use crate::location::Location;
use kroniek_app::audit::{self as report, ExportSource};
use kroniek_projections::audit::AuditParams;
use std::path::{Path, PathBuf};

/// The options of `kroniek audit`.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub params: AuditParams,
    pub previous_checkpoint: Option<PathBuf>,
    pub format: String,
    /// The printable report's language.
    pub lang: report::ReportLang,
    pub out: Option<PathBuf>,
    pub explain: Option<String>,
    /// Offline: an export, its checkpoint and the log's key.
    pub export: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub key: Option<String>,
}

/// `kroniek audit`.
pub fn audit(data: &Location, o: &AuditOptions) -> Result<(), CliError> {
    let report = match &o.export {
        Some(export) => {
            let (Some(checkpoint), Some(key)) = (&o.checkpoint, &o.key) else {
                return Err(CliError::Usage(
                    "an audit from an export needs --export, --checkpoint and --key".into(),
                ));
            };
            let source = ExportSource {
                export,
                checkpoint,
                key,
                previous_checkpoint: o.previous_checkpoint.as_deref(),
            };
            report::from_export(source, &o.params)?
        }
        None => {
            let store = data.open()?;
            let previous = o
                .previous_checkpoint
                .as_deref()
                .map(report::read_note)
                .transpose()?;
            let bar = progress::bar("reading the ledger", Some(store.head().count));
            let built = report::from_open_store(
                &store,
                &o.params,
                previous.as_ref(),
                &mut progress::reporter(&bar),
            )?;
            bar.finish_and_clear();
            built
        }
    };
    if let Some(figure) = &o.explain {
        print!("{}", report::explain(&report, figure)?);
        return Ok(());
    }
    match o.format.as_str() {
        "json" => {
            let text = serde_json::to_string_pretty(&report)
                .map_err(|e| CliError::Failed(e.to_string()))?
                + "\n";
            write_out(o.out.as_deref(), &text)
        }
        "html" => write_out(o.out.as_deref(), &report::html(&report, o.lang)?),
        "csv" => {
            let dir = o
                .out
                .as_deref()
                .ok_or_else(|| CliError::Usage("with --format csv, --out names a folder".into()))?;
            std::fs::create_dir_all(dir)
                .map_err(CliError::io(format!("cannot create {}", dir.display())))?;
            for (name, text) in report::csv_tables(&report) {
                std::fs::write(dir.join(name), text)
                    .map_err(CliError::io(format!("cannot write in {}", dir.display())))?;
            }
            Ok(())
        }
        other => Err(CliError::Usage(format!(
            "--format {other}: use html, json or csv"
        ))),
    }?;
    if let Some(path) = &o.out {
        eprintln!(
            "audit report {} written to {} (findings: {} violations, {} warnings)",
            o.params.year,
            path.display(),
            report.summary.violations,
            report.summary.warnings
        );
    }
    Ok(())
}

fn write_out(out: Option<&Path>, text: &str) -> Result<(), CliError> {
    match out {
        Some(p) => {
            std::fs::write(p, text).map_err(CliError::io(format!("cannot write {}", p.display())))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
