//! `kroniek-bench`: measures kroniek against this machine's limits and against a PostgreSQL
//! event store, in the same run, and prints one table of figures and ratios.
//!
//! Limits: chained BLAKE3 over the records' bytes, a raw sled insert and scan of the same bytes,
//! a 4 KiB append + fdatasync. kroniek: import through the rules, verify, rebuild of every
//! projection, durable append latency (one writer) and throughput (32 writers) with the CPU
//! time one append costs (the bound 32 writers meet when appends are CPU-bound rather than
//! waiting on the disk) and the write groups' serial section per event (the writer lock's time
//! ÷ events: the bound on any number of cores) with their sizes, peak RSS, size on disk, proofs
//! at size N. HTTP (`bench_http`):
//! requests/s and latency of composition reads and single-event appends over 32 connections,
//! and the appends' CPU per request (server and client) with the bound it sets on these cores,
//! and the load's client threads' CPU per request with the bound they set.
//! The peer (`bench_pg`): PostgreSQL started by the bench in a temporary folder (as the
//! `postgres` user), the same events with the same hash chain, batched import, durable append
//! latency and throughput, and a replay into the same projections.

use crate::error::BenchError;
use kroniek_app::synthetic;
use kroniek_core::store::{Store, WriteStats};
use kroniek_core::{AppendOutcome, ProposedEvent};
use kroniek_projections::Projections;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The year of the audit report rows: the middle of the synthetic ledger.
pub const AUDIT_YEAR: i32 = 2016;

/// min / median / max of a figure measured several times.
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Stat {
    /// A figure measured once (or derived), shown as min = median = max.
    pub fn one(x: f64) -> Stat {
        Stat {
            min: x,
            median: x,
            max: x,
        }
    }

    /// Latencies as the table shows them: min / p50 / p99 of `sorted` (ascending, not empty).
    pub fn latencies(sorted: &[f64]) -> Stat {
        Stat {
            min: sorted[0],
            median: percentile(sorted, 0.5),
            max: percentile(sorted, 0.99),
        }
    }
}

