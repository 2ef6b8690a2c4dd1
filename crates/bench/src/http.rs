//! The HTTP rows of `kroniek bench`: the API served by this process on 127.0.0.1 over the
//! sample ledger (as `serve --demo`), loaded by 32 keep-alive connections of hyper's HTTP/1.1
//! client, each sending its next request as soon as it has read the whole answer to the last
//! one (as `wrk` does; `scripts/http-load` runs `wrk` itself). The client's connections are
//! spread over [`client_threads`] threads, one on a small machine (as `wrk -t1`), more where
//! the cores allow, so that one client thread never bounds a server on many cores; each
//! thread's own CPU is measured, and the bench prints the bound the client sets. The client
//! runs on the same cores as the server, so the figures are what the machine does with both.

use crate::bench::{add_cpu, process_cpu_seconds, stat, Stat};
use crate::error::BenchError;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use kroniek_api::server::{self, state::AppState, Limits};
use kroniek_core::catalogue::AccessRole;
use kroniek_core::store::Store;
use kroniek_core::AppendOutcome;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connections, as the issue and `scripts/http-load` use.
const CONNECTIONS: usize = 32;
/// The body composition reads ask for, present in the sample ledger.
const COMPOSITION: &str = "/v1/bodies/landelijk-bestuur/composition";
/// The event each append sends: a contribution of a member of the sample ledger.
const PAYMENT: &str = r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-01","data":{"member_id":"10201","year":2025,"amount_cents":1500}}"#;

/// The threads the load's client runs on: one on up to 7 cores (the server needs them, as
/// `wrk -t1`), then one per 4 cores up to 4, each with its share of the connections.
pub fn client_threads(cores: usize) -> usize {
    (cores / 4).clamp(1, 4)
}

/// Requests per second of each run, and every request's latency (ms) over all runs.
pub struct Load {
    pub per_second: Stat,
    /// min / p50 / p99 of all runs' latencies together, in milliseconds.
    pub latency: Stat,
    /// This process's CPU seconds (the server's and the client's) per request answered, over
    /// all runs; `None` where there is no `/proc`.
    pub cpu_per_request: Option<f64>,
    /// The client threads' own CPU seconds per request answered, over all runs; `None` where
    /// there is no `/proc`.
    pub client_cpu_per_request: Option<f64>,
    /// The threads the client ran on.
    pub client_threads: usize,
}

impl Load {
    /// The most requests per second the client threads can send at their CPU per request.
    pub fn client_bound(&self) -> Option<f64> {
        self.client_cpu_per_request
            .filter(|c| *c > 0.0)
            .map(|c| self.client_threads as f64 / c)
    }
}

/// The two loads: composition reads and single-event durable appends.
pub struct HttpFigures {
    pub reads: Load,
    pub appends: Load,
}

/// Serves the sample ledger from a new store in `dir` and loads it, `runs` times for `seconds`
/// each, with reads and then appends, from `client_threads` client threads.
pub fn measure(
    dir: &Path,
    runs: usize,
    seconds: f64,
    client_threads: usize,
) -> Result<HttpFigures, BenchError> {
    let store = Arc::new(Store::init(dir, "bench.localhost/kroniek")?);
    match kroniek_app::append::append_sample(&store)? {
        AppendOutcome::Appended { count, .. } if count > 0 => {}
        other => {
            return Err(BenchError::Failed(format!(
                "the sample ledger was not appended: {other:?}"
            )))
        }
    }
    let today = kroniek_app::clock::today;
    let token = kroniek_app::tokens::grant(
        &store,
        "bench",
        AccessRole::Admin,
        kroniek_app::append::LOCAL_ACTOR,
        today(),
    )?;
    let state = AppState::new(store, Limits::default(), today)?.into_shared();
    // The server on a runtime of its own (a worker per core, as `kroniek serve`); the load on
    // threads of its own (`client_threads`), so the client does not take the server's workers.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchError::io("cannot start the async runtime"))?;
    let listener = server_runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(BenchError::io("cannot listen on 127.0.0.1"))?;
    let address = listener
        .local_addr()
        .map_err(BenchError::io("cannot read the listening address"))?;
    let served =
        server_runtime.spawn(async move { axum::serve(listener, server::router(state)).await });
    let bearer = format!("Bearer {token}");
    let read = || {
        Request::get(COMPOSITION)
            .header("host", "127.0.0.1")
            .header("authorization", bearer.as_str())
            .body(Full::new(Bytes::new()))
    };
    let append = || {
        Request::post("/v1/events")
            .header("host", "127.0.0.1")
            .header("authorization", bearer.as_str())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(PAYMENT.as_bytes())))
    };
    let threads = client_threads.clamp(1, CONNECTIONS);
    let figures = runs_of(address, runs, seconds, threads, &read).and_then(|reads| {
        let appends = runs_of(address, runs, seconds, threads, &append)?;
        Ok(HttpFigures { reads, appends })
    });
    served.abort();
    figures
}

