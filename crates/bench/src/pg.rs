//! The PostgreSQL peer of `kroniek bench`: a server started in a temporary folder (as the
//! `postgres` user; `initdb` refuses root), the same events in an `events` table with the same
//! hash chain computed by the writer, measured the way kroniek is.

use crate::error::BenchError;
use kroniek_core::record::{Personal, Record};
use kroniek_core::store::Store;
use kroniek_projections::Projections;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The peer's figures, and kroniek's on the same server.
pub struct PgFigures {
    pub import: crate::bench::Stat,
    pub single: crate::bench::Stat,
    pub concurrent: crate::bench::Stat,
    pub replay: crate::bench::Stat,
    /// kroniek with its ledger in PostgreSQL (`--store`), on the same server.
    pub kroniek: KroniekOnPg,
}

/// kroniek's figures with its ledger in PostgreSQL.
pub struct KroniekOnPg {
    /// The bench ledger copied in (`migrate`'s path: every record checked as `restore` does).
    pub copy_in: crate::bench::Stat,
    /// Durable single appends (ms).
    pub single: crate::bench::Stat,
    /// 32 writers (events/s).
    pub concurrent: crate::bench::Stat,
    /// Replay into the projections (events/s).
    pub replay: crate::bench::Stat,
}

fn pg_bin(name: &str) -> String {
    for dir in [
        "/usr/lib/postgresql/15/bin",
        "/usr/lib/postgresql/16/bin",
        "/usr/local/bin",
        "/usr/bin",
    ] {
        let p = format!("{dir}/{name}");
        if Path::new(&p).exists() {
            return p;
        }
    }
    name.to_owned()
}

fn as_postgres(args: &[&str]) -> Command {
    let root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    }
}

/// A running server, stopped (by the pid in its pid file, through pg_ctl) when dropped.
struct Server {
    data: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_postgres(&[
            &pg_bin("pg_ctl"),
            "-D",
            &self.data,
            "-m",
            "fast",
            "-w",
            "stop",
        ])
        .output();
    }
}

fn fail(what: &str) -> impl Fn(postgres::Error) -> BenchError + '_ {
    move |e| BenchError::Failed(format!("PostgreSQL {what}: {e}"))
}

