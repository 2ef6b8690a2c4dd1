//! Writes: idempotent retries across restarts, large batches staged and committed whole,
//! group commit shared by concurrent writers, retries racing groups in flight, and appends
//! queued together applied as one group with an answer each.

use super::*;

#[test]
fn idempotency_holds_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let batch = vec![
        event(0, 1, ExpectedVersion::Any, Some(1)),
        event(1, 1, ExpectedVersion::Any, Some(2)),
    ];
    {
        let store = init_at(&path);
        let first = store.append(&batch, "admin:local").unwrap();
        assert!(matches!(
            first,
            AppendOutcome::Appended {
                first: 0,
                count: 2,
                ..
            }
        ));
        let again = store.append(&batch, "admin:local").unwrap();
        assert!(
            matches!(again, AppendOutcome::AlreadyRecorded { ref positions, .. } if positions == &vec![0, 1])
        );
    }
    let store = Store::open(&path).unwrap().without_rules();
    let again = store.append(&batch, "admin:local").unwrap();
    assert!(
        matches!(again, AppendOutcome::AlreadyRecorded { ref positions, .. } if positions == &vec![0, 1])
    );
    // The same id with other content.
    let changed = event(1, 2, ExpectedVersion::Any, Some(2));
    let Err(CoreError::Refused(r)) = store.append(&[changed], "admin:local") else {
        panic!("not refused")
    };
    assert_eq!(r[0].refusal.rule, Rule::IdReused);
    // Only some seen before.
    let mixed = vec![
        event(0, 1, ExpectedVersion::Any, Some(1)),
        event(1, 3, ExpectedVersion::Any, Some(3)),
    ];
    let Err(CoreError::Refused(r)) = store.append(&mixed, "admin:local") else {
        panic!("not refused")
    };
    assert_eq!(
        (r.len(), r[0].index, r[0].refusal.rule),
        (1, 0, Rule::IdReused)
    );
    // The same id twice in one batch.
    let twice = vec![
        event(1, 4, ExpectedVersion::Any, Some(9)),
        event(1, 4, ExpectedVersion::Any, Some(9)),
    ];
    let Err(CoreError::Refused(r)) = store.append(&twice, "admin:local") else {
        panic!("not refused")
    };
    assert_eq!((r[0].index, r[0].refusal.rule), (1, Rule::IdReused));
    assert_eq!(store.head().count, 2);
}

#[test]
fn a_large_batch_is_staged_and_committed_whole_or_not_at_all() {
    let (_dir, mut store) = temp_store();
    store.chunk = 7;
    store
        .append(&[event(3, 0, ExpectedVersion::Any, None)], "admin:local")
        .unwrap();
    let before = store.head();
    let mut events: Vec<_> = (0..40)
        .map(|n| event(1, n, ExpectedVersion::Any, None))
        .collect();
    // A conflict on the last event, after several chunks were staged.
    events.push(event(1, 0, ExpectedVersion::NoStream, None));
    let Err(CoreError::Refused(r)) = store.append(&events, "admin:local") else {
        panic!("not refused")
    };
    assert_eq!((r.len(), r[0].index), (1, 40));
    assert_eq!(store.head(), before);
    assert_eq!(store.t.records.len(), 1);
    assert_eq!(store.t.streams.len(), 1);
    assert_eq!(store.t.ids.len(), 1);
    events.pop();
    let refused = store.write_stats();
    let AppendOutcome::Appended { first, count, head } =
        store.append(&events, "admin:local").unwrap()
    else {
        panic!()
    };
    assert_eq!((first, count, head.count), (1, 40, 41));
    assert_eq!(verified(&store).count, 41);
    // The full chunks were written by a thread of their own, which reports its time and what
    // it wrote: five chunks of 7 (positions 1 to 35; the last 5 events are written with the
    // head), each event's record, stream entry and id entry, the personal data stored for
    // them (if any), and the Merkle nodes of level 4 and up they complete (16 and 32 leaves: 3).
    let stats = store.write_stats();
    assert!(refused.staging_nanos > 0 && stats.staging_nanos > refused.staging_nanos);
    assert_eq!(
        refused.staged_events, 35,
        "the refused batch's staged chunks"
    );
    assert_eq!(stats.staged_events - refused.staged_events, 35);
    let personal = store.t.personal.range(pos_key(1)..pos_key(36)).count() as u64;
    assert_eq!(
        stats.staged_keys - refused.staged_keys,
        3 * 35 + personal + 3
    );
}

