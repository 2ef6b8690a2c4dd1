//! The read models on the sample ledger: facts on the day before and the day of each change;
//! and a property: projections updated record by record, as appends happen, answer exactly
//! as projections rebuilt from the log.

use super::*;
use kroniek_core::store::Store;
use kroniek_core::ProposedEvent;
use proptest::prelude::*;

fn sample_events() -> Vec<ProposedEvent> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/sample.jsonl"
    ))
    .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| ProposedEvent::parse_line(l).unwrap())
        .collect()
}

fn rebuild(store: &Store) -> Projections {
    Projections::rebuild(store.iter_from(0).map(|r| {
        let r = r.unwrap();
        let p = store.personal_at(r.position).unwrap();
        (r, p)
    }))
    .unwrap()
}

fn sample() -> (tempfile::TempDir, Projections) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
    store.append(&sample_events(), "admin:local").unwrap();
    let p = rebuild(&store);
    (dir, p)
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn holders(p: &Projections, body: &str, date: &str, role: &str) -> Vec<String> {
    let c = p.composition(body, d(date)).unwrap();
    c.seats
        .iter()
        .filter(|s| s.role == role)
        .flat_map(|s| s.holders.iter().map(|h| h.member_id.clone()))
        .collect()
}

#[test]
fn compositions_on_the_day_before_and_the_day_of_a_change() {
    let (_dir, p) = sample();
    // The treasurer resigns on 2019-09-30 (not held that day); the replacement starts 2019-10-12.
    assert_eq!(
        holders(&p, "landelijk-bestuur", "2019-09-29", "penningmeester"),
        ["10203"]
    );
    assert!(holders(&p, "landelijk-bestuur", "2019-09-30", "penningmeester").is_empty());
    let c = p.composition("landelijk-bestuur", d("2019-10-11")).unwrap();
    assert_eq!(
        c.seats
            .iter()
            .find(|s| s.role == "penningmeester")
            .unwrap()
            .vacancies,
        1
    );
    assert_eq!(
        holders(&p, "landelijk-bestuur", "2019-10-12", "penningmeester"),
        ["10214"]
    );
    // A branch treasurer whose term ended without a decision stays listed, term_expired.
    let c = p
        .composition("afdeling-den-haag/bestuur", d("2020-02-29"))
        .unwrap();
    let t = c.seats.iter().find(|s| s.role == "penningmeester").unwrap();
    assert_eq!((t.holders.len(), t.holders[0].term_expired), (1, false));
    let c = p
        .composition("afdeling-den-haag/bestuur", d("2020-03-01"))
        .unwrap();
    let t = c.seats.iter().find(|s| s.role == "penningmeester").unwrap();
    let expired: Vec<(&str, bool)> = t
        .holders
        .iter()
        .map(|h| (h.member_id.as_str(), h.term_expired))
        .collect();
    assert_eq!(expired, [("10211", true), ("10223", false)]);
    assert_eq!(t.vacancies, 0);
    // Reappointment: the term end and the count as they stood on each date.
    let c = p.composition("landelijk-bestuur", d("2021-01-04")).unwrap();
    let chair = &c
        .seats
        .iter()
        .find(|s| s.role == "voorzitter")
        .unwrap()
        .holders[0];
    assert_eq!(
        (chair.term_end.as_deref(), chair.times_reappointed),
        (Some("2021-01-05"), 0)
    );
    let c = p.composition("landelijk-bestuur", d("2021-01-05")).unwrap();
    let chair = &c
        .seats
        .iter()
        .find(|s| s.role == "voorzitter")
        .unwrap()
        .holders[0];
    assert_eq!(
        (chair.term_end.as_deref(), chair.times_reappointed),
        (Some("2024-01-05"), 1)
    );
    // The network's core group drops below four on 2021-06-30.
    let before = p.composition("netwerk-klimaat", d("2021-06-29")).unwrap();
    let after = p.composition("netwerk-klimaat", d("2021-06-30")).unwrap();
    assert_eq!((before.seated, before.below_min_members), (4, false));
    assert_eq!((after.seated, after.below_min_members), (3, true));
    // A new seat defined on 2022-03-12.
    assert!(p
        .composition("landelijk-bestuur", d("2022-03-11"))
        .unwrap()
        .seats
        .iter()
        .all(|s| s.portfolio.as_deref() != Some("digitaal")));
    let mut general = holders(
        &p,
        "landelijk-bestuur",
        "2022-03-12",
        "algemeen-bestuurslid",
    );
    general.sort();
    assert_eq!(general, ["10205", "10211", "10224"]);
    // Before the body existed: a clear error.
    assert!(matches!(
        p.composition("netwerk-klimaat", d("2019-05-31")),
        Err(ProjectionError::NotYetEstablished { .. })
    ));
    assert!(matches!(
        p.composition("nergens", d("2020-01-01")),
        Err(ProjectionError::Unknown { .. })
    ));
}

