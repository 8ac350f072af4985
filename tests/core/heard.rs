//! Words typed where buttons were offered: answered as words, offered to be
//! kept in the person's journal (with consent), and the choices again.

use jiff::Timestamp;
use mend::conversation::engine::{self, Consent, Event, Input, Place, State};
use mend::privacy::ErasedBy;
use mend::store::Store;

use crate::helpers::{at_menu, shipped, temp_store, texts};

const WORDS: &str = "I feel awful today, he lied again about where he was";

#[test]
fn words_at_a_button_step_are_thanked_offered_to_the_journal_and_the_choices_follow() {
    let script = shipped();
    let heard = engine::handle(
        &script,
        &at_menu(Consent::Given),
        &Input::Text(WORDS.into()),
    );
    let said = texts(&heard);
    assert!(
        said[0].starts_with("Thank you for telling me that."),
        "{said:?}"
    );
    assert!(
        !said.iter().any(|s| s.contains("not sure which one")),
        "{said:?}"
    );
    let offer: Vec<&str> = heard.replies[0]
        .choices()
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert_eq!(offer, ["Keep it in my journal", "No need"]);
    // The menu's choices again, after it.
    assert_eq!(heard.replies.len(), 2);
    assert!(heard.replies[1].choices().len() > 5);
    assert_eq!(heard.state.offered_note.as_deref(), Some(WORDS));
    assert!(
        heard
            .events
            .iter()
            .any(|e| matches!(e, Event::Heard { .. }))
    );

    let keep = heard.replies[0].choices()[0].id.clone();
    let kept = engine::handle(&script, &heard.state, &Input::Choice(keep.clone()));
    assert!(kept.events.contains(&Event::NoteKept));
    assert!(texts(&kept)[0].starts_with("Kept in your journal."));
    assert_eq!(kept.state.offered_note, None);
    // Pressing it again keeps nothing more.
    let again = engine::handle(&script, &kept.state, &Input::Choice(keep));
    assert!(!again.events.contains(&Event::NoteKept));
    assert!(texts(&again)[0].contains("no longer waiting"));
}

#[test]
fn the_offer_lapses_with_any_other_answer_and_is_never_made_without_consent() {
    let script = shipped();
    let heard = engine::handle(
        &script,
        &at_menu(Consent::Given),
        &Input::Text(WORDS.into()),
    );
    let moved_on = engine::handle(&script, &heard.state, &Input::Text("menu".into()));
    assert_eq!(moved_on.state.offered_note, None);

    for consent in [Consent::Unasked, Consent::Declined] {
        let heard = engine::handle(&script, &at_menu(consent), &Input::Text(WORDS.into()));
        assert!(texts(&heard)[0].starts_with("Thank you for telling me that."));
        assert!(
            heard.replies[0].choices().is_empty(),
            "no offer without consent"
        );
        assert_eq!(heard.state.offered_note, None);
    }
}

#[test]
fn everyday_words_get_everyday_answers_and_a_stray_number_is_reasked() {
    let script = shipped();
    let state = at_menu(Consent::Given);
    for (typed, answer) in [
        ("hello", "Hello. It's good to hear from you."),
        ("Hi there!", "Hello. It's good to hear from you."),
        ("thanks", "You're very welcome."),
        ("ok", "Okay. Take whatever time you need."),
    ] {
        let outcome = engine::handle(&script, &state, &Input::Text(typed.into()));
        assert_eq!(texts(&outcome)[0], answer, "{typed}");
        assert_eq!(outcome.state.offered_note, None, "{typed}");
    }
    let outcome = engine::handle(&script, &state, &Input::Text("99".into()));
    assert!(texts(&outcome)[0].contains("not sure which one"));
}

#[test]
fn the_first_hello_at_the_welcome_is_greeted() {
    let script = shipped();
    let first = engine::handle(&script, &State::default(), &Input::Start);
    let hello = engine::handle(&script, &first.state, &Input::Text("hello".into()));
    let said = texts(&hello);
    assert!(
        !said.iter().any(|s| s.contains("not sure which one")),
        "{said:?}"
    );
    assert!(said[0].starts_with("Hello"), "{said:?}");
}

