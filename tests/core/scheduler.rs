//! The check-in scheduler on a real SQLite file with a test clock.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use mend::checkins::PauseReason;
use mend::checkins::Schedule;
use mend::checkins::scheduler::{self, Deliver, Outgoing, Settings};
use mend::clock::{Clock, ManualClock};
use mend::conversation::engine::{Companion, Consent, Input, Outcome};
use mend::referrals::Reply;
use mend::safety::{CrisisReplies, Screen};
use mend::store::Store;
use tokio::sync::mpsc;

use crate::helpers::{route, shipped, temp_store};

fn companion() -> Companion {
    Companion {
        script: shipped(),
        screen: Screen::embedded(),
        crisis: CrisisReplies::embedded(),
        cooldown: SignedDuration::from_mins(10),
    }
}

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Delivers from the outbox as an edge does, recording what would have been
/// sent; can refuse someone like Discord's 50007.
struct Recorder {
    store: Store,
    sent: Mutex<Vec<(String, Vec<Reply>)>>,
    unreachable: Mutex<Vec<String>>,
}

impl Recorder {
    fn new(store: &Store) -> Recorder {
        Recorder {
            store: store.clone(),
            sent: Mutex::default(),
            unreachable: Mutex::default(),
        }
    }
}

impl Deliver for Recorder {
    async fn deliver(&self, person: &str) {
        let unsent = self.store.unsent(person).await.unwrap();
        let Some(first) = unsent.first() else {
            return;
        };
        let key = first.event_key.clone();
        assert!(
            unsent.iter().all(|u| u.event_key == key),
            "one turn waiting"
        );
        assert_eq!(first.address, mend::store::DIRECT);
        if self.unreachable.lock().unwrap().iter().any(|p| p == person) {
            let id = mend::checkins::queries::key_person(&key).unwrap();
            self.store
                .pause_checkins(id, PauseReason::Undeliverable, Timestamp::now())
                .await
                .unwrap();
        } else {
            let replies = unsent.into_iter().map(|u| u.reply).collect();
            self.sent.lock().unwrap().push((person.to_owned(), replies));
        }
        self.store.sent(&key).await.unwrap();
    }
}

/// Applies, at `at`, the presses and words that take `person` from where
/// they are to an outcome that is `done` (typing `text` where asked).
async fn follow(
    store: &Store,
    person: &str,
    at: Timestamp,
    text: &str,
    done: impl Fn(&Outcome) -> bool,
) {
    let companion = companion();
    let state = store.state(person).await.unwrap();
    for line in route(&companion.script, &state, text, done) {
        let input = if line.contains(':') {
            Input::Choice(line)
        } else {
            Input::Text(line)
        };
        store
            .apply(person, at, |s| companion.respond(s, &input, at))
            .await
            .unwrap();
    }
}

/// One check-in sent: opted in at 09:00 London, sent at 09:00 on 1 June.
async fn one_check_in_sent(store: &Store) -> Arc<Recorder> {
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    opted_in(store, "discord:1", clock.now()).await;
    let recorder = Arc::new(Recorder::new(store));
    clock.set(utc("2027-06-01T08:00:00Z"));
    run_pass(store, &clock, &recorder).await;
    recorder
}

/// A consenting person opted in at 09:00 London.
async fn opted_in(store: &Store, person: &str, now: Timestamp) {
    let companion = companion();
    store
        .apply(person, now, |s| companion.respond(s, &Input::Start, now))
        .await
        .unwrap();
    follow(store, person, now, "ok", |o: &Outcome| {
        o.state.consent == Consent::Given
    })
    .await;
    let schedule = Schedule::new("09:00", "Europe/London").unwrap();
    let (due, date) = schedule.next_after(now);
    store
        .set_checkin(person, &schedule, due, date, now)
        .await
        .unwrap();
}

