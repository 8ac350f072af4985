//! Daily check-in settings and the progress view, as words for the person.
//! Discord's `/checkin` and `/progress`, the menu's tools and `mend chat`
//! call these and send the text they return; what a text says about where
//! to change a setting depends on the [`Edge`] it is read through.

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};

use crate::checkins::Day;
use crate::checkins::queries::Note;
use crate::checkins::{NotDone, PauseReason, ToolDone};
use crate::edge::Edge;
use crate::store::{Store, StoreError};

pub use crate::checkins::MAX_PAUSE_DAYS;

/// `/checkin on time:HH:MM timezone:Area/City`.
pub async fn turn_on(
    store: &Store,
    person: &str,
    time: &str,
    zone: &str,
    now: Timestamp,
) -> Result<String, StoreError> {
    let done = store.checkin_on(person, time, zone, now).await?;
    Ok(told(store, person, &done, now, Edge::Discord).await?.text)
}

/// Says how a flow's tool went: what it did in the turn's transaction, or
/// for the views, what they show now that the turn has committed.
pub async fn told(
    store: &Store,
    person: &str,
    done: &ToolDone,
    now: Timestamp,
    edge: Edge,
) -> Result<Report, StoreError> {
    let text = match done {
        ToolDone::Progress => return progress(store, person, now).await,
        ToolDone::Show => show(store, person, edge).await?,
        ToolDone::Off { was_on } => off_text(*was_on),
        ToolDone::On {
            local_time,
            zone,
            starts_today,
        } => on_text(local_time, zone, *starts_today, edge),
        ToolDone::Paused { resume } => paused_text(*resume),
        ToolDone::Unchanged(why) => not_done_text(why, edge),
    };
    Ok(Report { text, chart: None })
}

fn off_text(was_on: bool) -> String {
    if was_on {
        "Daily check-ins are off. Nothing more will come unless you turn them on again.".into()
    } else {
        "Daily check-ins are off; nothing is scheduled for you.".into()
    }
}

fn on_text(local_time: &str, zone: &str, starts_today: bool, edge: Edge) -> String {
    let how = match edge {
        Edge::Discord => "/checkin off stops them at any time.",
        Edge::Terminal => {
            "When you open mend chat after that time, the day's check-in is offered \
             first. You can pause or stop them here, under daily check-ins in the menu, \
             at any time."
        }
    };
    format!(
        "Daily check-ins are on: every day at {local_time} ({zone}), starting {}. \
         Each one asks how things feel and whether your small action happened. {how}",
        if starts_today { "today" } else { "tomorrow" },
    )
}

/// How check-ins are started again, where the words are read.
fn again(edge: Edge) -> &'static str {
    match edge {
        Edge::Discord => "/checkin on starts them again.",
        Edge::Terminal => "You can turn them on again under daily check-ins in the menu.",
    }
}

fn paused_text(resume: Date) -> String {
    format!(
        "Check-ins are paused. The next one comes on {}. Take the time you need.",
        resume.strftime("%A %-d %B")
    )
}

fn not_done_text(why: &NotDone, edge: Edge) -> String {
    match why {
        NotDone::NoConsent if edge == Edge::Terminal => TERMINAL_NO_CONSENT.into(),
        NotDone::NoConsent => NO_CONSENT.into(),
        NotDone::NotTimeAndZone => NOT_TIME_AND_ZONE.into(),
        NotDone::Schedule(err) => format!("{err} Nothing has changed."),
        NotDone::PauseOutOfRange => {
            format!("Pause for 1 to {MAX_PAUSE_DAYS} days. Nothing has changed.")
        }
        NotDone::NotOn => NOT_ON.into(),
        NotDone::Unreadable if edge == Edge::Terminal => TERMINAL_UNREADABLE.into(),
        NotDone::Unreadable => UNREADABLE.into(),
    }
}

const NO_CONSENT: &str = "Daily check-ins keep your answers, so they need your OK first. \
    Use /start and say yes to mend keeping what you tell it, then try again.";
const TERMINAL_NO_CONSENT: &str = "Daily check-ins keep your answers, so they need your \
    OK first. In the menu, open the part about mend and what it keeps, say yes to mend \
    keeping what you tell it, then try again.";