pub fn stat(mut v: Vec<f64>) -> Stat {
    v.sort_by(|a, b| a.total_cmp(b));
    Stat {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One row of the table: a figure, its reference, their ratio, and the target.
struct Row {
    what: String,
    figure: Stat,
    unit: &'static str,
    reference: Option<(String, Stat)>,
    /// figure / reference (or the inverse for latencies), and the target it is judged by.
    ratio: Option<f64>,
    target: String,
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// CPU time this process has used (user + system, every thread, also those that ended), in
/// seconds, from `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s on Linux).
/// `None` where there is no `/proc`.
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_in("/proc/self/stat")
}

/// User + system CPU seconds from a `/proc/…/stat` file.
fn cpu_seconds_in(stat_file: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_file).ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The row of a stage's rate (events/s) against the bound the cores set: the lower of what
/// `cores` allow at `cpu_per_event` (every thread's CPU seconds per event) and
/// `on_enough_cores`, the bound that stays on any number of cores (its serial part).
fn bound_row(
    stage: &str,
    figure: Stat,
    cores: f64,
    cpu_per_event: f64,
    on_enough_cores: f64,
    target: String,
) -> Row {
    let bound = (cores / cpu_per_event).min(on_enough_cores);
    Row {
        what: format!("{stage}, ratio to the bound the cores set"),
        figure,
        unit: "events/s",
        reference: Some((
            format!("min({cores:.0} cores / CPU, the bound on enough cores)"),
            Stat::one(bound),
        )),
        ratio: Some(figure.median / bound),
        target,
    }
}

/// The row of the CPU an HTTP load's client threads used per request (of `all`, the process's),
/// with the bound they set: however many cores the server has, the load cannot go faster
/// than its client threads can send. `None` where the client's CPU is unknown.
fn client_row(what: &str, load: &crate::http::Load, all: f64) -> Option<Row> {
    let client = load.client_cpu_per_request.filter(|c| *c > 0.0)?;
    let bound = load.client_bound()?;
    let threads = load.client_threads;
    Some(Row {
        what: format!("HTTP {what}: the client's CPU per request"),
        figure: Stat::one(client * 1e6),
        unit: "µs",
        reference: Some(("server and client".into(), Stat::one(all * 1e6))),
        ratio: Some(client / all),
        target: format!(
            "{threads} client thread{} bound the load at {} requests/s",
            if threads == 1 { "" } else { "s" },
            fmt(bound)
        ),
    })
}

/// `sum` plus the CPU seconds between `before` and `after`; `None` once any is unknown.
pub(crate) fn add_cpu(sum: Option<f64>, before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(sum? + after? - before?)
}

/// CPU time the calling thread has used (user + system), in seconds, from
/// `/proc/thread-self/stat` (as [`process_cpu_seconds`]). `None` where there is no `/proc`.
pub(crate) fn thread_cpu_seconds() -> Option<f64> {
    cpu_seconds_in("/proc/thread-self/stat")
}

/// The peak RSS (`VmHWM`) in MiB of the process whose `/proc/PID/status` is at `status_file`.
fn high_water_mib(status_file: &str) -> Option<f64> {
    std::fs::read_to_string(status_file)
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

fn peak_rss_mib() -> f64 {
    high_water_mib("/proc/self/status").unwrap_or(0.0)
}

/// Runs this binary as `CHILD DIR` (`--rebuild-child`: builds every projection as `kroniek
/// members` does, see [`rebuild_child`]; `--serve-child`: a server's start and ten audit
/// reports, see [`crate::http::serve_child`]; `--serve-append-child`: the same and one append)
/// and returns its peak RSS, read from `/proc` every 5 ms while it runs (its high-water mark,
/// so only growth in its last 5 ms could be missed). `purge_delay_ms` sets the child's `MIMALLOC_PURGE_DELAY`: how long mimalloc keeps
/// freed memory before it gives it back (1,000 ms unless set). `None` when the child could not
/// run or failed.
fn child_rss_mib(child: &str, store_dir: &Path, purge_delay_ms: Option<u32>) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let mut command = std::process::Command::new(exe);
    command
        .arg(child)
        .arg(store_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    match purge_delay_ms {
        Some(ms) => command.env("MIMALLOC_PURGE_DELAY", ms.to_string()),
        None => command.env_remove("MIMALLOC_PURGE_DELAY"),
    };
    let mut child = command.spawn().ok()?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0.0_f64;
    let status = loop {
        if let Some(mib) = high_water_mib(&status_file) {
            peak = peak.max(mib);
        }
        if let Some(status) = child.try_wait().ok()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.success() && peak > 0.0).then_some(peak)
}

/// The child of [`child_rss_mib`]: what `kroniek --data DIR members --json --as-of 2020-01-01`
/// does — open the store, rebuild every projection, count the members — with the product's
/// allocator, printing the count as JSON.
pub fn rebuild_child(store_dir: &Path) -> Result<(), BenchError> {
    let store = kroniek_app::ledger::open(store_dir)?;
    let projections = kroniek_app::ledger::rebuild(&store, &mut |_, _| {})?;
    let date = kroniek_core::types::Date::parse("2020-01-01").map_err(BenchError::Failed)?;
    let count = projections.membership_count(date);
    let text =
        serde_json::to_string_pretty(&count).map_err(|e| BenchError::Failed(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn events(lines: &[String]) -> Vec<ProposedEvent> {
    lines
        .iter()
        .filter_map(|l| ProposedEvent::parse_line(l).ok())
        .collect()
}

/// A payment by an existing member, for the append latency runs.
pub fn payment(member: u64, n: u64) -> Result<ProposedEvent, BenchError> {
    let line = format!(
        r#"{{"stream":"member/{member}","type":"ContributionPaid","effective":"2023-01-02","data":{{"member_id":"{member}","year":2023,"amount_cents":{}}}}}"#,
        1200 + n % 100
    );
    ProposedEvent::parse_line(&line).map_err(|r| BenchError::Failed(r.to_string()))
}

/// `kroniek-bench [--events N] [--quick] [--json] [--no-postgres]`.
pub fn bench(
    events_n: u64,
    quick: bool,
    as_json: bool,
    postgres: bool,
    client_threads: Option<usize>,
) -> Result<(), BenchError> {
    let n = if quick {
        events_n.min(20_000)
    } else {
        events_n
    };
    // The smoke run (CI) checks that every row is measured: two runs of each are enough.
    let runs = if quick { 2 } else { 3 };
    let tmp = tempdir()?;
    eprintln!(
        "kroniek bench: {n} events, {runs} runs each, in {}",
        tmp.display()
    );
    let mut text = Vec::new();
    synthetic::generate(n, 1, &mut text).map_err(BenchError::io("cannot generate events"))?;
    let lines: Vec<String> = String::from_utf8_lossy(&text)
        .lines()
        .map(str::to_owned)
        .collect();
    drop(text);
    let mut rows: Vec<Row> = Vec::new();

    // kroniek: import through the rules (fresh store each run; the last one is kept).
    // With the CPU time of the appending thread (a serial stage: it checks each chunk), the
    // busy time of the threads that write the chunks (the other serial stage: one chunk at a
    // time, beside the checking of the next) and the CPU time of every thread.
    let mut import = Vec::new();
    let mut staging_seconds = 0.0;
    let (mut staged_keys, mut staged_events) = (0u64, 0u64);
    let (mut appending_cpu, mut import_cpu) = (Some(0.0), Some(0.0));
    let mut store_dir = PathBuf::new();
    for run in 0..runs {
        store_dir = tmp.join(format!("kroniek-{run}"));
        let store = Store::init(&store_dir, "bench.localhost/kroniek")?;
        let evs = events(&lines);
        let started = Instant::now();
        let (appending_before, all_before) = (thread_cpu_seconds(), process_cpu_seconds());
        match store.append(&evs, "admin:bench")? {
            AppendOutcome::Appended { count, .. } if count == n => {}
            other => {
                return Err(BenchError::Failed(format!(
                    "the import appended {other:?}, not {n} events"
                )))
            }
        }
        import.push(rate(n, started.elapsed()));
        let stats = store.write_stats();
        staging_seconds += stats.staging_nanos as f64 / 1e9;
        staged_keys += stats.staged_keys;
        staged_events += stats.staged_events;
        appending_cpu = add_cpu(appending_cpu, appending_before, thread_cpu_seconds());
        import_cpu = add_cpu(import_cpu, all_before, process_cpu_seconds());
        eprintln!("  import run {}: {:.0} events/s", run + 1, import[run]);
        if run + 1 < runs {
            drop(store);
            let _ = std::fs::remove_dir_all(&store_dir);
        }
    }
    let store = Store::open(&store_dir)?;
    let size_on_disk = dir_size(&store_dir.join("sled"));

    // The records' bytes, for the limits.
    let bytes: Vec<Vec<u8>> = store
        .iter_from(0)
        .map(|r| r.map(|r| r.hashed_bytes()))
        .collect::<Result<_, _>>()?;
    let total_bytes: u64 = bytes.iter().map(|b| b.len() as u64).sum();
    let blake = stat(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let mut prev = [0u8; 32];
                for b in &bytes {
                    let mut h = blake3::Hasher::new();
                    h.update(&prev);
                    h.update(b);
                    prev = *h.finalize().as_bytes();
                }
                std::hint::black_box(prev);
                rate(n, started.elapsed())
            })
            .collect(),
    );
    // Raw sled insert and scan of the same bytes, with the page cache kroniek uses.
    let mut sled_insert = Vec::new();
    let mut sled_insert_keyed = Vec::new();
    let mut sled_scan = Vec::new();
    let open_raw = |name: &str| {
        sled::Config::new()
            .path(tmp.join(name))
            .cache_capacity(kroniek_core::store::page_cache_bytes())
            .open()
            .map_err(|e| BenchError::Failed(e.to_string()))
    };
    for run in 0..runs {
        let db = open_raw(&format!("raw-{run}"))?;
        let started = Instant::now();
        for (i, chunk) in bytes.chunks(2048).enumerate() {
            let mut batch = sled::Batch::default();
            for (j, b) in chunk.iter().enumerate() {
                batch.insert(&((i * 2048 + j) as u64).to_be_bytes(), b.as_slice());
            }
            db.apply_batch(batch)
                .map_err(|e| BenchError::Failed(e.to_string()))?;
        }
        db.flush().map_err(|e| BenchError::Failed(e.to_string()))?;
        sled_insert.push(rate(n, started.elapsed()));
        // The same bytes key by key (kroniek's import writes batches; either way may be faster).
        let keyed = open_raw(&format!("raw-keyed-{run}"))?;
        let started = Instant::now();
        for (i, b) in bytes.iter().enumerate() {
            keyed
                .insert((i as u64).to_be_bytes(), b.as_slice())
                .map_err(|e| BenchError::Failed(e.to_string()))?;
        }
        keyed
            .flush()
            .map_err(|e| BenchError::Failed(e.to_string()))?;
        sled_insert_keyed.push(rate(n, started.elapsed()));
        drop(keyed);
        let _ = std::fs::remove_dir_all(tmp.join(format!("raw-keyed-{run}")));
        let started = Instant::now();
        let mut seen = 0u64;
        for item in db.iter() {
            let (_, v) = item.map_err(|e| BenchError::Failed(e.to_string()))?;
            seen += v.len() as u64;
        }
        std::hint::black_box(seen);
        sled_scan.push(rate(n, started.elapsed()));
    }
    let (sled_insert, sled_scan) = (stat(sled_insert), stat(sled_scan));
    let sled_insert_keyed = stat(sled_insert_keyed);
    // The limit an import is held to: the faster of the two ways to insert.
    let insert_limit = if sled_insert_keyed.median > sled_insert.median {
        sled_insert_keyed
    } else {
        sled_insert
    };
    // The verify ceiling: chained BLAKE3 and a sled scan, one after the other.
    let ceiling = 1.0 / (1.0 / blake.median + 1.0 / sled_scan.median);
    // fdatasync.
    let fsync = fsync_latencies(&tmp.join("fsync.bin"), if quick { 50 } else { 200 })?;

    let verify = stat(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                let ok = matches!(store.verify(&mut |_| {}), Ok(Ok(_)));
                if ok {
                    rate(n, started.elapsed())
                } else {
                    0.0
                }
            })
            .collect(),
    );
    // The rebuild, with the CPU time of the thread that folds (the serial stage: reading and
    // decoding run on `replay_workers()` threads beside it) and of every thread.
    let mut rebuild = Vec::new();
    let (mut fold_cpu, mut all_cpu) = (Some(0.0), Some(0.0));
    for _ in 0..runs {
        let started = Instant::now();
        let (fold_before, all_before) = (thread_cpu_seconds(), process_cpu_seconds());
        let mut p = Projections::new();
        store.replay(0, |record, personal| -> Result<(), BenchError> {
            p.apply(record, personal)
                .map_err(|e| BenchError::Failed(e.to_string()))
        })?;
        rebuild.push(rate(n, started.elapsed()));
        fold_cpu = add_cpu(fold_cpu, fold_before, thread_cpu_seconds());
        all_cpu = add_cpu(all_cpu, all_before, process_cpu_seconds());
        std::hint::black_box(p.applied());
    }
    let replayed = (runs as u64 * n) as f64;
    let rebuild_cpu = fold_cpu
        .zip(all_cpu)
        .map(|(fold, all)| (fold / replayed, all / replayed));

    let import = stat(import);
    let imported = (runs as u64 * n) as f64;
    let staging_per_event = staging_seconds / (runs as u64 * n) as f64;
    let import_cpu = appending_cpu
        .zip(import_cpu)
        .map(|(appending, all)| (appending / imported, all / imported));
    let rebuild = stat(rebuild);

    // The audit report of one year (step 12, item 3): as the command line makes it (a walk
    // and a fold of every record, per report), and as a server makes it from its read side
    // (the audit facts folded with the projections as records came; the walk of the ledger's
    // size made when it was quiet).
    let params = kroniek_projections::audit::AuditParams::for_year(AUDIT_YEAR);
    let mut audit_from_store = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let report = kroniek_app::audit::from_open_store(&store, &params, None, &mut |_, _| {})?;
        audit_from_store.push(started.elapsed().as_secs_f64());
        std::hint::black_box(report.summary.counted_members);
    }
    let models = kroniek_app::snapshot::rebuild(&store, &mut |_, _| {})?;
    let walk = store.verify(&mut |_| {})?;
    let note = store.sign_checkpoint()?;
    let mut audit_from_read_side = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let report = kroniek_app::audit::from_read_models(
            &store,
            &models.projections,
            &models.audit,
            &note,
            &walk,
            &params,
        )?;
        audit_from_read_side.push(started.elapsed().as_secs_f64());
        std::hint::black_box(report.summary.counted_members);
    }
    drop(models);
    let (audit_from_store, audit_from_read_side) =
        (stat(audit_from_store), stat(audit_from_read_side));

    // Durable appends: one writer, then 32. The first append builds the rules' state from the
    // log (a store that was just opened); it is a warm-up, not a sample.
    store.append(&[payment(100_000, 0)?], "admin:bench")?;
    let samples = if quick { 50 } else { 200 };
    let mut single: Vec<f64> = Vec::new();
    for i in 0..samples {
        let e = payment(100_000 + i % 50, i)?;
        let started = Instant::now();
        store.append(&[e], "admin:bench")?;
        single.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    single.sort_by(|a, b| a.total_cmp(b));
    // What one durable append costs in CPU (every thread: the writer's and sled's flusher):
    // enough appends that the clock ticks of 10 ms do not blur it.
    let cpu_samples: u64 = if quick { 300 } else { 3_000 };
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    for i in 0..cpu_samples {
        store.append(&[payment(100_050 + i % 50, i)?], "admin:bench")?;
    }
    let cpu_wall = started.elapsed().as_secs_f64();
    let cpu_per_append = cpu_before
        .zip(process_cpu_seconds())
        .map(|(a, b)| (b - a) / cpu_samples as f64);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let store = std::sync::Arc::new(store);
    let per_writer = if quick { 10 } else { 50 };
    let mut concurrent = Vec::new();
    let mut busy = Vec::new();
    let groups_before = store.write_stats();
    for _ in 0..runs {
        let cpu_before = process_cpu_seconds();
        let started = Instant::now();
        let handles: Vec<_> = (0..32u64)
            .map(|w| {
                let s = store.clone();
                std::thread::spawn(move || -> bool {
                    (0..per_writer).all(|i| {
                        payment(100_000 + w, i).is_ok_and(|e| s.append(&[e], "admin:bench").is_ok())
                    })
                })
            })
            .collect();
        let ok = handles.into_iter().all(|h| h.join().unwrap_or(false));
        if !ok {
            return Err(BenchError::Failed("a concurrent append failed".into()));
        }
        let wall = started.elapsed();
        concurrent.push(rate(32 * per_writer, wall));
        if let Some((a, b)) = cpu_before.zip(process_cpu_seconds()) {
            busy.push((b - a) / (wall.as_secs_f64() * cores));
        }
    }
    let concurrent = stat(concurrent);
    let groups = delta_stats(&groups_before, &store.write_stats());
    let single_rate = 1000.0 / single[single.len() / 2];

    // Proofs at size N.
    let proof_times = proof_times(&store, n)?;

    rows.push(Row {
        what: "chained BLAKE3 over the records' bytes".into(),
        figure: blake,
        unit: "records/s",
        reference: None,
        ratio: None,
        target: format!(
            "{:.1} MB/s",
            total_bytes as f64 * blake.median / n as f64 / 1e6
        ),
    });
    rows.push(Row {
        what: "raw sled insert of the same bytes".into(),
        figure: sled_insert,
        unit: "records/s",
        reference: None,
        ratio: None,
        target: "limit (batches of 2,048)".into(),
    });
    rows.push(Row {
        what: "raw sled insert, key by key".into(),
        figure: sled_insert_keyed,
        unit: "records/s",
        reference: Some(("batches of 2,048".into(), sled_insert)),
        ratio: Some(sled_insert_keyed.median / sled_insert.median),
        target: "limit".into(),
    });
    rows.push(Row {
        what: "raw sled scan of the same bytes".into(),
        figure: sled_scan,
        unit: "records/s",
        reference: None,
        ratio: None,
        target: "limit".into(),
    });
    rows.push(Row {
        what: "4 KiB append + fdatasync".into(),
        figure: Stat::latencies(&fsync),
        unit: "ms (min/p50/p99)",
        reference: None,
        ratio: None,
        target: "limit".into(),
    });
    rows.push(Row {
        what: "kroniek verify".into(),
        figure: verify,
        unit: "records/s",
        reference: Some(("BLAKE3 + sled scan ceiling".into(), Stat::one(ceiling))),
        ratio: Some(verify.median / ceiling),
        target: "≥ 0.50".into(),
    });
    rows.push(Row {
        what: "kroniek import through the rules".into(),
        figure: import,
        unit: "events/s",
        reference: Some(("raw sled insert, the faster way".into(), insert_limit)),
        ratio: Some(import.median / insert_limit.median),
        target: "≥ 0.35".into(),
    });
    if let Some((appending, all)) =
        import_cpu.filter(|(appending, all)| *appending > 0.0 && *all > 0.0)
    {
        rows.push(Row {
            what: "import: CPU per event, the appending thread".into(),
            figure: Stat::one(appending * 1e6),
            unit: "µs",
            reference: Some(("every thread".into(), Stat::one(all * 1e6))),
            ratio: Some(appending / all),
            target: "a serial stage (it checks; the chunks are written beside it)".into(),
        });
        rows.push(Row {
            what: "import: the chunk-writing thread's busy time per event".into(),
            figure: Stat::one(staging_per_event * 1e6),
            unit: "µs",
            reference: Some((
                "the appending thread's CPU".into(),
                Stat::one(appending * 1e6),
            )),
            ratio: Some(staging_per_event / appending),
            target: "the other serial stage (sled batches, one chunk at a time)".into(),
        });
        // Why that stage is as slow as it is: the sled keys an event writes, and what each
        // costs there against a key of the raw insert. At the raw insert's cost per key, one
        // writing thread would still bound the import at 1 / keys per event × raw insert.
        if staged_keys > 0 && staged_events > 0 {
            let keys_per_event = staged_keys as f64 / staged_events as f64;
            rows.push(Row {
                what: "import: sled keys the chunk-writing thread writes per event".into(),
                figure: Stat::one(keys_per_event),
                unit: "keys",
                reference: None,
                ratio: None,
                target: "the raw insert writes 1 per record".into(),
            });
            rows.push(Row {
                what: "import: the chunk-writing thread's time per key".into(),
                figure: Stat::one(staging_seconds / staged_keys as f64 * 1e6),
                unit: "µs",
                reference: Some((
                    "raw sled insert per key, the faster way".into(),
                    Stat::one(1e6 / insert_limit.median),
                )),
                ratio: Some(staging_seconds / staged_keys as f64 * insert_limit.median),
                target: format!(
                    "at the raw insert's cost per key: 1 / keys per event = {:.2} × raw insert",
                    1.0 / keys_per_event
                ),
            });
        }
        // On these cores the import cannot beat the cores over the CPU per event; on any
        // number of cores, not the slower of its two serial stages: the appending thread
        // (checks) and the thread writing the chunk before (sled batches).
        let many_cores = 1.0 / appending.max(staging_per_event);
        rows.push(bound_row(
            "import",
            import,
            cores,
            all,
            many_cores,
            format!(
                "on enough cores: 1 / the slower serial stage = {:.2} × raw insert",
                many_cores / insert_limit.median
            ),
        ));
    }
    rows.push(Row {
        what: "kroniek rebuild of every projection".into(),
        figure: rebuild,
        unit: "events/s",
        reference: Some(("raw sled scan".into(), sled_scan)),
        ratio: Some(rebuild.median / sled_scan.median),
        target: "≥ 0.8".into(),
    });
    if let Some((fold, all)) = rebuild_cpu.filter(|(fold, all)| *fold > 0.0 && *all > 0.0) {
        let workers = kroniek_core::store::replay_workers();
        rows.push(Row {
            what: "rebuild: CPU per event, the folding thread".into(),
            figure: Stat::one(fold * 1e6),
            unit: "µs",
            reference: Some(("every thread".into(), Stat::one(all * 1e6))),
            ratio: Some(fold / all),
            target: format!("the serial share ({workers} threads read and decode)"),
        });
        // On these cores the rebuild cannot beat the cores over the CPU per event; on any
        // number of cores, neither one over the fold's CPU per event nor the reading threads
        // over the CPU they spend per event: as many as it starts on enough cores
        // (`REPLAY_WORKERS_MAX`), each spending what the ones here spent.
        let most_readers = kroniek_core::store::REPLAY_WORKERS_MAX;
        let many_cores =
            (1.0 / fold).min(most_readers as f64 / (all - fold).max(f64::MIN_POSITIVE));
        rows.push(bound_row(
            "rebuild",
            rebuild,
            cores,
            all,
            many_cores,
            format!(
                "on enough cores: min(1 / fold CPU, {most_readers} readers / their CPU) = {:.2} × raw scan",
                many_cores / sled_scan.median
            ),
        ));
    }
    rows.push(Row {
        what: "audit report of one year, from the read side".into(),
        figure: audit_from_read_side,
        unit: "s",
        reference: Some(("fold + walk per report".into(), audit_from_store)),
        ratio: Some(audit_from_read_side.median / audit_from_store.median),
        target: "≤ 2 s at 1,000,000 events".into(),
    });
    rows.push(Row {
        what: "kroniek durable append, one writer".into(),
        figure: Stat::latencies(&single),
        unit: "ms (min/p50/p99)",
        reference: Some(("fdatasync p50".into(), Stat::latencies(&fsync))),
        ratio: Some(percentile(&single, 0.5) / percentile(&fsync, 0.5)),
        target: "≤ 1.5".into(),
    });
    rows.push(Row {
        what: "kroniek durable appends, 32 writers".into(),
        figure: concurrent,
        unit: "events/s",
        reference: Some(("one writer".into(), Stat::one(single_rate))),
        ratio: Some(concurrent.median / single_rate),
        target: "≥ 8".into(),
    });
    if let Some(cpu) = cpu_per_append {
        // Where one writer is CPU-bound rather than waiting on fdatasync, 32 writers cannot go
        // past the cores divided by the CPU time of one append; these rows show whether it is.
        let wall = cpu_wall / cpu_samples as f64;
        rows.push(Row {
            what: "one writer: CPU time per durable append".into(),
            figure: Stat::one(cpu * 1000.0),
            unit: "ms",
            reference: Some(("wall time per append".into(), Stat::one(wall * 1000.0))),
            ratio: Some(cpu / wall),
            target: "share of the wall time spent on CPU".into(),
        });
        let ceiling = cores / cpu;
        rows.push(Row {
            what: "32 writers, ratio to the CPU ceiling".into(),
            figure: concurrent,
            unit: "events/s",
            reference: Some((
                format!("{cores:.0} cores / CPU per append"),
                Stat::one(ceiling),
            )),
            ratio: Some(concurrent.median / ceiling),
            target: "the bound where CPU-bound".into(),
        });
        if busy.len() == runs {
            rows.push(Row {
                what: "32 writers: share of all cores busy".into(),
                figure: stat(busy.iter().map(|b| b * 100.0).collect()),
                unit: "%",
                reference: None,
                ratio: None,
                target: "near 100: CPU-bound".into(),
            });
        }
    }
    if groups.events > 0 && groups.groups > 0 {
        // Two serial sections: the writer lock (checks, sealing) and, on sled, each group's
        // turn to write its head once its records are written. They overlap (a group's turn
        // runs beside the next group's checks); their sum is the conservative figure.
        let lock_us = groups.serial_nanos as f64 / 1000.0 / groups.events as f64;
        let turn_us = groups.ordered_nanos as f64 / 1000.0 / groups.events as f64;
        let serial_us = lock_us + turn_us;
        rows.push(Row {
            what: "32 writers: serial section per event".into(),
            figure: Stat::one(serial_us),
            unit: "µs (writer lock + head turn, ÷ events)",
            reference: Some(("writer lock alone".into(), Stat::one(lock_us))),
            ratio: None,
            target: "≤ 25".into(),
        });
        let histogram: Vec<String> = WriteStats::BUCKETS
            .iter()
            .zip(groups.group_sizes)
            .filter(|(_, n)| *n > 0)
            .map(|(low, n)| format!("{low}+: {n}"))
            .collect();
        rows.push(Row {
            what: "32 writers: appends per write group".into(),
            figure: Stat::one(groups.appends as f64 / groups.groups as f64),
            unit: "appends (mean)",
            reference: None,
            ratio: None,
            target: format!("groups by size: {}", histogram.join(", ")),
        });
        let bound = 1e6 / serial_us;
        rows.push(Row {
            what: "32 writers, ratio to the serial bound".into(),
            figure: concurrent,
            unit: "events/s",
            reference: Some(("1 / serial section".into(), Stat::one(bound))),
            ratio: Some(concurrent.median / bound),
            target: "the bound on any number of cores".into(),
        });
    }
    let export_bytes = export_size(&store)?;
    rows.push(Row {
        what: "size on disk per event".into(),
        figure: Stat::one(size_on_disk as f64 / n as f64),
        unit: "bytes",
        reference: Some((
            "export bytes per event".into(),
            Stat::one(export_bytes as f64 / n as f64),
        )),
        ratio: Some(size_on_disk as f64 / export_bytes as f64),
        target: "≤ 2.5".into(),
    });
    rows.push(Row {
        what: "inclusion proof at size N: produce".into(),
        figure: proof_times.0,
        unit: "µs",
        reference: None,
        ratio: None,
        target: String::new(),
    });
    rows.push(Row {
        what: "inclusion proof at size N: verify".into(),
        figure: proof_times.1,
        unit: "µs",
        reference: None,
        ratio: None,
        target: String::new(),
    });
    rows.push(Row {
        what: "consistency proof N/2 → N: produce".into(),
        figure: proof_times.2,
        unit: "µs",
        reference: None,
        ratio: None,
        target: String::new(),
    });
    rows.push(Row {
        what: "consistency proof N/2 → N: verify".into(),
        figure: proof_times.3,
        unit: "µs",
        reference: None,
        ratio: None,
        target: String::new(),
    });

    // HTTP: the API over the sample ledger, 32 connections.
    let client_threads =
        client_threads.unwrap_or_else(|| crate::http::client_threads(cores as usize));
    let http = crate::http::measure(
        &tmp.join("http"),
        runs,
        if quick { 1.0 } else { 5.0 },
        client_threads,
    )?;
    rows.push(Row {
        what: "HTTP composition reads, 32 connections".into(),
        figure: http.reads.per_second,
        unit: "requests/s",
        reference: Some(("target".into(), Stat::one(20_000.0))),
        ratio: Some(http.reads.per_second.median / 20_000.0),
        target: "≥ 1 (≥ 20,000 requests/s)".into(),
    });
    rows.push(Row {
        what: "HTTP composition reads: latency".into(),
        figure: http.reads.latency,
        unit: "ms (min/p50/p99)",
        reference: Some(("target p99".into(), Stat::one(10.0))),
        ratio: Some(http.reads.latency.max / 10.0),
        target: "≤ 1 (p99 ≤ 10 ms)".into(),
    });
    if let Some(cpu) = http.reads.cpu_per_request.filter(|c| *c > 0.0) {
        rows.extend(client_row("composition reads", &http.reads, cpu));
    }
    rows.push(Row {
        what: "HTTP single-event appends, 32 connections".into(),
        figure: http.appends.per_second,
        unit: "requests/s",
        reference: Some(("32 writers in process".into(), concurrent)),
        ratio: Some(http.appends.per_second.median / concurrent.median),
        target: "durable before the answer".into(),
    });
    rows.push(Row {
        what: "HTTP single-event appends: latency".into(),
        figure: http.appends.latency,
        unit: "ms (min/p50/p99)",
        reference: None,
        ratio: None,
        target: String::new(),
    });
    if let Some(cpu) = http.appends.cpu_per_request.filter(|c| *c > 0.0) {
        // The server and the load's client share this process and these cores: where the
        // appends keep the cores busy, the cores over the CPU of one request bound them.
        if let Some(in_process) = cpu_per_append {
            rows.push(Row {
                what: "HTTP single-event appends: CPU per request".into(),
                figure: Stat::one(cpu * 1000.0),
                unit: "ms (server and client)",
                reference: Some((
                    "one durable append in process".into(),
                    Stat::one(in_process * 1000.0),
                )),
                ratio: Some(cpu / in_process),
                target: "what HTTP, the client and the read side's catch-up add".into(),
            });
        }
        rows.extend(client_row("single-event appends", &http.appends, cpu));
        // The load cannot beat the cores over the CPU of a request, nor what its client
        // threads can send.
        let ceiling = cores / cpu;
        let client_bound = http.appends.client_bound().unwrap_or(f64::INFINITY);
        rows.push(Row {
            what: "HTTP single-event appends, ratio to the CPU ceiling".into(),
            figure: http.appends.per_second,
            unit: "requests/s",
            reference: Some((
                format!("min({cores:.0} cores / CPU per request, the client's bound)"),
                Stat::one(ceiling.min(client_bound)),
            )),
            ratio: Some(http.appends.per_second.median / ceiling.min(client_bound)),
            target: "the bound where CPU-bound".into(),
        });
    }

    if postgres {
        match crate::pg::measure(&tmp, &store, n, runs, quick) {
            Ok(pg) => {
                rows.push(Row {
                    what: "import: kroniek vs PostgreSQL".into(),
                    figure: import,
                    unit: "events/s",
                    reference: Some(("PostgreSQL batched import".into(), pg.import)),
                    ratio: Some(import.median / pg.import.median),
                    target: "> 1".into(),
                });
                rows.push(Row {
                    what: "durable append p50: kroniek vs PostgreSQL".into(),
                    figure: Stat::latencies(&single),
                    unit: "ms (min/p50/p99)",
                    reference: Some(("PostgreSQL one writer".into(), pg.single)),
                    ratio: Some(pg.single.median / percentile(&single, 0.5)),
                    target: "> 1 (PostgreSQL / kroniek)".into(),
                });
                rows.push(Row {
                    what: "32 writers: kroniek vs PostgreSQL".into(),
                    figure: concurrent,
                    unit: "events/s",
                    reference: Some(("PostgreSQL 32 writers".into(), pg.concurrent)),
                    ratio: Some(concurrent.median / pg.concurrent.median),
                    target: "> 1".into(),
                });
                rows.push(Row {
                    what: "replay into the projections: kroniek vs PostgreSQL".into(),
                    figure: rebuild,
                    unit: "events/s",
                    reference: Some(("PostgreSQL replay".into(), pg.replay)),
                    ratio: Some(rebuild.median / pg.replay.median),
                    target: "> 1".into(),
                });
                let on_pg = &pg.kroniek;
                rows.push(Row {
                    what: "kroniek on PostgreSQL: the ledger copied in".into(),
                    figure: on_pg.copy_in,
                    unit: "events/s",
                    reference: Some(("PostgreSQL batched import".into(), pg.import)),
                    ratio: Some(on_pg.copy_in.median / pg.import.median),
                    target: "(every record checked)".into(),
                });
                rows.push(Row {
                    what: "kroniek on PostgreSQL: durable append p50".into(),
                    figure: on_pg.single,
                    unit: "ms (min/p50/p99)",
                    reference: Some(("PostgreSQL one writer".into(), pg.single)),
                    ratio: Some(pg.single.median / on_pg.single.median),
                    target: "PostgreSQL / kroniek".into(),
                });
                rows.push(Row {
                    what: "kroniek on PostgreSQL: 32 writers".into(),
                    figure: on_pg.concurrent,
                    unit: "events/s",
                    reference: Some(("PostgreSQL 32 writers".into(), pg.concurrent)),
                    ratio: Some(on_pg.concurrent.median / pg.concurrent.median),
                    target: "".into(),
                });
                rows.push(Row {
                    what: "kroniek on PostgreSQL: replay into the projections".into(),
                    figure: on_pg.replay,
                    unit: "events/s",
                    reference: Some(("PostgreSQL replay".into(), pg.replay)),
                    ratio: Some(on_pg.replay.median / pg.replay.median),
                    target: "".into(),
                });
            }
            Err(e) => eprintln!("kroniek bench: the PostgreSQL peer could not run: {e}"),
        }
    }
    // Peak RSS of a fresh process that builds every projection (this one holds the bench's own
    // data, and the store must be closed for the child to open it).
    drop(store);
    let rss = |purge_delay_ms| -> Stat {
        let peaks: Option<Vec<f64>> = (0..runs)
            .map(|_| child_rss_mib("--rebuild-child", &store_dir, purge_delay_ms))
            .collect();
        peaks.map_or_else(|| Stat::one(peak_rss_mib()), stat)
    };
    let as_shipped = rss(None);
    rows.push(Row {
        what: "peak RSS, a process building every projection".into(),
        figure: as_shipped,
        unit: "MiB",
        reference: None,
        ratio: None,
        target: "≤ 400".into(),
    });
    let prompt = rss(Some(0));
    rows.push(Row {
        what: "peak RSS, the same with MIMALLOC_PURGE_DELAY=0".into(),
        figure: prompt,
        unit: "MiB",
        reference: Some(("as shipped".into(), as_shipped)),
        ratio: Some(prompt.median / as_shipped.median),
        target: "freed memory returned at once".into(),
    });
    // A server's peak RSS after ten audit reports: its first start rebuilds the read side
    // (no snapshot yet) and saves a snapshot as a clean stop does; the starts after it load
    // that snapshot, as a server restarted after a clean stop does.
    let serve_child = |child: &str| {
        child_rss_mib(child, &store_dir, None).ok_or_else(|| {
            BenchError::Failed(format!("the server's child process ({child}) failed"))
        })
    };
    match std::fs::remove_dir_all(store_dir.join("snapshots")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(BenchError::io("removing the bench ledger's snapshots")(e))
        }
        _ => {}
    }
    let after_rebuild = serve_child("--serve-child")?;
    let from_snapshot = stat(
        (0..runs)
            .map(|_| serve_child("--serve-child"))
            .collect::<Result<_, _>>()?,
    );
    rows.push(Row {
        what: "peak RSS, serve started from its snapshot, after ten audit reports".into(),
        figure: from_snapshot,
        unit: "MiB",
        reference: None,
        ratio: None,
        target: "≤ 400".into(),
    });
    rows.push(Row {
        what: "peak RSS, the same started with a rebuild (no snapshot)".into(),
        figure: Stat::one(after_rebuild),
        unit: "MiB",
        reference: Some(("from its snapshot".into(), from_snapshot)),
        ratio: Some(after_rebuild / from_snapshot.median),
        target: "".into(),
    });
    // The same server after one append: from its first append on the writer holds a copy of
    // the read side's rules' state, whose values the two share until one of them changes
    // one (`Journaled`'s copy on write). Last of the memory rows: its stop saves a snapshot
    // at the new head, where the start rows expect one.
    let after_append = serve_child("--serve-append-child")?;
    rows.push(Row {
        what: "peak RSS, serve from its snapshot, ten audit reports and one append".into(),
        figure: Stat::one(after_append),
        unit: "MiB",
        reference: Some(("without the append".into(), from_snapshot)),
        ratio: Some(after_append / from_snapshot.median),
        target: "≤ 400 (the writer shares the rules' state)".into(),
    });
    start_rows(&store_dir, n, runs, &mut rows)?;
    print_rows(&rows, n, runs, as_json)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// `serve`'s start on the bench ledger, timed from the child's spawn to its `ready` (step 12,
/// item 2: ≤ 1 s after a clean stop, ≤ 2 s after `kill -9`), and the audit report's repeat at
/// the same head (item 3: ≤ 50 ms). Runs after the memory rows, whose last child saved a
/// snapshot at the head as a clean stop does. For the crash, a child appends the most records
/// a server folds past its newest snapshot before it saves the next (one fewer than
/// [`kroniek_app::snapshot::SNAPSHOT_EVERY`]; a tenth of the ledger in a smaller run) and is
/// killed with SIGKILL; each start after it folds them again, as it saves no snapshot.
fn start_rows(
    store_dir: &Path,
    n: u64,
    runs: usize,
    rows: &mut Vec<Row>,
) -> Result<(), BenchError> {
    let mut after_stop = Vec::new();
    let (mut first, mut repeat) = (Vec::new(), Vec::new());
    let (mut locked, mut whole) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (ready, audit, snapshot) = ready_child(store_dir)?;
        after_stop.push(ready);
        first.push(audit.0);
        repeat.push(audit.1);
        locked.push(snapshot.0);
        whole.push(snapshot.1);
    }
    let past_snapshot = (kroniek_app::snapshot::SNAPSHOT_EVERY - 1).min((n / 10).max(1));
    kill_after_appending(store_dir, past_snapshot)?;
    let after_kill = (0..runs)
        .map(|_| ready_child(store_dir).map(|(ready, _, _)| ready))
        .collect::<Result<Vec<_>, _>>()?;
    let (after_stop, after_kill) = (stat(after_stop), stat(after_kill));
    rows.push(Row {
        what: "serve: ready after a clean stop (its snapshot at the head)".into(),
        figure: after_stop,
        unit: "s",
        reference: Some(("target".into(), Stat::one(1.0))),
        ratio: Some(after_stop.median / 1.0),
        target: "≤ 1 (≤ 1 s)".into(),
    });
    rows.push(Row {
        what: "serve: ready after kill -9 (records past its snapshot)".into(),
        figure: after_kill,
        unit: "s",
        reference: Some((
            format!("target; {past_snapshot} records folded"),
            Stat::one(2.0),
        )),
        ratio: Some(after_kill.median / 2.0),
        target: "≤ 1 (≤ 2 s)".into(),
    });
    let (first, repeat) = (stat(first), stat(repeat));
    rows.push(Row {
        what: "audit report over the API, a repeat at the same head".into(),
        figure: repeat,
        unit: "ms",
        reference: Some(("the first after a start".into(), first)),
        ratio: Some(repeat.median / first.median),
        target: "≤ 50 ms (the first: ≤ 2 s)".into(),
    });
    let (locked, whole) = (stat(locked), stat(whole));
    rows.push(Row {
        what: "serve: a snapshot's save, the read side locked (its encoding)".into(),
        figure: locked,
        unit: "ms",
        reference: Some(("the whole save (encode, write, sync)".into(), whole)),
        ratio: Some(locked.median / whole.median),
        target: "reads wait for it (appends go on)".into(),
    });
    Ok(())
}

