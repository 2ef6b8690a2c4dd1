//! The HTTP API, driven over 127.0.0.1 against the real server: every endpoint, appends with
//! conflicts and retries, problem responses for bad input, every role against every endpoint,
//! what each role may see, each role's records verifying, revocation, graceful shutdown.

use crate::support::{parse_verified, Ledger, Server};
use serde_json::Value;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const PAYMENT: &str = r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-01","data":{"member_id":"10201","year":2025,"amount_cents":1500},"id":"7e570000-0000-4000-8000-000000000001"}"#;

#[test]
fn appends_answer_with_positions_retries_conflicts_and_problems() {
    let s = Server::start(&["--demo", "--max-body-bytes", "65536", "--max-batch", "50"]);
    let t = s.admin_token.clone();
    let head = || json(&s.get("/v1/head", &t).1)["count"].as_u64().unwrap();
    let start = head();
    let (code, body) = s.post("/v1/events", &t, PAYMENT);
    assert_eq!(code, 201, "{body}");
    let first = json(&body);
    assert_eq!(first["positions"], serde_json::json!([start]));
    // An idempotent retry: 200 with the first result, nothing written.
    let (code, body) = s.post("/v1/events", &t, PAYMENT);
    assert_eq!(
        (code, json(&body)["positions"].clone()),
        (200, first["positions"].clone())
    );
    assert_eq!(head(), start + 1);
    // The same id, other content: 409 id-reused.
    let (code, body) = s.post("/v1/events", &t, &PAYMENT.replace("1500", "1600"));
    assert_eq!(
        (code, json(&body)["rule"].as_str()),
        (409, Some("id-reused"))
    );
    // expected_version: 409 version-conflict.
    let conflict = r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-02","data":{"member_id":"10201","year":2025,"amount_cents":100},"expected_version":0}"#;
    let (code, body) = s.post("/v1/events", &t, conflict);
    let p = json(&body);
    assert_eq!(
        (
            code,
            p["rule"].as_str(),
            p["index"].as_u64(),
            p["field"].as_str()
        ),
        (
            409,
            Some("version-conflict"),
            Some(0),
            Some("expected_version")
        )
    );
    // A batch: the second event breaks a governance rule → 422, nothing of the batch written.
    let batch = format!(
        r#"[{},{}]"#,
        PAYMENT.replace("000000000001", "000000000002"),
        PAYMENT
            .replace("10201", "99999")
            .replace("000000000001", "000000000003")
    );
    let (code, body) = s.post("/v1/events", &t, &batch);
    let p = json(&body);
    assert_eq!(
        (code, p["rule"].as_str(), p["index"].as_u64()),
        (422, Some("unknown-reference"), Some(1))
    );
    assert_eq!(head(), start + 1);
    // Bad input: every answer a 4xx problem, nothing written.
    let big = format!(
        r#"{{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-01","data":{{"member_id":"10201","year":2025,"amount_cents":1,"x":"{}"}}}}"#,
        "a".repeat(70_000)
    );
    let many = format!("[{}]", vec![PAYMENT; 51].join(","));
    let cases: &[(&str, u16, Option<&str>)] = &[
        ("{not json", 400, Some("malformed-field")),
        ("[]", 400, Some("malformed-field")),
        ("42", 400, Some("malformed-field")),
        (
            r#"{"stream":"member/10201","type":"Nonsense","effective":"2024-01-01","data":{}}"#,
            400,
            Some("unknown-type"),
        ),
        (
            r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-01-01","data":{"member_id":"10201","year":"2024","amount_cents":1}}"#,
            400,
            Some("malformed-field"),
        ),
        (
            r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-01-01","data":{"member_id":"10201","year":2024,"amount_cents":1,"extra":true}}"#,
            400,
            Some("malformed-field"),
        ),
        (
            r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-01-01","data":{"member_id":"10201","year":2024,"amount_cents":1.5}}"#,
            400,
            Some("malformed-field"),
        ),
        (
            r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-01-01","data":{"member_id":"10201","year":2024,"amount_cents":-1}}"#,
            400,
            Some("negative-amount"),
        ),
        (&big, 413, None),
        (&many, 413, None),
    ];
    for (body, status, rule) in cases {
        let (code, answer) = s.post("/v1/events", &t, body);
        assert_eq!(code, *status, "{}: {answer}", &body[..body.len().min(80)]);
        let p = json(&answer);
        assert_eq!(p["status"].as_u64(), Some(u64::from(*status)));
        if let Some(rule) = rule {
            assert_eq!(p["rule"].as_str(), Some(*rule), "{answer}");
        }
    }
    assert_eq!(head(), start + 1, "nothing was written");
    // Wrong query types and unknown endpoints are problems too.
    assert_eq!(s.get("/v1/events?from=abc", &t).0, 400);
    assert_eq!(s.get("/v1/nothing", &t).0, 404);
    assert_eq!(s.get("/v1/members/10201?as_of=2020-13-01", &t).0, 400);
}