const TERMINAL_UNREADABLE: &str = "I couldn't read your check-in time; please set it again \
    under daily check-ins in the menu.";
const NOT_TIME_AND_ZONE: &str = "I need the time and the time zone together, like \
    20:30 Europe/London. Nothing has changed.";
const NOT_ON: &str = "Daily check-ins are not on, so there is nothing to pause.";
const UNREADABLE: &str =
    "I couldn't read your check-in time; please set it again with /checkin on.";

/// `/checkin off`: always works, and always says so plainly.
pub async fn turn_off(store: &Store, person: &str, now: Timestamp) -> Result<String, StoreError> {
    Ok(off_text(store.stop_checkin(person, now).await?))
}

/// `/checkin show`, and the menu's `checkin-show`.
pub async fn show(store: &Store, person: &str, edge: Edge) -> Result<String, StoreError> {
    let Some(setting) = store.checkin(person).await? else {
        return Ok(match edge {
            Edge::Discord => {
                "Daily check-ins are off. Turn them on with \
                   /checkin on time:HH:MM timezone:Area/City, for example 20:30 and Europe/London."
            }
            Edge::Terminal => {
                "Daily check-ins are off. To turn them on, choose that under daily \
                   check-ins in the menu and write a time and a time zone, for example \
                   20:30 Europe/London."
            }
        }
        .into());
    };
    let when = format!("{} ({})", setting.local_time, setting.zone);
    Ok(match (setting.active, setting.pause_reason) {
        (true, _) => format!(
            "Daily check-ins are on, at {when}. The next is on {}.",
            setting.due_date.strftime("%A %-d %B")
        ),
        (false, Some(reason)) => format!(
            "Daily check-ins at {when} are paused: {}. {}",
            reason_text(reason),
            again(edge)
        ),
        (false, None) => {
            format!("Daily check-ins at {when} are off. {}", again(edge))
        }
    })
}

/// `/checkin pause days:N`.
pub async fn pause(
    store: &Store,
    person: &str,
    days: i64,
    now: Timestamp,
) -> Result<String, StoreError> {
    let done = store.checkin_pause(person, days, now).await?;
    Ok(told(store, person, &done, now, Edge::Discord).await?.text)
}

/// What to say the next time someone writes after check-ins paused themselves.
pub fn paused_notice(reason: PauseReason) -> String {
    format!(
        "A quick note: I've paused your daily check-ins because {}. \
         No pressure at all. /checkin on starts them again whenever you like.",
        reason_text(reason)
    )
}

fn reason_text(reason: PauseReason) -> &'static str {
    match reason {
        PauseReason::Unanswered => "the last few went unanswered",
        PauseReason::Undeliverable => "Discord wouldn't let me message you",
    }
}

const BARS: [char; 5] = ['▁', '▃', '▄', '▆', '█'];

/// One character a day: the day's 1-5 scale as a bar, `·` for no answer.
pub fn sparkline(days: &[Day], from: Date, to: Date) -> String {
    let mut out = String::new();
    let mut day = from;
    while day <= to {
        let scale = days.iter().find(|d| d.day == day).and_then(|d| d.scale);
        out.push(match scale {
            Some(n @ 1..=5) => BARS[usize::from(n - 1)],
            _ => '·',
        });
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    out
}

/// Days in a row, ending today or yesterday, when the small action happened
/// (fully or partly).
pub fn streak(days: &[Day], today: Date) -> usize {
    let happened = |date: Date| {
        days.iter()
            .any(|d| d.day == date && matches!(d.action.as_deref(), Some("yes" | "partly")))
    };
    let mut day = if happened(today) {
        today
    } else {
        today.yesterday().unwrap_or(today)
    };
    let mut count = 0;
    while happened(day) {
        count += 1;
        match day.yesterday() {
            Ok(previous) => day = previous,
            Err(_) => break,
        }
    }
    count
}

/// What `/progress` shows: the words, and the chart when there is anything to draw.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    /// A PNG of the same 30 days; None when nothing was answered in them or
    /// the chart could not be drawn (the words are enough then).
    pub chart: Option<Vec<u8>>,
}

