//! The read pages and the recording forms over HTTP against the real server: each page for
//! each role (the page, or a 403 page, exactly as the matching `/v1` endpoint allows), no
//! residence or case summary on a page of the board, member or auditor role, forms without
//! their CSRF token refused with nothing written, an event recorded through a form and seen on
//! the timeline, a refusal shown next to its field with the typed values kept, and a `.jsonl`
//! upload that is appended whole or not at all, with line-numbered errors.

use crate::support::Server;
use crate::web::{csrf_in, grant, post_sign_in, request, sign_in, Answer};

const ROLES: [&str; 6] = [
    "admin",
    "secretary",
    "disputes",
    "auditor",
    "board",
    "member",
];

/// Every page, and the roles that may open it (the others get a 403 page).
const PAGES: &[(&str, &[&str])] = &[
    ("/", &ROLES),
    ("/bodies/landelijk-bestuur", &ROLES),
    ("/bodies", &ROLES),
    ("/timeline", &ROLES),
    ("/timeline?body=alv&from=2018-01-01&to=2030-12-31", &ROLES),
    (
        "/members/10201",
        &["admin", "secretary", "disputes", "auditor", "board"],
    ),
    ("/elections/bestuur-2021", &ROLES),
    (
        "/meetings/alv-2020-11",
        &["admin", "secretary", "disputes", "auditor", "board"],
    ),
    ("/cases/r-2022-01", &["admin", "disputes"]),
    (
        "/conduct",
        &["admin", "secretary", "disputes", "auditor", "board"],
    ),
    (
        "/audit?year=2022",
        &["admin", "secretary", "auditor", "board"],
    ),
    (
        "/audit/2022/report.json",
        &["admin", "secretary", "auditor", "board"],
    ),
    (
        "/audit/2022/report.html",
        &["admin", "secretary", "auditor", "board"],
    ),
    ("/events/0", &ROLES),
    ("/events/3", &ROLES),
    ("/record", &["admin", "secretary", "disputes"]),
    ("/record?type=DecisionTaken", &["admin", "secretary"]),
];

/// Personal data no page of the board, member or auditor role may show: the sample's
/// e-mail addresses and case summaries, and a member's `residence` as a record's key or a
/// member page's label. (A residence's value alone is no test: "Utrecht" is also a branch's
/// public name; and a donor's residence is on the gift disclosure the auditor checks.)
fn secrets() -> Vec<String> {
    let sample = include_str!("../../events/sample.jsonl");
    let mut out = vec![r#""residence""#.to_owned(), "<dt>residence</dt>".to_owned()];
    for line in sample.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("sample JSON");
        for key in ["email", "summary"] {
            if let Some(text) = v
                .pointer(&format!("/personal/{key}"))
                .and_then(|x| x.as_str())
            {
                out.push(text.to_owned());
            }
        }
    }
    assert!(
        out.len() > 10,
        "the sample has e-mail addresses and summaries"
    );
    out
}

fn session(s: &Server, role: &str) -> String {
    let token = if role == "admin" {
        s.admin_token.clone()
    } else {
        grant(s, role)
    };
    format!("kroniek_session={}", sign_in(s, &token))
}

#[test]
fn each_page_for_each_role_is_shown_or_forbidden_and_hides_personal_data() {
    let s = Server::start(&["--demo"]);
    let secrets = secrets();
    for role in ROLES {
        let cookie = session(&s, role);
        for (path, allowed) in PAGES {
            let a = request(&s, "GET", path, &cookie, &[], None);
            let expected = if allowed.contains(&role) { 200 } else { 403 };
            assert_eq!(a.status, expected, "{role} {path}: {}", a.body);
            if expected == 403 {
                assert!(a.body.contains("Geen toegang"), "{role} {path}: a 403 page");
            }
            if ["board", "member", "auditor"].contains(&role) {
                for secret in &secrets {
                    assert!(
                        !a.body.contains(secret.as_str()),
                        "{role} {path} shows personal data: {secret}"
                    );
                }
            }
        }
    }
    // The roles that may see them do see them: the filter above is not vacuous.
    let admin = session(&s, "admin");
    let member = request(&s, "GET", "/members/10201", &admin, &[], None);
    assert!(
        member.body.contains("<dt>residence</dt><dd>Utrecht</dd>"),
        "{}",
        member.body
    );
    assert!(member.body.contains("anna@example.nl"));
    let case = request(&s, "GET", "/cases/r-2022-01", &admin, &[], None);
    assert!(case.body.contains("Herhaalde intimidatie"), "{}", case.body);
}