/// What a start child measured: seconds to `ready`, the audit report's milliseconds (first,
/// repeat), a snapshot's milliseconds (the read side locked, the whole save).
type StartTimes = (f64, (f64, f64), (f64, f64));

/// Runs this binary as `--ready-child DIR` (see [`crate::http::ready_child`]): the seconds from
/// its spawn to its `ready`, the milliseconds of its audit report and of the repeat, and those
/// of a snapshot's encoding (the read side locked) and of its whole save.
fn ready_child(store_dir: &Path) -> Result<StartTimes, BenchError> {
    use std::io::BufRead;
    let failed = |why: &str| BenchError::Failed(format!("the start child (--ready-child): {why}"));
    let exe = std::env::current_exe().map_err(BenchError::io("cannot find this program"))?;
    let started = Instant::now();
    let mut child = std::process::Command::new(exe)
        .arg("--ready-child")
        .arg(store_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(BenchError::io("cannot start the start child"))?;
    let stdout = child.stdout.take().ok_or_else(|| failed("no output"))?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let ready = match lines.next() {
        Some(Ok(line)) if line == "ready" => started.elapsed().as_secs_f64(),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed("it did not say ready"));
        }
    };
    let audit: Vec<f64> = match lines.next() {
        Some(Ok(line)) => serde_json::from_str(&line).map_err(|e| failed(&e.to_string()))?,
        _ => Vec::new(),
    };
    let status = child
        .wait()
        .map_err(BenchError::io("waiting for the start child"))?;
    match audit[..] {
        [first, repeat, locked, whole] if status.success() => {
            Ok((ready, (first, repeat), (locked, whole)))
        }
        _ => Err(failed(&format!(
            "it ended with {status} before its audit times"
        ))),
    }
}

