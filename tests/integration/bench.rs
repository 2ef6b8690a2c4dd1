//! `kroniek-bench --quick`, the benchmark's smoke run: every row is measured, the HTTP load and
//! (where `KRONIEK_REQUIRE_POSTGRES` is set, as in CI) the PostgreSQL peer included. Not part of
//! the normal test run (the issue keeps the bench out of it): `.ci/run` runs it with
//! `--ignored`, and it prints the table it checked.

use crate::support::bench_bin;

#[test]
#[ignore = "the benchmark smoke run: .ci/run runs it with --ignored"]
fn the_quick_bench_measures_every_row() {
    let output = std::process::Command::new(bench_bin())
        // Two client threads: the load's spread over threads is exercised on any machine.
        .args(["--quick", "--json", "--client-threads", "2"])
        .output()
        .unwrap();
    let run = crate::support::Run(output);
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
        let ratio = row["ratio"]
            .as_f64()
            .map_or(String::new(), |r| format!("ratio {r:.2}"));
        println!(
            "{:<52} {min:>12.3} / {median:>12.3} / {max:>12.3} {:<18} {ratio}",
            row["what"].as_str().unwrap(),
            row["unit"].as_str().unwrap(),
        );
    }
    let mut expected = vec![
        "chained BLAKE3 over the records' bytes",
        "raw sled insert of the same bytes",
        "raw sled insert, key by key",
        "raw sled scan of the same bytes",
        "4 KiB append + fdatasync",
        "kroniek verify",
        "kroniek import through the rules",
        "import: CPU per event, the appending thread",
        "import: the chunk-writing thread's busy time per event",
        "import: sled keys the chunk-writing thread writes per event",
        "import: the chunk-writing thread's time per key",
        "import, ratio to the bound the cores set",
        "kroniek rebuild of every projection",
        "rebuild: CPU per event, the folding thread",
        "rebuild, ratio to the bound the cores set",
        "audit report of one year, from the read side",
        "kroniek durable append, one writer",
        "kroniek durable appends, 32 writers",
        "32 writers: serial section per event",
        "32 writers: appends per write group",
        "32 writers, ratio to the serial bound",
        "size on disk per event",
        "HTTP composition reads, 32 connections",
        "HTTP composition reads: latency",
        "HTTP composition reads: the client's CPU per request",
        "HTTP single-event appends, 32 connections",
        "HTTP single-event appends: latency",
        "HTTP single-event appends: CPU per request",
        "HTTP single-event appends: the client's CPU per request",
        "HTTP single-event appends, ratio to the CPU ceiling",
        "peak RSS, a process building every projection",
        "peak RSS, the same with MIMALLOC_PURGE_DELAY=0",
        "peak RSS, serve started from its snapshot, after ten audit reports",
        "peak RSS, the same started with a rebuild (no snapshot)",
        "peak RSS, serve from its snapshot, ten audit reports and one append",
        "serve: ready after a clean stop (its snapshot at the head)",
        "serve: ready after kill -9 (records past its snapshot)",
        "audit report over the API, a repeat at the same head",
        "serve: a snapshot's save, the read side locked (its encoding)",
    ];
    if std::env::var_os("KRONIEK_REQUIRE_POSTGRES").is_some() {
        expected.extend([
            "import: kroniek vs PostgreSQL",
            "durable append p50: kroniek vs PostgreSQL",
            "32 writers: kroniek vs PostgreSQL",
            "replay into the projections: kroniek vs PostgreSQL",
            "kroniek on PostgreSQL: the ledger copied in",
            "kroniek on PostgreSQL: durable append p50",
            "kroniek on PostgreSQL: 32 writers",
            "kroniek on PostgreSQL: replay into the projections",
        ]);
    }
    for what in expected {
        assert!(
            rows.iter().any(|r| r["what"] == what),
            "no row {what:?}: {}",
            run.stderr()
        );
    }
    // The load ran on the two client threads asked for, each thread's CPU measured.
    let client = rows
        .iter()
        .find(|r| r["what"] == "HTTP single-event appends: the client's CPU per request")
        .unwrap();
    assert!(
        client["target"]
            .as_str()
            .unwrap()
            .starts_with("2 client threads bound the load at "),
        "{client}"
    );
    // The read row's ratio is its median against the 20,000 requests/s target.
    let reads = rows
        .iter()
        .find(|r| r["what"] == "HTTP composition reads, 32 connections")
        .unwrap();
    let ratio = reads["ratio"].as_f64().unwrap();
    assert!((ratio - reads["median"].as_f64().unwrap() / 20_000.0).abs() < 1e-9);
    // A server holds at least the read side the projections' process builds.
    let median = |what: &str| {
        rows.iter().find(|r| r["what"] == what).unwrap()["median"]
            .as_f64()
            .unwrap()
    };
    assert!(
        median("peak RSS, serve started from its snapshot, after ten audit reports")
            > median("peak RSS, a process building every projection") / 2.0
    );
}
