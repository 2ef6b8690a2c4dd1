//! A PostgreSQL server for the tests of the ledger on PostgreSQL: Debian's server binaries,
//! started once per test run in a temporary folder (as the `postgres` user when run as root:
//! `initdb` refuses root), listening on 127.0.0.1 only, with `fsync` and `synchronous_commit`
//! on; each test gets a database of its own. A watchdog stops the server when the test
//! process ends. It also speaks TLS, with a certificate for 127.0.0.1 signed by a certificate
//! authority made for the run ([`PgServer::ca_file`]); the database [`TLS_ONLY`] refuses
//! connections without it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The running server: its address, and the PEM file of the authority its certificate is
/// signed by.
pub struct PgServer {
    port: u16,
    ca_file: PathBuf,
}

/// The database of the test server that takes TLS connections only (`hostnossl … reject`).
pub const TLS_ONLY: &str = "kt_tls_only";

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, written to
/// `dir` as `ca.pem`, `server.crt` and `server.key` (mode 0600, as PostgreSQL requires).
fn write_certificates(dir: &Path) -> Result<(), String> {
    let e = |e: rcgen::Error| e.to_string();
    let ca_key = rcgen::KeyPair::generate().map_err(e)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kroniek test database CA");
    let ca = ca_params.self_signed(&ca_key).map_err(e)?;
    let key = rcgen::KeyPair::generate().map_err(e)?;
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .map_err(e)?
        .signed_by(&key, &ca, &ca_key)
        .map_err(e)?;
    let io = |e: std::io::Error| e.to_string();
    std::fs::write(dir.join("ca.pem"), ca.pem()).map_err(io)?;
    std::fs::write(dir.join("server.crt"), server.pem()).map_err(io)?;
    std::fs::write(dir.join("server.key"), key.serialize_pem()).map_err(io)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .map_err(io)
}

/// The folder with `initdb` and `pg_ctl`, if PostgreSQL is installed.
fn bin_dir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    candidates.push(PathBuf::from("/usr/local/bin"));
    candidates.push(PathBuf::from("/usr/bin"));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `args` run as the `postgres` user when this process is root.
fn as_postgres(args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    }
}

fn start() -> Result<PgServer, String> {
    let bin = bin_dir().ok_or("PostgreSQL's initdb and pg_ctl are not installed")?;
    let dir = tempfile::Builder::new()
        .prefix("kroniek-pg-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    let data = dir.join("data");
    write_certificates(&dir)?;
    if is_root() {
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            return Err("cannot give the folder to the postgres user".into());
        }
    }
    let run = |mut c: Command, what: &str| -> Result<(), String> {
        let out = c.output().map_err(|e| format!("{what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{what}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    let path = |p: &Path| p.display().to_string();
    run(
        as_postgres(&[
            &path(&bin.join("initdb")),
            "-D",
            &path(&data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]),
        "initdb",
    )?;
    // The TLS-only database: plain connections to it are refused.
    let hba = data.join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).map_err(|e| format!("pg_hba.conf: {e}"))?;
    std::fs::write(
        &hba,
        format!("hostnossl {TLS_ONLY} all 127.0.0.1/32 reject\n{rules}"),
    )
    .map_err(|e| format!("pg_hba.conf: {e}"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=on -c synchronous_commit=on -c max_connections=200 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        path(&dir),
        path(&dir.join("server.crt")),
        path(&dir.join("server.key")),
    );
    run(
        as_postgres(&[
            &path(&bin.join("pg_ctl")),
            "-D",
            &path(&data),
            "-o",
            &options,
            "-l",
            &path(&dir.join("log")),
            "-w",
            "start",
        ]),
        "pg_ctl start",
    )?;
    // Stop the server and remove its folder once this process is gone.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runuser}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runuser = if is_root() { "runuser -u postgres -- " } else { "" },
        pg_ctl = path(&bin.join("pg_ctl")),
        data = path(&data),
        dir = path(&dir),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("the watchdog: {e}"))?;
    let mut admin = postgres::Client::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        postgres::NoTls,
    )
    .map_err(|e| format!("connect: {e}"))?;
    admin
        .batch_execute(&format!("CREATE DATABASE {TLS_ONLY}"))
        .map_err(|e| format!("create {TLS_ONLY}: {e}"))?;
    Ok(PgServer {
        port,
        ca_file: dir.join("ca.pem"),
    })
}

/// The test run's server, started on first use; `Err(why)` when it cannot run here.
pub fn server() -> Result<&'static PgServer, String> {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

impl PgServer {
    /// The PEM file of the authority the server's certificate is signed by.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database: its URL.
    pub fn fresh_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "kt_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        self.url(&name)
    }
}

/// A new database on the test run's server, or `None` after reporting the test as skipped
/// (PostgreSQL is not installed here). Where `KRONIEK_REQUIRE_POSTGRES` is set (CI), a server
/// that cannot start fails the test instead.
pub fn database() -> Option<String> {
    match server() {
        Ok(server) => Some(server.fresh_database()),
        Err(why) if std::env::var_os("KRONIEK_REQUIRE_POSTGRES").is_some() => {
            panic!("KRONIEK_REQUIRE_POSTGRES is set, but PostgreSQL cannot run: {why}")
        }
        Err(why) => {
            super::skipped(&format!("the PostgreSQL part: {why}"));
            None
        }
    }
}