#[test]
fn every_read_endpoint_answers_and_ids_with_slashes_work() {
    let s = Server::start(&["--demo"]);
    let t = s.admin_token.clone();
    let (code, body) = s.get(
        "/v1/bodies/afdeling-den-haag%2Fbestuur/composition?as_of=2020-03-01",
        &t,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["body_id"], "afdeling-den-haag/bestuur");
    assert_eq!(
        json(&s.get("/v1/bodies/afdeling-den-haag%2Fbestuur/terms", &t).1)["terms"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let stream = json(
        &s.get(
            "/v1/streams/body/afdeling-den-haag/bestuur?from_version=1",
            &t,
        )
        .1,
    );
    assert_eq!(stream[0]["version"], 1);
    assert_eq!(stream[0]["stream"], "body/afdeling-den-haag/bestuur");
    let encoded = json(&s.get("/v1/streams/member%2F10201", &t).1);
    assert_eq!(encoded[0]["type"], "MemberJoined");
    let events = json(&s.get("/v1/events?from=3&limit=2", &t).1);
    assert_eq!(
        (
            events[0]["position"].as_u64(),
            events.as_array().unwrap().len()
        ),
        (Some(3), 2)
    );
    for path in [
        "/v1/members/10220?as_of=2022-07-01",
        "/v1/members?as_of=2023-01-01",
        "/v1/timeline?body=alv&from=2020-01-01&to=2020-12-31",
        "/v1/elections/bestuur-2021",
        "/v1/cases/r-2022-01",
        "/v1/conduct?as_of=2022-05-01",
        "/v1/head",
    ] {
        let (code, body) = s.get(path, &t);
        assert_eq!(code, 200, "{path}: {body}");
        json(&body);
    }
    assert_eq!(
        json(&s.get("/v1/members/10220?as_of=2022-07-01", &t).1)["status"],
        "suspended"
    );
    assert_eq!(s.get("/v1/bodies/nergens/composition", &t).0, 404);
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
}

/// Principals of every role, with tokens the test knows.
fn grant_every_role(s: &Server) -> Vec<(&'static str, String)> {
    let roles = [
        "admin",
        "secretary",
        "disputes",
        "auditor",
        "board",
        "member",
    ];
    let mut out = Vec::new();
    for role in roles {
        let token = format!("krn_test_{role}");
        let hash = blake3::hash(token.as_bytes()).to_hex().to_string();
        let body = format!(
            r#"{{"stream":"access/t-{role}","type":"AccessGranted","effective":"2024-01-01","data":{{"principal":"t-{role}","role":"{role}","token_blake3":"{hash}"}}}}"#
        );
        let (code, answer) = s.post("/v1/events", &s.admin_token, &body);
        assert_eq!(code, 201, "{answer}");
        out.push((role, token));
    }
    out
}

#[test]
fn every_role_against_every_endpoint() {
    let s = Server::start(&["--demo"]);
    let tokens = grant_every_role(&s);
    let all = [
        "admin",
        "secretary",
        "disputes",
        "auditor",
        "board",
        "member",
    ];
    let table: &[(&str, &str, &[&str])] = &[
        ("GET", "/v1/events?limit=1000", &all),
        ("GET", "/v1/streams/member/10201", &all),
        ("GET", "/v1/head", &all),
        ("GET", "/v1/whoami", &all),
        ("GET", "/v1/bodies/landelijk-bestuur/composition", &all),
        (
            "GET",
            "/v1/bodies/landelijk-bestuur/composition?as_of=2021-01-06",
            &["admin", "secretary", "disputes", "auditor", "board"],
        ),
        (
            "GET",
            "/v1/bodies/landelijk-bestuur/terms",
            &["admin", "secretary", "disputes", "auditor", "board"],
        ),
        (
            "GET",
            "/v1/members/10202?as_of=2023-01-01",
            &["admin", "secretary", "disputes", "auditor", "board"],
        ),
        (
            "GET",
            "/v1/members?as_of=2023-01-01",
            &["admin", "secretary", "disputes", "auditor", "board"],
        ),
        ("GET", "/v1/timeline", &all),
        ("GET", "/v1/elections/bestuur-2021", &all),
        ("GET", "/v1/cases/r-2022-01", &["admin", "disputes"]),
        (
            "GET",
            "/v1/meetings/alv-2020-11",
            &["admin", "secretary", "disputes", "auditor", "board"],
        ),
        (
            "GET",
            "/v1/conduct",
            &["admin", "secretary", "disputes", "auditor", "board"],
        ),
        ("GET", "/v1/verify", &all),
        ("GET", "/v1/checkpoint", &all),
        (
            "GET",
            "/v1/audit/2022",
            &["admin", "secretary", "auditor", "board"],
        ),
        ("GET", "/v1/proofs/inclusion/3?size=100", &all),
        ("GET", "/v1/proofs/consistency?old=10&new=100", &all),
        ("GET", "/v1/export", &all),
        ("GET", "/metrics", &["admin"]),
    ];
    let mut bodies: Vec<(&str, String)> = Vec::new();
    for (method, path, allowed) in table {
        assert_eq!(
            s.call(method, path, None, None).0,
            401,
            "{method} {path} without a token"
        );
        assert_eq!(s.call(method, path, Some("krn_nonsense"), None).0, 401);
        for (role, token) in &tokens {
            let (code, body) = s.call(method, path, Some(token), None);
            let expected = if allowed.contains(role) { 200 } else { 403 };
            assert_eq!(code, expected, "{role} {method} {path}: {body}");
            bodies.push((role, body));
        }
    }
    // The table the API docs publish (from the code's own endpoint x role table) is the one
    // this test checks: every published GET endpoint has a row here with the same roles.
    let doc = json(&s.call("GET", "/openapi.json", None, None).1);
    let description = doc["info"]["description"].as_str().unwrap().to_owned();
    let roles = [
        "admin",
        "secretary",
        "disputes",
        "auditor",
        "board",
        "member",
    ];
    let matches = |template: &str, path: &str| {
        let t: Vec<&str> = template.split('/').collect();
        let p: Vec<&str> = path.split('?').next().unwrap().split('/').collect();
        if template.ends_with("{stream}") {
            return p.len() >= t.len()
                && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b);
        }
        t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b)
    };
    let mut checked = 0;
    for line in description.lines().filter(|l| l.starts_with("| `GET ")) {
        let template = line
            .split('`')
            .nth(1)
            .unwrap()
            .trim_start_matches("GET ")
            .to_owned();
        if template == "/v1/subscribe" {
            continue; // a stream: checked in the subscription test
        }
        let cells: Vec<&str> = line
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let published: Vec<&str> = roles
            .iter()
            .zip(&cells[1..])
            .filter(|(_, c)| **c == "✓")
            .map(|(r, _)| *r)
            .collect();
        let row = table
            .iter()
            .find(|(m, p, _)| *m == "GET" && matches(&template, p) && !p.contains("as_of=2021"))
            .unwrap_or_else(|| panic!("the published endpoint {template} has no row in this test"));
        let mut tested: Vec<&str> = row.2.to_vec();
        tested.sort_by_key(|r| roles.iter().position(|x| x == r));
        assert_eq!(
            tested, published,
            "{template}: the test and the published table differ"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} published endpoints checked");
    // Appends: by stream category.
    let case_event = r#"{"stream":"case/r-2022-01","type":"DocumentFiled","effective":"2022-09-21","data":{"case_id":"r-2022-01","title":"Nazending","filed_by":"10209","document_blake3":"0000000000000000000000000000000000000000000000000000000000000000"}}"#;
    let access_event = r#"{"stream":"access/x","type":"AccessRevoked","effective":"2024-01-01","data":{"principal":"x"}}"#;
    for (role, token) in &tokens {
        let member_ok = matches!(*role, "admin" | "secretary");
        let case_ok = matches!(*role, "admin" | "disputes");
        let pay = PAYMENT.replace(
            "000000000001",
            &format!("{:012x}", role.len() * 7 + role.as_bytes()[0] as usize),
        );
        let (code, body) = s.post("/v1/events", token, &pay);
        assert_eq!(
            code,
            if member_ok { 201 } else { 403 },
            "{role} appends a payment: {body}"
        );
        let (code, body) = s.post("/v1/events", token, case_event);
        assert!(
            if case_ok {
                code == 201 || code == 200
            } else {
                code == 403
            },
            "{role} files a document: {code} {body}"
        );
        if !matches!(*role, "admin") {
            assert_eq!(
                s.post("/v1/events", token, access_event).0,
                403,
                "{role} revokes access"
            );
        }
    }
    // What each role may see.
    let case_summary = "Herhaalde intimidatie";
    for (role, body) in &bodies {
        if matches!(*role, "board" | "member" | "auditor") {
            assert!(!body.contains(case_summary), "{role} saw a case summary");
        }
        if matches!(*role, "board" | "member") {
            assert!(
                !body.contains("residence"),
                "{role} saw a residence: {}",
                &body[..body.len().min(300)]
            );
        }
    }
    // The auditor sees a residence only as a donor's or a lender's, on the gift and loan
    // records (step 11: loans are disclosed as gifts are).
    let auditor = &tokens[3].1;
    let events = json(&s.get("/v1/events?limit=1000", auditor).1);
    for e in events.as_array().unwrap() {
        let text = e.to_string();
        if text.contains("residence") {
            assert!(
                e["type"] == "GiftReceived" || e["type"] == "LoanReceived",
                "{text}"
            );
            assert!(!text.contains("\"residence\""), "{text}");
        }
    }
    // Office holders' names are public record; other members' details are not.
    let board = &tokens[4].1;
    let m = json(&s.get("/v1/members/10202?as_of=2023-01-01", board).1);
    assert_eq!(m["details"], serde_json::json!({"name": "Bram Jansen"}));
    let m = json(&s.get("/v1/members/10227?as_of=2023-01-01", board).1);
    assert!(
        m.get("details").is_none(),
        "personal data the role may not see is absent, not empty: {m}"
    );
    let m = json(&s.get("/v1/members/10227?as_of=2023-01-01", &tokens[1].1).1);
    assert_eq!(m["details"]["residence"], "Utrecht");
    // The member role: decisions only on the timeline, profiles but no candidacies.
    let member = &tokens[5].1;
    let tl = json(&s.get("/v1/timeline", member).1);
    assert!(tl
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] == "decision"));
    let e = json(&s.get("/v1/elections/bestuur-2021", member).1);
    assert_eq!(
        (
            e["candidacies"].as_array().unwrap().len(),
            e["profiles"].as_array().unwrap().len()
        ),
        (0, 4)
    );
    // Erasure, role × subject: the subject's stream against the role's append rights (the
    // policy of appends), before anything else; an empty reason is malformed-field, a subject
    // erased already invalid-state. The roles in reverse, so the office and the disputes
    // committee erase first and the admin meets the erased subject.
    let subjects: [(&str, &[&str]); 3] = [
        ("10205", &["admin", "secretary"]),
        ("case:r-2022-01", &["admin", "disputes"]),
        ("donor:d-0043", &["admin", "secretary"]),
    ];
    for (subject, may) in subjects {
        let path = format!("/v1/members/{subject}/erase");
        let mut erased = false;
        for (role, token) in tokens.iter().rev() {
            if may.contains(role) {
                let (code, body) = s.post(&path, token, r#"{"reason":"  "}"#);
                assert_eq!(code, 400, "{role} erases {subject} for no reason: {body}");
                assert_eq!(json(&body)["rule"], "malformed-field", "{body}");
            }
            let (code, body) = s.post(&path, token, r#"{"reason":"AVG-verzoek"}"#);
            let expected = match (may.contains(role), erased) {
                (false, _) => 403,
                (true, false) => 201,
                (true, true) => 422,
            };
            assert_eq!(code, expected, "{role} erases {subject}: {body}");
            match code {
                201 => erased = true,
                422 => assert_eq!(json(&body)["rule"], "invalid-state", "{body}"),
                _ => assert!(body.contains(&format!("the {role} role may not")), "{body}"),
            }
        }
        assert!(erased, "nobody erased {subject}");
    }
    let case = json(&s.get("/v1/cases/r-2022-01", &tokens[2].1).1);
    assert!(!case.to_string().contains(case_summary), "{case}");
    assert_eq!(
        json(&s.get("/v1/verify", &s.admin_token).1)["verified"],
        true
    );
}

#[test]
fn each_roles_records_verify_and_a_revoked_token_stops_at_once() {
    let s = Server::start(&["--demo"]);
    let tokens = grant_every_role(&s);
    let dir = Ledger::new();
    for (role, token) in &tokens {
        let records = json(&s.get("/v1/events?limit=1000", token).1);
        let lines: Vec<String> = records
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        // serde_json writes keys sorted (a BTreeMap), and these records hold no floats or
        // escapes that differ from JCS, so the lines are the canonical records again.
        let file = dir.file(&format!("{role}.jsonl"), &lines);
        let out = dir.run(&["verify", "--export", file.to_str().unwrap()]);
        assert_eq!(out.code(), 0, "{role}: {}", out.stdout());
        let (count, _) = parse_verified(&out.stdout());
        assert_eq!(count as usize, lines.len());
        let withheld = lines
            .iter()
            .filter(|l| l.contains("\"withheld\":true"))
            .count();
        match *role {
            "admin" => assert_eq!(withheld, 0),
            "secretary" | "auditor" => assert!(
                withheld > 0
                    && lines
                        .iter()
                        .all(|l| !l.contains("\"stream\":\"case/") || l.contains("withheld"))
            ),
            _ => assert!(withheld > 0),
        }
    }
    let secretary = &tokens[1].1;
    assert_eq!(s.get("/v1/head", secretary).0, 200);
    let revoke = r#"{"stream":"access/t-secretary","type":"AccessRevoked","effective":"2024-06-01","data":{"principal":"t-secretary"}}"#;
    assert_eq!(s.post("/v1/events", &s.admin_token, revoke).0, 201);
    assert_eq!(s.get("/v1/head", secretary).0, 401);
    // The actor of an appended event is role:principal.
    let board_payment = PAYMENT.replace("000000000001", "0000000000aa");
    assert_eq!(s.post("/v1/events", &tokens[0].1, &board_payment).0, 201);
    let last = json(&s.get("/v1/streams/member/10201", &s.admin_token).1);
    assert_eq!(
        last.as_array().unwrap().last().unwrap()["actor"],
        "admin:t-admin"
    );
}

/// SIGINT and SIGTERM are caught before the server says it listens: a stop sent the moment it
/// has said so is a clean stop (exit status 0, the read models' snapshot saved), not the
/// signal's default of ending the process.
#[test]
fn a_stop_sent_as_soon_as_the_server_listens_is_a_clean_stop() {
    for _ in 0..3 {
        let mut s = Server::start(&[]);
        s.stop_cleanly();
    }
}

#[test]
fn the_server_holds_the_store_shuts_down_gracefully_and_keeps_what_it_acknowledged() {
    let s = Server::start(&["--demo"]);
    let (code, _) = s.post("/v1/events", &s.admin_token, PAYMENT);
    assert_eq!(code, 201);
    // Another command while the server holds the store: a plain answer naming the server.
    let run = s.ledger.run(&["verify"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("is in use by process") && run.stderr().contains("serve"),
        "{}",
        run.stderr()
    );
    let mut s = s;
    s.stop_cleanly();
    // After the shutdown the store opens, verifies, and holds the acknowledged payment.
    let out = s
        .ledger
        .run(&["log", "--stream", "member/10201", "--json"])
        .ok();
    assert!(out.contains("7e570000-0000-4000-8000-000000000001"));
    s.ledger.run(&["verify"]).ok();
}

/// Reads Server-Sent Events from a response body: (id, data) pairs.
struct SseReader {
    lines: std::io::Lines<std::io::BufReader<Box<dyn std::io::Read + Send + Sync>>>,
}

impl SseReader {
    fn open(s: &Server, token: &str, from: Option<u64>, last_id: Option<u64>) -> SseReader {
        use std::io::BufRead;
        let agent = ureq::AgentBuilder::new()
            .timeout_read(std::time::Duration::from_secs(20))
            .build();
        let path = match from {
            Some(f) => format!("{}/v1/subscribe?from={f}", s.base),
            None => format!("{}/v1/subscribe", s.base),
        };
        let mut req = agent
            .get(&path)
            .set("Authorization", &format!("Bearer {token}"));
        if let Some(id) = last_id {
            req = req.set("Last-Event-ID", &id.to_string());
        }
        let response = req.call().expect("subscribe");
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        SseReader {
            lines: std::io::BufReader::new(response.into_reader()).lines(),
        }
    }

    fn next(&mut self) -> (u64, Value) {
        let (mut id, mut data) = (None, None);
        for line in self.lines.by_ref() {
            let line = line.expect("an SSE line");
            if let Some(v) = line
                .strip_prefix("id: ")
                .or_else(|| line.strip_prefix("id:"))
            {
                id = v.trim().parse().ok();
            } else if let Some(v) = line
                .strip_prefix("data: ")
                .or_else(|| line.strip_prefix("data:"))
            {
                data = Some(json(v));
            } else if line.is_empty() {
                if let (Some(i), Some(d)) = (id, data.take()) {
                    return (i, d);
                }
            }
        }
        panic!("the event stream ended");
    }
}

#[test]
fn a_subscriber_sees_every_event_exactly_once_across_a_reconnect() {
    let s = Server::start(&["--demo"]);
    let t = s.admin_token.clone();
    let start = json(&s.get("/v1/head", &t).1)["count"].as_u64().unwrap();
    let appender = |from: u32, to: u32| {
        for n in from..to {
            let e = PAYMENT
                .replace("000000000001", &format!("{:012x}", 0x100 + n))
                .replace("1500", &(1000 + n).to_string());
            assert_eq!(s.post("/v1/events", &t, &e).0, 201);
        }
    };
    let mut seen: Vec<u64> = Vec::new();
    std::thread::scope(|scope| {
        let mut reader = SseReader::open(&s, &t, Some(start - 5), None);
        let writer = scope.spawn(|| appender(0, 20));
        while seen.len() < 15 {
            let (id, record) = reader.next();
            assert_eq!(record["position"].as_u64(), Some(id));
            seen.push(id);
        }
        drop(reader);
        writer.join().unwrap();
        // Reconnect with Last-Event-ID, while more events are appended.
        let mut reader = SseReader::open(&s, &t, None, seen.last().copied());
        let writer = scope.spawn(|| appender(20, 30));
        while seen.last() != Some(&(start + 29)) {
            seen.push(reader.next().0);
        }
        writer.join().unwrap();
    });
    let expected: Vec<u64> = (start - 5..start + 30).collect();
    assert_eq!(seen, expected, "every event exactly once, in order");
    // A role that may not see case files gets them withheld in the stream too.
    let tokens = grant_every_role(&s);
    let mut reader = SseReader::open(&s, &tokens[4].1, Some(0), None);
    let mut cases = 0;
    for _ in 0..start {
        let (_, r) = reader.next();
        if r["stream"]
            .as_str()
            .unwrap_or_default()
            .starts_with("case/")
        {
            assert_eq!(r["withheld"], true);
            cases += 1;
        }
    }
    assert!(cases > 0);
}

#[test]
fn verify_export_erase_and_metrics() {
    let s = Server::start(&["--demo"]);
    let t = s.admin_token.clone();
    let v = json(&s.get("/v1/verify", &t).1);
    assert_eq!(v["verified"], true);
    let tokens = grant_every_role(&s);
    let dir = Ledger::new();
    for (role, token) in &tokens {
        let (code, body) = s.get("/v1/export", token);
        assert_eq!(code, 200);
        let file = dir.path(&format!("{role}.jsonl"));
        std::fs::write(&file, &body).unwrap();
        let out = dir.run(&["verify", "--export", file.to_str().unwrap()]);
        assert_eq!(out.code(), 0, "{role}'s export: {}", out.stdout());
        if *role == "board" || *role == "member" {
            assert!(
                !body.contains("residence"),
                "{role}'s export shows a residence"
            );
        }
    }
    // Erasure through the API, by the secretary; the board may not.
    assert_eq!(
        s.post("/v1/members/10227/erase", &tokens[4].1, r#"{"reason":"x"}"#)
            .0,
        403
    );
    assert_eq!(
        s.post("/v1/members/10227/erase", &tokens[1].1, r#"{"why":"x"}"#)
            .0,
        400
    );
    assert_eq!(
        s.post("/v1/members/99999/erase", &tokens[1].1, r#"{"reason":"x"}"#)
            .0,
        404
    );
    let (code, body) = s.post(
        "/v1/members/10227/erase",
        &tokens[1].1,
        r#"{"reason":"AVG-verzoek"}"#,
    );
    assert_eq!(code, 201, "{body}");
    let m = json(&s.get("/v1/members/10227", &t).1);
    assert!(
        m["details"].is_null() && m["personal_erased"] == true,
        "{m}"
    );
    assert!(!s.get("/v1/export", &t).1.contains("Amira Bouzid"));
    assert_eq!(json(&s.get("/v1/verify", &t).1)["verified"], true);
    // Metrics: admin only; counts appends and refusals by rule.
    s.post("/v1/events", &t, &PAYMENT.replace("10201", "99999"));
    assert_eq!(s.get("/metrics", &tokens[1].1).0, 403);
    let (code, text) = s.get("/metrics", &t);
    assert_eq!(code, 200);
    for needle in [
        "kroniek_events_appended_total",
        "kroniek_refusals_total{rule=\"unknown-reference\"} 1",
        "kroniek_http_request_duration_seconds_bucket",
        "kroniek_ledger_events",
        "kroniek_ledger_bytes",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
}

#[test]
fn the_openapi_document_lists_every_endpoint_and_the_docs_page_is_served() {
    let s = Server::start(&["--demo"]);
    let (code, body) = s.call("GET", "/openapi.json", None, None);
    assert_eq!(code, 200);
    let doc = json(&body);
    let paths = doc["paths"].as_object().unwrap();
    let samples = [("{id}", "landelijk-bestuur"), ("{stream}", "member/10201")];
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            if method != "get" {
                continue;
            }
            let mut concrete = path.clone();
            for (k, v) in samples {
                concrete = concrete.replace(k, v);
            }
            concrete = match path.as_str() {
                "/v1/members/{id}" => "/v1/members/10201".into(),
                "/v1/elections/{id}" => "/v1/elections/bestuur-2021".into(),
                "/v1/cases/{id}" => "/v1/cases/r-2022-01".into(),
                "/v1/meetings/{id}" => "/v1/meetings/alv-2020-11".into(),
                "/v1/proofs/inclusion/{pos}" => "/v1/proofs/inclusion/3".into(),
                "/v1/proofs/consistency" => "/v1/proofs/consistency?old=10".into(),
                "/v1/audit/{year}" => "/v1/audit/2023".into(),
                "/v1/subscribe" => continue,
                _ => concrete,
            };
            let (code, answer) = s.get(&concrete, &s.admin_token);
            assert_eq!(code, 200, "{path} as {concrete}: {answer}");
        }
    }
    for needle in [
        "/v1/events",
        "/v1/subscribe",
        "/v1/members/{id}/erase",
        "/metrics",
        "/healthz",
    ] {
        assert!(
            paths.contains_key(needle),
            "{needle} missing from openapi.json"
        );
    }
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(
        description.contains("| `GET /v1/cases/{id}` | ✓ | — | ✓ | — | — | — |"),
        "{description}"
    );
    assert!(doc["components"]["schemas"]["Composition"].is_object());
    let (code, page) = s.call("GET", "/docs/", None, None);
    assert_eq!(code, 200);
    assert!(page.contains("swagger-ui"));
}

#[test]
fn tokens_made_on_the_command_line_work_against_the_server_until_revoked() {
    let l = Ledger::new();
    let token = l
        .run(&[
            "token",
            "create",
            "--role",
            "board",
            "--principal",
            "bestuur-lid",
        ])
        .ok()
        .trim()
        .to_owned();
    assert!(token.starts_with("krn_") && token.len() == 68, "{token}");
    assert!(
        !l.run(&["export"]).ok().contains(&token),
        "only the token's hash is kept"
    );
    assert_eq!(
        l.run(&[
            "token",
            "create",
            "--role",
            "board",
            "--principal",
            "bestuur-lid"
        ])
        .code(),
        2
    );
    assert_eq!(
        l.run(&["token", "create", "--role", "king", "--principal", "x"])
            .code(),
        2
    );
    let list = json(&l.run(&["token", "list", "--json"]).ok());
    assert_eq!(list[0]["principal"], "bestuur-lid");
    assert_eq!(list[0]["role"], "board");
    let s = Server::start_on(l, &[]);
    assert!(
        !s.admin_token.is_empty(),
        "a store without an admin gets one at start"
    );
    assert_eq!(s.get("/v1/head", &token).0, 200);
    assert_eq!(s.post("/v1/events", &token, PAYMENT).0, 403);
    let mut s = s;
    s.stop_cleanly();
    s.ledger.run(&["token", "revoke", "bestuur-lid"]).ok();
    assert_eq!(s.ledger.run(&["token", "revoke", "bestuur-lid"]).code(), 2);
    let list = json(&s.ledger.run(&["token", "list", "--json"]).ok());
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["principal"] == "bestuur-lid" && !p["revoked"].is_null()));
    let s = Server::start_on(
        Ledger {
            dir: tempfile_move(&mut s),
        },
        &[],
    );
    assert_eq!(s.get("/v1/head", &token).0, 401);
    assert!(
        s.admin_token.is_empty(),
        "an admin exists already: no new token is printed"
    );
}

#[test]
fn the_admin_grants_a_token_while_the_server_runs() {
    let s = Server::start(&["--demo"]);
    let tokens = grant_every_role(&s);
    let body = r#"{"principal":"kascommissie","role":"auditor"}"#;
    // Only the admin grants: every other role is refused, and nothing is granted.
    for (role, token) in tokens.iter().filter(|(r, _)| *r != "admin") {
        assert_eq!(s.post("/v1/tokens", token, body).0, 403, "{role}");
    }
    let (code, answer) = s.post("/v1/tokens", &s.admin_token, body);
    assert_eq!(code, 201, "{answer}");
    let granted = json(&answer);
    assert_eq!(
        (granted["principal"].as_str(), granted["role"].as_str()),
        (Some("kascommissie"), Some("auditor"))
    );
    let token = granted["token"].as_str().unwrap().to_owned();
    // It works at once, with the role's rights.
    assert_eq!(s.get("/v1/audit/2022", &token).0, 200);
    assert_eq!(s.post("/v1/events", &token, PAYMENT).0, 403);
    // Only its hash is kept; a second grant to a principal with access, a bad role or a bad
    // name are refused.
    assert!(!s.get("/v1/export", &s.admin_token).1.contains(&token));
    let (code, answer) = s.post("/v1/tokens", &s.admin_token, body);
    assert_eq!(code, 400, "{answer}");
    assert!(answer.contains("has access already"), "{answer}");
    let (code, answer) = s.post(
        "/v1/tokens",
        &s.admin_token,
        r#"{"principal":"x","role":"koning"}"#,
    );
    assert_eq!(
        (code, json(&answer)["field"].as_str()),
        (400, Some("role")),
        "{answer}"
    );
    assert_eq!(
        s.post(
            "/v1/tokens",
            &s.admin_token,
            r#"{"principal":"Hoofd Letters","role":"board"}"#
        )
        .0,
        400
    );
    assert_eq!(
        s.post("/v1/tokens", &s.admin_token, r#"{"principal":"x"}"#)
            .0,
        400
    );
}

/// Moves the ledger folder out of a stopped server, for a second start.
fn tempfile_move(s: &mut Server) -> tempfile::TempDir {
    std::mem::replace(&mut s.ledger.dir, tempfile::tempdir().unwrap())
}

#[test]
fn the_server_signs_checkpoints_keeps_cosignatures_and_a_witness_serves_add_checkpoint() {
    let witness_dir = Ledger::new();
    let wkey_file = witness_dir.path("w.key");
    let wkey = witness_dir
        .run(&[
            "witness",
            "key",
            "--name",
            "kascommissie.example-party.nl",
            "--out",
            wkey_file.to_str().unwrap(),
        ])
        .ok();
    let s = Server::start(&[
        "--demo",
        "--checkpoint-interval-ms",
        "100",
        "--witness-key",
        wkey.trim(),
    ]);
    let t = s.admin_token.clone();
    assert_eq!(s.post("/v1/events", &t, PAYMENT).0, 201);
    // Signed after the append, within the interval.
    let head = json(&s.get("/v1/head", &t).1)["count"].as_u64().unwrap();
    let mut note = String::new();
    for _ in 0..50 {
        note = s.get("/v1/checkpoint", &t).1;
        if note.lines().nth(1) == Some(head.to_string().as_str()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        note.lines().nth(1),
        Some(head.to_string().as_str()),
        "{note}"
    );
    // The witness, online: C2SP tlog-witness add-checkpoint, first from size 0. The log's
    // verifier key is published beside the ledger (the key file is not held by the server).
    let key_text = std::fs::read_to_string(s.ledger.data().join("signing.key")).unwrap();
    let vkey = kroniek_core::keys::LedgerKey::from_file_text(&key_text)
        .unwrap()
        .verifier_key();
    let mut witness = std::process::Command::new(crate::support::kroniek_bin())
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            vkey.trim(),
            "--state",
        ])
        .arg(witness_dir.path("state"))
        .arg("--key")
        .arg(&wkey_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = {
        use std::io::BufRead;
        let out = witness.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(out).lines();
        loop {
            let line = lines.next().unwrap().unwrap();
            if let Some(a) = line.strip_prefix("listening on ") {
                break a.to_owned();
            }
        }
    };
    let note = s.get("/v1/checkpoint", &s.admin_token).1;
    let agent = ureq::AgentBuilder::new().build();
    let body = format!("old 0\n\n{note}");
    let line = agent
        .post(&format!("{base}/add-checkpoint"))
        .send_string(&body)
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        line.starts_with("\u{2014} kascommissie.example-party.nl "),
        "{line}"
    );
    // The same request again: the witness has moved on, 409 with its size.
    match agent
        .post(&format!("{base}/add-checkpoint"))
        .send_string(&body)
    {
        Err(ureq::Error::Status(409, r)) => {
            assert_eq!(r.header("content-type"), Some("text/x.tlog.size"));
            assert_eq!(
                r.into_string().unwrap().trim(),
                note.lines().nth(1).unwrap()
            );
        }
        other => panic!("expected 409, got {other:?}"),
    }
    let _ = witness.kill();
    let _ = witness.wait();
    // The ledger keeps the cosignature and serves it with the checkpoint.
    let (code, kept) = s.post("/v1/checkpoint/cosignatures", &s.admin_token, &line);
    assert_eq!(code, 200, "{kept}");
    assert!(s
        .get("/v1/checkpoint", &s.admin_token)
        .1
        .contains("kascommissie.example-party.nl"));
    let board = grant_every_role(&s)[4].1.clone();
    assert_eq!(s.post("/v1/checkpoint/cosignatures", &board, &line).0, 403);
}

/// Step 12, item 4: every list that grows comes in pages of `limit` (default 100, at most
/// 1,000) with a cursor and an RFC 8288 `Link: <…>; rel="next"`; following the links gives
/// the whole list once, in order; unknown filter values are a 400 or 404 that says what is valid.
#[test]
fn lists_come_in_pages_linked_by_rel_next() {
    let s = Server::start(&["--demo"]);
    let t = s.admin_token.clone();
    let follow = |first: &str, key: &dyn Fn(&Value) -> Vec<String>| -> (Vec<String>, usize) {
        let mut all = Vec::new();
        let mut pages = 0;
        let mut next = Some(first.to_owned());
        while let Some(path) = next {
            let (code, body, link) = s.get_page(&path, &t);
            assert_eq!(code, 200, "{path}: {body}");
            all.extend(key(&json(&body)));
            pages += 1;
            next = link;
            assert!(pages < 1000, "the links end");
        }
        (all, pages)
    };
    let timeline_keys = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{}/{}", e["date"].as_str().unwrap(), e["position"]))
            .collect()
    };
    let (whole, pages) = follow("/v1/timeline?limit=1000", &timeline_keys);
    assert_eq!(pages, 1);
    assert!(whole.len() > 20, "the sample's timeline: {}", whole.len());
    let (paged, pages) = follow("/v1/timeline?limit=7", &timeline_keys);
    assert_eq!(
        paged, whole,
        "the pages add up to the whole, in order, once each"
    );
    assert_eq!(pages, whole.len().div_ceil(7));
    // A filter is kept across pages.
    let (alv, _) = follow("/v1/timeline?body=alv&limit=3", &timeline_keys);
    let (alv_whole, _) = follow("/v1/timeline?body=alv&limit=1000", &timeline_keys);
    assert_eq!(alv, alv_whole);
    // Events: the next page starts where the last ended.
    let head = json(&s.get("/v1/head", &t).1)["count"].as_u64().unwrap();
    let (positions, _) = follow("/v1/events?limit=250", &|v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["position"].to_string())
            .collect()
    });
    assert_eq!(
        positions,
        (0..head).map(|p| p.to_string()).collect::<Vec<_>>()
    );
    // A stream, by version.
    let (versions, pages) = follow("/v1/streams/member/10201?limit=3", &|v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["version"].to_string())
            .collect()
    });
    assert!(pages > 1);
    let n = versions.len() as u64;
    assert_eq!(versions, (0..n).map(|v| v.to_string()).collect::<Vec<_>>());
    // Members: counts on every page, the members in pages by id.
    let (ids, pages) = follow("/v1/members?as_of=2024-01-01&limit=10", &|v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["member_id"].as_str().unwrap().to_owned())
            .collect()
    });
    assert!(pages >= 3);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "in id order, each once");
    let counts = json(&s.get("/v1/members?as_of=2024-01-01&limit=1000", &t).1);
    let by_status: u64 = counts["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(ids.len() as u64, by_status);
    // Bad values say what is valid.
    let (code, body) = s.get("/v1/timeline?category=bogus", &t);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("financial") && body.contains("governance"),
        "{body}"
    );
    let (code, body) = s.get("/v1/timeline?body=no-such-body", &t);
    assert_eq!(code, 404, "{body}");
    for path in [
        "/v1/timeline?limit=0",
        "/v1/timeline?limit=1001",
        "/v1/events?limit=5000",
        "/v1/members?limit=0",
        "/v1/timeline?cursor=bogus",
    ] {
        assert_eq!(s.get(path, &t).0, 400, "{path}");
    }
}