/// The chart's file name as attached.
pub const CHART_FILE: &str = "progress.png";

/// `/progress`: the last 14 and 30 days in words and a sparkline, with a chart.
pub async fn progress(store: &Store, person: &str, now: Timestamp) -> Result<Report, StoreError> {
    let zone = store.checkin(person).await?.map(|setting| setting.zone);
    let today = crate::checkins::local_date_in(zone.as_deref(), now);
    let start = today.checked_sub(29.days()).unwrap_or(today);
    let days = store.checkin_days(person, start).await?;
    let mut notes = store.checkin_notes(person, start, NOTES_SHOWN).await?;
    // Notes kept from words typed elsewhere sit beside the check-ins' own,
    // on the day they were written where the person is.
    for note in store.journal_notes(person, NOTES_SHOWN).await? {
        if let Some(text) = note.text {
            let day = crate::checkins::local_date_in(zone.as_deref(), note.written_at);
            if day >= start {
                notes.push(Note { day, text });
            }
        }
    }
    // Newest first; the sort is stable, so within a day the order holds.
    notes.sort_by_key(|note| std::cmp::Reverse(note.day));
    notes.truncate(usize::try_from(NOTES_SHOWN).unwrap_or(3));
    let text = render(&days, &notes, today);
    let chart = if days.is_empty() {
        None
    } else {
        // Drawing is CPU work; keep it off the async workers.
        let drawn =
            tokio::task::spawn_blocking(move || crate::checkins::chart::progress_png(&days, today))
                .await;
        match drawn {
            Ok(Ok(png)) => Some(png),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the progress chart was not drawn");
                None
            }
            Err(err) => {
                tracing::warn!(error = %err, "the progress chart was not drawn");
                None
            }
        }
    };
    Ok(Report { text, chart })
}

/// How many of a person's own check-in notes the view shows, at most.
pub const NOTES_SHOWN: i64 = 3;

/// The most of one note the view shows.
const NOTE_CHARS: usize = 120;

/// A day is steady when its check-in said 4 or 5 (with two check-ins, both
/// did: a day counts at its lowest, see `queries::days`).
const STEADY: u8 = 4;

/// The fewest days with a score in each fortnight before they are compared:
/// with fewer, a difference says more about which days were answered than
/// about how things went, so nothing is said.
pub const TO_COMPARE: usize = 4;

/// One plain line on how this fortnight (today and the 13 days before)
/// compares with the fortnight before it, by the number of steady days; a
/// difference of one day is "about the same". None when either fortnight
/// has fewer than [`TO_COMPARE`] days with a score. Never a verdict: a
/// harder fortnight is named as part of the road, not as failing.
pub fn trend(days: &[Day], today: Date) -> Option<&'static str> {
    let this_from = today.checked_sub(13.days()).ok()?;
    let last_to = today.checked_sub(14.days()).ok()?;
    let last_from = today.checked_sub(27.days()).ok()?;
    let scored = |from: Date, to: Date| -> Vec<u8> {
        days.iter()
            .filter(|d| d.day >= from && d.day <= to)
            .filter_map(|d| d.scale)
            .collect()
    };
    let this = scored(this_from, today);
    let last = scored(last_from, last_to);
    if this.len() < TO_COMPARE || last.len() < TO_COMPARE {
        return None;
    }
    let steady = |scales: &[u8]| scales.iter().filter(|&&s| s >= STEADY).count() as i64;
    Some(match steady(&this) - steady(&last) {
        2.. => "More steady days this fortnight than the fortnight before.",
        ..=-2 => {
            "Fewer steady days this fortnight than the fortnight before; \
             hard stretches are part of this."
        }
        _ => "About as many steady days this fortnight as the fortnight before.",
    })
}

/// The person's own notes, most recent first, each on one line and cut
/// short; nothing when there are none.
fn notes_text(notes: &[Note]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let mut text = String::from("**In your own words** (only you see these)\n");
    for note in notes {
        let line = note.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let line = if line.chars().count() > NOTE_CHARS {
            let mut cut: String = line.chars().take(NOTE_CHARS - 1).collect();
            cut.push('…');
            cut
        } else {
            line
        };
        text.push_str(&format!("{}: {line}\n", note.day.strftime("%a %-d %b")));
    }
    text
}

