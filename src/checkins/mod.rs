//! Daily check-ins, in one folder: the loop that starts them
//! ([`scheduler`]), how they have gone ([`progress`], drawn by [`chart`]),
//! their tables ([`queries`]) and Discord's `/checkin` and `/progress`
//! (`discord`). Here, pure: when a person's next check-in is due, from the
//! local time and the IANA time zone they chose; `now` is passed in.
//!
//! Clock changes: a local time that does not exist that day (spring forward)
//! is sent at the first minute that does, the moment the clocks change; a
//! local time that happens twice (autumn back) is sent once, at the first.

pub mod chart;
pub(crate) mod discord;
pub mod progress;
pub mod queries;
pub mod scheduler;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// One local day's check-in answers, the day counted once however many
/// check-ins it held (see `queries::days` for how they combine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub day: Date,
    /// How things felt, 1 to 5.
    pub scale: Option<u8>,
    /// Whether the small action happened, as the check-in recorded it
    /// ("yes" and "partly" count towards a run of days).
    pub action: Option<String>,
    pub has_note: bool,
}

/// The longest pause a person can ask for, in days.
pub const MAX_PAUSE_DAYS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("\"{0}\" is not a time of day; write it like 21:00, 08:30 or 9pm")]
    BadTime(String),
    #[error("I don't know the time zone \"{name}\". {}", suggest(.suggestions))]
    UnknownZone {
        name: String,
        suggestions: Vec<String>,
    },
}

fn suggest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        "Time zones are written as Area/City, for example Europe/London or America/New_York.".into()
    } else {
        format!("Did you mean {}?", suggestions.join(", "))
    }
}

/// The most of what a person typed that an error quotes back: enough to
/// recognise a slip, never a wall of their words.
const ECHO_CHARS: usize = 40;

/// What the person typed, trimmed and cut to [`ECHO_CHARS`].
fn echo(typed: &str) -> String {
    let typed = typed.trim();
    if typed.chars().count() <= ECHO_CHARS {
        return typed.to_owned();
    }
    let mut out: String = typed.chars().take(ECHO_CHARS - 1).collect();
    out.push('…');
    out
}

/// When, each day, a person wants their check-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub time: Time,
    /// The IANA name, as stored: never an offset, so clock changes follow.
    pub zone_name: String,
    zone: TimeZone,
}

impl Schedule {
    pub fn new(time: &str, zone: &str) -> Result<Schedule, ScheduleError> {
        Ok(Schedule {
            time: parse_time(time)?,
            zone_name: zone_name(zone)?,
            zone: parse_zone(zone)?,
        })
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The local date of an instant, in this person's zone.
    pub fn local_date(&self, at: Timestamp) -> Date {
        at.to_zoned(self.zone.clone()).date()
    }

    /// The instant of the check-in on a local date.
    pub fn due_on(&self, date: Date) -> Timestamp {
        due_on(date, self.time, &self.zone)
    }

    /// The first check-in strictly after `after`, and its local date.
    pub fn next_after(&self, after: Timestamp) -> (Timestamp, Date) {
        let mut date = self.local_date(after);
        // Two days at most: today if its time is still ahead, else tomorrow.
        for _ in 0..3 {
            let due = self.due_on(date);
            if due > after {
                return (due, date);
            }
            date = date.tomorrow().unwrap_or(date);
        }
        (self.due_on(date), date)
    }

    /// The first check-in on a local day after `date`.
    pub fn next_day_after(&self, date: Date) -> (Timestamp, Date) {
        let next = date.tomorrow().unwrap_or(date);
        (self.due_on(next), next)
    }
}

/// A time of day as people write it: "21:00" or "9:05" on a 24-hour clock,
/// "21.00", or on a 12-hour clock "9pm", "9:30 pm", "12am".
pub fn parse_time(text: &str) -> Result<Time, ScheduleError> {
    let bad = || ScheduleError::BadTime(echo(text));
    let lower = text.trim().to_lowercase().replace(' ', "");
    let (clock, half) = match lower
        .strip_suffix("am")
        .or_else(|| lower.strip_suffix("a.m."))
    {
        Some(rest) => (rest.to_owned(), Some(false)),
        None => match lower
            .strip_suffix("pm")
            .or_else(|| lower.strip_suffix("p.m."))
        {
            Some(rest) => (rest.to_owned(), Some(true)),
            None => (lower.clone(), None),
        },
    };
    let (hour, minute) = match clock.split_once([':', '.']) {
        Some((hour, minute)) => (hour, minute),
        // "9pm": a bare hour is only a time with am or pm.
        None if half.is_some() => (clock.as_str(), "00"),
        None => return Err(bad()),
    };
    let digits = |s: &str, max: i8| {
        let ok = (1..=2).contains(&s.len()) && s.chars().all(|c| c.is_ascii_digit());
        ok.then(|| s.parse::<i8>().ok())
            .flatten()
            .filter(|n| *n <= max)
    };
    let max_hour = if half.is_some() { 12 } else { 23 };
    let (Some(hour), Some(minute)) = (digits(hour, max_hour), digits(minute, 59)) else {
        return Err(bad());
    };
    let hour = match half {
        Some(_) if hour == 0 => return Err(bad()),
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
        None => hour,
    };
    Time::new(hour, minute, 0, 0).map_err(|_| bad())
}

/// The time and the zone in what a person wrote ("20:30 Europe/London",
/// "9pm london", "new york 7:15"), each as written; None when there is no
/// time at its start or end, or nothing else.
pub fn split_when(text: &str) -> Option<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let is_half = |w: &str| matches!(w.to_lowercase().as_str(), "am" | "pm" | "a.m." | "p.m.");
    let is_time = |w: &str| w.starts_with(|c: char| c.is_ascii_digit());
    let (time, zone): (Vec<&str>, Vec<&str>) = match words.as_slice() {
        [first, second, rest @ ..] if is_time(first) && is_half(second) => {
            (vec![*first, *second], rest.to_vec())
        }
        [first, rest @ ..] if is_time(first) => (vec![*first], rest.to_vec()),
        [rest @ .., last, half] if is_time(last) && is_half(half) => {
            (vec![*last, *half], rest.to_vec())
        }
        [rest @ .., last] if is_time(last) => (vec![*last], rest.to_vec()),
        _ => return None,
    };
    if zone.is_empty() {
        return None;
    }
    Some((time.join(" "), zone.join(" ")))
}