#[test]
fn a_large_batch_sees_its_own_staged_chunks_ids_and_erasures_included() {
    let (_dir, mut store) = temp_store();
    store.chunk = 3;
    // An id repeated several chunks later (its first chunk already staged past the head) is
    // refused at the repeat, and nothing is written.
    let mut events: Vec<_> = (0..10u8)
        .map(|n| event(0, n, ExpectedVersion::Any, Some(100 + u32::from(n))))
        .collect();
    for first in [0usize, 5, 7] {
        let mut twice = events.clone();
        twice.push(event(1, 0, ExpectedVersion::Any, Some(100 + first as u32)));
        let Err(CoreError::Refused(r)) = store.append(&twice, "admin:local") else {
            panic!("a repeated id was not refused")
        };
        assert_eq!(
            (r.len(), r[0].index, r[0].refusal.rule),
            (1, 10, Rule::IdReused)
        );
        assert_eq!(store.head(), Head::EMPTY);
        assert_eq!(store.t.records.len(), 0);
        assert_eq!(store.t.ids.len(), 0);
    }
    // An erasure after staged chunks erases what those chunks hold of its subject.
    events.push(
        ProposedEvent::parse(
            json!({"stream": "member/1002", "type": "PersonalDataErased",
            "effective": "2024-01-01", "data": {"subject": "1002", "reason": "AVG-verzoek"}}),
        )
        .unwrap(),
    );
    events.extend((10..14u8).map(|n| event(1, n, ExpectedVersion::Any, None)));
    let AppendOutcome::Appended { count, .. } = store.append(&events, "admin:local").unwrap()
    else {
        panic!("not appended")
    };
    assert_eq!(count, 15);
    for position in 0..10u64 {
        // Members 1000 + n % 5: positions 2 and 7 are member 1002's.
        assert_eq!(
            store.personal_at(position).unwrap().is_none(),
            position % 5 == 2,
            "position {position}"
        );
    }
    let v = verified(&store);
    assert_eq!((v.count, v.erased), (15, 2));
}

#[test]
fn concurrent_writers_share_flushes() {
    let (_dir, store) = temp_store();
    let store = std::sync::Arc::new(store);
    let threads: Vec<_> = (0..16u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..10u8 {
                    let e = event(
                        1,
                        t.wrapping_mul(10).wrapping_add(n),
                        ExpectedVersion::Any,
                        None,
                    );
                    // Answered only once durable: what readers see covers it.
                    match store.append(&[e], "admin:local").unwrap() {
                        AppendOutcome::Appended { first, count, .. } => {
                            assert!(
                                store.head().count >= first + count,
                                "answered before durable"
                            )
                        }
                        other => panic!("not appended: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.head().count, 160);
    assert_eq!(verified(&store).count, 160);
    eprintln!("160 appends, {} flushes", store.flush_count());
    assert!(
        store.flush_count() < 160,
        "appends that wait together share a flush"
    );
}

/// On sled a group's records are written after the writer lock is let go, beside the next
/// group's checks. Two threads send the same 240 events (with ids) in the same order while six
/// others append without ids: each id is recorded once, both threads are answered its one
/// position (a retry of a record still in flight included), every stream's versions run on
/// without a gap, and the ledger verifies and reopens whole.
#[test]
fn retries_racing_groups_in_flight_answer_the_first_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let store = std::sync::Arc::new(init_at(&path));
    let with_id = |k: u32| event(1, (k % 200) as u8, ExpectedVersion::Any, Some(1000 + k));
    let position = |outcome: &AppendOutcome| match outcome {
        AppendOutcome::Appended { first, .. } => *first,
        AppendOutcome::AlreadyRecorded { positions, .. } => positions[0],
    };
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..240u32)
                    .map(|k| position(&store.append(&[with_id(k)], "admin:local").unwrap()))
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let others: Vec<_> = (0..6u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..40u8 {
                    let e = event(1, t * 40 + n, ExpectedVersion::Any, None);
                    store.append(&[e], "admin:local").unwrap();
                }
            })
        })
        .collect();
    let answers: Vec<Vec<u64>> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    for t in others {
        t.join().unwrap();
    }
    assert_eq!(
        answers[0], answers[1],
        "both senders get each id's one position"
    );
    assert_eq!(store.head().count, 240 + 240);
    let mut positions = answers[0].clone();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 240, "each id recorded once");
    for (k, p) in answers[0].iter().enumerate() {
        let record = store.record_at(*p).unwrap();
        assert_eq!(record.id, with_id(k as u32).id.unwrap(), "position {p}");
    }
    assert!(
        store.write_stats().ordered_nanos > 0,
        "heads written in turn"
    );
    assert_eq!(verified(&store).count, 480);
    let lens: Vec<u64> = (1000..1005)
        .map(|m| store.stream_len(&format!("member/{m}")).unwrap())
        .collect();
    assert_eq!(
        lens.iter().sum::<u64>(),
        480,
        "no version lost or taken twice"
    );
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(verified(&store).count, 480, "durable whole");
}

