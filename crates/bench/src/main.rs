//! `kroniek-bench`: measures kroniek against this machine's limits and a PostgreSQL event
//! store, in one run, and prints one table of figures and ratios. Not part of the product
//! binary (which carries no PostgreSQL or HTTP client) and not part of the test run; CI runs
//! its smoke run (`--quick`, every row checked).

mod bench;
mod error;
mod http;
mod pg;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// The same allocator as the `kroniek` binary, so the figures are the product's (see
/// `crates/api/src/main.rs` for why mimalloc, and why `no_thp`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Measure kroniek against this machine's limits and a PostgreSQL event store, in one run, and
/// print one table of figures and ratios.
///
/// Limits: chained BLAKE3, a raw sled insert and scan of the same bytes, a 4 KiB append +
/// fdatasync. kroniek: import, verify, rebuild, durable appends (one writer and 32), peak RSS,
/// size on disk, proofs, a server's start (after a clean stop and after kill -9) and an audit
/// report's repeat, and the HTTP API over the sample ledger (32 connections of a client in this
/// process: composition reads and single-event appends). The peer: PostgreSQL 15, started
/// in a temporary folder as the `postgres` user. Each figure is measured 3 times; ratios
/// compare figures of the same run.
#[derive(Debug, Parser)]
#[command(name = "kroniek-bench", version, about, long_about)]
struct Args {
    /// How many synthetic events (`kroniek generate`'s mix).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// A smoke run: at most 20,000 events, fewer samples, 1-second HTTP runs (else 5).
    #[arg(long)]
    quick: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Leave out the PostgreSQL peer.
    #[arg(long)]
    no_postgres: bool,
    /// The threads the HTTP load's client runs on, its 32 connections spread over them
    /// [default: one per 4 cores, from 1 to 4, so that one client thread does not bound a
    /// server on many cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=32))]
    client_threads: Option<u16>,
    /// (Internal) rebuild every projection of the ledger in this folder and count its members,
    /// as `kroniek members` does: the child process whose peak RSS the bench reads.
    #[arg(long, value_name = "DIR", hide = true)]
    rebuild_child: Option<PathBuf>,
    /// (Internal) start a server's state on the ledger in this folder and make ten audit
    /// reports, as `kroniek serve` does for ten requests: the child process whose peak RSS the
    /// bench reads.
    #[arg(
        long,
        value_name = "DIR",
        hide = true,
        conflicts_with = "rebuild_child"
    )]
    serve_child: Option<PathBuf>,
    /// (Internal) as --serve-child, then append one payment as `POST /v1/events` does: the
    /// child process whose peak RSS is a server's that takes appends.
    #[arg(long, value_name = "DIR", hide = true, conflicts_with_all = ["rebuild_child", "serve_child"])]
    serve_append_child: Option<PathBuf>,
    /// (Internal) start a server's state on the ledger in this folder, say `ready`, then time
    /// an audit report and its repeat: the child process whose start the bench times.
    #[arg(long, value_name = "DIR", hide = true, conflicts_with_all = ["rebuild_child", "serve_child", "serve_append_child"])]
    ready_child: Option<PathBuf>,
    /// (Internal) append --events payments to the ledger in this folder and wait to be killed
    /// with SIGKILL: the crash the bench's start after `kill -9` recovers from.
    #[arg(long, value_name = "DIR", hide = true, conflicts_with_all = ["rebuild_child", "serve_child", "serve_append_child", "ready_child"])]
    append_child: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if let Some(dir) = &args.rebuild_child {
        bench::rebuild_child(dir)
    } else if let Some(dir) = &args.serve_child {
        http::serve_child(dir, false)
    } else if let Some(dir) = &args.serve_append_child {
        http::serve_child(dir, true)
    } else if let Some(dir) = &args.ready_child {
        http::ready_child(dir)
    } else if let Some(dir) = &args.append_child {
        http::append_child(dir, args.events)
    } else {
        bench::bench(
            args.events,
            args.quick,
            args.json,
            !args.no_postgres,
            args.client_threads.map(usize::from),
        )
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kroniek-bench: {e}");
            ExitCode::from(2)
        }
    }
}
