//! The governance rules as the store applies them: a refused batch leaves the state alone,
//! the state is rebuilt from the log after a restart, and two writers racing for one seat
//! cannot both win. (The rules themselves are tested on plain data in `governance/tests.rs`.)

use super::*;
use crate::governance::tests::{appoint, events, join, paid, world};

#[test]
fn a_refused_batch_leaves_the_rules_state_alone_and_the_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
    store.append(&events(&world()), "admin:local").unwrap();
    let batch = events(&[
        join("8", "2020-02-01"),
        appoint("commissie", "8", "lid", "2020-02-02", None, None),
        paid("99", "2020-02-03"),
    ]);
    let before = store.head();
    assert!(matches!(
        store.append(&batch, "admin:local"),
        Err(CoreError::Refused(_))
    ));
    assert_eq!(store.head(), before, "nothing written");
    let e = events(&[appoint("commissie", "8", "lid", "2020-02-02", None, None)]);
    let Err(CoreError::Refused(r)) = store.append(&e, "admin:local") else {
        panic!()
    };
    assert_eq!(r[0].refusal.rule, Rule::UnknownReference);
    store.append(&batch[..2], "admin:local").unwrap();
    drop(store);
    let store = Store::open(&dir.path().join("l")).unwrap();
    let e = events(&[appoint("commissie", "2", "lid", "2020-03-01", None, None)]);
    let Err(CoreError::Refused(r)) = store.append(&e, "admin:local") else {
        panic!()
    };
    assert_eq!(r[0].refusal.rule, Rule::SeatCountExceeded);
}

/// Every refused case of the statutes' table, through a store: refused with its rule, and
/// the store's export (every record with its personal data) and head byte-identical after.
#[test]
fn a_refused_statute_case_leaves_the_store_byte_identical() {
    let world = events(&crate::governance::statutes_tests::statutes_world());
    for case in crate::governance::statutes_tests::cases() {
        let Some(rule) = case.expect else { continue };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
        store.append(&world, "admin:local").unwrap();
        if !case.before.is_empty() {
            store.append(&events(&case.before), "admin:local").unwrap();
        }
        let (head, lines) = (store.head(), export_lines(&store, true));
        match store.append(&events(std::slice::from_ref(&case.event)), "admin:local") {
            Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, rule, "{}", case.what),
            other => panic!("{}: {other:?}", case.what),
        }
        assert_eq!(store.head(), head, "{}", case.what);
        assert_eq!(export_lines(&store, true), lines, "{}", case.what);
    }
}

/// The same for the cases per respondent and the elections (step 10).
#[test]
fn a_refused_appeal_closing_candidacy_or_result_leaves_the_store_byte_identical() {
    use crate::governance::{cases_tests, elections_tests};
    let tables = [
        (cases_tests::world(), cases_tests::cases()),
        (elections_tests::world(), elections_tests::cases()),
    ];
    for (world, cases) in tables {
        refused_cases_leave_the_store_alone(&events(&world), cases);
    }
}

fn refused_cases_leave_the_store_alone(
    world: &[ProposedEvent],
    cases: Vec<crate::governance::cases_tests::Case>,
) {
    for (what, before, event, expected) in cases {
        let Err(rule) = expected else { continue };
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap();
        store.append(world, "admin:local").unwrap();
        if !before.is_empty() {
            store.append(&events(&before), "admin:local").unwrap();
        }
        let (head, lines) = (store.head(), export_lines(&store, true));
        match store.append(&events(std::slice::from_ref(&event)), "admin:local") {
            Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, rule, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(store.head(), head, "{what}");
        assert_eq!(export_lines(&store, true), lines, "{what}");
    }
}

#[test]
fn two_writers_racing_for_the_last_seat_cannot_both_win() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        std::sync::Arc::new(Store::init(&dir.path().join("l"), "test.example/kroniek").unwrap());
    store.append(&events(&world()), "admin:local").unwrap();
    let threads: Vec<_> = ["2", "3", "4", "6"]
        .into_iter()
        .map(|m| {
            let store = store.clone();
            std::thread::spawn(move || {
                store
                    .append(
                        &events(&[appoint("commissie", m, "lid", "2020-02-01", None, None)]),
                        "admin:local",
                    )
                    .is_ok()
            })
        })
        .collect();
    let winners = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(winners, 1);
}