/// Appends queued behind a busy writer are applied as one group, each judged after the ones
/// before it and answered on its own: a refusal refuses only its own batch, a retry answers
/// the first position, an erasure in the middle commits with the group so far, and the group
/// is one chain that verifies and survives a reopen.
#[test]
fn appends_queued_together_are_one_group_each_with_its_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let store = init_at(&path);
    // Member 1000 joins (personal data), stream member/1000 at version 0.
    store
        .append(&[event(0, 0, ExpectedVersion::Any, None)], "admin:local")
        .unwrap();
    let store = std::sync::Arc::new(store);
    let erase = ProposedEvent::parse(
        json!({"stream": "member/1000", "type": "PersonalDataErased",
        "effective": "2024-01-01", "data": {"subject": "1000", "reason": "AVG-verzoek"}}),
    )
    .unwrap();
    let batches: Vec<Vec<ProposedEvent>> = vec![
        // 0: the leader of a group of its own, held at the writer lock.
        vec![event(1, 1, ExpectedVersion::Any, None)],
        // 1: member/1001 (n = 1) is at version 0: this is version 1.
        vec![event(1, 6, ExpectedVersion::Exact(0), None)],
        // 2: expects the version batch 1 just took: refused, and only itself.
        vec![event(1, 11, ExpectedVersion::Exact(0), None)],
        // 3: a new id …
        vec![event(1, 2, ExpectedVersion::Any, Some(77))],
        // 4: … sent again in the same group: the first position.
        vec![event(1, 2, ExpectedVersion::Any, Some(77))],
        // 5: a batch with one good event and a version conflict: nothing of it is written.
        vec![
            event(1, 3, ExpectedVersion::Any, None),
            event(1, 4, ExpectedVersion::Exact(9), None),
        ],
        // 6: an erasure, committed with the group so far in one transaction.
        vec![erase],
        // 7: and one more after it.
        vec![event(1, 3, ExpectedVersion::Any, None)],
    ];
    let held = lock(&store.writer);
    let mut threads = Vec::new();
    for (n, batch) in batches.into_iter().enumerate() {
        let s = store.clone();
        threads.push(std::thread::spawn(move || s.append(&batch, "admin:local")));
        // Wait until this append is queued (the first: taken by its leader, which then waits
        // for the writer lock held here), so that the queue's order is the batches' order.
        loop {
            let queue = lock(&store.queue);
            // (For the first, `waiting` is empty before it is queued too: wait for its lead.)
            let queued = if n == 0 {
                queue.leading && queue.waiting.is_empty()
            } else {
                queue.waiting.len() == n
            };
            if queued {
                break;
            }
            drop(queue);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    drop(held);
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let appended = |a: &Result<AppendOutcome, CoreError>| match a {
        Ok(AppendOutcome::Appended { first, count, .. }) => Some((*first, *count)),
        _ => None,
    };
    assert_eq!(appended(&answers[0]), Some((1, 1)));
    assert_eq!(
        appended(&answers[1]),
        Some((2, 1)),
        "batch 1: {:?}",
        answers[1]
    );
    match &answers[2] {
        Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, Rule::VersionConflict),
        other => panic!("batch 2: {other:?}"),
    }
    assert_eq!(appended(&answers[3]), Some((3, 1)));
    match &answers[4] {
        Ok(AppendOutcome::AlreadyRecorded { positions, head }) => {
            assert_eq!(positions, &vec![3]);
            assert_eq!(head.count, 6);
        }
        other => panic!("batch 4: {other:?}"),
    }
    match &answers[5] {
        Err(CoreError::Refused(r)) => {
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].index, 1);
        }
        other => panic!("batch 5: {other:?}"),
    }
    assert_eq!(appended(&answers[6]), Some((4, 1)));
    assert_eq!(appended(&answers[7]), Some((5, 1)));
    assert_eq!(store.head().count, 6);
    let stats = store.write_stats();
    assert_eq!(stats.appends, 9, "{stats:?}");
    assert_eq!(stats.events, 6, "{stats:?}");
    assert_eq!(stats.group_sizes[4], 0, "no group of 16 or more: {stats:?}");
    assert_eq!(
        stats.group_sizes[2], 1,
        "one group of the 7 queued: {stats:?}"
    );
    assert_eq!(store.personal_at(0).unwrap(), None, "erased");
    assert_eq!(verified(&store).count, 6);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.head().count, 6, "the group is durable");
    assert_eq!(store.stream_len("member/1001").unwrap(), 2);
}