/// The canonical IANA name, matched without regard to case; or, for a
/// city alone ("london", "new york"), the one zone named after it.
fn zone_name(name: &str) -> Result<String, ScheduleError> {
    let wanted = name.trim();
    let names = || jiff::tz::db().available().map(|n| n.as_str().to_owned());
    if let Some(found) = names().find(|n| n.eq_ignore_ascii_case(wanted)) {
        return Ok(found);
    }
    let city = wanted.replace(' ', "_");
    let mut cities = names().filter(|n| {
        !n.starts_with("Etc/")
            && n.contains('/')
            && n.rsplit('/')
                .next()
                .is_some_and(|last| last.eq_ignore_ascii_case(&city))
    });
    match (cities.next(), cities.next()) {
        (Some(only), None) => Ok(only),
        _ => Err(unknown(wanted)),
    }
}

/// The local date of an instant in a person's check-in zone as stored
/// (already canonical, so looked up directly rather than searched for as
/// [`parse_zone`] does); in UTC for someone who never set one.
pub fn local_date_in(zone: Option<&str>, at: Timestamp) -> Date {
    let zone = zone.and_then(|name| TimeZone::get(name).ok());
    at.to_zoned(zone.unwrap_or(TimeZone::UTC)).date()
}

pub fn parse_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    let canonical = zone_name(name)?;
    // Only IANA names: no "UTC+1" offsets, which would not follow clock changes.
    if !canonical.contains('/') && !matches!(canonical.as_str(), "UTC" | "GMT") {
        return Err(unknown(name.trim()));
    }
    jiff::tz::db()
        .get(&canonical)
        .map_err(|_| unknown(name.trim()))
}

