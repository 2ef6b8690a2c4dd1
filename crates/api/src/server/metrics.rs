//! Counters and a latency histogram, written in the Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the request-latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// What the server counts.
#[derive(Debug, Default)]
pub struct Metrics {
    events_appended: AtomicU64,
    batches_appended: AtomicU64,
    retries: AtomicU64,
    refusals: Mutex<BTreeMap<String, u64>>,
    requests: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_micros: AtomicU64,
}

impl Metrics {
    /// An appended batch of `events`.
    pub fn appended(&self, events: u64) {
        self.events_appended.fetch_add(events, Ordering::Relaxed);
        self.batches_appended.fetch_add(1, Ordering::Relaxed);
    }

    /// An idempotent retry.
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// A refused event, by rule id.
    pub fn refused(&self, rule: &str) {
        let mut r = self
            .refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *r.entry(rule.to_owned()).or_default() += 1;
    }

    /// An append's answer: its refused events by rule, or its appended batch (an idempotent
    /// retry counts as neither).
    pub fn append_answered(
        &self,
        answer: &Result<kroniek_core::AppendOutcome, kroniek_core::CoreError>,
    ) {
        match answer {
            Err(kroniek_core::CoreError::Refused(refusals)) => {
                for r in refusals {
                    self.refused(r.refusal.rule.id());
                }
            }
            Ok(kroniek_core::AppendOutcome::Appended { count, .. }) => self.appended(*count),
            _ => {}
        }
    }

    /// One request's latency.
    pub fn observe(&self, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(
            took.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let secs = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The Prometheus text exposition, with the ledger's size.
    pub fn render(&self, ledger_events: u64, ledger_bytes: u64) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP kroniek_events_appended_total Events appended through the API.\n# TYPE kroniek_events_appended_total counter\nkroniek_events_appended_total {}", load(&self.events_appended));
        let _ = writeln!(out, "# HELP kroniek_batches_appended_total Batches appended through the API.\n# TYPE kroniek_batches_appended_total counter\nkroniek_batches_appended_total {}", load(&self.batches_appended));
        let _ = writeln!(out, "# HELP kroniek_idempotent_retries_total Batches answered with their first result.\n# TYPE kroniek_idempotent_retries_total counter\nkroniek_idempotent_retries_total {}", load(&self.retries));
        let _ = writeln!(out, "# HELP kroniek_refusals_total Refused events by rule id.\n# TYPE kroniek_refusals_total counter");
        for (rule, n) in self
            .refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(out, "kroniek_refusals_total{{rule=\"{rule}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP kroniek_http_request_duration_seconds Request latency.\n# TYPE kroniek_http_request_duration_seconds histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "kroniek_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(count)
            );
        }
        let requests = load(&self.requests);
        let _ = writeln!(
            out,
            "kroniek_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {requests}"
        );
        let _ = writeln!(
            out,
            "kroniek_http_request_duration_seconds_sum {}",
            load(&self.latency_micros) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "kroniek_http_request_duration_seconds_count {requests}"
        );
        let _ = writeln!(out, "# HELP kroniek_internal_errors_total Requests answered 500 (the server's fault; the last one's text follows as a comment).\n# TYPE kroniek_internal_errors_total counter\nkroniek_internal_errors_total {}", super::problem::INTERNAL_ERRORS.load(Ordering::Relaxed));
        if let Some(last) = super::problem::LAST_INTERNAL_ERROR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_deref()
        {
            let one_line: String = last
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            let _ = writeln!(out, "# last internal error: {one_line}");
        }
        let _ = writeln!(out, "# HELP kroniek_ledger_events Events in the ledger.\n# TYPE kroniek_ledger_events gauge\nkroniek_ledger_events {ledger_events}");
        let _ = writeln!(out, "# HELP kroniek_ledger_bytes The store's size on disk.\n# TYPE kroniek_ledger_bytes gauge\nkroniek_ledger_bytes {ledger_bytes}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An internal error is counted and shown in the exposition, not printed.
    #[test]
    fn internal_errors_are_counted_with_the_last_text() {
        let before = super::super::problem::INTERNAL_ERRORS.load(Ordering::Relaxed);
        let _ = super::super::problem::ApiError::internal("a disk\nthat failed");
        let text = Metrics::default().render(0, 0);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("kroniek_internal_errors_total "))
            .expect("the counter");
        assert!(line.parse::<u64>().unwrap() > before, "{text}");
        assert!(text.contains("# last internal error: "), "{text}");
        assert!(!text.contains("disk\nthat"), "one line: {text}");
    }
}
