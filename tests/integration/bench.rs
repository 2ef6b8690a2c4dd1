//! `kroniek bench --quick`: every row is measured, the HTTP load included. Without the
//! PostgreSQL peer here; CI's smoke run (`.ci/run`) runs the bench with it.

use crate::support::Ledger;

#[test]
fn the_quick_bench_measures_every_row_and_the_http_load() {
    let ledger = Ledger::new();
    let run = ledger.run(&["bench", "--quick", "--no-postgres", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["events"], 20_000);
    let rows = report["rows"].as_array().unwrap();
    for row in rows {
        let figure = |key: &str| row[key].as_f64().unwrap();
        let (min, median, max) = (figure("min"), figure("median"), figure("max"));
        assert!(
            min > 0.0 && min <= median && median <= max && max.is_finite(),
            "{row}"
        );
    }
    for what in [
        "chained BLAKE3 over the records' bytes",
        "raw sled insert of the same bytes",
        "raw sled scan of the same bytes",
        "4 KiB append + fdatasync",
        "kroniek verify",
        "kroniek import through the rules",
        "kroniek rebuild of every projection",
        "kroniek durable append, one writer",
        "kroniek durable appends, 32 writers",
        "size on disk per event",
        "HTTP composition reads, 32 connections",
        "HTTP composition reads: latency",
        "HTTP single-event appends, 32 connections",
        "HTTP single-event appends: latency",
        "peak RSS, a process building every projection",
    ] {
        assert!(rows.iter().any(|r| r["what"] == what), "no row {what:?}");
    }
    let ratio = |what: &str| {
        rows.iter()
            .find(|r| r["what"] == what)
            .and_then(|r| r["ratio"].as_f64())
            .unwrap()
    };
    // The read row's ratio is its median against the 20,000 requests/s target.
    let reads = rows
        .iter()
        .find(|r| r["what"] == "HTTP composition reads, 32 connections")
        .unwrap();
    let expected = reads["median"].as_f64().unwrap() / 20_000.0;
    assert!((ratio("HTTP composition reads, 32 connections") - expected).abs() < 1e-9);
}