/// One scheduler pass and the sends it queued, delivered.
async fn run_pass(store: &Store, clock: &ManualClock, recorder: &Arc<Recorder>) -> scheduler::Pass {
    let (queue, receiver) = mpsc::channel::<Outgoing>(2000);
    let report = scheduler::pass(store, &companion(), clock, &Settings::default(), &queue)
        .await
        .unwrap();
    drop(queue);
    scheduler::send_all(Arc::clone(recorder), 10_000, receiver).await;
    report
}

#[tokio::test]
async fn due_people_get_exactly_one_check_in_a_day() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    opted_in(&store, "discord:1", clock.now()).await;
    opted_in(&store, "discord:2", clock.now()).await;
    let recorder = Arc::new(Recorder::new(&store));

    assert_eq!(
        run_pass(&store, &clock, &recorder).await.queued,
        0,
        "not yet due"
    );
    clock.set(utc("2027-06-01T08:00:00Z"));
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 2);
    clock.set(utc("2027-06-01T08:00:30Z"));
    assert_eq!(
        run_pass(&store, &clock, &recorder).await.queued,
        0,
        "once a day"
    );
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    for (_, replies) in &sent {
        assert!(!replies.is_empty());
        assert_eq!(replies[0].links().len(), 3);
    }
    let state = store.state("discord:1").await.unwrap();
    assert_eq!(state.place.unwrap().flow, "daily");

    clock.set(utc("2027-06-02T08:00:00Z"));
    assert_eq!(
        run_pass(&store, &clock, &recorder).await.queued,
        2,
        "the next day"
    );
}

#[tokio::test]
async fn a_claimed_check_in_is_never_sent_twice_even_by_two_schedulers() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    for i in 0..30 {
        opted_in(&store, &format!("discord:{i}"), clock.now()).await;
    }
    clock.set(utc("2027-06-01T08:00:00Z"));
    let recorder = Arc::new(Recorder::new(&store));
    // Two passes at once, as after a restart that overlapped the old process.
    let (a, b) = tokio::join!(
        run_pass(&store, &clock, &recorder),
        run_pass(&store, &clock, &recorder)
    );
    assert_eq!(a.queued + b.queued, 30);
    let mut people: Vec<String> = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    people.sort();
    people.dedup();
    assert_eq!(people.len(), 30);
    assert_eq!(recorder.sent.lock().unwrap().len(), 30);

    // A crash after the pass but before anything is sent: the check-ins
    // are in the outbox, not counted as unanswered, and a restart sends
    // each one once; the pass that follows starts none again.
    clock.set(utc("2027-06-02T08:00:00Z"));
    let (queue, receiver) = mpsc::channel::<Outgoing>(2000);
    let claimed = scheduler::pass(&store, &companion(), &clock, &Settings::default(), &queue)
        .await
        .unwrap();
    assert_eq!(claimed.queued, 30);
    drop(receiver);
    drop(queue);
    let setting = store.checkin("discord:7").await.unwrap().unwrap();
    assert_eq!(setting.unanswered, 1, "only 1 June's, which was delivered");
    let mut waiting = store.waiting().await.unwrap();
    waiting.sort();
    assert_eq!(waiting.len(), 30, "every claimed check-in is kept");
    let before = recorder.sent.lock().unwrap().len();
    for person in &waiting {
        recorder.deliver(person).await;
        recorder.deliver(person).await;
    }
    assert_eq!(
        recorder.sent.lock().unwrap().len(),
        before + 30,
        "once each"
    );
    assert!(store.waiting().await.unwrap().is_empty());
    let setting = store.checkin("discord:7").await.unwrap().unwrap();
    assert_eq!(setting.unanswered, 2, "counted once delivered");
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 0);
}

