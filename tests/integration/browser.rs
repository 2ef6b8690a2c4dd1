//! The web pages in a real browser: Debian's Chromium driven over WebDriver (chromedriver,
//! with the `fantoccini` crate). It signs in by keyboard, changes the date on a body's page and
//! sees the composition change, records an event through a form and finds it on the timeline,
//! sees a refused event's message beside its field, runs axe-core on every page (no serious or
//! critical violation), and saves a screenshot of every page in
//! `target/tmp/screenshots/`.
//!
//! `.ci/run` installs `chromium`, `chromium-driver` and axe-core (from the npm registry) and
//! sets `KRONIEK_REQUIRE_BROWSER=1`, so in CI a missing browser fails the test; elsewhere the
//! test says SKIPPED.

use crate::support::Server;
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ends every browser process started with this profile folder, when dropped.
struct Reaper(String);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            // `--` first: the pattern itself starts with `--`.
            .args(["-f", "--", &format!("--user-data-dir={}", self.0)])
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The browser, the driver and axe-core, or why they are missing.
fn tools() -> Result<(PathBuf, PathBuf, String), String> {
    let browser = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or("no chromium (apt-get install chromium)")?;
    let driver = PathBuf::from("/usr/bin/chromedriver");
    if !driver.exists() {
        return Err("no chromedriver (apt-get install chromium-driver)".into());
    }
    let axe_path = std::env::var("KRONIEK_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/axe/node_modules/axe-core/axe.min.js")
        });
    let axe = std::fs::read_to_string(&axe_path).map_err(|e| {
        format!(
            "no axe-core at {} ({e}): npm install --prefix target/axe axe-core@4",
            axe_path.display()
        )
    })?;
    Ok((browser, driver, axe))
}

fn start_driver(driver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, url }
}

async fn browser(driver: &Driver, binary: &Path, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                "--lang=nl", format!("--user-data-dir={}", profile.display()),
            ],
            // Dutch first, as the party office's browsers ask.
            "prefs": {"intl.accept_languages": "nl-NL,nl"},
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session")
}

/// Saves a screenshot of the whole window as `name.png`.
async fn shoot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
}

