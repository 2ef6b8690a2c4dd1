//! Shared helpers: the real `kroniek` binary, temporary ledgers, and event lines.

pub mod postgres;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `kroniek` binary (package `kroniek-api`), built once per test run in the profile the
/// tests were built in (see [`binaries_built`]).
pub fn kroniek_bin() -> PathBuf {
    binaries_built().join("kroniek")
}

/// The `kroniek-bench` binary (package `kroniek-bench`), built like [`kroniek_bin`].
pub fn bench_bin() -> PathBuf {
    binaries_built().join("kroniek-bench")
}

/// Builds the workspace's binaries once per test run, in the profile the tests were built in,
/// and returns the folder they are in (`target/<profile>`).
///
/// The build selects what `cargo test --workspace` selects (every package, every target):
/// cargo resolves features over the packages and targets a command selects, so a build of one
/// package (`-p kroniek-api`) compiled most of the dependency tree a second time with other
/// features (libc without `extra_traits`, hyper without its client, …), and CI a third time
/// for `-p kroniek-tests`. With the same selection, the binaries reuse the tests' libraries.
fn binaries_built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // target/<profile>/deps/integration-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target");
        let mut build = Command::new(env!("CARGO"));
        build.args([
            "build",
            "--quiet",
            "--locked",
            "--workspace",
            "--all-targets",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(root())
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building the workspace's binaries failed");
        profile_dir.to_path_buf()
    })
}

/// Reports that the running test cannot run here (a tool is missing) and returns: says
/// SKIPPED on stderr (which the test harness hides) and, where `scripts/test` asks for it
/// (`KRONIEK_SKIPPED_FILE`), adds `test: why` to its list, so the run's summary names the test as
/// skipped rather than passed (and `.ci/run`, where nothing may be skipped, fails).
pub fn skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_owned();
    eprintln!("SKIPPED: {why}");
    if let Some(path) = std::env::var_os("KRONIEK_SKIPPED_FILE") {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{test}: {why}");
        }
    }
}

/// A temporary folder for one test's ledger (`ledger` inside it, not created yet).
pub struct Ledger {
    pub dir: tempfile::TempDir,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("ledger")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Appends the sample ledger (`events/sample.jsonl`); panics, as a test failure, if the
    /// append is refused.
    pub fn append_sample(&self) {
        let sample = root().join("events/sample.jsonl");
        self.run(&["append", sample.to_str().expect("a UTF-8 path")])
            .ok();
    }

    /// Runs `kroniek --data <ledger> ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None)
    }

    /// Runs `kroniek` with `stdin` on its standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        use std::io::Write;
        let mut cmd = Command::new(kroniek_bin());
        cmd.arg("--data").arg(self.data()).args(args);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("kroniek starts");
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(bytes) = stdin {
                pipe.write_all(bytes).expect("write stdin");
            }
        }
        Run(child.wait_with_output().expect("kroniek ends"))
    }

    /// Writes `lines` to a file in the ledger's folder and returns its path.
    pub fn file(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, lines.join("\n") + "\n").expect("write file");
        path
    }
}

/// A finished run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts exit status 0 and returns stdout.
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "stdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
}

/// A MemberJoined line for member `id` with a fixed event id.
pub fn joined(id: u32, event_id: u32) -> String {
    format!(
        r#"{{"stream":"member/{id}","type":"MemberJoined","effective":"2020-01-0{}","data":{{"member_id":"{id}","branch_id":null}},"personal":{{"name":"Lid {id}","residence":"Utrecht"}},"id":"{}"}}"#,
        1 + id % 9,
        uuid(event_id)
    )
}

/// A ContributionPaid line for member `id` with a fixed event id.
pub fn paid(id: u32, cents: i64, event_id: u32) -> String {
    format!(
        r#"{{"stream":"member/{id}","type":"ContributionPaid","effective":"2021-02-01","data":{{"member_id":"{id}","year":2021,"amount_cents":{cents}}},"id":"{}"}}"#,
        uuid(event_id)
    )
}