#[test]
fn the_pages_show_what_the_read_models_hold() {
    let s = Server::start(&["--demo"]);
    let admin = session(&s, "admin");
    // A meeting's page: attendance and quorum, the motions with their votes, the decisions;
    // the timeline links a motion to its meeting.
    let meeting = request(&s, "GET", "/meetings/alv-2020-11", &admin, &[], None).body;
    assert!(
        meeting.contains(r#"<p id="attendance"><strong>87</strong>"#),
        "{meeting}"
    );
    assert!(meeting.contains(r#"id="motion-2020-m07a""#) && meeting.contains("40"));
    assert!(meeting.contains("2020-015"));
    assert!(meeting.contains(r#"<p id="rules">"#));
    // The form of a step-9 type is generated like the others: a majority is a JSON object.
    let form = request(
        &s,
        "GET",
        "/record?type=BodyRulesAdopted",
        &admin,
        &[],
        None,
    )
    .body;
    for needle in [
        "notice_days",
        "quorum",
        "incompatible_with",
        r#"{&#34;num&#34;: 2, &#34;den&#34;: 3}"#,
    ] {
        assert!(form.contains(needle), "{needle} missing in {form}");
    }
    // An election's page: the call's requirements, and a candidate who sat in the screening
    // body (a finding: no rules were in force); a royement file per respondent.
    let e = request(&s, "GET", "/elections/bestuur-2025", &admin, &[], None).body;
    assert!(
        e.contains(r#"<dd id="requirements">a CV, a motivation, 2 to 10 profile terms</dd>"#),
        "{e}"
    );
    let e = request(&s, "GET", "/elections/bestuur-2021", &admin, &[], None).body;
    assert!(
        e.contains("member 10213 sits in body kandidatencommissie"),
        "{e}"
    );
    let c = request(
        &s,
        "GET",
        "/cases/r-2025-01?as_of=2025-04-10",
        &admin,
        &[],
        None,
    )
    .body;
    assert!(
        c.contains(r#"id="by-respondent""#) && c.contains("20 "),
        "{c}"
    );
    assert!(c.contains(r#"<p class="hint" id="later-events">3 "#), "{c}");
    // The daily board's page shows the findings of its appointments, and that it has no rules.
    let db = request(
        &s,
        "GET",
        "/bodies/dagelijks-bestuur?as_of=2021-06-01",
        &admin,
        &[],
        None,
    )
    .body;
    assert!(db.contains(r#"<span class="error finding">"#), "{db}");
    assert!(db.contains("is appointed by body landelijk-bestuur"));
    // The timeline marks a revoked decision with what revoked it, and links to events.
    let timeline = request(&s, "GET", "/timeline", &admin, &[], None).body;
    let (_, api) = s.get("/v1/timeline?limit=1000", &s.admin_token);
    let entries: serde_json::Value = serde_json::from_str(&api).expect("JSON");
    let revoked = entries
        .as_array()
        .expect("a list")
        .iter()
        .find(|e| !e["revoked"].is_null())
        .expect("the sample revokes a decision");
    assert!(timeline.contains(&format!(
        r#"id="decision-{}" class="entry decision revoked""#,
        revoked["decision_id"].as_str().expect("an id")
    )));
    assert!(timeline.contains(
        revoked["revoked"]["by_decision_id"]
            .as_str()
            .expect("an id")
    ));
    assert!(timeline.contains(&format!(
        r#"href="/events/{}""#,
        revoked["position"].as_u64().expect("a position")
    )));
    // Filtering by category leaves only that category's decisions.
    let financial = request(&s, "GET", "/timeline?category=financial", &admin, &[], None).body;
    assert!(financial.contains(r#"<span class="tag">financial</span>"#));
    assert!(!financial.contains(r#"<span class="tag">appointment</span>"#));
    // The language switch keeps the filters.
    assert!(
        financial.contains(r#"href="/timeline?category=financial&#38;lang=en""#),
        "{financial}"
    );
    // A bad date is a 400 with the message beside the filter.
    let bad = request(&s, "GET", "/timeline?from=2020-13-01", &admin, &[], None);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("JJJJ-MM-DD"));

    // The conduct page lists each code's versions.
    let conduct = request(&s, "GET", "/conduct", &admin, &[], None).body;
    assert!(
        conduct.contains("<li>v1 Gedragscode 2018 (2018-01-06)</li>"),
        "{conduct}"
    );

    // The election: the tallies as a chart, the elected marked.
    let election = request(&s, "GET", "/elections/bestuur-2021", &admin, &[], None).body;
    assert!(election.contains(r#"<svg class="tally""#) && election.contains(" ✓"));

    // The case file: every event in order, documents by their hash.
    let (_, case_api) = s.get("/v1/cases/r-2022-01", &s.admin_token);
    let case_json: serde_json::Value = serde_json::from_str(&case_api).expect("JSON");
    let case = request(&s, "GET", "/cases/r-2022-01", &admin, &[], None).body;
    let mut at = 0;
    for e in case_json["events"].as_array().expect("events") {
        let link = format!(r#"href="/events/{}""#, e["position"]);
        let found = case[at..].find(&link).expect("each event, in order");
        at += found + link.len();
    }

    // On a date between the decision and its appeal deadline, the deadline counts down.
    let decided = request(
        &s,
        "GET",
        "/cases/r-2022-01?as_of=2022-06-20",
        &admin,
        &[],
        None,
    )
    .body;
    assert!(
        decided.contains("<strong>25 dagen over</strong>"),
        "{decided}"
    );

    // The event page: the record, its hash and an inclusion proof that the API agrees with.
    let event = request(&s, "GET", "/events/3", &admin, &[], None).body;
    let (_, proof) = s.get("/v1/proofs/inclusion/3", &s.admin_token);
    let proof: serde_json::Value = serde_json::from_str(&proof).expect("JSON");
    assert!(event.contains(proof["root"].as_str().expect("a root")));
    assert!(event.contains(proof["record_hash"].as_str().expect("a hash")));
    assert!(event.contains("kroniek verify --bundle"));
    for missing in ["/events/999999", "/events/abc", "/events/999999/proof"] {
        let a = request(&s, "GET", missing, &admin, &[], None);
        assert_eq!(a.status, 404, "{missing}");
        assert!(a.body.contains("Niet gevonden"));
    }
    let bundle = request(&s, "GET", "/events/3/proof", &admin, &[], None);
    assert_eq!(bundle.status, 200);
    assert!(bundle.body.starts_with("c2sp.org/tlog-proof@v1\n"));
    // A member sees a withheld record's hash but not its content.
    let member = session(&s, "member");
    let case_event = case_json["events"][0]["position"]
        .as_u64()
        .expect("a position");
    let withheld = request(
        &s,
        "GET",
        &format!("/events/{case_event}"),
        &member,
        &[],
        None,
    );
    assert!(withheld.body.contains(r#"id="withheld""#));
    assert!(!withheld.body.contains("CaseOpened"));
    assert_eq!(
        request(
            &s,
            "GET",
            &format!("/events/{case_event}/proof"),
            &member,
            &[],
            None
        )
        .status,
        403
    );

    // The audit page offers the report's downloads; the JSON is the API's report.
    let audit = request(&s, "GET", "/audit?year=2022", &admin, &[], None).body;
    for file in ["report.html", "report.json", "membership.csv"] {
        assert!(
            audit.contains(&format!(r#"href="/audit/2022/{file}""#)),
            "{file}"
        );
    }
    let csv = request(&s, "GET", "/audit/2022/membership.csv", &admin, &[], None);
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("member_id,"));

    // The overview: the verification made while the server built its read side, and one on
    // demand, kept for the page.
    let overview = request(&s, "GET", "/", &admin, &[], None).body;
    assert!(overview.contains("href=\"/elections/bestuur-2021\""));
    assert!(overview.contains("ketting klopt"), "{overview}");
    let csrf = csrf_in(&overview);
    let v = request(&s, "POST", "/verify", &admin, &[], Some(&[("csrf", &csrf)]));
    assert_eq!(v.status, 303);
    let overview = request(&s, "GET", "/", &admin, &[], None).body;
    assert!(overview.contains("ketting klopt"), "{overview}");
}

fn head_count(s: &Server) -> u64 {
    let (_, head) = s.get("/v1/head", &s.admin_token);
    serde_json::from_str::<serde_json::Value>(&head).expect("JSON")["count"]
        .as_u64()
        .expect("a count")
}

/// The fields of a DecisionTaken form.
fn decision_form<'a>(
    csrf: &'a str,
    id: &'a str,
    body: &'a str,
    amount: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("type", "DecisionTaken"),
        ("id", id),
        ("stream", ""),
        ("effective", "2024-03-12"),
        ("data.decision_id", "2024-900"),
        ("data.body_id", body),
        ("data.meeting_id", ""),
        ("data.title", "Nieuwe huisstijl vastgesteld"),
        ("data.category", "financial"),
        ("data.basis", "vote"),
        ("data.motion_id", ""),
        ("data.amount_cents", amount),
    ]
}

#[test]
fn recording_through_a_form_shows_the_position_or_the_refusal_beside_its_field() {
    let s = Server::start(&["--demo"]);
    let secretary = session(&s, "secretary");
    let form = request(
        &s,
        "GET",
        "/record?type=DecisionTaken",
        &secretary,
        &[],
        None,
    )
    .body;
    let csrf = csrf_in(&form);
    let id_at = form.find(r#"name="id" value=""#).expect("an event id");
    let id: String = form[id_at + 17..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let before = head_count(&s);
    // The audit report the page made (and keeps) is made again after an append.
    let admin = session(&s, "admin");
    let audit_events = |s: &Server| -> u64 {
        let a = request(s, "GET", "/audit/2024/report.json", &admin, &[], None);
        let v: serde_json::Value = serde_json::from_str(&a.body).expect("JSON");
        v["integrity"]["events"].as_u64().expect("a count")
    };
    assert_eq!(audit_events(&s), before);
    assert_eq!(audit_events(&s), before);

    // Without the CSRF token: refused, nothing written.
    let no_csrf = decision_form("", &id, "landelijk-bestuur", "120000");
    let a = request(&s, "POST", "/record", &secretary, &[], Some(&no_csrf));
    assert_eq!(a.status, 403);
    assert_eq!(head_count(&s), before);
    // An empty post: a 403 page, not a bare error; so is a sign-in post without its fields.
    let a = request(&s, "POST", "/record", &secretary, &[], None);
    assert_eq!(a.status, 403);
    assert!(a.body.contains("<html"));
    let a = request(&s, "POST", "/login", "", &[], Some(&[("x", "y")]));
    assert_eq!(a.status, 403);
    assert!(a.body.contains("<html"));

    // A rule's refusal: beside the field it names, with what was typed kept.
    let unknown = decision_form(&csrf, &id, "geen-orgaan", "120000");
    let a = request(&s, "POST", "/record", &secretary, &[], Some(&unknown));
    assert_eq!(a.status, 422, "{}", a.body);
    let error_at = a
        .body
        .find(r#"id="f-data-body_id-error""#)
        .expect("the error beside body_id");
    assert!(
        a.body[error_at..].starts_with(r#"id="f-data-body_id-error">unknown-reference"#),
        "{}",
        &a.body[error_at..error_at + 200]
    );
    assert!(a.body.contains(r#"value="Nieuwe huisstijl vastgesteld""#));
    assert!(a.body.contains(r#"value="geen-orgaan""#));
    assert_eq!(head_count(&s), before);
    // A malformed number: beside its field.
    let malformed = decision_form(&csrf, &id, "landelijk-bestuur", "twaalf");
    let a = request(&s, "POST", "/record", &secretary, &[], Some(&malformed));
    assert_eq!(a.status, 422);
    assert!(
        a.body
            .contains(r#"id="f-data-amount_cents-error">malformed-field"#),
        "{}",
        a.body
    );
    assert_eq!(head_count(&s), before);

    // Accepted: the position and hash; the event is on the timeline, by this secretary.
    let good = decision_form(&csrf, &id, "landelijk-bestuur", "120000");
    let a = request(&s, "POST", "/record", &secretary, &[], Some(&good));
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.body
            .contains(&format!(r#"id="accepted-position">{before}</a>"#)),
        "{}",
        a.body
    );
    let (_, head) = s.get("/v1/head", &s.admin_token);
    let head: serde_json::Value = serde_json::from_str(&head).expect("JSON");
    assert!(a.body.contains(head["hash"].as_str().expect("a hash")));
    let timeline = request(
        &s,
        "GET",
        "/timeline?body=landelijk-bestuur",
        &secretary,
        &[],
        None,
    )
    .body;
    assert!(timeline.contains("Nieuwe huisstijl vastgesteld"));
    let (_, record) = s.get(&format!("/v1/events?from={before}&limit=1"), &s.admin_token);
    assert!(
        record.contains(r#""actor":"secretary:web-secretary""#),
        "{record}"
    );
    assert!(
        record.contains(r#""stream":"decision/2024-900""#),
        "{record}"
    );
    assert_eq!(audit_events(&s), before + 1);
    // The same form sent twice (the same event id) records it once.
    let a = request(&s, "POST", "/record", &secretary, &[], Some(&good));
    assert_eq!(a.status, 201);
    assert_eq!(head_count(&s), before + 1);

    // A role may not record into a category it may not append to.
    let disputes = session(&s, "disputes");
    let csrf_d = csrf_in(&request(&s, "GET", "/record", &disputes, &[], None).body);
    let other = decision_form(&csrf_d, &id, "landelijk-bestuur", "1");
    assert_eq!(
        request(&s, "POST", "/record", &disputes, &[], Some(&other)).status,
        403
    );
    // The disputes committee erases a case summary through the form (stream derived: case/…).
    let form = request(
        &s,
        "GET",
        "/record?type=PersonalDataErased",
        &disputes,
        &[],
        None,
    )
    .body;
    let erase_id_at = form.find(r#"name="id" value=""#).expect("an event id");
    let erase_id: String = form[erase_id_at + 17..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let erase = [
        ("csrf", csrf_d.as_str()),
        ("type", "PersonalDataErased"),
        ("id", erase_id.as_str()),
        ("stream", ""),
        ("effective", "2024-05-01"),
        ("data.subject", "case:r-2022-01"),
        ("data.reason", "AVG-verzoek"),
    ];
    let a = request(&s, "POST", "/record", &disputes, &[], Some(&erase));
    assert_eq!(a.status, 201, "{}", a.body);
    let case = request(&s, "GET", "/cases/r-2022-01", &disputes, &[], None).body;
    assert!(!case.contains("Herhaalde intimidatie"), "{case}");
    let board = session(&s, "board");
    let granted = head_count(&s);
    assert_eq!(
        request(&s, "POST", "/record", &disputes, &[], Some(&other)).status,
        403
    );
    assert_eq!(
        request(&s, "POST", "/record", &board, &[], Some(&good)).status,
        403
    );
    assert_eq!(head_count(&s), granted);
}

/// A multipart/form-data upload of `file` with `csrf`.
fn upload(s: &Server, cookie: &str, csrf: &str, file: &str) -> Answer {
    let boundary = "kroniekboundary7MA4YWxkTrZu0gW";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"events.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    let r = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .post(&format!("{}/record/upload", s.base))
        .set("Cookie", cookie)
        .set(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send_string(&body);
    let r = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("upload: {e}"),
    };
    Answer {
        status: r.status(),
        location: String::new(),
        cookies: Vec::new(),
        body: r.into_string().unwrap_or_default(),
    }
}

#[test]
fn an_uploaded_file_is_appended_whole_or_refused_with_line_numbers() {
    let s = Server::start(&["--demo"]);
    let secretary = session(&s, "secretary");
    let csrf = csrf_in(&request(&s, "GET", "/record", &secretary, &[], None).body);
    let before = head_count(&s);
    let good = |n: u32| {
        format!(
            r#"{{"stream":"decision/2024-95{n}","type":"DecisionTaken","effective":"2024-04-0{n}","data":{{"decision_id":"2024-95{n}","body_id":"landelijk-bestuur","title":"Upload {n}","category":"policy","basis":"consensus"}}}}"#
        )
    };
    let bad = r#"{"stream":"decision/2024-959","type":"DecisionTaken","effective":"2024-04-09","data":{"decision_id":"2024-959","body_id":"nergens","title":"Fout","category":"policy","basis":"consensus"}}"#;
    // Without the CSRF token: nothing written.
    let file = format!("{}\n{}\n", good(1), good(2));
    assert_eq!(upload(&s, &secretary, "", &file).status, 403);
    assert_eq!(head_count(&s), before);
    // One bad line (line 3, after a blank line): refused whole, with its line number.
    let file = format!("{}\n\n{bad}\n{}\n", good(1), good(2));
    let a = upload(&s, &secretary, &csrf, &file);
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body.contains("<li>line 3: unknown-reference:"),
        "{}",
        a.body
    );
    assert_eq!(head_count(&s), before);
    // A line into a category the role may not append to.
    let case = r#"{"stream":"case/x-1","type":"CaseClosed","effective":"2024-04-09","data":{"case_id":"x-1"}}"#;
    let a = upload(&s, &secretary, &csrf, &format!("{}\n{case}\n", good(1)));
    assert_eq!(a.status, 403);
    assert!(a
        .body
        .contains("line 2: the secretary role may not append to case streams"));
    assert_eq!(head_count(&s), before);
    // A good file: every event, in one batch.
    let a = upload(
        &s,
        &secretary,
        &csrf,
        &format!("{}\n{}\n", good(1), good(2)),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.body.contains(&format!(
            r#"2 gebeurtenissen vastgelegd vanaf positie <a href="/events/{before}""#
        )),
        "{}",
        a.body
    );
    assert_eq!(head_count(&s), before + 2);
}

#[test]
fn signing_in_leads_on_to_the_page_that_was_asked_for() {
    let s = Server::start(&["--demo"]);
    let asked = request(
        &s,
        "GET",
        "/cases/r-2022-01?as_of=2022-06-20",
        "",
        &[],
        None,
    );
    assert_eq!(asked.status, 303);
    assert_eq!(
        asked.location,
        "/login?next=%2Fcases%2Fr-2022-01%3Fas_of%3D2022-06-20"
    );
    let page = request(&s, "GET", &asked.location, "", &[], None);
    assert!(page
        .body
        .contains(r#"name="next" value="/cases/r-2022-01?as_of=2022-06-20""#));
    let next = "/cases/r-2022-01?as_of=2022-06-20";
    let a = post_sign_in(&s, &page, &s.admin_token, Some(next));
    assert_eq!((a.status, a.location.as_str()), (303, next));
    // Never on to another site.
    let page = request(&s, "GET", "/login", "", &[], None);
    let a = post_sign_in(&s, &page, &s.admin_token, Some("//evil.example/"));
    assert_eq!((a.status, a.location.as_str()), (303, "/"));
}

/// Step 14, item 3: an upload is one batch, held to the API's batch limit (`--max-batch`):
/// over it, a 413 that says so, and nothing written.
#[test]
fn an_upload_over_the_batch_limit_is_refused_whole() {
    let s = Server::start(&["--demo", "--max-batch", "3"]);
    let secretary = session(&s, "secretary");
    let csrf = csrf_in(&request(&s, "GET", "/record", &secretary, &[], None).body);
    let before = head_count(&s);
    let line = |n: u32| {
        format!(
            r#"{{"stream":"decision/2024-97{n}","type":"DecisionTaken","effective":"2024-04-0{n}","data":{{"decision_id":"2024-97{n}","body_id":"landelijk-bestuur","title":"Upload {n}","category":"policy","basis":"consensus"}}}}"#
        )
    };
    let file: Vec<String> = (1..=4).map(line).collect();
    let a = upload(&s, &secretary, &csrf, &file.join("\n"));
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(a.body.contains("at most 3"), "{}", a.body);
    assert_eq!(head_count(&s), before);
    let a = upload(&s, &secretary, &csrf, &file[..3].join("\n"));
    assert_eq!(a.status, 201, "{}", a.body);
}

/// An audit page whose report is still being made answers with its progress and refreshes
/// itself until the report is there (the server is told not to wait for it at all).
#[test]
fn the_audit_page_shows_progress_until_the_report_is_made() {
    let s = Server::start(&["--demo", "--audit-page-wait-ms", "0"]);
    let cookie = session(&s, "auditor");
    let first = request(&s, "GET", "/audit?year=2022", &cookie, &[], None);
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        first
            .body
            .contains(r#"<meta http-equiv="refresh" content="1">"#)
            && first.body.contains(r#"id="audit-progress""#)
            && !first.body.contains(r#"id="downloads""#),
        "{}",
        first.body
    );
    let ready = (0..200)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            request(&s, "GET", "/audit?year=2022", &cookie, &[], None)
        })
        .find(|page| page.body.contains(r#"id="downloads""#))
        .expect("the report is made");
    assert_eq!(ready.status, 200);
    assert!(
        !ready.body.contains("http-equiv=\"refresh\""),
        "{}",
        ready.body
    );
    assert!(!ready.body.contains(r#"id="audit-progress""#));
}