#[tokio::test]
async fn downtime_inside_the_grace_window_sends_late_once_and_beyond_it_skips() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    opted_in(&store, "discord:1", clock.now()).await;
    let recorder = Arc::new(Recorder::new(&store));

    clock.set(utc("2027-06-01T10:30:00Z")); // 2.5 hours late
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 1);
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 0);

    clock.set(utc("2027-06-04T12:00:00Z")); // days of downtime
    let report = run_pass(&store, &clock, &recorder).await;
    assert_eq!((report.queued, report.skipped), (0, 1), "never piled up");
    let setting = store.checkin("discord:1").await.unwrap().unwrap();
    assert_eq!(setting.next_due, utc("2027-06-05T08:00:00Z"));
}

#[tokio::test]
async fn unanswered_check_ins_pause_and_the_person_is_told_next_time() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    opted_in(&store, "discord:1", clock.now()).await;
    let recorder = Arc::new(Recorder::new(&store));
    for day in 1..=3 {
        clock.set(utc(&format!("2027-06-0{day}T08:00:00Z")));
        assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 1);
    }
    clock.set(utc("2027-06-04T08:00:00Z"));
    let report = run_pass(&store, &clock, &recorder).await;
    assert_eq!((report.queued, report.paused), (0, 1));
    let setting = store.checkin("discord:1").await.unwrap().unwrap();
    assert!(!setting.active);
    assert_eq!(setting.pause_reason, Some(PauseReason::Unanswered));

    let companion = companion();
    let now = clock.now();
    let applied = store
        .apply("discord:1", now, |s| {
            companion.respond(s, &Input::Text("hello".into()), now)
        })
        .await
        .unwrap();
    assert_eq!(applied.checkins_paused, Some(PauseReason::Unanswered));
    let again = store
        .apply("discord:1", now, |s| {
            companion.respond(s, &Input::Text("hello".into()), now)
        })
        .await
        .unwrap();
    assert_eq!(again.checkins_paused, None, "said once");
}

#[tokio::test]
async fn answering_counts_for_the_day_it_was_sent_and_resets_the_count() {
    let (_dir, store) = temp_store().await;
    one_check_in_sent(&store).await;

    // Hours later (the next UTC day, even), the answer is for 1 June.
    answer_daily(&store, utc("2027-06-02T01:00:00Z")).await;
    let days = store
        .checkin_days("discord:1", "2027-05-01".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].day.to_string(), "2027-06-01");
    assert!(days[0].scale.is_some());
    assert_eq!(
        store
            .checkin("discord:1")
            .await
            .unwrap()
            .unwrap()
            .unanswered,
        0
    );
}

/// Answers the daily check-in from start to end at `at`.
async fn answer_daily(store: &Store, at: Timestamp) {
    follow(store, "discord:1", at, "we talked", |o: &Outcome| {
        o.events
            .iter()
            .any(|e| matches!(e, mend::conversation::engine::Event::FlowFinished { .. }))
    })
    .await;
}

#[tokio::test]
async fn an_answer_days_after_the_last_check_in_counts_for_the_local_today() {
    let (_dir, store) = temp_store().await;
    let recorder = one_check_in_sent(&store).await;
    assert_eq!(recorder.sent.lock().unwrap().len(), 1, "1 June's check-in");

    // Check-ins go quiet (paused, say); on 5 June, half past midnight in
    // London (still 4 June in UTC), the person does one from the menu.
    let at = utc("2027-06-04T23:30:00Z");
    let companion = companion();
    let begin = Input::Begin(mend::store::DAILY.into());
    store
        .apply("discord:1", at, |s| companion.respond(s, &begin, at))
        .await
        .unwrap();
    answer_daily(&store, at).await;
    let days = store
        .checkin_days("discord:1", "2027-05-01".parse().unwrap())
        .await
        .unwrap();
    let dates: Vec<String> = days.iter().map(|d| d.day.to_string()).collect();
    assert_eq!(dates, ["2027-06-05"], "not 1 June's, nor the UTC date");
    assert!(days[0].scale.is_some());
}