/// Step 12, item 3: an audit report is made once per head and parameters; an append makes
/// the next request a new report at the new head.
#[test]
fn the_audit_report_is_reused_until_the_ledger_grows() {
    let s = Server::start(&["--demo"]);
    let t = s.admin_token.clone();
    let (code, first) = s.get("/v1/audit/2023", &t);
    assert_eq!(code, 200, "{first}");
    let (_, again) = s.get("/v1/audit/2023", &t);
    assert_eq!(first, again, "the same report at the same head");
    let other = json(&s.get("/v1/audit/2023?min_contribution_cents=2400", &t).1);
    assert_ne!(
        other["membership"]["subsidy_count"],
        json(&first)["membership"]["subsidy_count"],
        "other parameters, another report"
    );
    let (code, body) = s.post("/v1/events", &t, PAYMENT);
    assert_eq!(code, 201, "{body}");
    let after = json(&s.get("/v1/audit/2023", &t).1);
    assert_eq!(
        after["integrity"]["events"].as_u64(),
        json(&first)["integrity"]["events"].as_u64().map(|n| n + 1)
    );
}

/// Step 12, item 3: the server makes the audit report from the facts its read side folded as
/// records came (no fold and no walk per request), and it is the command line's report, made
/// from the store, to the byte: after appends, after a donor's erasure (whose names the read
/// side forgets), and after a restart from a snapshot.
#[test]
fn the_servers_audit_report_from_its_read_side_is_the_command_lines() {
    let ledger = Ledger::new();
    ledger.append_sample();
    let mut s = Server::start_on(ledger, &[]);
    let t = s.admin_token.clone();
    let (code, before) = s.get("/v1/audit/2022", &t);
    assert_eq!(code, 200, "{before}");
    assert!(
        before.contains("Stichting Vooruit"),
        "a disclosed donor's name"
    );
    let (code, body) = s.post("/v1/events", &t, PAYMENT);
    assert_eq!(code, 201, "{body}");
    let (code, body) = s.post(
        "/v1/members/donor:d-0043/erase",
        &t,
        r#"{"reason":"AVG-verzoek"}"#,
    );
    assert_eq!(code, 201, "{body}");
    let (code, served) = s.get("/v1/audit/2022", &t);
    assert_eq!(code, 200, "{served}");
    assert!(
        !served.contains("Stichting Vooruit"),
        "the erased name is gone"
    );
    s.stop();
    let ledger = std::mem::replace(&mut s.ledger, Ledger::new());
    let cli = ledger
        .run(&["audit", "--year", "2022", "--format", "json"])
        .ok();
    assert_eq!(
        json(&served),
        json(&cli),
        "the server's report is the command line's"
    );
    // Restarted from the snapshot saved at the clean stop: the same report again.
    let s = Server::start_on(ledger, &[]);
    assert!(
        s.startup.iter().any(|l| l.contains("snapshot")),
        "started from a snapshot: {:?}",
        s.startup
    );
    assert_eq!(json(&s.get("/v1/audit/2022", &t).1), json(&cli));
}