type MakeRequest<'a> = &'a (dyn Fn() -> Result<Request<Full<Bytes>>, hyper::http::Error> + Sync);

fn runs_of(
    address: SocketAddr,
    runs: usize,
    seconds: f64,
    threads: usize,
    make: MakeRequest<'_>,
) -> Result<Load, BenchError> {
    let mut rates = Vec::with_capacity(runs);
    let mut latencies = Vec::new();
    let mut cpu = Some(0.0);
    let mut client_cpu = Some(0.0);
    for _ in 0..runs {
        let before = process_cpu_seconds();
        let (rate, mut run, run_client_cpu) = one_run(address, seconds, threads, make)?;
        cpu = add_cpu(cpu, before, process_cpu_seconds());
        client_cpu = client_cpu.zip(run_client_cpu).map(|(a, b)| a + b);
        rates.push(rate);
        latencies.append(&mut run);
    }
    if latencies.is_empty() {
        return Err(BenchError::Failed("no HTTP request was answered".into()));
    }
    let answered = latencies.len() as f64;
    latencies.sort_by(|a, b| a.total_cmp(b));
    Ok(Load {
        per_second: stat(rates),
        latency: Stat::latencies(&latencies),
        cpu_per_request: cpu.map(|seconds| seconds / answered),
        client_cpu_per_request: client_cpu.map(|seconds| seconds / answered),
        client_threads: threads,
    })
}

/// One run: every connection sends requests until `seconds` have passed, the connections
/// spread over `threads` client threads (each a single-threaded runtime, as a `wrk` thread).
/// Returns the requests answered per second, each one's latency in milliseconds, and the
/// client threads' CPU seconds. Any answer that is not a success fails the run.
fn one_run(
    address: SocketAddr,
    seconds: f64,
    threads: usize,
    make: MakeRequest<'_>,
) -> Result<(f64, Vec<f64>, Option<f64>), BenchError> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let per_thread: Vec<Result<ThreadLoad, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                scope.spawn(move || client_thread(address, deadline, thread, threads, make))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(BenchError::Failed(
                        "a thread of the HTTP load stopped (a defect: please report it)".into(),
                    ))
                })
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut latencies = Vec::new();
    let mut client_cpu = Some(0.0);
    for result in per_thread {
        let (mut thread_latencies, thread_cpu) = result?;
        latencies.append(&mut thread_latencies);
        client_cpu = client_cpu.zip(thread_cpu).map(|(a, b)| a + b);
    }
    Ok((
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies,
        client_cpu,
    ))
}

/// What one client thread measured: its requests' latencies (ms) and its CPU seconds.
type ThreadLoad = (Vec<f64>, Option<f64>);