#[tokio::test]
async fn someone_who_cannot_be_messaged_is_paused_not_retried() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    opted_in(&store, "discord:1", clock.now()).await;
    let recorder = Arc::new(Recorder::new(&store));
    recorder
        .unreachable
        .lock()
        .unwrap()
        .push("discord:1".into());
    clock.set(utc("2027-06-01T08:00:00Z"));
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 1);
    let setting = store.checkin("discord:1").await.unwrap().unwrap();
    assert!(!setting.active);
    assert_eq!(setting.pause_reason, Some(PauseReason::Undeliverable));
    clock.set(utc("2027-06-02T08:00:00Z"));
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 0);
}

#[tokio::test]
async fn a_check_in_moved_later_the_same_day_comes_again_at_its_new_time() {
    let (_dir, store) = temp_store().await;
    let recorder = one_check_in_sent(&store).await;
    assert_eq!(recorder.sent.lock().unwrap().len(), 1, "09:00 on 1 June");

    // At 10:00 the person moves their check-ins to 20:00: the next is today.
    let clock = ManualClock::new(utc("2027-06-01T09:00:00Z"));
    let schedule = Schedule::new("20:00", "Europe/London").unwrap();
    let (due, date) = schedule.next_after(clock.now());
    assert_eq!(date.to_string(), "2027-06-01");
    store
        .set_checkin("discord:1", &schedule, due, date, clock.now())
        .await
        .unwrap();
    clock.set(utc("2027-06-01T19:00:00Z"));
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 1);
    assert_eq!(recorder.sent.lock().unwrap().len(), 2, "and again at 20:00");
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 0, "once");
    let setting = store.checkin("discord:1").await.unwrap().unwrap();
    assert_eq!(setting.next_due, utc("2027-06-02T19:00:00Z"));
}