/// Step 14, item 3: exports are bounded per principal (2 at once: a third is a 429), and a
/// client that stops reading holds its slot only while its connection lasts.
#[test]
fn exports_are_bounded_per_principal_and_a_stalled_client_lets_go_when_it_leaves() {
    use std::io::{Read, Write};
    // A ledger larger than the sockets' buffers: 20,000 events of about 2 KB.
    let ledger = Ledger::new();
    let name = "n".repeat(2000);
    let lines: Vec<String> = (0..20_000u32)
        .map(|i| {
            let m = 500_000 + i;
            format!(
                r#"{{"stream":"member/{m}","type":"MemberJoined","effective":"2024-01-02","data":{{"member_id":"{m}"}},"personal":{{"name":"{name}","residence":"Utrecht"}}}}"#
            )
        })
        .collect();
    let file = ledger.file("big.jsonl", &lines);
    ledger.run(&["append", file.to_str().unwrap()]).ok();
    let s = Server::start_on(ledger, &[]);
    let t = s.admin_token.clone();
    let addr = s.base.trim_start_matches("http://").to_owned();
    let stalled = || {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            c,
            "GET /v1/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\r\n"
        )
        .unwrap();
        // Read the status line only, then stop reading.
        let mut first = [0u8; 12];
        c.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        c
    };
    let a = stalled();
    let b = stalled();
    let (code, body) = s.get("/v1/export", &t);
    assert_eq!(code, 429, "{body}");
    assert!(body.contains("at most 2"), "{body}");
    // The clients leave: their slots end with their connections.
    drop((a, b));
    let mut ok = false;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        // (The body is over ureq's 10 MB for a string: the status is what counts here.)
        if s.get("/v1/export", &t).0 == 200 {
            ok = true;
            break;
        }
    }
    assert!(ok, "the slots were released");
}

