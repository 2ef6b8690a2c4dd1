//! The verifying follower (`kroniek follow`, issue 20, item 4), driven as a user would: a
//! leader serving the sample ledger, a follower copying it over HTTP. The follower answers as
//! the leader does (an erasure on the leader included), refuses writes with the leader's URL,
//! catches up after its own SIGKILL, and stops (exit 1, the copy kept) when a leader shows a
//! rewound history or a checkpoint signed by another key.

use crate::support::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Waits until `check` holds, or fails after a minute saying what was awaited.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The ledger of a stopped server, to start another process on.
fn take_ledger(server: &mut Server) -> Ledger {
    std::mem::replace(&mut server.ledger, Ledger::new())
}

fn head(server: &Server, token: &str) -> Value {
    json(&server.get("/v1/head", token).1)
}

/// The read answers a follower must give as its leader does.
const SAME_ANSWERS: [&str; 6] = [
    "/v1/head",
    "/v1/members?limit=1000",
    "/v1/timeline?limit=1000",
    "/v1/members/7001",
    "/v1/bodies/afdeling-den-haag%2Fbestuur/composition?as_of=2020-03-01",
    "/v1/events?from=0&limit=1000",
];

/// Appends on `leader` a member joining for each of `members` (event ids from `first_event`),
/// then erases the first of them.
fn joins_and_an_erasure(
    leader: &Server,
    token: &str,
    members: std::ops::Range<u32>,
    first_event: u32,
) {
    let first = members.start;
    for (i, id) in members.enumerate() {
        let (status, body) = leader.post("/v1/events", token, &joined(id, first_event + i as u32));
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = leader.post(
        &format!("/v1/members/{first}/erase"),
        token,
        r#"{"reason":"AVG-verzoek"}"#,
    );
    assert_eq!(status, 201, "{body}");
}

/// Runs `kroniek follow` to its end (it must stop by itself within a minute); its exit code
/// and standard error.
fn follow_until_it_stops(data: &std::path::Path, leader: &str, token: &str) -> (i32, String) {
    let mut child = Command::new(kroniek_bin())
        .arg("--data")
        .arg(data)
        .args(follow_args(leader, token, None))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kroniek follow starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the follower's status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the follower did not stop within a minute");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    use std::io::Read;
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_follower_keeps_a_verified_read_only_copy_and_refuses_a_rewind_or_another_key() {
    // The leader: the sample ledger, its verifier key read while it is served.
    let ledger = Ledger::new();
    ledger.append_sample();
    let leader = Server::start_on(ledger, &[]);
    let key = leader.ledger.run(&["key", "show"]).ok().trim().to_owned();
    assert!(key.contains('+'), "a verifier key: {key}");
    let token = leader.admin_token.clone();
    assert!(!token.is_empty(), "the leader printed an admin token");
    // An export of the leader as it is now: another ledger with these records and its own key
    // is made from it below.
    let (status, export) = leader.get("/v1/export", &token);
    assert_eq!(status, 200);
    let at_export = head(&leader, &token)["count"].as_u64().expect("a count");

    // The follower takes the whole ledger and answers as the leader does.
    let mut follower = Server::follow(Ledger::new(), &leader.base, &token, Some(&key));
    wait_until("the follower to catch up", || {
        head(&follower, &token) == head(&leader, &token)
    });
    // The copy's key is the leader's: its checkpoints are the leader's.
    assert_eq!(follower.ledger.run(&["key", "show"]).ok().trim(), key);
    // A copy of the follower's folder at this point (it is stopped for the copy).
    follower.child.kill().expect("SIGKILL");
    follower.child.wait().expect("it ends");
    let early_copy = Ledger::new();
    let status = Command::new("cp")
        .arg("-r")
        .arg(follower.ledger.data())
        .arg(early_copy.data())
        .status()
        .expect("cp");
    assert!(status.success());
    let mut follower = Server::follow(take_ledger(&mut follower), &leader.base, &token, None);

    // New records and an erasure on the leader reach the follower.
    joins_and_an_erasure(&leader, &token, 7001..7004, 90_000);
    wait_until("the follower to take the appends and the erasure", || {
        head(&follower, &token) == head(&leader, &token)
    });
    for path in SAME_ANSWERS {
        let (a, b) = (leader.get(path, &token), follower.get(path, &token));
        assert_eq!(a.0, 200, "{path} on the leader: {}", a.1);
        assert_eq!(a, b, "{path} differs between the leader and the follower");
    }
    assert!(
        json(&follower.get("/v1/members/7001", &token).1)["personal"].is_null(),
        "the erasure was repeated on the follower"
    );
    // The follower accepts the leader's signed checkpoints and serves them as they are.
    wait_until("the follower to accept the leader's checkpoint", || {
        follower.get("/v1/checkpoint", &token) == leader.get("/v1/checkpoint", &token)
    });

    // Writes go to the leader.
    let (status, body) = follower.post("/v1/events", &token, &joined(7010, 90_010));
    assert_eq!(status, 405, "{body}");
    assert!(
        body.contains(&leader.base),
        "the answer names the leader: {body}"
    );
    let (status, _) = follower.post("/v1/members/7002/erase", &token, r#"{"reason":"x"}"#);
    assert_eq!(status, 405);

    // SIGKILL, more appends, a restart: the follower goes on from its copy.
    follower.child.kill().expect("SIGKILL");
    follower.child.wait().expect("it ends");
    for i in 0..40u32 {
        let (status, body) = leader.post(
            "/v1/events",
            &token,
            &paid(7002, 1200 + i64::from(i), 91_000 + i),
        );
        assert_eq!(status, 201, "{body}");
    }
    let mut follower = Server::follow(take_ledger(&mut follower), &leader.base, &token, None);
    wait_until("the restarted follower to catch up", || {
        head(&follower, &token) == head(&leader, &token)
    });
    assert_eq!(
        follower.get("/v1/events?from=0&limit=1000", &token),
        leader.get("/v1/events?from=0&limit=1000", &token)
    );
    let copy_count = head(&follower, &token)["count"].as_u64().expect("a count");
    let copy = take_ledger(&mut follower);
    drop(follower);

    // Another ledger: the leader's records up to the export, restored under a key of its own.
    let other = Ledger::new();
    let file = other.file("leader.jsonl", &[export.trim_end().to_owned()]);
    other.run(&["restore", file.to_str().expect("a path")]).ok();
    let other = Server::start_on(other, &[]);
    assert_eq!(head(&other, &token)["count"].as_u64(), Some(at_export));

    // The copy made at the export's head: the same records, but a checkpoint of another key.
    let (code, stderr) = follow_until_it_stops(&early_copy.data(), &other.base, &token);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("refused") && stderr.contains("not signed by this ledger's key"),
        "{stderr}"
    );
    // The copy that went further: the other ledger is behind it, a rewind.
    let (code, stderr) = follow_until_it_stops(&copy.data(), &other.base, &token);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("rewound"), "{stderr}");
    // Both copies kept what they had, and verify.
    let verified = copy.run(&["verify"]);
    assert!(verified.ok().contains(&copy_count.to_string()));
    early_copy.run(&["verify"]).ok();
}

/// Grants `role` a token on `leader` (by the admin's `POST /v1/tokens`).
fn grant(leader: &Server, principal: &str, role: &str) -> String {
    let body = format!(r#"{{"principal":"{principal}","role":"{role}"}}"#);
    let (status, answer) = leader.post("/v1/tokens", &leader.admin_token, &body);
    assert_eq!(status, 201, "{answer}");
    json(&answer)["token"].as_str().expect("a token").to_owned()
}

/// A follower with the token of a role that does not read everything keeps that role's view:
/// the records the role may not see withheld, personal data it may not see not held. Its
/// export, verification and read answers for that token are the leader's; it follows the
/// leader's erasures; and a copy of one role's view refuses another role's token.
#[test]
fn a_follower_with_another_roles_token_holds_what_that_role_reads() {
    let ledger = Ledger::new();
    ledger.append_sample();
    let leader = Server::start_on(ledger, &[]);
    let key = leader.ledger.run(&["key", "show"]).ok().trim().to_owned();
    let admin = leader.admin_token.clone();
    let roles = [
        ("kascommissie", "auditor"),
        ("hoofdbestuur", "board"),
        ("geschillen", "disputes"),
    ];
    let mut copies = Vec::new();
    for (principal, role) in roles {
        let token = grant(&leader, principal, role);
        let (status, who) = leader.get("/v1/whoami", &token);
        assert_eq!(status, 200, "{who}");
        assert_eq!(json(&who)["role"].as_str(), Some(role));
        let follower = Server::follow(Ledger::new(), &leader.base, &token, Some(&key));
        copies.push((role, token, follower));
    }
    // Records and an erasure after the followers started reach them too.
    joins_and_an_erasure(&leader, &admin, 7101..7103, 92_000);
    for (role, token, follower) in &copies {
        wait_until(&format!("the {role} follower to catch up"), || {
            head(follower, token) == head(&leader, token)
        });
        // The follower's own token works on its copy (a board's copy holds no access records).
        assert_eq!(
            follower.get("/v1/whoami", token),
            leader.get("/v1/whoami", token)
        );
        let (status, export) = follower.get("/v1/export", token);
        assert_eq!(status, 200, "{export}");
        assert_eq!(
            export,
            leader.get("/v1/export", token).1,
            "the {role} export"
        );
        assert!(
            export.contains(r#""withheld":true}"#),
            "{role}: some records are withheld"
        );
        assert_eq!(
            follower.get("/v1/events?from=0&limit=1000", token),
            leader.get("/v1/events?from=0&limit=1000", token),
            "{role}"
        );
        let verified = json(&follower.get("/v1/verify", token).1);
        assert_eq!(verified["verified"], true, "{role}: {verified}");
        assert!(
            verified["withheld"].as_u64() > Some(0),
            "{role}: {verified}"
        );
        // The read models answer from the records the copy holds: as the leader's where those
        // hold all the answer needs.
        let same: &[&str] = match *role {
            "auditor" => &["/v1/members?limit=1000", "/v1/timeline?limit=1000"],
            "board" => &["/v1/timeline?limit=1000", "/v1/members?limit=1000"],
            _ => &[
                "/v1/timeline?limit=1000",
                "/v1/members/10220",
                "/v1/cases/r-2022-01",
            ],
        };
        for path in same {
            let (a, b) = (leader.get(path, token), follower.get(path, token));
            assert_eq!(a.0, 200, "{role} {path} on the leader: {}", a.1);
            assert_eq!(
                a, b,
                "{role}: {path} differs between the leader and the follower"
            );
        }
        // Where the leader's read models show the role more than its records (the names of
        // office holders come from members' personal data; the auditor's report counts case
        // files), the copy's answer lacks exactly that.
        if *role == "board" {
            let path = "/v1/bodies/afdeling-den-haag%2Fbestuur/composition?as_of=2020-03-01";
            let mut theirs = json(&leader.get(path, token).1);
            for seat in theirs["seats"].as_array_mut().expect("seats") {
                for holder in seat["holders"].as_array_mut().expect("holders") {
                    assert!(
                        holder["name"].is_string(),
                        "the leader names office holders"
                    );
                    holder.as_object_mut().expect("a holder").remove("name");
                }
            }
            assert_eq!(json(&follower.get(path, token).1), theirs);
        }
        if *role == "auditor" {
            let (a, b) = (
                json(&leader.get("/v1/audit/2022", token).1),
                json(&follower.get("/v1/audit/2022", token).1),
            );
            for section in ["params", "decisions", "money"] {
                assert_eq!(a[section], b[section], "the audit report's {section}");
            }
            assert_eq!(b["integrity"]["verified"], true, "{b}");
            assert_eq!(
                b["cases"],
                serde_json::json!([]),
                "no case files in the copy"
            );
        }
        // The copy holds no more than the role's view: the leader's admin token, if the copy
        // holds its grant, still reads only that view there.
        let (status, as_admin) = follower.get("/v1/export", &admin);
        if status == 200 {
            assert_eq!(
                as_admin, export,
                "{role}: the admin reads the {role} view on its copy"
            );
        }
    }
    // A copy of the auditor's view does not take the board's token.
    let board_token = copies[1].1.clone();
    let (_, _, mut auditor_follower) = copies.remove(0);
    auditor_follower.child.kill().expect("SIGKILL");
    auditor_follower.child.wait().expect("it ends");
    let auditor_copy = take_ledger(&mut auditor_follower);
    let (code, stderr) = follow_until_it_stops(&auditor_copy.data(), &leader.base, &board_token);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("holds the auditor view"), "{stderr}");
    let verified = json(&auditor_copy.run(&["verify", "--json"]).ok());
    assert_eq!(verified["verified"], true, "{verified}");
    assert!(verified["withheld"].as_u64() > Some(0), "{verified}");
}

/// A TLS front for the plain HTTP server at `backend` (`host:port`), on a free 127.0.0.1
/// port, with a certificate for 127.0.0.1 and localhost signed by a new certificate
/// authority: its `https://` address and the authority's PEM. It serves until the test ends.
fn tls_front(backend: &str) -> (String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kroniek test CA");
    let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
    let leaf_key = rcgen::KeyPair::generate().expect("a server key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("a server certificate");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("a server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().expect("an address").port()
    );
    let backend = backend.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, backend) = (acceptor.clone(), backend.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    (address, ca.pem())
}

/// A leader behind TLS (HTTPS, as across the internet): the follower trusts the party's own
/// certificate authority with `--ca` and keeps its copy; without it, the public roots do not
/// vouch for that certificate and the follower refuses to start (nothing is sent in clear).
#[test]
fn a_follower_reaches_a_leader_over_https_trusting_the_ca_it_is_given() {
    let ledger = Ledger::new();
    ledger.append_sample();
    let leader = Server::start_on(ledger, &[]);
    let key = leader.ledger.run(&["key", "show"]).ok().trim().to_owned();
    let token = leader.admin_token.clone();
    let (https, ca) = tls_front(leader.base.trim_start_matches("http://"));
    let copy = Ledger::new();
    let ca_file = copy.file("party-ca.pem", &[ca.trim_end().to_owned()]);
    let ca_path = ca_file.to_str().expect("a path").to_owned();

    // Without --ca: the public roots do not know the party's CA.
    let (code, stderr) = {
        let mut child = Command::new(kroniek_bin())
            .arg("--data")
            .arg(copy.path("untrusted"))
            .args(follow_args(&https, &token, Some(&key)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kroniek follow starts");
        let status = child.wait().expect("it ends");
        let mut stderr = String::new();
        use std::io::Read;
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code().unwrap_or(-1), stderr)
    };
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    // With --ca: the copy is made over TLS and follows new records.
    let follower = Server::follow_with(copy, &https, &token, Some(&key), &["--ca", &ca_path]);
    let (status, body) = leader.post("/v1/events", &token, &joined(7201, 93_000));
    assert_eq!(status, 201, "{body}");
    wait_until("the follower to catch up over TLS", || {
        head(&follower, &token) == head(&leader, &token)
    });
    assert_eq!(
        follower.get("/v1/events?from=0&limit=1000", &token),
        leader.get("/v1/events?from=0&limit=1000", &token)
    );
}