/// Runs this binary as `--append-child DIR --events COUNT` (see [`crate::http::append_child`])
/// and kills it with SIGKILL once it says its payments are appended.
fn kill_after_appending(store_dir: &Path, count: u64) -> Result<(), BenchError> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(BenchError::io("cannot find this program"))?;
    let mut child = std::process::Command::new(exe)
        .arg("--append-child")
        .arg(store_dir)
        .arg("--events")
        .arg(count.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .map_err(BenchError::io("cannot start the appending child"))?;
    let said = child
        .stdout
        .take()
        .and_then(|out| std::io::BufReader::new(out).lines().next())
        .and_then(Result::ok);
    // Killed whatever it said (`Child::kill` sends SIGKILL), and reaped.
    let _ = child.kill();
    let _ = child.wait();
    match said.as_deref() {
        Some("appended") => Ok(()),
        _ => Err(BenchError::Failed(
            "the appending child (--append-child) did not append its payments".into(),
        )),
    }
}

/// The write path's counters between two readings.
fn delta_stats(before: &WriteStats, after: &WriteStats) -> WriteStats {
    let mut sizes = [0u64; 7];
    for (i, size) in sizes.iter_mut().enumerate() {
        *size = after.group_sizes[i] - before.group_sizes[i];
    }
    WriteStats {
        groups: after.groups - before.groups,
        appends: after.appends - before.appends,
        events: after.events - before.events,
        serial_nanos: after.serial_nanos - before.serial_nanos,
        ordered_nanos: after.ordered_nanos - before.ordered_nanos,
        group_sizes: sizes,
        staging_nanos: after.staging_nanos - before.staging_nanos,
        staged_keys: after.staged_keys - before.staged_keys,
        staged_events: after.staged_events - before.staged_events,
    }
}