/// Step 14, item 3: a client that drips its headers is cut off after the header timeout, and
/// more half-sent requests than the server takes at once neither exhaust its descriptors nor
/// keep it from answering once they time out.
#[test]
fn slow_and_half_sent_requests_are_cut_off() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let s = Server::start(&[]);
    let addr = s.base.trim_start_matches("http://").to_owned();
    // One header line every 2 s: the connection is closed within the 10 s header timeout.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    write!(slow, "GET /healthz HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(40) {
        let _ = write!(slow, "X-Drip-{}: 1\r\n", started.elapsed().as_millis());
        let mut buf = [0u8; 256];
        match slow.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(closed, "a dripping client is cut off");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "within the header timeout (10 s), not after {:?}",
        started.elapsed()
    );
    // 600 half-sent requests, more than the 512 connections served at once.
    let half: Vec<std::net::TcpStream> = (0..600)
        .filter_map(|_| {
            let mut c = std::net::TcpStream::connect(&addr).ok()?;
            c.write_all(b"GET /v1/head HTTP/1.1\r\nHost: x\r\n").ok()?;
            Some(c)
        })
        .collect();
    assert!(half.len() >= 512);
    // Once they time out, the server answers again (its descriptors were never used up).
    let mut answered = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(mut c) = std::net::TcpStream::connect(&addr) {
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            if c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .is_ok()
            {
                let mut text = String::new();
                let _ = c.read_to_string(&mut text);
                if text.starts_with("HTTP/1.1 200") {
                    answered = true;
                    break;
                }
            }
        }
    }
    drop(half);
    assert!(
        answered,
        "/healthz answers while the half-sent requests are still open"
    );
    let (code, _) = s.get("/v1/head", &s.admin_token);
    assert_eq!(code, 200);
}