#[tokio::test]
async fn the_scheduler_never_messages_a_terminal_person() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    // Both opted in at 09:00 London: one on Discord, one in `mend chat`.
    opted_in(&store, "discord:1", clock.now()).await;
    opted_in(&store, "terminal:sam", clock.now()).await;
    let before = store.checkin("terminal:sam").await.unwrap().unwrap();
    assert!(before.active);

    let recorder = Arc::new(Recorder::new(&store));
    clock.set(utc("2027-06-01T08:00:00Z"));
    let report = run_pass(&store, &clock, &recorder).await;
    assert_eq!(report.queued, 1, "the Discord person's only");
    let sent = recorder.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "discord:1");
    assert!(store.unsent("terminal:sam").await.unwrap().is_empty());
    // Left for `mend chat` to offer when they next open it.
    let after = store.checkin("terminal:sam").await.unwrap().unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn one_person_whose_check_in_fails_does_not_hold_up_the_others() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    for i in 1..=4 {
        opted_in(&store, &format!("discord:{i}"), clock.now()).await;
    }
    // discord:2's row is damaged (a time no clock can hold), and theirs is
    // the first due, so a pass meets it before anyone else.
    let damaged: i64 = sqlx::query_scalar("SELECT id FROM people WHERE external_id = 'discord:2'")
        .fetch_one(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    sqlx::query("UPDATE people SET crisis_replied_at = ? WHERE id = ?")
        .bind(i64::MAX)
        .bind(damaged)
        .execute(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    sqlx::query("UPDATE checkins SET next_due = next_due - 60000 WHERE person_id = ?")
        .bind(damaged)
        .execute(&crate::helpers::raw(&store).await)
        .await
        .unwrap();

    let recorder = Arc::new(Recorder::new(&store));
    clock.set(utc("2027-06-01T08:00:00Z"));
    let report = run_pass(&store, &clock, &recorder).await;
    let mut people: Vec<String> = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    people.sort();
    assert_eq!(
        people,
        ["discord:1", "discord:3", "discord:4"],
        "in the same pass"
    );
    assert_eq!(report.queued, 3);
    assert_eq!(report.failed, [damaged], "named by id for the log");
    // Not moved on: still due, and tried again by the next pass.
    let setting = store.checkin("discord:2").await.unwrap().unwrap();
    assert_eq!(setting.next_due, utc("2027-06-01T07:59:00Z"));
    assert_eq!(setting.unanswered, 0);
    let again = run_pass(&store, &clock, &recorder).await;
    assert_eq!((again.queued, again.failed.len()), (0, 1));

    // Once the row is mended, the next pass sends theirs, once.
    sqlx::query("UPDATE people SET crisis_replied_at = NULL WHERE id = ?")
        .bind(damaged)
        .execute(&crate::helpers::raw(&store).await)
        .await
        .unwrap();
    let mended = run_pass(&store, &clock, &recorder).await;
    assert_eq!((mended.queued, mended.failed.len()), (1, 0));
    assert_eq!(recorder.sent.lock().unwrap().len(), 4);
    assert_eq!(run_pass(&store, &clock, &recorder).await.queued, 0);
}

#[tokio::test]
async fn a_full_batch_of_failures_ends_the_pass_and_the_rest_still_come() {
    let (_dir, store) = temp_store().await;
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    for i in 1..=5 {
        opted_in(&store, &format!("discord:{i}"), clock.now()).await;
    }
    // Two damaged rows, due first, in batches of two: the first batch is
    // all failures, and the pass must move past it rather than take it again.
    sqlx::query(
        "UPDATE people SET crisis_replied_at = ?
         WHERE external_id IN ('discord:1', 'discord:2')",
    )
    .bind(i64::MAX)
    .execute(&crate::helpers::raw(&store).await)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE checkins SET next_due = next_due - 60000 WHERE person_id IN
         (SELECT id FROM people WHERE external_id IN ('discord:1', 'discord:2'))",
    )
    .execute(&crate::helpers::raw(&store).await)
    .await
    .unwrap();
    clock.set(utc("2027-06-01T08:00:00Z"));
    let settings = Settings {
        batch: 2,
        ..Settings::default()
    };
    let (queue, mut receiver) = mpsc::channel::<Outgoing>(100);
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        scheduler::pass(&store, &companion(), &clock, &settings, &queue),
    )
    .await
    .expect("the pass ends")
    .unwrap();
    drop(queue);
    assert_eq!((report.queued, report.failed.len()), (3, 2));
    let mut queued = Vec::new();
    while let Some(outgoing) = receiver.recv().await {
        queued.push(outgoing.person);
    }
    queued.sort();
    assert_eq!(queued, ["discord:3", "discord:4", "discord:5"]);
}

#[tokio::test]
async fn a_database_another_writer_holds_ends_the_pass_at_the_first_person() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mend.sqlite");
    let options = mend::store::StoreOptions {
        busy_timeout: std::time::Duration::from_millis(300),
        ..mend::store::StoreOptions::default()
    };
    let store = Store::open(&db, &options, &crate::helpers::test_key())
        .await
        .unwrap();
    let clock = ManualClock::new(utc("2027-06-01T07:00:00Z"));
    for i in 1..=5 {
        opted_in(&store, &format!("discord:{i}"), clock.now()).await;
    }
    clock.set(utc("2027-06-01T08:00:00Z"));
    let lock = crate::lock::Lock::take(&db).await;
    let (queue, _receiver) = mpsc::channel::<Outgoing>(100);
    let started = std::time::Instant::now();
    let result = scheduler::pass(&store, &companion(), &clock, &Settings::default(), &queue).await;
    let waited = started.elapsed();
    lock.release().await;
    let err = result.expect_err("the whole database is busy");
    assert!(err.is_store_wide(), "{err}");
    // One busy timeout, not one for each person due.
    assert!(
        waited < std::time::Duration::from_millis(1200),
        "{waited:?}"
    );
    let setting = store.checkin("discord:5").await.unwrap().unwrap();
    assert_eq!(setting.next_due, utc("2027-06-01T08:00:00Z"), "still due");
}
