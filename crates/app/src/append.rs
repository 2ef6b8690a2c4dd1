//! Appending as the front ends do it: the local actor, the sample ledger, and refusals turned
//! into the `line N: <rule-id>: <why>` messages the command line and the web upload print.

use kroniek_core::rules::IndexedRefusal;
use kroniek_core::store::Store;
use kroniek_core::{AppendOutcome, CoreError, ProposedEvent};

/// The actor of events appended on a local store: the command line, and what the server
/// appends for itself (the sample ledger, the first admin's token).
pub const LOCAL_ACTOR: &str = "admin:local";

/// How many refused lines a report names before it says how many more there are.
pub const MAX_REPORTED: usize = 100;

/// The sample ledger (`events/sample.jsonl`), for `serve --demo`, the README's first command
/// and the benchmark's HTTP rows.
pub const SAMPLE: &str = include_str!("../../../events/sample.jsonl");

/// The refusals of a file's lines as `line N: <rule-id>: <why>` (the first refusal of each
/// line; `line_numbers[i]` is the line of the file's i-th event), at most [`MAX_REPORTED`]
/// then how many more; and how many lines were refused.
pub fn refused_line_messages(
    refusals: &[IndexedRefusal],
    line_numbers: &[u64],
) -> (Vec<String>, usize) {
    let mut lines: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    for r in refusals {
        let line = line_numbers
            .get(r.index)
            .copied()
            .unwrap_or(r.index as u64 + 1);
        if lines.last() != Some(&line) {
            lines.push(line);
            if lines.len() <= MAX_REPORTED {
                out.push(format!(
                    "line {line}: {}: {}",
                    r.refusal.rule, r.refusal.message
                ));
            }
        }
    }
    if lines.len() > MAX_REPORTED {
        out.push(format!(
            "… and {} more refused lines",
            lines.len() - MAX_REPORTED
        ));
    }
    (out, lines.len())
}

/// Appends the sample ledger ([`SAMPLE`]) as one batch by the local admin.
pub fn append_sample(store: &Store) -> Result<AppendOutcome, CoreError> {
    let events = SAMPLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(ProposedEvent::parse_line);
    store.append_iter(events, LOCAL_ACTOR, &mut |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use kroniek_core::{Refusal, Rule};

    fn refusal(index: usize) -> IndexedRefusal {
        IndexedRefusal {
            index,
            refusal: Refusal::new(Rule::MalformedField, "bad"),
        }
    }

    #[test]
    fn one_message_per_refused_line_and_a_count_past_the_limit() {
        let refusals: Vec<_> = (0..MAX_REPORTED + 3).map(refusal).collect();
        let lines: Vec<u64> = (0..MAX_REPORTED as u64 + 3).map(|n| n * 2 + 1).collect();
        let (messages, count) = refused_line_messages(&refusals, &lines);
        assert_eq!(count, MAX_REPORTED + 3);
        assert_eq!(messages.len(), MAX_REPORTED + 1);
        assert_eq!(messages[0], "line 1: malformed-field: bad");
        assert_eq!(messages[MAX_REPORTED], "… and 3 more refused lines");
    }

    #[test]
    fn two_refusals_of_one_line_are_reported_once() {
        let (messages, count) = refused_line_messages(&[refusal(0), refusal(0)], &[7]);
        assert_eq!(
            (messages, count),
            (vec!["line 7: malformed-field: bad".into()], 1)
        );
    }
}