/// Appends answered by a callback (the HTTP API's path) are led by leader threads, alone and
/// in groups with appends whose threads wait: each is answered once, with its own outcome, only
/// once durable; a refused one refuses only itself; `settled` runs once per group a leader
/// thread led; an idle leader is woken when callback appends wait (never found waiting only at
/// its look-again timeout); and the ledger verifies.
#[test]
fn callback_appends_are_led_by_leader_threads_each_answered_once() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{mpsc, Arc};
    type Answer = (u8, u8, Result<AppendOutcome, CoreError>, bool);
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let stop = Arc::new(AtomicBool::new(false));
    let settled = Arc::new(AtomicU64::new(0));
    let lost_wakeups = Arc::new(AtomicU64::new(0));
    let look_again = std::time::Duration::from_secs(2);
    let leaders: Vec<_> = (0..2)
        .map(|_| {
            let (store, stop, settled, lost) = (
                store.clone(),
                stop.clone(),
                settled.clone(),
                lost_wakeups.clone(),
            );
            std::thread::spawn(move || {
                let mut led = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    while store.lead_waiting_appends(&mut || {
                        settled.fetch_add(1, Ordering::SeqCst);
                    }) {
                        led += 1;
                    }
                    let started = std::time::Instant::now();
                    std::thread::park_timeout(look_again);
                    let waiting = !lock(&store.queue).waiting.is_empty();
                    if started.elapsed() >= look_again && waiting {
                        lost.fetch_add(1, Ordering::SeqCst);
                    }
                }
                led
            })
        })
        .collect();
    let (answered, answers) = mpsc::channel::<Answer>();
    // `base`: the first event number; each submitter thread sends `each` appends.
    let submit = |threads: u8, each: u8, base: u8| -> Vec<std::thread::JoinHandle<()>> {
        (0..threads)
            .map(|t| {
                let (store, answered) = (store.clone(), answered.clone());
                std::thread::spawn(move || {
                    for n in 0..each {
                        let e = event(1, base + t * each + n, ExpectedVersion::Any, None);
                        let (answered, reader) = (answered.clone(), store.clone());
                        store.append_batch_then(
                            vec![Ok(e)],
                            "admin:local",
                            Box::new(move |outcome| {
                                // Durable before the answer: the head covers it.
                                let covered = match &outcome {
                                    Ok(AppendOutcome::Appended { first, count, .. }) => {
                                        reader.head().count >= first + count
                                    }
                                    _ => true,
                                };
                                answered.send((t, n, outcome, covered)).unwrap();
                            }),
                        );
                    }
                })
            })
            .collect()
    };
    // First callback appends alone: only the leader threads apply them.
    for t in submit(8, 20, 0) {
        t.join().unwrap();
    }
    let mut all: Vec<Answer> = answers.iter().take(160).collect();
    // Then beside appends whose threads wait, in the same groups.
    let callbacks = submit(4, 10, 160);
    let waiting: Vec<_> = (0..2u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..10u8 {
                    let e = event(1, 200 + t * 10 + n, ExpectedVersion::Any, None);
                    store.append(&[e], "admin:local").unwrap();
                }
            })
        })
        .collect();
    // And one that must be refused: member/1000 has no version 41 yet.
    let (refused_tx, refused_rx) = mpsc::channel();
    store.append_batch_then(
        vec![Ok(event(1, 0, ExpectedVersion::Exact(41), None))],
        "admin:local",
        Box::new(move |outcome| refused_tx.send(outcome).unwrap()),
    );
    for t in callbacks.into_iter().chain(waiting) {
        t.join().unwrap();
    }
    drop(answered);
    all.extend(answers.iter());
    assert_eq!(all.len(), 200, "each callback answered once");
    let mut positions: Vec<u64> = all
        .iter()
        .map(|(t, n, outcome, covered)| {
            assert!(covered, "{t}/{n} answered before durable");
            match outcome {
                Ok(AppendOutcome::Appended {
                    first, count: 1, ..
                }) => *first,
                other => panic!("{t}/{n}: {other:?}"),
            }
        })
        .collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 200, "each its own position");
    match refused_rx.recv().unwrap() {
        Err(CoreError::Refused(r)) => assert_eq!(r[0].refusal.rule, Rule::VersionConflict),
        other => panic!("the conflicting append: {other:?}"),
    }
    stop.store(true, Ordering::SeqCst);
    let led: u64 = leaders
        .into_iter()
        .map(|l| {
            l.thread().unpark();
            l.join().unwrap()
        })
        .sum();
    assert!(led > 0, "the leader threads led groups");
    assert_eq!(
        settled.load(Ordering::SeqCst),
        led,
        "settled once per group"
    );
    assert_eq!(
        lost_wakeups.load(Ordering::SeqCst),
        0,
        "an idle leader was not woken"
    );
    assert_eq!(store.head().count, 220);
    assert_eq!(verified(&store).count, 220);
}