/// Step 14, item 2: a request target or headers too large are RFC 9457 problems (414, 431)
/// with a body that says the limit, not hyper's empty answer.
#[test]
fn a_long_uri_and_too_many_headers_are_problems_with_a_body() {
    use std::io::{Read, Write};
    let s = Server::start(&[]);
    let addr = s.base.trim_start_matches("http://").to_owned();
    let raw = |request: String| -> String {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut text = String::new();
        let _ = c.read_to_string(&mut text);
        text
    };
    let long = raw(format!(
        "GET /v1/timeline?body={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(10_000)
    ));
    assert!(
        long.starts_with("HTTP/1.1 414"),
        "{}",
        &long[..long.len().min(300)]
    );
    assert!(long.contains("application/problem+json") && long.contains("at most 8192"));
    let headers: String = (0..150).map(|i| format!("X-Many-{i}: 1\r\n")).collect();
    let many = raw(format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
    ));
    assert!(
        many.starts_with("HTTP/1.1 431"),
        "{}",
        &many[..many.len().min(300)]
    );
    assert!(many.contains("application/problem+json") && many.contains("at most 100 fields"));
}

/// An audit report's donors' names and residences, as each role may see them: the roles that
/// see gift records' personal data get the report as made, the others without them (the
/// server answers the first from the report itself and redacts a copy for the others).
#[test]
fn the_audit_report_shows_donors_only_to_the_roles_that_see_gifts() {
    let s = Server::start(&["--demo"]);
    let tokens = grant_every_role(&s);
    for (role, token) in &tokens {
        let (code, body) = s.get("/v1/audit/2022", token);
        if matches!(*role, "member" | "disputes") {
            assert_eq!(code, 403, "{role}: {body}");
            continue;
        }
        assert_eq!(code, 200, "{role}: {body}");
        let report = json(&body);
        let disclosure = report["money"]["disclosure"].as_array().unwrap().clone();
        assert!(
            !disclosure.is_empty(),
            "{role}: the sample has gifts to disclose"
        );
        let named = disclosure
            .iter()
            .filter(|d| d["donor_name"].is_string() && d["donor_residence"].is_string())
            .count();
        let sees = matches!(*role, "admin" | "secretary" | "auditor");
        assert_eq!(named, if sees { disclosure.len() } else { 0 }, "{role}");
    }
}
