//! What a person can send, parsed and answered: typed text and button ids
//! at every step of every shipped flow, with and without consent, and the
//! check-in time and zone parser. No panic, every reply fits a Discord
//! message, and nothing written is kept before consent.
#![no_main]

use std::sync::LazyLock;

use jiff::{SignedDuration, Timestamp};
use libfuzzer_sys::fuzz_target;
use mend::checkins::Schedule;
use mend::conversation::engine::{Companion, Consent, Input, Place, State};
use mend::flows::{self, MAX_CHOICES, MAX_MESSAGE_CHARS};
use mend::safety::{CrisisReplies, Screen};

static COMPANION: LazyLock<Companion> = LazyLock::new(|| Companion {
    script: flows::load_embedded().unwrap(),
    screen: Screen::embedded(),
    crisis: CrisisReplies::embedded(),
    cooldown: SignedDuration::from_hours(1),
});

/// Every step of every shipped flow, as a place a person can rest at.
static PLACES: LazyLock<Vec<Place>> = LazyLock::new(|| {
    COMPANION
        .script
        .flows()
        .flat_map(|f| {
            f.steps.iter().map(|s| Place {
                flow: f.id.clone(),
                step: s.id.clone(),
            })
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let [which, how, rest @ ..] = data else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let companion = &*COMPANION;
    let places = &*PLACES;
    let consent = if how & 1 == 0 {
        Consent::Given
    } else {
        Consent::Unasked
    };
    let state = State {
        consent,
        place: places
            .get(usize::from(*which) % (places.len() + 1))
            .cloned(),
        paused: how & 2 != 0,
        ..State::default()
    };
    let input = match how >> 2 & 3 {
        0 => Input::Choice(text.clone()),
        1 => Input::Begin(text.clone()),
        _ => Input::Text(text.clone()),
    };
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let outcome = companion.respond(&state, &input, now);
    for reply in &outcome.replies {
        assert!(reply.text().chars().count() <= MAX_MESSAGE_CHARS);
        assert!(reply.choices().len() <= MAX_CHOICES);
    }
    if consent != Consent::Given && outcome.state.consent != Consent::Given {
        assert!(outcome.state.answers.is_empty(), "kept before consent");
    }

    // The check-in settings parser: the time and zone as typed.
    let mut words = text.split_whitespace();
    if let (Some(time), Some(zone)) = (words.next(), words.next())
        && let Ok(schedule) = Schedule::new(time, zone)
    {
        let (due, date) = schedule.next_after(now);
        assert!(due > now);
        assert_eq!(schedule.local_date(due), date);
    }
});