/// Up to three known names close to what was typed (none for text far
/// longer than any zone's name, which no slip explains).
fn unknown(name: &str) -> ScheduleError {
    if name.chars().count() > 64 {
        return ScheduleError::UnknownZone {
            name: echo(name),
            suggestions: Vec::new(),
        };
    }
    let wanted: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' { '_' } else { c })
        .collect();
    let city = wanted.rsplit('/').next().unwrap_or(&wanted).to_owned();
    let mut scored: Vec<(usize, String)> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| n.contains('/') && !n.starts_with("Etc/"))
        .filter_map(|n| {
            let lower = n.to_lowercase();
            let last = lower.rsplit('/').next().unwrap_or(&lower).to_owned();
            let score = if !city.is_empty() && (last.contains(&city) || city.contains(&last)) {
                0
            } else {
                let distance = edit_distance(&city, &last);
                (distance <= 3).then_some(distance)?
            };
            Some((score, n))
        })
        .collect();
    scored.sort();
    ScheduleError::UnknownZone {
        name: echo(name),
        suggestions: scored.into_iter().take(3).map(|(_, n)| n).collect(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

/// The instant of `time` on `date` in `zone`, with clock changes resolved.
pub fn due_on(date: Date, time: Time, zone: &TimeZone) -> Timestamp {
    let local = DateTime::from_parts(date, time);
    let ambiguous = zone.to_ambiguous_timestamp(local);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset
            .to_timestamp(local)
            .unwrap_or_else(|_| fallback(local)),
        // Autumn: the time happens twice; the first is the one.
        AmbiguousOffset::Fold { before, .. } => before
            .to_timestamp(local)
            .unwrap_or_else(|_| fallback(local)),
        // Spring: the time does not exist; the clocks change at the first
        // valid minute after it, which is the transition itself.
        AmbiguousOffset::Gap { after, .. } => {
            let before_gap = after
                .to_timestamp(local)
                .unwrap_or_else(|_| fallback(local));
            zone.following(before_gap)
                .next()
                .map(|transition| transition.timestamp())
                .unwrap_or(before_gap)
        }
    }
}

fn fallback(local: DateTime) -> Timestamp {
    local
        .to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Why check-ins stopped by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// Several in a row went unanswered.
    Unanswered,
    /// Discord said the person cannot be messaged (50007).
    Undeliverable,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Unanswered => "unanswered",
            PauseReason::Undeliverable => "undeliverable",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<PauseReason> {
        match text {
            "unanswered" => Some(PauseReason::Unanswered),
            "undeliverable" => Some(PauseReason::Undeliverable),
            _ => None,
        }
    }
}

/// A person's check-in setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub local_time: String,
    pub zone: String,
    pub active: bool,
    pub next_due: Timestamp,
    pub due_date: Date,
    pub pause_reason: Option<PauseReason>,
    pub unanswered: i64,
}

/// What a flow's check-in tool did inside the turn's transaction, so its
/// effect commits (or not) with the turn. The words are the caller's.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolDone {
    /// The progress view: read once the turn has committed.
    Progress,
    /// The current setting: read once the turn has committed.
    Show,
    /// Check-ins turned off; whether they had been on.
    Off { was_on: bool },
    /// Check-ins turned on at this time and zone, the first on `first`.
    On {
        local_time: String,
        zone: String,
        starts_today: bool,
    },
    /// Check-ins paused until `resume`.
    Paused { resume: Date },
    /// Nothing changed, for this reason.
    Unchanged(NotDone),
}

