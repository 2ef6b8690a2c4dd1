//! The API tested from its own OpenAPI document: schemathesis (PyPI; `scripts/test` installs
//! it) sends generated and malformed requests to every operation of `/openapi.json`, once as
//! each role, and checks every answer against the document: no 5xx, a documented status and
//! content type (problems as `application/problem+json`), a body of the documented schema,
//! malformed requests refused, valid ones accepted. The configuration, with the answers the
//! document cannot predict and why, is `tests/api-schema/schemathesis.toml`.
//!
//! CI runs few examples with a fixed seed per role, so a failure reproduces; a longer run with
//! fresh seeds is the command in `tests/api-schema/README.md`.

use crate::support::{root, skipped, Ledger, Server};
use std::process::Command;

/// Every role of DOMAIN.md; each has its own run.
const ROLES: [&str; 6] = [
    "admin",
    "secretary",
    "board",
    "auditor",
    "disputes",
    "member",
];

fn schemathesis_available() -> bool {
    Command::new("python3")
        .args(["-c", "import schemathesis"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_operation_answers_as_its_openapi_document_says_for_every_role() {
    if !schemathesis_available() {
        skipped("schemathesis is not installed (python3 -m pip install schemathesis; scripts/test does)");
        return;
    }
    let ledger = Ledger::new();
    ledger.append_sample();
    let server = Server::start_on(ledger, &[]);
    let config = root().join("tests/api-schema/schemathesis.toml");
    let (code, document) = server.get("/openapi.json", &server.admin_token);
    assert_eq!(code, 200, "the OpenAPI document: {document}");
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(
        operations >= 25,
        "the document lists {operations} operations"
    );
    let examples = std::env::var("KRONIEK_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "10".into());
    let mut failures = Vec::new();
    for (n, role) in ROLES.iter().enumerate() {
        let token = if *role == "admin" {
            server.admin_token.clone()
        } else {
            let (code, body) = server.post(
                "/v1/tokens",
                &server.admin_token,
                &format!(r#"{{"principal":"schema-{role}","role":"{role}"}}"#),
            );
            assert_eq!(code, 201, "a {role} token: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            v["token"].as_str().unwrap().to_owned()
        };
        let seed = (20_261_205 + n).to_string();
        let out = Command::new("python3")
            .args(["-m", "schemathesis.cli", "--no-color", "--config-file"])
            .arg(&config)
            .args(["run", &format!("{}/openapi.json", server.base)])
            .args([
                "--checks",
                "all",
                "--max-examples",
                &examples,
                "--seed",
                &seed,
            ])
            .env("KRONIEK_TOKEN", &token)
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The run must have reached every operation: a document that lost an operation, or a
        // run that stopped early, is not a pass.
        let tested_all = stdout.lines().any(|l| {
            l.trim()
                .strip_prefix("Tested: ")
                .is_some_and(|t| t.trim() == operations.to_string())
        });
        if !out.status.success() || !tested_all {
            failures.push(format!(
                "as {role} (seed {seed}; exit {:?}, every operation tested: {tested_all}):\n{stdout}\n{stderr}",
                out.status.code()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "schemathesis found answers that break the OpenAPI document:\n{}",
        failures.join("\n")
    );
}