/// Runs axe-core on the page; returns its serious and critical violations.
async fn serious_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(&format!("{axe}\nreturn true;"), vec![])
        .await
        .expect("axe-core loads");
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,
                   nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))))
               .catch(e => done([{id: 'axe-error', impact: 'critical', nodes: [String(e)]}]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let list = result
        .as_array()
        .expect("axe-core answers with a list of violations");
    if !list.is_empty() {
        // Minor and moderate findings are printed, not failed.
        eprintln!("axe-core: {} finding(s): {result}", list.len());
    }
    Some(list)
        .map(|list| {
            list.iter()
                .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                .map(|v| v.to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The element `locator` finds on the page a click has started to load. Like fantoccini's
/// `wait().for_element`, but a find that the navigation itself aborted (chromedriver's
/// "aborted by navigation", seen in CI) is tried again rather than failing the test.
async fn after_navigation(
    c: &Client,
    locator: Locator<'_>,
) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match c.find(locator).await {
            Ok(element) => return Ok(element),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

#[test]
fn the_pages_in_a_real_browser() {
    let required = std::env::var("KRONIEK_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let (binary, driver_path, axe) = match tools() {
        Ok(t) => t,
        Err(why) if !required => {
            crate::support::skipped(&why);
            return;
        }
        Err(why) => panic!("the browser test needs its tools: {why}"),
    };
    let server = Server::start(&["--demo"]);
    let driver = start_driver(&driver_path);
    let profile = tempfile::tempdir().expect("a profile folder");
    // Should the test fail before its WebDriver session ends, no browser outlives it.
    let _browser_reaper = Reaper(profile.path().display().to_string());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let c = browser(&driver, &binary, profile.path()).await;
        let base = server.base.clone();
        let mut violations: Vec<String> = Vec::new();

        // Sign in by keyboard: Tab from the top reaches the skip link first, then the token
        // field; Enter submits.
        c.goto(&format!("{base}/login")).await.expect("login page");
        shoot(&c, &shots, "01-login").await;
        violations.extend(
            serious_violations(&c, &axe)
                .await
                .into_iter()
                .map(|v| format!("/login {v}")),
        );
        let body = c.find(Locator::Css("body")).await.expect("body");
        body.send_keys(&fantoccini::key::Key::Tab.to_string())
            .await
            .expect("tab");
        let first = c.active_element().await.expect("focus");
        assert_eq!(
            first.attr("class").await.expect("class").as_deref(),
            Some("skip")
        );
        let mut reached_token = false;
        for _ in 0..10 {
            let focused = c.active_element().await.expect("focus");
            if focused.attr("id").await.expect("id").as_deref() == Some("token") {
                reached_token = true;
                focused
                    .send_keys(&format!(
                        "{}{}",
                        server.admin_token,
                        fantoccini::key::Key::Enter
                    ))
                    .await
                    .expect("typing");
                break;
            }
            focused
                .send_keys(&fantoccini::key::Key::Tab.to_string())
                .await
                .expect("tab");
        }
        assert!(reached_token, "the token field is reachable by Tab");
        after_navigation(&c, Locator::Id("event-count"))
            .await
            .expect("the overview");
        // The sample ledger and the admin's grant; the next event goes at this position.
        let count = text_of(&c, "#event-count").await;
        assert!(count.parse::<u64>().is_ok_and(|n| n > 400), "{count}");

        // Every page: a screenshot and axe-core.
        let pages = [
            ("02-overview", "/".to_owned()),
            (
                "03-body",
                "/bodies/landelijk-bestuur?as_of=2019-10-12".to_owned(),
            ),
            ("04-timeline", "/timeline".to_owned()),
            ("05-member", "/members/10201".to_owned()),
            ("06-election", "/elections/bestuur-2021".to_owned()),
            ("07-case", "/cases/r-2022-01".to_owned()),
            ("08-conduct", "/conduct".to_owned()),
            ("09-audit", "/audit?year=2022".to_owned()),
            ("10-event", "/events/3".to_owned()),
            ("11-record", "/record?type=DecisionTaken".to_owned()),
            ("12-english-timeline", "/timeline?lang=en".to_owned()),
            ("13-not-found", "/no-such-page".to_owned()),
        ];
        for (name, path) in &pages {
            c.goto(&format!("{base}{path}")).await.expect("a page");
            shoot(&c, &shots, name).await;
            violations.extend(
                serious_violations(&c, &axe)
                    .await
                    .into_iter()
                    .map(|v| format!("{path} {v}")),
            );
        }
        c.goto(&format!("{base}/?lang=nl"))
            .await
            .expect("back to Dutch");

        // Change the date on a body's page: the composition changes with it.
        c.goto(&format!("{base}/bodies/landelijk-bestuur"))
            .await
            .expect("body page");
        let mut seen = Vec::new();
        for date in ["2019-09-29", "2019-10-01"] {
            c.execute(
                "document.getElementById('as_of').value = arguments[0];",
                vec![serde_json::json!(date)],
            )
            .await
            .expect("set the date");
            c.find(Locator::Css("form.picker button"))
                .await
                .expect("button")
                .click()
                .await
                .expect("click");
            after_navigation(&c, Locator::Css(&format!("time#as-of[datetime='{date}']")))
                .await
                .expect("the page for the date");
            seen.push(text_of(&c, "table.composition").await);
        }
        assert_ne!(
            seen[0], seen[1],
            "the composition changes between the two dates"
        );

        // Record an event through the form; then see it on the timeline.
        c.goto(&format!("{base}/record"))
            .await
            .expect("record page");
        c.find(Locator::Id("type-choice"))
            .await
            .expect("type select")
            .select_by_value("DecisionTaken")
            .await
            .expect("choose");
        c.find(Locator::Css("form.picker button"))
            .await
            .expect("show")
            .click()
            .await
            .expect("click");
        after_navigation(&c, Locator::Id("event-form"))
            .await
            .expect("the form");
        let fill = |id: &'static str, value: &'static str| {
            let c = c.clone();
            async move {
                let e = c
                    .find(Locator::Id(id))
                    .await
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                e.clear().await.expect("clear");
                e.send_keys(value).await.expect("type");
            }
        };
        fill("f-data-decision_id", "2024-777").await;
        fill("f-data-body_id", "geen-orgaan").await;
        fill("f-data-title", "Vrijwilligersbeleid vastgesteld").await;
        c.find(Locator::Id("f-data-category"))
            .await
            .expect("category")
            .select_by_value("policy")
            .await
            .expect("choose");
        c.find(Locator::Id("f-data-basis"))
            .await
            .expect("basis")
            .select_by_value("vote")
            .await
            .expect("choose");
        c.find(Locator::Id("submit-event"))
            .await
            .expect("submit")
            .click()
            .await
            .expect("click");
        // Refused: the rule's message beside the field, what was typed kept.
        let error = after_navigation(&c, Locator::Id("f-data-body_id-error"))
            .await
            .expect("an error");
        assert!(error
            .text()
            .await
            .expect("text")
            .starts_with("unknown-reference"));
        let title = c.find(Locator::Id("f-data-title")).await.expect("title");
        assert_eq!(
            title.prop("value").await.expect("value").as_deref(),
            Some("Vrijwilligersbeleid vastgesteld")
        );
        shoot(&c, &shots, "14-refused").await;
        violations.extend(
            serious_violations(&c, &axe)
                .await
                .into_iter()
                .map(|v| format!("refused form {v}")),
        );
        // Corrected and sent again: accepted, with its position and hash.
        fill("f-data-body_id", "landelijk-bestuur").await;
        c.find(Locator::Id("submit-event"))
            .await
            .expect("submit")
            .click()
            .await
            .expect("click");
        let position = after_navigation(&c, Locator::Id("accepted-position"))
            .await
            .expect("accepted");
        assert_eq!(position.text().await.expect("text"), count);
        shoot(&c, &shots, "15-accepted").await;
        c.goto(&format!("{base}/timeline?body=landelijk-bestuur"))
            .await
            .expect("timeline");
        let entry = text_of(&c, "#decision-2024-777").await;
        assert!(entry.contains("Vrijwilligersbeleid vastgesteld"), "{entry}");
        shoot(&c, &shots, "16-timeline-after").await;

        c.close().await.expect("the session ends");
        assert!(violations.is_empty(), "axe-core: {violations:#?}");
    });
}