/// Why a check-in tool changed nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum NotDone {
    /// Check-ins keep answers, and the person has not agreed to that.
    NoConsent,
    /// The time and zone were not written as one line of two parts.
    NotTimeAndZone,
    /// The time or the zone was not understood.
    Schedule(crate::checkins::ScheduleError),
    /// A pause outside 1 to [`crate::checkins::MAX_PAUSE_DAYS`] days.
    PauseOutOfRange,
    /// A pause asked for while check-ins are not on.
    NotOn,
    /// The stored time or zone no longer reads.
    Unreadable,
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_quote_back_only_the_start_of_what_was_typed() {
        let long = "Europe/".to_owned() + &"x".repeat(4000);
        for err in [
            parse_zone(&long).unwrap_err(),
            parse_time(&long).unwrap_err(),
        ] {
            let said = err.to_string();
            assert!(said.chars().count() < 300, "{said}");
            assert!(said.contains("Europe/xxx"), "{said}");
            assert!(said.contains('…'), "{said}");
        }
        assert!(
            parse_time(" 25:00 ")
                .unwrap_err()
                .to_string()
                .contains("\"25:00\"")
        );
    }

    use super::*;
    use jiff::civil::date;

    fn utc(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn times_parse_on_a_24_hour_clock() {
        assert_eq!(
            parse_time("08:30").unwrap(),
            Time::new(8, 30, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time(" 7:05 ").unwrap(),
            Time::new(7, 5, 0, 0).unwrap()
        );
        for bad in ["24:00", "12:60", "noon", "8", "08:3x", "-1:00", "123:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn zones_are_iana_names_with_suggestions() {
        assert_eq!(
            Schedule::new("09:00", "europe/london").unwrap().zone_name,
            "Europe/London"
        );
        let Err(ScheduleError::UnknownZone { suggestions, .. }) = parse_zone("Europe/Londn") else {
            panic!("a typo is not a zone");
        };
        assert!(
            suggestions.contains(&"Europe/London".to_owned()),
            "{suggestions:?}"
        );
        let Err(err) = parse_zone("Mars/Olympus") else {
            panic!()
        };
        assert!(err.to_string().contains("Europe/London"), "{err}");
        assert!(
            parse_zone("+01:00").is_err(),
            "offsets do not follow clock changes"
        );
    }

    #[test]
    fn london_across_both_2027_clock_changes() {
        let s = Schedule::new("09:00", "Europe/London").unwrap();
        assert_eq!(s.due_on(date(2027, 1, 15)), utc("2027-01-15T09:00:00Z"));
        assert_eq!(
            s.due_on(date(2027, 3, 28)),
            utc("2027-03-28T08:00:00Z"),
            "BST begins"
        );
        assert_eq!(
            s.due_on(date(2027, 10, 31)),
            utc("2027-10-31T09:00:00Z"),
            "GMT again"
        );
        assert_eq!(s.due_on(date(2027, 10, 30)), utc("2027-10-30T08:00:00Z"));
    }

    #[test]
    fn a_time_that_does_not_exist_is_sent_at_the_next_valid_minute() {
        // 2027-03-28 01:00 GMT the clocks go to 02:00 BST; 01:30 never happens.
        let s = Schedule::new("01:30", "Europe/London").unwrap();
        assert_eq!(s.due_on(date(2027, 3, 28)), utc("2027-03-28T01:00:00Z"));
        assert_eq!(s.due_on(date(2027, 3, 29)), utc("2027-03-29T00:30:00Z"));
        // New York: 2027-03-14 02:00 EST jumps to 03:00 EDT.
        let ny = Schedule::new("02:15", "America/New_York").unwrap();
        assert_eq!(ny.due_on(date(2027, 3, 14)), utc("2027-03-14T07:00:00Z"));
    }

    #[test]
    fn a_time_that_happens_twice_is_sent_once_at_the_first() {
        // 2027-10-31 02:00 BST the clocks go back to 01:00 GMT; 01:30 happens twice.
        let s = Schedule::new("01:30", "Europe/London").unwrap();
        let due = s.due_on(date(2027, 10, 31));
        assert_eq!(due, utc("2027-10-31T00:30:00Z"));
        // After it is sent, the next one is the next day, not the second 01:30.
        let (next, day) = s.next_after(due);
        assert_eq!(day, date(2027, 11, 1));
        assert_eq!(next, utc("2027-11-01T01:30:00Z"));
    }

    #[test]
    fn new_york_sydney_and_kolkata() {
        let ny = Schedule::new("20:00", "America/New_York").unwrap();
        assert_eq!(ny.due_on(date(2027, 1, 10)), utc("2027-01-11T01:00:00Z"));
        assert_eq!(ny.due_on(date(2027, 7, 10)), utc("2027-07-11T00:00:00Z"));
        assert_eq!(
            ny.due_on(date(2027, 11, 7)),
            utc("2027-11-08T01:00:00Z"),
            "EST from 7 Nov"
        );

        // Southern hemisphere: Sydney's summer time ends 4 April 2027, starts 3 October.
        let sydney = Schedule::new("07:30", "Australia/Sydney").unwrap();
        assert_eq!(
            sydney.due_on(date(2027, 1, 10)),
            utc("2027-01-09T20:30:00Z"),
            "AEDT +11"
        );
        assert_eq!(
            sydney.due_on(date(2027, 6, 10)),
            utc("2027-06-09T21:30:00Z"),
            "AEST +10"
        );
        assert_eq!(
            sydney.due_on(date(2027, 10, 3)),
            utc("2027-10-02T20:30:00Z"),
            "AEDT again"
        );
        let gap = Schedule::new("02:30", "Australia/Sydney").unwrap();
        assert_eq!(
            gap.due_on(date(2027, 10, 3)),
            utc("2027-10-02T16:00:00Z"),
            "03:00 AEDT"
        );

        let kolkata = Schedule::new("21:45", "Asia/Kolkata").unwrap();
        assert_eq!(
            kolkata.due_on(date(2027, 3, 28)),
            utc("2027-03-28T16:15:00Z"),
            "+05:30"
        );
    }

    #[test]
    fn next_after_is_today_if_still_ahead_else_tomorrow() {
        let s = Schedule::new("09:00", "Europe/London").unwrap();
        let (due, day) = s.next_after(utc("2027-06-01T07:59:00Z"));
        assert_eq!((due, day), (utc("2027-06-01T08:00:00Z"), date(2027, 6, 1)));
        let (due, day) = s.next_after(utc("2027-06-01T08:00:00Z"));
        assert_eq!((due, day), (utc("2027-06-02T08:00:00Z"), date(2027, 6, 2)));
        assert_eq!(s.next_day_after(date(2027, 6, 1)).1, date(2027, 6, 2));
    }
}