fn export_size(store: &Store) -> Result<u64, BenchError> {
    let mut total = 0u64;
    for record in store.iter_from(0) {
        let record = record?;
        total += store.export_line(&record, true)?.len() as u64 + 1;
    }
    Ok(total)
}

/// Produce and verify proofs at size `n`, 50 times each, in microseconds.
fn proof_times(store: &Store, n: u64) -> Result<(Stat, Stat, Stat, Stat), BenchError> {
    use kroniek_core::merkle::{leaf_hash, verify_consistency, verify_inclusion};
    let root = store.tree_root(n)?;
    let half = n / 2;
    let old_root = store.tree_root(half)?;
    let (mut p_inc, mut v_inc, mut p_con, mut v_con) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..50u64 {
        let index = (i * 7919) % n;
        let started = Instant::now();
        let proof = store.inclusion_proof(index, n)?;
        p_inc.push(started.elapsed().as_secs_f64() * 1e6);
        let leaf = leaf_hash(&store.record_at(index)?.hash);
        let started = Instant::now();
        let ok = verify_inclusion(&leaf, index, n, &proof, &root);
        v_inc.push(started.elapsed().as_secs_f64() * 1e6);
        let started = Instant::now();
        let cproof = store.consistency_proof(half, n)?;
        p_con.push(started.elapsed().as_secs_f64() * 1e6);
        let started = Instant::now();
        let ok2 = verify_consistency(half, n, &old_root, &root, &cproof);
        v_con.push(started.elapsed().as_secs_f64() * 1e6);
        if !(ok && ok2) {
            return Err(BenchError::Failed("a proof did not verify".into()));
        }
    }
    Ok((stat(p_inc), stat(v_inc), stat(p_con), stat(v_con)))
}