#[test]
fn a_holder_who_is_no_longer_active_is_marked() {
    let (_dir, p) = sample();
    // Member 10219 sat in the network's core group until 2021-06-30 and died in 2023; member
    // 10220 was never seated, so take 10218, suspended 2021-04-01 … 2021-05-14, in the
    // kandidatencommissie.
    let c = p
        .composition("kandidatencommissie", d("2021-04-01"))
        .unwrap();
    let h = c.seats[0]
        .holders
        .iter()
        .find(|h| h.member_id == "10218")
        .unwrap();
    assert_eq!(
        (h.member_status.as_str(), h.member_active),
        ("suspended", false)
    );
    let c = p
        .composition("kandidatencommissie", d("2021-03-31"))
        .unwrap();
    let h = c.seats[0]
        .holders
        .iter()
        .find(|h| h.member_id == "10218")
        .unwrap();
    assert!(h.member_active);
}

#[test]
fn term_schedule_counts_reappointments_left() {
    let (_dir, p) = sample();
    let t = p.terms("landelijk-bestuur").unwrap();
    let youth = t
        .terms
        .iter()
        .find(|v| v.role == "jongerenvertegenwoordiger")
        .unwrap();
    assert_eq!(
        (youth.times_reappointed, youth.reappointments_remaining),
        (2, Some(0))
    );
    let chair = t.terms.iter().find(|v| v.role == "voorzitter").unwrap();
    assert_eq!(chair.reappointments.len(), 2);
    let resigned = t.terms.iter().find(|v| v.member_id == "10203").unwrap();
    assert_eq!(
        (resigned.left.as_deref(), resigned.left_reason.as_deref()),
        (Some("2019-09-30"), Some("resigned"))
    );
    assert_eq!(
        p.terms("kandidatencommissie").unwrap().max_reappointments,
        None
    );
}