#[test]
fn a_number_at_an_ask_step_with_one_button_is_not_kept_as_the_answer() {
    let script = shipped();
    let mut state = at_menu(Consent::Given);
    state.place = Some(Place {
        flow: "daily".into(),
        step: "note".into(),
    });
    let outcome = engine::handle(&script, &state, &Input::Text("2".into()));
    assert!(texts(&outcome)[0].contains("not sure which one"));
    assert!(outcome.state.answers.is_empty());
}

#[test]
fn words_that_suggest_danger_get_the_crisis_reply_not_the_journal() {
    let config = mend::config::Config::default();
    let companion = mend::app::companion(&config, None).unwrap();
    let outcome = companion.respond(
        &at_menu(Consent::Given),
        &Input::Text("he locks me in the house and took my phone".into()),
        Timestamp::from_second(1_800_000_000).unwrap(),
    );
    assert_eq!(outcome.state.offered_note, None);
    assert!(!texts(&outcome)[0].starts_with("Thank you for telling me that."));
}

async fn send(store: &Store, input: Input, now: Timestamp) -> engine::Outcome {
    let script = shipped();
    store
        .apply("terminal:a", now, |state| {
            let state = if state.place.is_none() {
                at_menu(Consent::Given)
            } else {
                state.clone()
            };
            engine::handle(&script, &state, &input)
        })
        .await
        .unwrap()
        .outcome
}

async fn rows(store: &Store) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT kept, text FROM journal")
        .fetch_all(&crate::helpers::raw(store).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_kept_note_is_sealed_in_the_file_exported_and_erased() {
    let (_dir, store) = temp_store().await;
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let heard = send(&store, Input::Text(WORDS.into()), now).await;
    let offered = rows(&store).await;
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].0, 0, "on offer, not kept");
    assert!(!offered[0].1.contains("lied"), "sealed");
    assert_eq!(
        store
            .state("terminal:a")
            .await
            .unwrap()
            .offered_note
            .as_deref(),
        Some(WORDS)
    );

    let keep = heard.replies[0].choices()[0].id.clone();
    send(&store, Input::Choice(keep), now).await;
    assert_eq!(
        rows(&store).await.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1]
    );

    // A second offer, declined: only the kept note stays.
    let heard = send(&store, Input::Text("and I couldn't sleep".into()), now).await;
    assert_eq!(rows(&store).await.len(), 2);
    let skip = heard.replies[0].choices()[1].id.clone();
    send(&store, Input::Choice(skip), now).await;
    assert_eq!(rows(&store).await.len(), 1);

    // The kept note is in the person's own view of how things have gone.
    let view = mend::checkins::progress::progress(&store, "terminal:a", now)
        .await
        .unwrap()
        .text;
    assert!(view.contains("In your own words"), "{view}");
    assert!(view.contains(WORDS), "{view}");
    assert!(!view.contains("couldn't sleep"), "{view}");

    let export = store.export("terminal:a", now).await.unwrap().unwrap();
    let json = serde_json::to_value(&export).unwrap();
    let journal = json["journal"].as_array().unwrap();
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0]["text"], WORDS);
    assert_eq!(journal[0]["kept"], true);
    assert!(json["readme"]["journal"].is_string());

    store
        .forget("terminal:a", ErasedBy::Person, now)
        .await
        .unwrap()
        .unwrap();
    assert!(rows(&store).await.is_empty());
}

#[test]
fn the_offer_can_be_answered_in_words_where_there_are_no_buttons() {
    let script = shipped();
    let heard = engine::handle(
        &script,
        &at_menu(Consent::Given),
        &Input::Text(WORDS.into()),
    );
    assert!(texts(&heard)[0].contains("write **keep it** or **no need**"));
    let kept = engine::handle(&script, &heard.state, &Input::Text("Keep it".into()));
    assert!(kept.events.contains(&Event::NoteKept), "{:?}", texts(&kept));
    let heard = engine::handle(&script, &kept.state, &Input::Text(WORDS.into()));
    let skipped = engine::handle(&script, &heard.state, &Input::Text("no need".into()));
    assert!(!skipped.events.contains(&Event::NoteKept));
    assert_eq!(texts(&skipped)[0], "Alright, I haven't kept it.");
    // With nothing on offer, the words are words like any others.
    let plain = engine::handle(&script, &skipped.state, &Input::Text("keep it".into()));
    assert!(!plain.events.contains(&Event::NoteKept));
}

