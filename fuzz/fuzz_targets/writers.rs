//! The CSV and HTML writers of the audit report, given text from the ledger that an attacker
//! may have written (a decision's title, a body's name, an exception's text). The report of the
//! sample ledger is made once; each input is put into it, and both writers must keep it inert:
//! every CSV table reads back (RFC 4180) with the header's number of fields in every row and the
//! text in one cell, neutralised against formulas where it could be one; the HTML holds as many
//! `<`, `>`, `"`, `'` and bare `&` as the same report with those characters of the text made
//! harmless: none of the text's is written as itself.
#![no_main]

use kroniek_app::audit::{csv_tables, html, ReportLang};
use kroniek_projections::audit::{AuditReport, Exception, Severity};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Marks the text put into the decision's title, so finding it in the output is not chance.
const MARK: &str = "kroniek-fuzz:";

/// The sample ledger's report for the year with the most financial decisions.
fn base() -> &'static AuditReport {
    static BASE: OnceLock<AuditReport> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("kroniek-fuzz-writers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store =
            kroniek_core::store::Store::init(&dir, "fuzz.example/kroniek").expect("a store");
        kroniek_app::append::append_sample(&store).expect("the sample ledger");
        let report = (2018..=2025)
            .map(|year| {
                let params = kroniek_app::audit::params(year, None, None, 1200).expect("params");
                kroniek_app::audit::from_open_store(&store, &params, None, &mut |_, _| {})
                    .expect("a report")
            })
            .max_by_key(|r| r.decisions.financial.len())
            .expect("a year");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            !report.decisions.financial.is_empty(),
            "the sample has financial decisions"
        );
        assert!(!report.governance.is_empty(), "the sample has bodies");
        report
    })
}

/// Reads CSV as RFC 4180 writes it; `None` for text that is not well-formed.
fn read_csv(text: &str) -> Option<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => return None,
            ',' => {
                row.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                was_quoted = false;
            }
            '\r' | '\n' => return None,
            other if was_quoted => {
                let _ = other;
                return None;
            }
            other => field.push(other),
        }
    }
    if quoted || !field.is_empty() || !row.is_empty() {
        return None;
    }
    Some(rows)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let title = format!("{MARK}{text}");
    let report = with_text(&text);
    let mut title_cells = 0;
    for (name, table) in csv_tables(&report) {
        let rows = read_csv(&table).unwrap_or_else(|| panic!("{name} is not RFC 4180: {table:?}"));
        let width = rows.first().map_or(0, Vec::len);
        for row in &rows {
            assert_eq!(
                row.len(),
                width,
                "{name}: a row of {} fields, the header {width}",
                row.len()
            );
            for cell in row {
                if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    let number = cell.strip_prefix(['+', '-']).is_some_and(|d| {
                        !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.')
                    });
                    assert!(
                        number,
                        "{name}: a cell a spreadsheet reads as a formula: {cell:?}"
                    );
                }
            }
            title_cells += row.iter().filter(|c| **c == title).count();
        }
    }
    assert!(
        title_cells >= 1,
        "the decision's title is in no CSV cell as it was"
    );
    // The same report with each of `<>&"'` of the text as `x`: the markup a writer adds is
    // the same in both, so any difference in those characters is the text's, unescaped.
    let inert: String = text
        .chars()
        .map(|c| if SPECIAL.contains(&c) { 'x' } else { c })
        .collect();
    let inert_report = with_text(&inert);
    for lang in [ReportLang::Nl, ReportLang::En] {
        let page = html(&report, lang).expect("the HTML report");
        let plain = html(&inert_report, lang).expect("the HTML report");
        for c in ['<', '>', '"', '\''] {
            assert_eq!(
                page.matches(c).count(),
                plain.matches(c).count(),
                "{lang:?}: {c:?} of the text is in the HTML unescaped"
            );
        }
        assert_eq!(
            bare_ampersands(&page),
            bare_ampersands(&plain),
            "{lang:?}: '&' of the text is in the HTML unescaped"
        );
        assert!(
            page.contains(MARK),
            "{lang:?}: the decision's title is not in the HTML"
        );
    }
});

/// The characters HTML gives a meaning to.
const SPECIAL: [char; 5] = ['<', '>', '&', '"', '\''];

/// `&` that does not begin a character reference (`&name;`, `&#123;`, `&#x7b;`).
fn bare_ampersands(page: &str) -> usize {
    page.match_indices('&')
        .filter(|(at, _)| {
            let rest = &page[at + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '#')
                .collect();
            name.is_empty() || !rest[name.len()..].starts_with(';')
        })
        .count()
}

/// The sample's report with `text` in a decision's title (after [`MARK`]), a body's name and
/// an exception.
fn with_text(text: &str) -> AuditReport {
    let mut report = base().clone();
    report.decisions.financial[0].title = format!("{MARK}{text}");
    report.governance[0].name = text.to_owned();
    report.exceptions.push(Exception {
        section: text.to_owned(),
        severity: Severity::Warning,
        detail: text.to_owned(),
        positions: Vec::new(),
    });
    report
}