fn run(c: &mut Command, what: &str) -> Result<(), BenchError> {
    let out = c
        .output()
        .map_err(BenchError::io(format!("cannot run {what}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::Failed(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn row_line(r: &Record) -> String {
    let data = String::from_utf8_lossy(&r.hashed_bytes()).replace('\\', "\\\\");
    format!(
        "{}\t{}\t{}\t{}\t{}\t\\\\x{}\t\\\\x{}\n",
        r.position,
        r.stream,
        r.version,
        r.event_type,
        data,
        kroniek_core::types::hex(&r.prev_hash),
        kroniek_core::types::hex(&r.hash)
    )
}

/// Starts the peer, loads and measures it, stops it.
pub fn measure(
    tmp: &Path,
    store: &Store,
    n: u64,
    runs: usize,
    quick: bool,
) -> Result<PgFigures, BenchError> {
    let dir = tmp.join("postgres");
    std::fs::create_dir_all(dir.join("sock"))
        .map_err(BenchError::io("cannot create the PostgreSQL folder"))?;
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(&dir)
        .output();
    let data = dir.join("data").display().to_string();
    let sock = dir.join("sock").display().to_string();
    run(
        &mut as_postgres(&[
            &pg_bin("initdb"),
            "-D",
            &data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]),
        "initdb",
    )?;
    let port = 54_000 + (std::process::id() % 1000) as u16;
    let options = format!("-k {sock} -c listen_addresses='' -p {port} -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB");
    run(
        &mut as_postgres(&[
            &pg_bin("pg_ctl"),
            "-D",
            &data,
            "-o",
            &options,
            "-l",
            &format!("{data}/log"),
            "-w",
            "start",
        ]),
        "pg_ctl start",
    )?;
    let _server = Server { data };
    let conn = format!("host={sock} port={port} user=postgres dbname=postgres");
    let mut client = postgres::Client::connect(&conn, postgres::NoTls).map_err(fail("connect"))?;
    client
        .batch_execute("CREATE TABLE events (position bigint PRIMARY KEY, stream text NOT NULL, version bigint NOT NULL, type text NOT NULL, data jsonb NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL, UNIQUE (stream, version))")
        .map_err(fail("create table"))?;

    // The same records, the same chain (the writer computes it: here, kroniek's own records).
    let records: Vec<Record> = store
        .iter_from(0)
        .take(n as usize)
        .collect::<Result<_, _>>()?;
    let mut import = Vec::new();
    for _ in 0..runs {
        client
            .batch_execute("TRUNCATE events")
            .map_err(fail("truncate"))?;
        let started = Instant::now();
        let mut tx = client.transaction().map_err(fail("begin"))?;
        for chunk in records.chunks(10_000) {
            let mut w = tx.copy_in("COPY events FROM STDIN").map_err(fail("copy"))?;
            for r in chunk {
                use std::io::Write;
                w.write_all(row_line(r).as_bytes())
                    .map_err(BenchError::io("COPY"))?;
            }
            w.finish().map_err(fail("copy"))?;
        }
        tx.commit().map_err(fail("commit"))?;
        import.push(n as f64 / started.elapsed().as_secs_f64());
    }

    // One writer: lock, read the chain's end and the stream's version, insert, commit (fsync).
    let append = |c: &mut postgres::Client, member: u64| -> Result<(), BenchError> {
        let mut tx = c.transaction().map_err(fail("begin"))?;
        tx.execute("SELECT pg_advisory_xact_lock(1)", &[])
            .map_err(fail("lock"))?;
        let last = tx
            .query_one(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1",
                &[],
            )
            .map_err(fail("head"))?;
        let position: i64 = last.get(0);
        let prev: Vec<u8> = last.get(1);
        let stream = format!("member/{member}");
        let version: i64 = tx
            .query_one(
                "SELECT coalesce(max(version) + 1, 0) FROM events WHERE stream = $1",
                &[&stream],
            )
            .map_err(fail("version"))?
            .get(0);
        let mut prev_hash = [0u8; 32];
        prev_hash.copy_from_slice(&prev);
        let id = kroniek_core::types::EventId::new_v4_from([7; 16]);
        let record = Record::seal(
            (position + 1) as u64,
            version as u64,
            stream.clone(),
            kroniek_core::catalogue::EventType::ContributionPaid,
            id,
            "2023-01-02".into(),
            kroniek_core::store::now_recorded_at(),
            "admin:bench".into(),
            serde_json::json!({"member_id": member.to_string(), "year": 2023, "amount_cents": 1200}),
            None,
            prev_hash,
        );
        let data: serde_json::Value = serde_json::from_slice(&record.hashed_bytes())
            .map_err(|e| BenchError::Failed(e.to_string()))?;
        tx.execute(
            "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &(record.position as i64),
                &stream,
                &version,
                &"ContributionPaid",
                &data,
                &record.prev_hash.to_vec(),
                &record.hash.to_vec(),
            ],
        )
        .map_err(fail("insert"))?;
        tx.commit().map_err(fail("commit"))
    };
    let samples = if quick { 50 } else { 200 };
    let mut single = Vec::new();
    for i in 0..samples {
        let started = Instant::now();
        append(&mut client, 100_000 + i % 50)?;
        single.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    single.sort_by(|a, b| a.total_cmp(b));
    let per_writer = if quick { 10 } else { 50 };
    let mut concurrent = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let handles: Vec<_> = (0..32u64)
            .map(|w| {
                let conn = conn.clone();
                std::thread::spawn(move || -> Result<(), BenchError> {
                    let mut c = postgres::Client::connect(&conn, postgres::NoTls)
                        .map_err(fail("connect"))?;
                    for _ in 0..per_writer {
                        append(&mut c, 100_000 + w)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| BenchError::Failed("a PostgreSQL writer panicked".into()))??;
        }
        concurrent.push((32 * per_writer) as f64 / started.elapsed().as_secs_f64());
    }

    // Replay into the same projections, streamed through a portal.
    let mut replay = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let mut p = Projections::new();
        let mut tx = client.transaction().map_err(fail("begin"))?;
        let portal = tx
            .bind(
                "SELECT data::text, hash FROM events WHERE position < $1 ORDER BY position",
                &[&(n as i64)],
            )
            .map_err(fail("bind"))?;
        loop {
            let rows = tx.query_portal(&portal, 10_000).map_err(fail("fetch"))?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let text: String = row.get(0);
                let hash: Vec<u8> = row.get(1);
                let mut h = [0u8; 32];
                h.copy_from_slice(&hash);
                let record =
                    Record::from_hashed_bytes(text.as_bytes(), h).map_err(BenchError::Failed)?;
                p.apply(&record, None::<&Personal>)
                    .map_err(|e| BenchError::Failed(e.to_string()))?;
            }
        }
        tx.commit().map_err(fail("commit"))?;
        std::hint::black_box(p.applied());
        replay.push(n as f64 / started.elapsed().as_secs_f64());
    }
    let kroniek = kroniek_on_pg(
        &mut client,
        &format!("host={sock} port={port} user=postgres"),
        store,
        runs,
        quick,
    )?;
    Ok(PgFigures {
        kroniek,
        import: crate::bench::stat(import),
        single: crate::bench::Stat::latencies(&single),
        concurrent: crate::bench::stat(concurrent),
        replay: crate::bench::stat(replay),
    })
}

/// kroniek with its ledger in a database of the same server: the bench ledger copied in, then
/// durable appends with one writer and with 32, and a replay into the projections.
fn kroniek_on_pg(
    admin: &mut postgres::Client,
    server: &str,
    store: &Store,
    runs: usize,
    quick: bool,
) -> Result<KroniekOnPg, BenchError> {
    use kroniek_core::store::Backend;
    admin
        .batch_execute("CREATE DATABASE kroniek_bench")
        .map_err(fail("create database"))?;
    let backend = kroniek_postgres::PostgresBackend::connect(
        &format!("{server} dbname=kroniek_bench"),
        true,
    )?;
    backend.write_file(
        "signing.key",
        store.signing_key()?.to_file_text().as_bytes(),
    )?;
    let on_pg = Store::init_on(backend.into_backend(), store.origin())?;
    let count = store.head().count;
    let started = Instant::now();
    store.copy_into(&on_pg, &mut |_| {})?;
    let copy_in = vec![count as f64 / started.elapsed().as_secs_f64()];

    // The first append folds the rules' state from the log: a warm-up, not a sample.
    let payment = crate::bench::payment;
    on_pg.append(&[payment(100_000, 0)?], "admin:bench")?;
    let samples = if quick { 50 } else { 200 };
    let mut single = Vec::new();
    for i in 0..samples {
        let e = payment(100_000 + i % 50, i)?;
        let started = Instant::now();
        on_pg.append(&[e], "admin:bench")?;
        single.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    single.sort_by(|a, b| a.total_cmp(b));
    let on_pg = std::sync::Arc::new(on_pg);
    let per_writer = if quick { 10 } else { 50 };
    let mut concurrent = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let handles: Vec<_> = (0..32u64)
            .map(|w| {
                let s = on_pg.clone();
                std::thread::spawn(move || -> bool {
                    (0..per_writer).all(|i| {
                        payment(100_000 + w, i).is_ok_and(|e| s.append(&[e], "admin:bench").is_ok())
                    })
                })
            })
            .collect();
        if !handles.into_iter().all(|h| h.join().unwrap_or(false)) {
            return Err(BenchError::Failed(
                "an append to kroniek on PostgreSQL failed".into(),
            ));
        }
        concurrent.push((32 * per_writer) as f64 / started.elapsed().as_secs_f64());
    }
    let mut replay = Vec::new();
    let n = on_pg.head().count;
    for _ in 0..runs {
        let started = Instant::now();
        let mut p = Projections::new();
        on_pg.replay(0, |record, personal| -> Result<(), BenchError> {
            p.apply(record, personal)
                .map_err(|e| BenchError::Failed(e.to_string()))
        })?;
        std::hint::black_box(p.applied());
        replay.push(n as f64 / started.elapsed().as_secs_f64());
    }
    Ok(KroniekOnPg {
        copy_in: crate::bench::stat(copy_in),
        single: crate::bench::Stat::latencies(&single),
        concurrent: crate::bench::stat(concurrent),
        replay: crate::bench::stat(replay),
    })
}