/// The progress text for `days` up to `today`, with the person's own
/// `notes` from those days.
pub fn render(days: &[Day], notes: &[Note], today: Date) -> String {
    let fortnight = today.checked_sub(13.days()).unwrap_or(today);
    let month = today.checked_sub(29.days()).unwrap_or(today);
    let in_range = |from: Date| days.iter().filter(move |d| d.day >= from && d.day <= today);
    let answered_14 = in_range(fortnight).count();
    let answered_30 = in_range(month).count();
    if answered_30 == 0 {
        let mut text = String::from(
            "No check-ins answered in the last 30 days yet. When you answer them, \
             this is where you'll see how things have gone, day by day.\n",
        );
        text.push_str(&notes_text(notes));
        return text.trim_end().to_owned();
    }
    let scales: Vec<u8> = in_range(fortnight).filter_map(|d| d.scale).collect();
    let done = in_range(fortnight)
        .filter(|d| matches!(d.action.as_deref(), Some("yes" | "partly")))
        .count();
    let mut text = format!(
        "**Your last 30 days** (one mark a day, · for no answer)\n`{}`\n\
         **Last 14 days**\n`{}`\n",
        sparkline(days, month, today),
        sparkline(days, fortnight, today),
    );
    text.push_str(&format!(
        "You answered on {answered_14} of the last 14 days and {answered_30} of the last 30.\n"
    ));
    if !scales.is_empty() {
        let average = scales.iter().map(|&s| f64::from(s)).sum::<f64>() / scales.len() as f64;
        text.push_str(&format!(
            "How safe and close things felt averaged {average:.1} out of 5 over the last 14 days.\n"
        ));
    }
    text.push_str(&format!(
        "Your small action happened (fully or partly) on {done} of those days; \
         the current run is {} day{}.\n",
        streak(days, today),
        if streak(days, today) == 1 { "" } else { "s" }
    ));
    if let Some(line) = trend(days, today) {
        text.push_str(&format!(
            "{line} (A steady day is one you marked 4 or 5.)\n"
        ));
    }
    text.push_str(&notes_text(notes));
    text.push_str(
        "Trust tends to come back unevenly, with good days and hard ones; \
         showing up for these moments is what counts.",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn day(d: Date, scale: Option<u8>, action: Option<&str>) -> Day {
        Day {
            day: d,
            scale,
            action: action.map(str::to_owned),
            has_note: false,
        }
    }

    #[test]
    fn sparkline_marks_each_day_and_gaps() {
        let days = [
            day(date(2027, 6, 1), Some(1), None),
            day(date(2027, 6, 3), Some(5), None),
        ];
        assert_eq!(sparkline(&days, date(2027, 6, 1), date(2027, 6, 4)), "▁·█·");
    }

    #[test]
    fn streak_counts_back_from_today_or_yesterday() {
        let days = [
            day(date(2027, 6, 1), None, Some("yes")),
            day(date(2027, 6, 2), None, Some("partly")),
            day(date(2027, 6, 3), None, Some("yes")),
        ];
        assert_eq!(streak(&days, date(2027, 6, 3)), 3);
        assert_eq!(streak(&days, date(2027, 6, 4)), 3, "today not answered yet");
        assert_eq!(streak(&days, date(2027, 6, 5)), 0);
        let broken = [day(date(2027, 6, 2), None, Some("not_today"))];
        assert_eq!(streak(&broken, date(2027, 6, 2)), 0);
    }

    #[test]
    fn the_summary_is_honest_and_kind() {
        assert!(render(&[], &[], date(2027, 6, 3)).contains("No check-ins answered"));
        let days = [
            day(date(2027, 6, 2), Some(2), Some("yes")),
            day(date(2027, 6, 3), Some(4), Some("not_today")),
        ];
        let text = render(&days, &[], date(2027, 6, 3));
        assert!(text.contains("2 of the last 14 days"));
        assert!(text.contains("averaged 3.0 out of 5"));
        assert!(text.contains("on 1 of those days"));
        assert!(text.chars().count() <= 2000);
    }

    /// Days `ago` days before 2027-06-28, each with its scale.
    fn scored(marks: &[(i64, u8)]) -> Vec<Day> {
        let today = date(2027, 6, 28);
        marks
            .iter()
            .map(|&(ago, scale)| day(today.checked_sub(ago.days()).unwrap(), Some(scale), None))
            .collect()
    }

    /// Four scored days in each fortnight: `this` and `last` of them steady.
    fn fortnights(this: usize, last: usize) -> Vec<Day> {
        let mut marks = Vec::new();
        for i in 0..4 {
            marks.push((i, if i < this as i64 { 5 } else { 2 }));
            marks.push((14 + i, if i < last as i64 { 4 } else { 3 }));
        }
        scored(&marks)
    }

    const TODAY: Date = date(2027, 6, 28);

    #[test]
    fn the_trend_says_nothing_with_too_little_to_compare() {
        let mut marks: Vec<(i64, u8)> = (0..3).map(|i| (i, 5)).collect();
        marks.extend((14..28).map(|i| (i, 1)));
        assert_eq!(
            trend(&scored(&marks), TODAY),
            None,
            "three days this fortnight"
        );
        marks.push((3, 5));
        assert!(trend(&scored(&marks), TODAY).is_some(), "four is enough");
        let only_recent: Vec<(i64, u8)> = (0..14).map(|i| (i, 5)).collect();
        assert_eq!(
            trend(&scored(&only_recent), TODAY),
            None,
            "no fortnight before"
        );
        // A day without a score does not count towards comparing.
        let mut unscored = fortnights(4, 0);
        unscored[0].scale = None;
        assert_eq!(trend(&unscored, TODAY), None);
    }

    #[test]
    fn the_trend_compares_steady_days_and_a_single_day_is_about_the_same() {
        let more = Some("More steady days this fortnight than the fortnight before.");
        let same = Some("About as many steady days this fortnight as the fortnight before.");
        assert_eq!(trend(&fortnights(2, 0), TODAY), more);
        assert_eq!(trend(&fortnights(4, 2), TODAY), more);
        assert_eq!(trend(&fortnights(1, 0), TODAY), same);
        assert_eq!(trend(&fortnights(3, 3), TODAY), same);
        assert_eq!(trend(&fortnights(0, 1), TODAY), same);
        let fewer = trend(&fortnights(0, 2), TODAY).unwrap();
        assert!(fewer.starts_with("Fewer steady days"), "{fewer}");
        assert!(fewer.contains("hard stretches are part of this"), "{fewer}");
    }

    #[test]
    fn the_fortnights_meet_at_fourteen_days_ago() {
        // 13 days ago is this fortnight; 14 and 27 the one before; 28 neither.
        let base = fortnights(0, 0);
        let with = |extra: &[(i64, u8)]| {
            let mut days = base.clone();
            days.extend(scored(extra));
            trend(&days, TODAY)
        };
        assert!(with(&[(13, 5), (12, 5)]).unwrap().starts_with("More"));
        assert!(with(&[(27, 5), (26, 5)]).unwrap().starts_with("Fewer"));
        assert!(with(&[(28, 5), (29, 5)]).unwrap().starts_with("About"));
    }

    #[test]
    fn the_view_shows_the_persons_own_notes_most_recent_first_and_short() {
        let days = fortnights(2, 0);
        let notes = [
            Note {
                day: date(2027, 6, 28),
                text: "we talked\nproperly".into(),
            },
            Note {
                day: date(2027, 6, 27),
                text: "x".repeat(500),
            },
        ];
        let text = render(&days, &notes, TODAY);
        assert!(text.contains("Mon 28 Jun: we talked properly\n"), "{text}");
        let long = text.lines().find(|l| l.starts_with("Sun 27 Jun")).unwrap();
        assert!(long.ends_with('…') && long.chars().count() < 140, "{long}");
        assert!(text.find("we talked").unwrap() < text.find("Sun 27 Jun").unwrap());
        assert!(text.contains("More steady days this fortnight"), "{text}");
        assert!(!render(&days, &[], TODAY).contains("own words"));
        assert!(text.chars().count() <= 2000);
    }
}