/// Client thread `thread` of `threads`: its share of the connections on a runtime of its
/// own, until `deadline`. Returns their latencies and this thread's CPU seconds.
fn client_thread(
    address: SocketAddr,
    deadline: Instant,
    thread: usize,
    threads: usize,
    make: MakeRequest<'_>,
) -> Result<ThreadLoad, BenchError> {
    let before = crate::bench::thread_cpu_seconds();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::io("cannot start the async runtime"))?;
    let connections = (thread..CONNECTIONS)
        .step_by(threads)
        .map(|c| connection(address, deadline, c, make));
    let results = runtime.block_on(futures_util::future::join_all(connections));
    drop(runtime);
    let cpu = crate::bench::thread_cpu_seconds()
        .zip(before)
        .map(|(after, before)| after - before);
    let mut latencies = Vec::new();
    for result in results {
        latencies.append(&mut result?);
    }
    Ok((latencies, cpu))
}

async fn connection(
    address: SocketAddr,
    deadline: Instant,
    index: usize,
    make: MakeRequest<'_>,
) -> Result<Vec<f64>, BenchError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        BenchError::Failed(format!("HTTP load, connection {index}: {what}: {e}"))
    };
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| failed("cannot connect", &e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| failed("cannot set TCP_NODELAY", &e))?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed("handshake", &e))?;
    let driving = tokio::spawn(driver);
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let request = make().map_err(|e| failed("cannot build the request", &e))?;
        let sent = Instant::now();
        // The connection takes one request at a time: wait until it can take the next.
        sender.ready().await.map_err(|e| failed("connection", &e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed("request", &e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| failed("reading the answer", &e))?
            .to_bytes();
        if !status.is_success() {
            return Err(failed(
                &format!("answered {status}"),
                &String::from_utf8_lossy(&body),
            ));
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    drop(sender);
    driving.abort();
    Ok(latencies)
}

/// The child of the bench's `serve` memory rows (`--serve-child DIR`): what `kroniek serve
/// --data DIR` holds after ten `GET /v1/audit/{year}` of an admin. It builds the server's state
/// as `serve` does (from the newest snapshot, else a rebuild that verifies the chain), walks
/// the chain as a server started from a snapshot does in the background, makes the JSON body
/// of the audit report of each of the ten years up to the newest record's (through
/// [`AppState::audit_body`], which the request's handler calls), with `then_append`
/// (`--serve-append-child DIR`) appends one payment as `POST /v1/events` does, then saves a
/// snapshot as a clean stop does. Prints the years and the bodies' sizes as JSON.
pub fn serve_child(store_dir: &Path, then_append: bool) -> Result<(), BenchError> {
    let store = Arc::new(kroniek_app::ledger::open(store_dir)?);
    let head = store.head().count;
    let newest = store.record_at(head.checked_sub(1).ok_or_else(|| {
        BenchError::Failed("the bench ledger is empty: no audit report to make".into())
    })?)?;
    let newest_year: i32 = newest
        .effective
        .get(..4)
        .and_then(|y| y.parse().ok())
        .ok_or_else(|| BenchError::Failed(format!("record {}: no year", head - 1)))?;
    let state = AppState::new(store, Limits::default(), kroniek_app::clock::today)?.into_shared();
    if state.started_from.is_some() {
        state.verify_and_remember()?;
    }
    let mut sizes = Vec::new();
    for year in newest_year - 9..=newest_year {
        let params = kroniek_projections::audit::AuditParams::for_year(year);
        let body = state.audit_body(AccessRole::Admin, &params)?;
        sizes.push((year, body.len()));
    }
    if then_append {
        // One payment, as `POST /v1/events` appends it: the writer takes its own copy of the
        // rules' state from the read side, which a server that takes appends keeps from then on.
        state
            .store
            .append(&[crate::bench::payment(100_000, 0)?], "admin:bench")?;
        state.catch_up_after_append(false)?;
    }
    state.save_snapshot_at_stop()?;
    let text = serde_json::to_string(&sizes).map_err(|e| BenchError::Failed(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// The child of the bench's start rows (`--ready-child DIR`): a server's start as `kroniek
/// serve` makes it — the ledger opened (sled's recovery included), the read side built from the
/// newest snapshot that matches (folding the records after it) or else rebuilt, a listener bound
/// on 127.0.0.1 — then the line `ready` on stdout, which the bench times from the child's spawn.
/// Then, with the chain walked as a started server walks it in the background, the body of the
/// audit report of [`crate::bench::AUDIT_YEAR`] as the request's handler makes it, once and then
/// again at the same head, then the time a serving server's snapshot keeps the read side
/// locked (its encoding) and its whole save: their times in milliseconds, as JSON on a second
/// line. It saves no snapshot into the ledger, so each start finds the ledger as the last one
/// did.
pub fn ready_child(store_dir: &Path) -> Result<(), BenchError> {
    use std::io::Write;
    let store = Arc::new(kroniek_app::ledger::open(store_dir)?);
    let state = AppState::new(store, Limits::default(), kroniek_app::clock::today)?.into_shared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(BenchError::io("cannot listen on 127.0.0.1"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")
        .and_then(|()| out.flush())
        .map_err(BenchError::io("cannot write to the bench"))?;
    drop(listener);
    if state.started_from.is_some() {
        state.verify_and_remember()?;
    }
    let params = kroniek_projections::audit::AuditParams::for_year(crate::bench::AUDIT_YEAR);
    let mut times = Vec::new();
    for _ in 0..2 {
        let started = Instant::now();
        let body = state.audit_body(AccessRole::Admin, &params)?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(body);
    }
    // A snapshot as a serving server saves one: the read side locked while it is encoded,
    // and the whole save (the encoding, the file written and synced), to a file beside the
    // ledger's folder, so that the ledger's own snapshots stay as they are.
    let started = Instant::now();
    let encoded = {
        let read = state.read();
        kroniek_app::snapshot::encode(&state.store, &read.projections, &read.access, &read.audit)?
    };
    times.push(started.elapsed().as_secs_f64() * 1000.0);
    let copy = store_dir.with_extension("snapshot-copy");
    if let Some(encoded) = encoded {
        encoded.save_as(&copy)?;
    }
    times.push(started.elapsed().as_secs_f64() * 1000.0);
    let _ = std::fs::remove_file(&copy);
    let text = serde_json::to_string(&times).map_err(|e| BenchError::Failed(e.to_string()))?;
    writeln!(out, "{text}").map_err(BenchError::io("cannot write to the bench"))?;
    Ok(())
}

/// The child of the bench's row of a start after `kill -9` (`--append-child DIR --events N`):
/// appends `N` payments of existing members to the ledger in this folder in one batch, durably,
/// prints `appended`, and waits to be killed, as a server killed with `kill -9` before its next
/// snapshot was due leaves its ledger. Should the bench end first (its end of the child's
/// standard input closes), it ends too, instead of waiting for ever.
pub fn append_child(store_dir: &Path, count: u64) -> Result<(), BenchError> {
    use std::io::{Read, Write};
    let store = kroniek_app::ledger::open(store_dir)?;
    let events = (0..count)
        .map(|i| crate::bench::payment(100_000 + i % 50, i))
        .collect::<Result<Vec<_>, _>>()?;
    match store.append(&events, "admin:bench")? {
        AppendOutcome::Appended { count: n, .. } if n == count => {}
        other => {
            return Err(BenchError::Failed(format!(
                "the payments were not appended: {other:?}"
            )))
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "appended")
        .and_then(|()| out.flush())
        .map_err(BenchError::io("cannot write to the bench"))?;
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::client_threads;

    #[test]
    fn the_client_takes_a_thread_per_four_cores_from_one_to_four() {
        let threads: Vec<usize> = [1, 2, 4, 7, 8, 12, 16, 32, 128]
            .into_iter()
            .map(client_threads)
            .collect();
        assert_eq!(threads, [1, 1, 1, 1, 2, 3, 4, 4, 4]);
    }
}
