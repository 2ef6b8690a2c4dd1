//! Charts drawn as inline SVG on the server (no script): the *rooster van aftreden* as one
//! bar per seat-term on a time axis, reappointments marked.

use chrono::{Datelike, NaiveDate};
use kroniek_projections::views::TermView;

/// Width of the chart's drawing area, in SVG units.
const WIDTH: f64 = 960.0;
/// Left margin for the bar labels.
const LABEL: f64 = 330.0;
/// Height of one bar's row.
const ROW: f64 = 24.0;
/// Room for the year axis at the top.
const AXIS: f64 = 22.0;

/// One seat-term's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    /// The tooltip: member, role, dates.
    pub title: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    /// The term ran out or the member left before the chart's end.
    pub ended: bool,
    /// Where reappointments fall.
    pub marks: Vec<f64>,
}

/// The whole chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Rooster {
    pub width: f64,
    pub height: f64,
    pub label_width: f64,
    pub bars: Vec<Bar>,
    /// Year lines: x and the year.
    pub years: Vec<(f64, i32)>,
    /// Where `today` falls, if on the chart.
    pub today: Option<f64>,
}

fn day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Lays out the seat-terms: the axis runs from the first start to the last end (or `today`,
/// for open-ended terms and terms still running). Terms with unreadable dates are left out.
pub fn rooster(terms: &[TermView], today: NaiveDate) -> Rooster {
    let spans: Vec<(&TermView, NaiveDate, NaiveDate)> = terms
        .iter()
        .filter_map(|t| {
            let start = day(&t.term_start)?;
            let planned = t
                .term_end
                .as_deref()
                .and_then(day)
                .unwrap_or(today.max(start));
            let end = match t.left.as_deref().and_then(day) {
                Some(left) if left < planned => left,
                _ => planned,
            };
            Some((t, start, end.max(start)))
        })
        .collect();
    let first = spans.iter().map(|s| s.1).min().unwrap_or(today);
    let last = spans.iter().map(|s| s.2).max().unwrap_or(today).max(first);
    let total = ((last - first).num_days().max(1)) as f64;
    let x_of = |d: NaiveDate| LABEL + (d - first).num_days() as f64 / total * (WIDTH - LABEL);
    let bars = spans
        .iter()
        .enumerate()
        .map(|(i, (t, start, end))| {
            let role = match &t.portfolio {
                Some(p) => format!("{} · {p}", t.role),
                None => t.role.clone(),
            };
            Bar {
                label: format!("{role} — {}", t.member_id),
                title: format!(
                    "{} {role}: {} – {}",
                    t.member_id,
                    t.term_start,
                    t.left.as_deref().or(t.term_end.as_deref()).unwrap_or("…")
                ),
                x: x_of(*start),
                y: AXIS + i as f64 * ROW,
                width: (x_of(*end) - x_of(*start)).max(2.0),
                ended: *end < today,
                marks: t
                    .reappointments
                    .iter()
                    .filter_map(|r| day(&r.date))
                    .map(x_of)
                    .collect(),
            }
        })
        .collect::<Vec<_>>();
    let years = (first.year() + 1..=last.year())
        .filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1))
        .map(|d| (x_of(d), d.year()))
        .collect();
    Rooster {
        width: WIDTH,
        height: AXIS + bars.len() as f64 * ROW + 4.0,
        label_width: LABEL,
        bars,
        years,
        today: (first..=last).contains(&today).then(|| x_of(today)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kroniek_projections::views::ReappointmentView;

    fn term(start: &str, end: Option<&str>, left: Option<&str>, reappointed: &[&str]) -> TermView {
        TermView {
            member_id: "10201".into(),
            role: "voorzitter".into(),
            portfolio: None,
            term_start: start.into(),
            term_end: end.map(Into::into),
            times_reappointed: reappointed.len() as u32,
            reappointments_remaining: None,
            reappointments: reappointed
                .iter()
                .map(|d| ReappointmentView {
                    date: (*d).into(),
                    term_end: "2030-01-01".into(),
                })
                .collect(),
            left: left.map(Into::into),
            left_reason: None,
        }
    }

    #[test]
    fn bars_span_their_terms_on_one_axis_with_reappointments_marked() {
        let today = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
        let chart = rooster(
            &[
                term("2018-01-01", Some("2022-01-01"), None, &["2020-01-01"]),
                term("2020-01-01", Some("2026-01-01"), Some("2021-01-01"), &[]),
                term("2022-01-01", None, None, &[]),
            ],
            today,
        );
        assert_eq!(chart.bars.len(), 3);
        let [a, b, c] = [&chart.bars[0], &chart.bars[1], &chart.bars[2]];
        // The axis runs 2018-01-01 .. 2024-01-01 (the open-ended term runs to today).
        assert!((a.x - LABEL).abs() < 1e-9);
        assert!((c.x + c.width - WIDTH).abs() < 1e-9);
        // A member who left ends the bar at the departure, not the planned end.
        assert!(b.x + b.width < a.x + a.width);
        assert!(a.ended && b.ended && !c.ended);
        assert_eq!(a.marks.len(), 1);
        assert!(a.marks[0] > a.x && a.marks[0] < a.x + a.width);
        assert_eq!(
            chart.years.iter().map(|y| y.1).collect::<Vec<_>>(),
            (2019..=2024).collect::<Vec<_>>()
        );
        assert!(b.y > a.y && c.y > b.y);
    }

    #[test]
    fn no_terms_makes_an_empty_chart() {
        let today = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
        let chart = rooster(&[], today);
        assert!(chart.bars.is_empty() && chart.years.is_empty());
    }
}