#[test]
fn member_status_on_the_day_before_and_the_day_of_a_change() {
    let (_dir, p) = sample();
    let table: &[(&str, &str, &str)] = &[
        ("10218", "2021-03-31", "active"),
        ("10218", "2021-04-01", "suspended"),
        ("10218", "2021-05-14", "suspended"),
        ("10218", "2021-05-15", "active"),
        ("10220", "2022-06-14", "active"),
        ("10220", "2022-06-15", "suspended"),
        ("10220", "2022-09-19", "suspended"),
        ("10220", "2022-09-20", "expelled"),
        ("10217", "2021-12-30", "active"),
        ("10217", "2021-12-31", "ended"),
        ("10209", "2018-02-11", "not_a_member"),
        ("10209", "2018-02-12", "active"),
    ];
    for (m, date, status) in table {
        assert_eq!(
            p.member(m, d(date)).unwrap().status,
            *status,
            "member {m} on {date}"
        );
    }
    let m = p.member("10207", d("2019-11-01")).unwrap();
    assert_eq!(m.details.as_ref().unwrap()["email"], "gijs@example.nl");
    let m = p.member("10207", d("2019-11-02")).unwrap();
    assert_eq!(
        m.details.as_ref().unwrap()["email"],
        "gijs.meijer@example.nl"
    );
    assert_eq!(m.details.as_ref().unwrap()["name"], "Gijs Meijer");
    let m = p.member("10210", d("2024-12-31")).unwrap();
    let net2020 = m
        .contributions
        .iter()
        .find(|c| c.year == 2020)
        .unwrap()
        .net_cents;
    assert_eq!(net2020, 600, "paid 1200, refunded 600");
    let m = p.member("10201", d("2022-04-02")).unwrap();
    assert_eq!(
        m.signatures.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(m
        .bodies
        .iter()
        .any(|b| b.body_id == "dagelijks-bestuur" && b.term_end.is_none()));
    let m = p.member("10220", d("2024-01-01")).unwrap();
    let history: Vec<&str> = m.history.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(history, ["active", "suspended", "expelled"]);
}

#[test]
fn membership_counts_by_status_and_branch() {
    let (_dir, p) = sample();
    let before = p.membership_count(d("2021-12-30"));
    let after = p.membership_count(d("2021-12-31"));
    assert_eq!(
        after.by_status.get("ended").copied().unwrap_or(0),
        before.by_status.get("ended").copied().unwrap_or(0) + 1
    );
    assert_eq!(after.members + 1, before.members);
    let c = p.membership_count(d("2018-01-06"));
    assert_eq!(c.members, 8);
    assert_eq!(c.by_branch["afdeling-den-haag"]["active"], 4);
}

/// The counts of active members over a list of dates (the audit report's membership over the
/// year) are `membership_count`'s, date by date, whatever the dates' order.
#[test]
fn active_counts_are_the_membership_counts_active() {
    let (_dir, p) = sample();
    let dates: Vec<Date> = [
        "2024-01-01",
        "2010-01-01",
        "2018-01-06",
        "2021-12-30",
        "2021-12-31",
        "2022-04-02",
        "2017-06-30",
        "2020-03-01",
        "2018-01-06",
    ]
    .into_iter()
    .map(d)
    .collect();
    let one_by_one: Vec<u64> = dates
        .iter()
        .map(|x| {
            p.membership_count(*x)
                .by_status
                .get("active")
                .copied()
                .unwrap_or(0)
        })
        .collect();
    assert!(one_by_one.iter().any(|n| *n > 0));
    assert!(one_by_one.windows(2).any(|w| w[0] != w[1]));
    assert_eq!(p.active_counts(&dates), one_by_one);
    assert_eq!(p.active_counts(&[]), Vec::<u64>::new());
}

#[test]
fn the_timeline_filters_and_marks_revocations() {
    let (_dir, p) = sample();
    let all = p.timeline(&TimelineFilter::default());
    let revoked = all
        .iter()
        .find_map(|e| match e {
            TimelineEntry::Decision(d) if d.decision_id == "2023-003" => d.revoked.clone(),
            _ => None,
        })
        .unwrap();
    assert_eq!(revoked.by_decision_id, "2023-004");
    let financial = p.timeline(&TimelineFilter {
        category: Some("financial".into()),
        ..Default::default()
    });
    assert!(!financial.is_empty());
    assert!(financial
        .iter()
        .all(|e| matches!(e, TimelineEntry::Decision(d) if d.category == "financial")));
    let alv_2020 = p.timeline(&TimelineFilter {
        body_id: Some("alv".into()),
        from: Some("2020-11-01".into()),
        to: Some("2020-11-30".into()),
        ..Default::default()
    });
    let ids: Vec<&str> = alv_2020
        .iter()
        .map(|e| match e {
            TimelineEntry::Decision(d) => d.decision_id.as_str(),
            TimelineEntry::Motion(m) => m.motion_id.as_str(),
        })
        .collect();
    assert_eq!(
        ids,
        ["2020-m07", "2020-m08", "2020-m07a", "2020-015", "2020-016"]
    );
    let m = alv_2020.iter().find_map(|e| match e {
        TimelineEntry::Motion(m) if m.motion_id == "2020-m07" => Some(m),
        _ => None,
    });
    assert_eq!(m.unwrap().amendments, ["2020-m07a"]);
}

#[test]
fn elections_show_screening_profiles_and_results() {
    let (_dir, p) = sample();
    let e = p.election("bestuur-2021").unwrap();
    assert_eq!(e.candidacies.len(), 6);
    let refused = e
        .candidacies
        .iter()
        .find(|c| c.member_id == "10225")
        .unwrap();
    assert_eq!(refused.admitted, Some(false));
    assert!(refused.reason.as_deref().unwrap().contains("twee jaar"));
    // Four candidates still stand; their profiles carry no names or ids, in a fixed order
    // that is not the order of submission.
    assert_eq!(e.profiles.len(), 4);
    let text = serde_json::to_string(&e.profiles).unwrap();
    assert!(!text.contains("102"));
    let submitted_order: Vec<Vec<String>> = e
        .candidacies
        .iter()
        .filter(|c| c.withdrawn.is_none() && c.admitted != Some(false))
        .map(|c| c.profile_terms.clone().unwrap())
        .collect();
    let mut sorted_a = submitted_order.clone();
    let mut sorted_b = e.profiles.clone();
    sorted_a.sort();
    sorted_b.sort();
    assert_eq!(sorted_a, sorted_b);
    assert_eq!(
        e.results
            .iter()
            .map(|r| r.elected.clone())
            .collect::<Vec<_>>(),
        [["10201"], ["10202"], ["10214"], ["10211"]]
    );
}

#[test]
fn case_files_follow_the_appeal_and_the_suspension() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
    store.append(&sample_events(), "admin:local").unwrap();
    let p = rebuild(&store);
    // Each event of a file is the stored record's: position, date, type, data and hash.
    for e in p.case("r-2022-01", d("2030-01-01")).unwrap().events {
        let r = store.record_at(e.position).unwrap();
        assert_eq!(r.stream, "case/r-2022-01");
        assert_eq!(
            (e.effective, e.event_type.as_str(), &e.data, e.hash),
            (
                r.effective,
                r.event_type.name(),
                r.data.value(),
                hex(&r.hash)
            )
        );
    }
    let table: &[(&str, &str, Option<&str>, bool)] = &[
        ("2022-06-14", "open", None, false),
        ("2022-06-15", "decided", Some("expelled"), true),
        ("2022-07-01", "appealed", Some("expelled"), true),
        ("2022-09-19", "appeal_decided", Some("expelled"), true),
        ("2022-09-20", "appeal_decided", Some("expelled"), false),
        ("2022-09-21", "closed", Some("expelled"), false),
    ];
    for (date, status, outcome, suspended) in table {
        let c = p.case("r-2022-01", d(date)).unwrap();
        assert_eq!(
            (
                c.status.as_str(),
                c.outcome.as_deref(),
                c.suspended[0].suspended
            ),
            (*status, *outcome, *suspended),
            "on {date}"
        );
    }
    let c = p.case("r-2022-01", d("2022-09-21")).unwrap();
    assert_eq!(c.appeal_deadline.as_deref(), Some("2022-07-15"));
    assert_eq!(c.events.first().unwrap().event_type, "CaseOpened");
    assert_eq!(c.events.len(), 9);
    assert!(c.summary.is_some());
    // The conduct case: an explicit suspension, then a reinstatement; its summary was erased.
    let c = p.case("c-2021-03", d("2021-04-01")).unwrap();
    assert!(c.suspended[0].suspended);
    assert!(!p.case("c-2021-03", d("2021-05-15")).unwrap().suspended[0].suspended);
    assert_eq!(p.case("c-2021-03", d("2025-01-01")).unwrap().summary, None);
}

