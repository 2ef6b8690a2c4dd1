//! The web pages, driven over HTTP against the real server: sign-in with a token and its
//! CSRF cookie, the session cookie's attributes, the overview, the language switch,
//! sign-out (refused without its CSRF token), revocation ending a session, and 404 pages.

use crate::support::Server;

/// One answer: status, `Location`, every `Set-Cookie`, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) cookies: Vec<String>,
    pub(crate) body: String,
}

impl Answer {
    /// The value a `Set-Cookie` gives `name`.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            let pair = c.split(';').next()?;
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// A request without following redirects; `form` is sent url-encoded.
pub(crate) fn request(
    s: &Server,
    method: &str,
    path: &str,
    cookies: &str,
    headers: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(std::time::Duration::from_secs(30))
        .build();
    let mut req = agent.request(method, &format!("{}{}", s.base, path));
    if !cookies.is_empty() {
        req = req.set("Cookie", cookies);
    }
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match form {
        Some(f) => req.send_form(f),
        None => req.call(),
    };
    let r = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    Answer {
        status: r.status(),
        location: r.header("Location").unwrap_or("").to_owned(),
        cookies: r
            .all("Set-Cookie")
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        body: r.into_string().unwrap_or_default(),
    }
}

/// The hidden CSRF field's value in a page.
pub(crate) fn csrf_in(body: &str) -> String {
    let at = body
        .find(r#"name="csrf" value=""#)
        .unwrap_or_else(|| panic!("no csrf field in {body}"));
    body[at + 19..].chars().take_while(|c| *c != '"').collect()
}

/// Posts the sign-in form of `page` (an answer of `/login`) with `token` and, when given, the
/// page to go on to; the answer.
pub(crate) fn post_sign_in(s: &Server, page: &Answer, token: &str, next: Option<&str>) -> Answer {
    let login = page.cookie("kroniek_login").expect("a login cookie");
    let csrf = csrf_in(&page.body);
    let mut form = vec![("token", token), ("csrf", csrf.as_str())];
    if let Some(next) = next {
        form.push(("next", next));
    }
    request(
        s,
        "POST",
        "/login",
        &format!("kroniek_login={login}"),
        &[],
        Some(&form),
    )
}

/// Signs in with `token`; returns the session cookie's value.
pub(crate) fn sign_in(s: &Server, token: &str) -> String {
    let page = request(s, "GET", "/login", "", &[], None);
    let answer = post_sign_in(s, &page, token, None);
    assert_eq!(
        (answer.status, answer.location.as_str()),
        (303, "/"),
        "{}",
        answer.body
    );
    answer.cookie("kroniek_session").expect("a session cookie")
}

#[test]
fn sign_in_overview_language_and_sign_out() {
    let s = Server::start(&["--demo"]);
    // Not signed in: the overview sends to the sign-in page.
    let a = request(&s, "GET", "/", "", &[], None);
    assert_eq!((a.status, a.location.as_str()), (303, "/login"));

    // The sign-in page: English by Accept-Language, a CSRF token that matches its cookie.
    let page = request(
        &s,
        "GET",
        "/login",
        "",
        &[("Accept-Language", "en-GB,en;q=0.9")],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<html lang="en">"#) && page.body.contains("Access token"));
    let login_cookie = page
        .cookies
        .iter()
        .find(|c| c.starts_with("kroniek_login="))
        .expect("a login cookie");
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));
    let login = page.cookie("kroniek_login").expect("a login cookie");
    assert_eq!(csrf_in(&page.body), login);
    assert!(
        page.cookie("kroniek_lang").is_none(),
        "Accept-Language is not remembered"
    );

    // A sign-in without the matching CSRF token is refused and opens no session.
    let bad = request(
        &s,
        "POST",
        "/login",
        &format!("kroniek_login={login}"),
        &[],
        Some(&[("token", s.admin_token.as_str()), ("csrf", "0000")]),
    );
    assert_eq!(bad.status, 403);
    assert!(bad.cookie("kroniek_session").is_none());
    // An unknown token is refused with the reason, in Dutch by default.
    let unknown = request(
        &s,
        "POST",
        "/login",
        &format!("kroniek_login={login}"),
        &[],
        Some(&[("token", "krn_nope"), ("csrf", login.as_str())]),
    );
    assert_eq!(unknown.status, 401);
    assert!(
        unknown.body.contains("onbekend of ingetrokken"),
        "{}",
        unknown.body
    );
    assert!(unknown.cookie("kroniek_session").is_none());

    // Signed in: HttpOnly, SameSite=Strict session cookie; the overview shows the head.
    let session = sign_in(&s, &s.admin_token);
    let cookie = format!("kroniek_session={session}");
    let overview = request(&s, "GET", "/", &cookie, &[], None);
    assert_eq!(overview.status, 200);
    let head: serde_json::Value =
        serde_json::from_str(&s.get("/v1/head", &s.admin_token).1).expect("JSON");
    let hash = head["hash"].as_str().expect("a hash");
    let count = head["count"].as_u64().expect("a count");
    assert!(overview.body.contains(hash), "{}", overview.body);
    assert!(overview
        .body
        .contains(&format!(r#"<dd id="event-count">{count}</dd>"#)));
    assert!(overview.body.contains("Overzicht") && overview.body.contains("landelijk-bestuur"));
    // A child body is listed below its parent.
    let parent = overview
        .body
        .find("<code>afdeling-den-haag</code>")
        .expect("the branch");
    let child = overview
        .body
        .find("<code>afdeling-den-haag/bestuur</code>")
        .expect("the branch's board");
    assert!(parent < child);
    assert!(overview.body.contains(r#"class="depth-1""#));

    // The switch: ?lang=en shows English and remembers it.
    let english = request(&s, "GET", "/?lang=en", &cookie, &[], None);
    assert!(english.body.contains("Overview") && english.body.contains("Sign out"));
    assert_eq!(english.cookie("kroniek_lang").as_deref(), Some("en"));
    let remembered = request(
        &s,
        "GET",
        "/",
        &format!("{cookie}; kroniek_lang=en"),
        &[],
        None,
    );
    assert!(remembered.body.contains(r#"<html lang="en">"#));

    // Sign-out without the CSRF token is refused and the session stays.
    let refused = request(&s, "POST", "/logout", &cookie, &[], Some(&[("csrf", "x")]));
    assert_eq!(refused.status, 403);
    assert_eq!(request(&s, "GET", "/", &cookie, &[], None).status, 200);
    // With it, the session ends.
    let csrf = csrf_in(&overview.body);
    let out = request(
        &s,
        "POST",
        "/logout",
        &cookie,
        &[],
        Some(&[("csrf", &csrf)]),
    );
    assert_eq!((out.status, out.location.as_str()), (303, "/login"));
    let after = request(&s, "GET", "/", &cookie, &[], None);
    assert_eq!((after.status, after.location.as_str()), (303, "/login"));
}

#[test]
fn revoking_a_principal_ends_its_sessions_and_unknown_pages_are_404() {
    let s = Server::start(&["--demo"]);
    let token = "krn_web_board_test";
    let hash = blake3::hash(token.as_bytes()).to_hex().to_string();
    let grant = format!(
        r#"{{"stream":"access/web-board","type":"AccessGranted","effective":"2024-01-01","data":{{"principal":"web-board","role":"board","token_blake3":"{hash}"}}}}"#
    );
    assert_eq!(s.post("/v1/events", &s.admin_token, &grant).0, 201);
    let cookie = format!("kroniek_session={}", sign_in(&s, token));
    let page = request(&s, "GET", "/", &cookie, &[], None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<strong>web-board</strong> (board)"));
    let revoke = r#"{"stream":"access/web-board","type":"AccessRevoked","effective":"2024-02-01","data":{"principal":"web-board"}}"#;
    assert_eq!(s.post("/v1/events", &s.admin_token, revoke).0, 201);
    let after = request(&s, "GET", "/", &cookie, &[], None);
    assert_eq!((after.status, after.location.as_str()), (303, "/login"));

    let missing = request(&s, "GET", "/no-such-page", "", &[], None);
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("<h1>Niet gevonden</h1>"));
    let api = request(&s, "GET", "/v1/no-such-endpoint", "", &[], None);
    assert_eq!(api.status, 404);
    assert!(api.body.contains("no such endpoint"), "{}", api.body);
    let css = request(&s, "GET", "/assets/kroniek.css", "", &[], None);
    assert!(css.status == 200 && css.body.contains("@media print"));
}

/// Grants `role` to principal `web-{role}` with token `krn_web_{role}`; returns the token.
pub(crate) fn grant(s: &Server, role: &str) -> String {
    let token = format!("krn_web_{role}");
    let hash = blake3::hash(token.as_bytes()).to_hex().to_string();
    let body = format!(
        r#"{{"stream":"access/web-{role}","type":"AccessGranted","effective":"2024-01-01","data":{{"principal":"web-{role}","role":"{role}","token_blake3":"{hash}"}}}}"#
    );
    assert_eq!(s.post("/v1/events", &s.admin_token, &body).0, 201);
    token
}

#[test]
fn a_body_page_shows_the_composition_on_the_chosen_date_as_the_api_does() {
    let s = Server::start(&["--demo"]);
    let cookie = format!("kroniek_session={}", sign_in(&s, &s.admin_token));
    let overview = request(&s, "GET", "/", &cookie, &[], None);
    assert!(overview
        .body
        .contains(r#"href="/bodies/landelijk-bestuur""#));
    // A departure on 2019-09-30 changes the national board: the page follows the API.
    let mut pages = Vec::new();
    for date in ["2019-09-29", "2019-10-01", "2019-10-12"] {
        let page = request(
            &s,
            "GET",
            &format!("/bodies/landelijk-bestuur?as_of={date}"),
            &cookie,
            &[],
            None,
        );
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!(r#"datetime="{date}""#)));
        assert!(page
            .body
            .contains(&format!(r#"type="date" value="{date}""#)));
        let api: serde_json::Value = serde_json::from_str(
            &s.get(
                &format!("/v1/bodies/landelijk-bestuur/composition?as_of={date}"),
                &s.admin_token,
            )
            .1,
        )
        .expect("JSON");
        let mut vacancies = 0;
        for seat in api["seats"].as_array().expect("seats") {
            vacancies += seat["vacancies"].as_u64().expect("a count");
            for h in seat["holders"].as_array().expect("holders") {
                let id = h["member_id"].as_str().expect("an id");
                assert!(
                    page.body.contains(&format!("<code>{id}</code>")),
                    "{date}: {id}"
                );
            }
        }
        // One row per seat with vacancies, carrying their number (a seat of a large
        // count must not become millions of rows).
        let shown: u64 = page
            .body
            .split(r#"<tr class="vacant" data-vacancies=""#)
            .skip(1)
            .map(|rest| {
                let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
                n.parse::<u64>().expect("a number")
            })
            .sum();
        assert_eq!(shown, vacancies, "{date}");
        assert!(page.body.contains(&format!(
            r#"<strong id="seated">{}</strong>"#,
            api["seated"]
        )));
        let table = page.body.find("<table").expect("a table");
        pages.push(page.body[table..].to_owned());
    }
    assert_ne!(pages[0], pages[1], "the departure on 2019-09-30 shows");
    // The rooster van aftreden: one bar per seat-term of the API's schedule, reappointments
    // marked.
    let schedule: serde_json::Value = serde_json::from_str(
        &s.get("/v1/bodies/landelijk-bestuur/terms", &s.admin_token)
            .1,
    )
    .expect("JSON");
    let terms = schedule["terms"].as_array().expect("terms");
    let reappointments: usize = terms
        .iter()
        .map(|t| t["reappointments"].as_array().map_or(0, Vec::len))
        .sum();
    let page = request(&s, "GET", "/bodies/landelijk-bestuur", &cookie, &[], None);
    assert!(page.body.contains(r#"<svg id="rooster" role="img""#));
    assert_eq!(
        page.body.matches(r#"<g class="term">"#).count(),
        terms.len()
    );
    assert_eq!(
        page.body.matches(r##"stroke="#f2b705""##).count(),
        reappointments
    );
    assert!(reappointments > 0 && terms.len() > 5);
    // A bad date: 400, the message beside the field, the composition of today.
    let bad = request(
        &s,
        "GET",
        "/bodies/landelijk-bestuur?as_of=30-09-2019",
        &cookie,
        &[],
        None,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains(r#"id="as-of-error""#) && bad.body.contains("JJJJ-MM-DD"));
    // An unknown body: a 404 page.
    assert_eq!(
        request(&s, "GET", "/bodies/nope", &cookie, &[], None).status,
        404
    );
}

#[test]
fn the_member_role_sees_the_current_composition_and_disputes_sees_no_names() {
    let s = Server::start(&["--demo"]);
    let member = format!("kroniek_session={}", sign_in(&s, &grant(&s, "member")));
    let page = request(
        &s,
        "GET",
        "/bodies/landelijk-bestuur?as_of=2019-09-29",
        &member,
        &[],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains(r#"type="date""#),
        "no date picker for members"
    );
    assert!(!page.body.contains(r#"datetime="2019-09-29""#));
    assert!(page.body.contains("huidige samenstelling"));
    // The member role may not read the term schedule, so no rooster either; and it may not
    // open member pages, so the holders are not links to them.
    assert!(!page.body.contains(r#"<svg id="rooster""#));
    assert!(
        !page.body.contains(r#"href="/members/"#),
        "a link the member cannot follow"
    );

    let disputes = format!("kroniek_session={}", sign_in(&s, &grant(&s, "disputes")));
    let page = request(
        &s,
        "GET",
        "/bodies/landelijk-bestuur?as_of=2020-01-01",
        &disputes,
        &[],
        None,
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("naam niet getoond"));
    let admin = format!("kroniek_session={}", sign_in(&s, &s.admin_token));
    let named = request(
        &s,
        "GET",
        "/bodies/landelijk-bestuur?as_of=2020-01-01",
        &admin,
        &[],
        None,
    );
    assert!(!named.body.contains("naam niet getoond"));
}

#[test]
fn cookies_are_secure_when_the_server_is_reached_over_https() {
    let s = Server::start(&["--demo", "--public-url", "https://kroniek.example-party.nl"]);
    let login = request(&s, "GET", "/login", "", &[], None);
    assert!(!login.cookies.is_empty());
    assert!(
        login.cookies.iter().all(|c| c.contains("; Secure")),
        "{:?}",
        login.cookies
    );
    let plain = Server::start(&["--demo"]);
    let login = request(&plain, "GET", "/login", "", &[], None);
    assert!(
        login.cookies.iter().all(|c| !c.contains("Secure")),
        "{:?}",
        login.cookies
    );
}

/// Step 12, item 3: once the ledger has been quiet for a few seconds after an append, the
/// server walks the chain again by itself, so the last verification covers the head (and the
/// audit report needs no walk of its own); the overview shows it.
#[test]
fn the_chain_is_walked_again_when_the_ledger_is_quiet_after_appends() {
    let s = Server::start(&["--demo"]);
    let cookie = sign_in(&s, &s.admin_token);
    let overview = || {
        let page = request(
            &s,
            "GET",
            "/",
            &format!("kroniek_session={cookie}"),
            &[],
            None,
        );
        assert_eq!(page.status, 200);
        page.body
    };
    let count = |body: &str| -> Option<u64> {
        let at = body.find(r#"id="last-verification""#)?;
        let text = &body[at..];
        let open = text.find('(')?;
        text[open + 1..].split_whitespace().next()?.parse().ok()
    };
    let head = || -> u64 {
        let (_, body) = s.get("/v1/head", &s.admin_token);
        let at = body.find("\"count\":").expect("a count") + 8;
        body[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    // The walk at start (and after the admin's grant) reaches the head by itself.
    let started = std::time::Instant::now();
    let first = head();
    while count(&overview()) != Some(first) {
        assert!(
            started.elapsed().as_secs() < 60,
            "no verification of the head shown"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let event = r#"{"stream":"member/10201","type":"ContributionPaid","effective":"2024-11-01","data":{"member_id":"10201","year":2025,"amount_cents":1500}}"#;
    let (code, body) = s.post("/v1/events", &s.admin_token, event);
    assert_eq!(code, 201, "{body}");
    let started = std::time::Instant::now();
    while count(&overview()) != Some(first + 1) {
        assert!(
            started.elapsed().as_secs() < 60,
            "the walk did not catch up with the append: {:?}",
            count(&overview())
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}