/// A deterministic UUID (version 4 layout) from a number.
pub fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// `(count, head)` from `verified N events, head H`.
pub fn parse_verified(stdout: &str) -> (u64, String) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("verified "))
        .expect("a verified line");
    let count = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a count");
    let head = line.rsplit(' ').next().expect("a head").to_owned();
    (count, head)
}

/// The arguments of `kroniek follow LEADER --token TOKEN [--key KEY]` on a free port.
pub fn follow_args<'a>(leader: &'a str, token: &'a str, key: Option<&'a str>) -> Vec<&'a str> {
    let mut args = vec![
        "follow",
        leader,
        "--token",
        token,
        "--listen",
        "127.0.0.1:0",
    ];
    if let Some(k) = key {
        args.extend_from_slice(&["--key", k]);
    }
    args
}

/// A running `kroniek serve` on a free 127.0.0.1 port, stopped (SIGTERM) when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
    pub admin_token: String,
    pub ledger: Ledger,
    /// What the server printed before its address (how it built its read models).
    pub startup: Vec<String>,
    /// Everything the server wrote to stderr so far (read by a thread of its own).
    stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    /// The thread that reads stderr; it ends when the server does.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts `kroniek serve --listen 127.0.0.1:0` with `args`, on a new ledger.
    pub fn start(args: &[&str]) -> Server {
        Server::start_on(Ledger::new(), args)
    }

    /// Starts the server on an existing ledger.
    pub fn start_on(ledger: Ledger, args: &[&str]) -> Server {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::spawn(ledger, &all)
    }

    /// Starts `kroniek follow LEADER --token TOKEN [--key KEY]` into `ledger`'s folder.
    pub fn follow(ledger: Ledger, leader: &str, token: &str, key: Option<&str>) -> Server {
        Server::spawn(ledger, &follow_args(leader, token, key))
    }

    /// [`Server::follow`] with more arguments (`--ca FILE`).
    pub fn follow_with(
        ledger: Ledger,
        leader: &str,
        token: &str,
        key: Option<&str>,
        more: &[&str],
    ) -> Server {
        let mut args = follow_args(leader, token, key);
        args.extend_from_slice(more);
        Server::spawn(ledger, &args)
    }

    /// Starts `kroniek --data DIR ARGS…` and waits for its address.
    fn spawn(ledger: Ledger, args: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = Command::new(kroniek_bin())
            .arg("--data")
            .arg(ledger.data())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kroniek serve starts");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr_reader = child.stderr.take().map(|mut pipe| {
            let kept = stderr.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut chunk = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                    kept.lock()
                        .expect("stderr buffer")
                        .extend_from_slice(&chunk[..n]);
                }
            })
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut admin_token = String::new();
        let mut startup = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("the server prints its address")
                .expect("a line");
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("krn_")) {
                admin_token = t.to_owned();
            }
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.trim().to_owned();
            }
            startup.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            admin_token,
            ledger,
            startup,
            stderr,
            stderr_reader,
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }

    /// A request; returns the status and the body (problem responses included).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build();
        let mut req = agent.request(method, &format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        match result {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// A GET that also returns the next page's address from an RFC 8288 `Link: <…>;
    /// rel="next"` header, if any.
    pub fn get_page(&self, path: &str, token: &str) -> (u16, String, Option<String>) {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build();
        let result = agent
            .get(&format!("{}{}", self.base, path))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        let r = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let next = r.header("link").and_then(|l| {
            l.strip_prefix('<')
                .and_then(|rest| rest.split_once(">; rel=\"next\""))
                .map(|(address, _)| address.to_owned())
        });
        (r.status(), r.into_string().unwrap_or_default(), next)
    }

    pub fn get(&self, path: &str, token: &str) -> (u16, String) {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: &str) -> (u16, String) {
        self.call("POST", path, Some(token), Some(body))
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("a pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().expect("the server ends")
    }

    /// Stops the server with SIGTERM and checks that it ended cleanly (exit status 0); if not,
    /// fails with the status and what the server wrote to stderr.
    pub fn stop_cleanly(&mut self) {
        let status = self.stop();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        assert!(
            status.success(),
            "the server did not stop cleanly on SIGTERM: {status:?}; its stderr:\n{}",
            self.stderr()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