#[test]
fn a_question_is_answered_as_a_question_and_other_words_vary_by_day() {
    let config = mend::config::Config::default();
    let companion = mend::app::companion(&config, None).unwrap();
    let at = |day: i64| Timestamp::from_second(1_800_000_000 + day * 86_400).unwrap();
    let asked = companion.respond(
        &at_menu(Consent::Declined),
        &Input::Text("why do you need to store anything?".into()),
        at(0),
    );
    assert!(
        texts(&asked)[0].starts_with("That's a fair question"),
        "{:?}",
        texts(&asked)
    );
    let said: std::collections::BTreeSet<String> = (0..30)
        .map(|day| {
            texts(&companion.respond(
                &at_menu(Consent::Declined),
                &Input::Text(WORDS.into()),
                at(day),
            ))[0]
                .clone()
        })
        .collect();
    assert!(said.len() > 1, "the same words every day: {said:?}");
}

#[test]
fn a_choice_is_found_from_its_first_word_or_with_words_after_it() {
    let script = shipped();
    // "no" at the consent question is the "No, please don't keep..." choice.
    let first = engine::handle(&script, &State::default(), &Input::Start);
    let no = engine::handle(&script, &first.state, &Input::Text("no".into()));
    assert_eq!(no.state.consent, Consent::Declined, "{:?}", texts(&no));
    // "yes he did" at the check-in's question is its "Yes".
    let mut state = at_menu(Consent::Given);
    state.facts.insert("small_action".into(), "a walk".into());
    let asked = engine::handle(&script, &state, &Input::Begin("daily".into()));
    let scored = engine::handle(&script, &asked.state, &Input::Text("4".into()));
    assert_eq!(scored.state.place.as_ref().unwrap().step, "action");
    let yes = engine::handle(
        &script,
        &scored.state,
        &Input::Text("yes he did and I said thanks".into()),
    );
    assert_eq!(
        yes.state
            .answers
            .get(&("daily".to_owned(), "action".to_owned()))
            .map(String::as_str),
        Some("yes"),
        "{:?}",
        texts(&yes)
    );
}

#[test]
fn words_after_a_crisis_reply_at_a_question_are_not_taken_as_its_answer() {
    let config = mend::config::Config::default();
    let companion = mend::app::companion(&config, None).unwrap();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let mut state = at_menu(Consent::Given);
    state.situation = Some(mend::flows::Situation::Earlier);
    let begun = companion.respond(&state, &Input::Begin("acknowledge".into()), now);
    // Walk to the step that asks for words.
    let mut state = begun.state;
    let script = &companion.script;
    while !matches!(
        script
            .step(
                &state.place.as_ref().unwrap().flow,
                &state.place.as_ref().unwrap().step
            )
            .unwrap()
            .action,
        mend::flows::Action::Ask { .. }
    ) {
        state = companion
            .respond(&state, &Input::Text("1".into()), now)
            .state;
    }
    let asked_at = state.place.clone();
    let crisis = companion.respond(
        &state,
        &Input::Text("he locks me in the house and took my phone".into()),
        now,
    );
    assert!(
        crisis.events.contains(&Event::CrisisReplied),
        "{:?}",
        texts(&crisis)
    );
    let after = companion.respond(
        &crisis.state,
        &Input::Text("ok. that was years ago though, I'm safe now".into()),
        now,
    );
    assert!(
        after.state.answers.is_empty(),
        "taken as the answer: {:?}",
        after.state.answers
    );
    assert_eq!(after.state.place, asked_at, "the question is asked again");
    assert!(texts(&after)[0].starts_with("Thank you. Here's where we were"));
    // And the next words answer it.
    let answered = companion.respond(
        &after.state,
        &Input::Text("he never listened to me".into()),
        now,
    );
    assert!(!answered.state.answers.is_empty());
}