#[test]
fn conduct_coverage_follows_the_version_in_force() {
    let (_dir, p) = sample();
    let before = p.conduct(d("2022-03-11"));
    let code = before
        .codes
        .iter()
        .find(|c| c.code_id == "gedragscode")
        .unwrap();
    assert_eq!(
        (code.version, code.signed_current, code.signed_any),
        (1, before.active_members, before.active_members)
    );
    assert!(before.codes.iter().all(|c| c.code_id != "safer-space"));
    assert_eq!(
        code.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1]
    );
    let after = p.conduct(d("2022-03-12"));
    let versions: Vec<(u32, &str)> = after
        .codes
        .iter()
        .find(|c| c.code_id == "gedragscode")
        .unwrap()
        .versions
        .iter()
        .map(|v| (v.version, v.adopted.as_str()))
        .collect();
    assert_eq!(versions, [(1, "2018-01-06"), (2, "2022-03-12")]);
    let code = after
        .codes
        .iter()
        .find(|c| c.code_id == "gedragscode")
        .unwrap();
    assert_eq!((code.version, code.signed_current), (2, 0));
    let later = p.conduct(d("2022-05-01"));
    assert_eq!(
        later
            .codes
            .iter()
            .find(|c| c.code_id == "gedragscode")
            .unwrap()
            .signed_current,
        18
    );
}