/// Without a leader thread, a callback append waits for the next group a waiting thread leads,
/// and is answered with it.
#[test]
fn a_callback_append_without_leader_threads_goes_with_the_next_group() {
    let (_dir, store) = temp_store();
    let (answered, answer) = std::sync::mpsc::channel();
    store.append_batch_then(
        vec![Ok(event(1, 1, ExpectedVersion::Any, None))],
        "admin:local",
        Box::new(move |outcome| answered.send(outcome).unwrap()),
    );
    assert!(answer.try_recv().is_err(), "not answered before a group");
    store
        .append(&[event(1, 2, ExpectedVersion::Any, None)], "admin:local")
        .unwrap();
    match answer.try_recv() {
        Ok(Ok(AppendOutcome::Appended {
            first: 0, count: 1, ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(store.head().count, 2);
}

/// A leader thread that retires is not woken for later callback appends: the wake-up goes to a
/// leader still running, which answers at once (not at its look-again timeout).
#[test]
fn a_retired_leader_thread_is_not_woken() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let stop = Arc::new(AtomicBool::new(false));
    let look_again = std::time::Duration::from_secs(5);
    // The leader still running registers first …
    let live = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                while store.lead_waiting_appends(&mut || {}) {}
                std::thread::park_timeout(look_again);
            }
        })
    };
    while lock(&store.queue).idle_leaders.is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // … then one that registers and retires (the last registered is the first woken).
    let retired = store.clone();
    std::thread::spawn(move || {
        assert!(!retired.lead_waiting_appends(&mut || {}));
        retired.retire_leader_thread();
    })
    .join()
    .unwrap();
    assert_eq!(lock(&store.queue).idle_leaders.len(), 1);
    let (answered, answer) = std::sync::mpsc::channel();
    store.append_batch_then(
        vec![Ok(event(1, 1, ExpectedVersion::Any, None))],
        "admin:local",
        Box::new(move |outcome| answered.send(outcome).unwrap()),
    );
    match answer.recv_timeout(look_again / 2) {
        Ok(Ok(AppendOutcome::Appended { count: 1, .. })) => {}
        other => panic!("not answered by the running leader: {other:?}"),
    }
    stop.store(true, Ordering::SeqCst);
    live.thread().unpark();
    live.join().unwrap();
}