fn fsync_latencies(path: &Path, samples: usize) -> Result<Vec<f64>, BenchError> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(BenchError::io("cannot create the fsync file"))?;
    let block = vec![0x5au8; 4096];
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        f.write_all(&block)
            .map_err(BenchError::io("cannot write the fsync file"))?;
        f.sync_data()
            .map_err(BenchError::io("cannot sync the fsync file"))?;
        out.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

fn tempdir() -> Result<PathBuf, BenchError> {
    let base = std::env::temp_dir().join(format!("kroniek-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).map_err(BenchError::io("cannot create the bench folder"))?;
    Ok(base)
}

fn fmt(x: f64) -> String {
    if x >= 100.0 {
        let s = format!("{x:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

fn print_rows(rows: &[Row], n: u64, runs: usize, as_json: bool) -> Result<(), BenchError> {
    if as_json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                json!({"what": r.what, "unit": r.unit, "min": r.figure.min, "median": r.figure.median, "max": r.figure.max,
                       "reference": r.reference.as_ref().map(|(w, s)| json!({"what": w, "min": s.min, "median": s.median, "max": s.max})),
                       "ratio": r.ratio, "target": r.target})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"events": n, "rows": v}))
                .map_err(|e| BenchError::Failed(e.to_string()))?
        );
        return Ok(());
    }
    println!("kroniek bench, {n} events; figures min / median / max of {runs} runs (latencies: min / p50 / p99)\n");
    println!(
        "{:<46} {:>38} {:<16} {:>30}  {:>7}  target",
        "what", "figure", "unit", "reference (median)", "ratio"
    );
    for r in rows {
        let fig = format!(
            "{} / {} / {}",
            fmt(r.figure.min),
            fmt(r.figure.median),
            fmt(r.figure.max)
        );
        let reference = r
            .reference
            .as_ref()
            .map_or(String::new(), |(w, s)| format!("{w}: {}", fmt(s.median)));
        let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}"));
        println!(
            "{:<46} {:>38} {:<16} {:>30}  {:>7}  {}",
            r.what, fig, r.unit, reference, ratio, r.target
        );
    }
    Ok(())
}