/// Every answer the read models give, on a set of dates.
fn answers(p: &Projections, dates: &[Date]) -> Vec<String> {
    let mut out = Vec::new();
    for date in dates {
        for body in p.body_ids() {
            out.push(format!("{:?}", p.composition(&body, *date)));
        }
        for m in 10201..=10228 {
            out.push(format!("{:?}", p.member(&m.to_string(), *date)));
        }
        out.push(format!("{:?}", p.membership_count(*date)));
        out.push(format!("{:?}", p.conduct(*date)));
        for case in ["c-2020-07", "c-2021-03", "r-2022-01"] {
            out.push(format!("{:?}", p.case(case, *date)));
        }
    }
    for body in p.body_ids() {
        out.push(format!("{:?}", p.terms(&body)));
    }
    out.push(format!("{:?}", p.timeline(&TimelineFilter::default())));
    out.push(format!("{:?}", p.election("bestuur-2021")));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Projections updated as appends happen (in random batches) answer exactly as
    /// projections rebuilt from the log.
    #[test]
    fn incremental_updates_match_a_rebuild(cuts in prop::collection::vec(1usize..40, 1..30), days in prop::collection::vec(0i64..2600, 3)) {
        let events = sample_events();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
        let mut live = Projections::new();
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < events.len() {
            let end = (at + cut.next().copied().unwrap_or(1)).min(events.len());
            let before = store.head().count;
            store.append(&events[at..end], "admin:local").unwrap();
            // Apply what this append wrote, with the personal data as it was appended.
            for (record, event) in store.read_range(before, (end - at) as u64).unwrap().iter().zip(&events[at..end]) {
                let personal = store.personal_at(record.position).unwrap().or_else(|| {
                    event.personal.clone().map(|value| Personal::new([0; 32], value))
                });
                live.apply(record, personal.as_ref()).unwrap();
            }
            at = end;
        }
        let rebuilt = rebuild(&store);
        prop_assert_eq!(live.applied(), rebuilt.applied());
        let start = d("2018-01-01");
        let dates: Vec<Date> = days.iter().map(|n| Date::from_naive(start.naive() + chrono::Duration::days(*n))).collect();
        prop_assert_eq!(answers(&live, &dates), answers(&rebuilt, &dates));
    }
}

#[test]
fn a_timeline_page_is_a_slice_of_the_whole_timeline() {
    let (_dir, p) = sample();
    let filter = TimelineFilter::default();
    let mut newest_first = p.timeline(&filter);
    newest_first.reverse();
    for (offset, limit) in [(0, 5), (5, 5), (15, 10), (40, 5), (0, 1000)] {
        let (page, total) = p.timeline_page(&filter, false, true, offset, limit);
        assert_eq!(total, newest_first.len());
        let expected: Vec<TimelineEntry> = newest_first
            .iter()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        assert_eq!(page, expected, "offset {offset}, limit {limit}");
    }
    let (oldest, _) = p.timeline_page(&filter, false, false, 0, 3);
    assert_eq!(oldest, p.timeline(&filter)[..3].to_vec());
    // Decisions only: the motions are left out of the page and of the total.
    let (decisions, total) = p.timeline_page(&filter, true, true, 0, 1000);
    assert!(decisions
        .iter()
        .all(|e| matches!(e, TimelineEntry::Decision(_))));
    assert_eq!(total, decisions.len());
    assert!(total < newest_first.len());
}

#[test]
fn contributions_are_kept_per_year_in_year_order() {
    let mut info = MemberInfo::default();
    for (year, cents) in [
        (2022, 1200),
        (2020, 500),
        (2022, -200),
        (2021, 0),
        (2020, 700),
    ] {
        info.add_contribution(year, cents);
    }
    assert_eq!(info.contributions, [(2020, 1200), (2021, 0), (2022, 1000)]);
    // Past ±(2^53 − 1) cents the sum is refused and left as it was: never wrapped or pinned.
    assert!(!info.add_contribution(2022, i64::MAX));
    assert_eq!(info.contributions[2], (2022, 1000));
    assert!(!info.add_contribution(2023, i64::MIN));
    assert_eq!(info.contributions.len(), 3);
}

/// The projections' encoding in pieces, one after the other, is their own encoding.
#[test]
fn the_encoding_parts_make_the_projections_encoding() {
    let (_dir, p) = sample();
    let config = bincode::config::standard();
    let whole = bincode::encode_to_vec(&p, config).unwrap();
    let (a, b, c, d) = p.encoding_parts();
    let mut parts = bincode::encode_to_vec(&a, config).unwrap();
    parts.extend(bincode::encode_to_vec(&b, config).unwrap());
    parts.extend(bincode::encode_to_vec(&c, config).unwrap());
    parts.extend(bincode::encode_to_vec(&d, config).unwrap());
    assert!(!p.members.is_empty() && !p.cases.is_empty());
    assert_eq!(parts, whole);
}
