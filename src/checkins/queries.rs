//! The `checkins` and `checkin_days` tables: who opted in, when each is next
//! due, and what they answered in each check-in, by local day.

use jiff::Timestamp;
use jiff::civil::Date;
use sqlx::{SqliteConnection, SqlitePool};

use super::{Day, NotDone, PauseReason, Setting, ToolDone};
use crate::crypto::{Cipher, Field};
use crate::store::{PersonId, StoreError};

#[derive(sqlx::FromRow)]
struct SettingRow {
    local_time: String,
    zone: String,
    active: bool,
    next_due: i64,
    due_date: String,
    pause_reason: Option<String>,
    unanswered: i64,
}

fn corrupt(column: &'static str) -> StoreError {
    StoreError::Corrupt {
        table: "checkins",
        column,
    }
}

fn timestamp(ms: i64, column: &'static str) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|_| corrupt(column))
}

fn date(text: &str, column: &'static str) -> Result<Date, StoreError> {
    text.parse().map_err(|_| corrupt(column))
}

pub async fn get(
    conn: &mut SqliteConnection,
    person: PersonId,
) -> Result<Option<Setting>, StoreError> {
    let row: Option<SettingRow> = sqlx::query_as(
        "SELECT local_time, zone, active, next_due, due_date, pause_reason, unanswered
         FROM checkins WHERE person_id = ?",
    )
    .bind(person)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Setting {
            next_due: timestamp(r.next_due, "next_due")?,
            due_date: date(&r.due_date, "due_date")?,
            pause_reason: r.pause_reason.as_deref().and_then(PauseReason::parse),
            local_time: r.local_time,
            zone: r.zone,
            active: r.active,
            unanswered: r.unanswered,
        })
    })
    .transpose()
}

/// Turns check-ins on (or changes their time), starting afresh.
pub async fn set(
    conn: &mut SqliteConnection,
    person: PersonId,
    local_time: &str,
    zone: &str,
    next_due: Timestamp,
    due_date: Date,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO checkins (person_id, local_time, zone, active, next_due, due_date, updated_at)
         VALUES (?, ?, ?, 1, ?, ?, ?)
         ON CONFLICT (person_id) DO UPDATE SET
             local_time = excluded.local_time, zone = excluded.zone, active = 1,
             next_due = excluded.next_due, due_date = excluded.due_date,
             pause_reason = NULL, pause_notice = 0, unanswered = 0,
             updated_at = excluded.updated_at",
    )
    .bind(person)
    .bind(local_time)
    .bind(zone)
    .bind(next_due.as_millisecond())
    .bind(due_date.to_string())
    .bind(now.as_millisecond())
    .execute(conn)
    .await?;
    Ok(())
}

/// Turns check-ins off. True if they were on.
pub async fn stop(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkins SET active = 0, pause_reason = NULL, pause_notice = 0, updated_at = ?
         WHERE person_id = ? AND active = 1",
    )
    .bind(now.as_millisecond())
    .bind(person)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the next check-in (for `/checkin pause days:N`). True if they are on.
pub async fn postpone(
    conn: &mut SqliteConnection,
    person: PersonId,
    next_due: Timestamp,
    due_date: Date,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkins SET next_due = ?, due_date = ?, updated_at = ?
         WHERE person_id = ? AND active = 1",
    )
    .bind(next_due.as_millisecond())
    .bind(due_date.to_string())
    .bind(now.as_millisecond())
    .bind(person)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Carries out a flow's check-in tool inside the turn's transaction.
pub async fn carry_out(
    conn: &mut SqliteConnection,
    person: PersonId,
    consent_given: bool,
    task: &crate::conversation::engine::Task,
    now: Timestamp,
) -> Result<ToolDone, StoreError> {
    use crate::conversation::engine::Task;
    Ok(match task {
        Task::Progress => ToolDone::Progress,
        Task::CheckinShow => ToolDone::Show,
        Task::CheckinOff => ToolDone::Off {
            was_on: stop(conn, person, now).await?,
        },
        Task::CheckinOn { when } => match crate::checkins::split_when(when) {
            Some((time, zone)) => turn_on(conn, person, consent_given, &time, &zone, now).await?,
            None => ToolDone::Unchanged(NotDone::NotTimeAndZone),
        },
        Task::CheckinPause { days } => pause_for(conn, person, *days, now).await?,
        // Pairing's tasks are carried out by pairing (see the store's turn),
        // never handed here; were one to be, it changes nothing.
        Task::Pair(_) => ToolDone::Unchanged(NotDone::NotOn),
    })
}

/// Turns check-ins on at `time` in `zone`, for someone who has agreed to
/// mend keeping their answers.
pub async fn turn_on(
    conn: &mut SqliteConnection,
    person: PersonId,
    consent_given: bool,
    time: &str,
    zone: &str,
    now: Timestamp,
) -> Result<ToolDone, StoreError> {
    if !consent_given {
        return Ok(ToolDone::Unchanged(NotDone::NoConsent));
    }
    let schedule = match crate::checkins::Schedule::new(time, zone) {
        Ok(schedule) => schedule,
        Err(err) => return Ok(ToolDone::Unchanged(NotDone::Schedule(err))),
    };
    let (due, date) = schedule.next_after(now);
    let local_time = schedule.time.strftime("%H:%M").to_string();
    set(
        conn,
        person,
        &local_time,
        &schedule.zone_name,
        due,
        date,
        now,
    )
    .await?;
    Ok(ToolDone::On {
        local_time,
        zone: schedule.zone_name.clone(),
        starts_today: date == schedule.local_date(now),
    })
}

/// Pauses check-ins that are on for `days` days.
pub async fn pause_for(
    conn: &mut SqliteConnection,
    person: PersonId,
    days: i64,
    now: Timestamp,
) -> Result<ToolDone, StoreError> {
    use jiff::ToSpan;
    if !(1..=crate::checkins::MAX_PAUSE_DAYS).contains(&days) {
        return Ok(ToolDone::Unchanged(NotDone::PauseOutOfRange));
    }
    let Some(setting) = get(conn, person).await?.filter(|s| s.active) else {
        return Ok(ToolDone::Unchanged(NotDone::NotOn));
    };
    let Ok(schedule) = crate::checkins::Schedule::new(&setting.local_time, &setting.zone) else {
        return Ok(ToolDone::Unchanged(NotDone::Unreadable));
    };
    let today = schedule.local_date(now);
    let resume = today.checked_add(days.days()).unwrap_or(today);
    postpone(conn, person, schedule.due_on(resume), resume, now).await?;
    Ok(ToolDone::Paused { resume })
}

/// A check-in that has come due.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Due {
    pub person_id: i64,
    pub external_id: String,
    pub local_time: String,
    pub zone: String,
    pub next_due: i64,
    pub due_date: String,
    pub unanswered: i64,
}

/// Up to `limit` due check-ins, oldest first, through the partial index,
/// leaving out the people in `passed_over` (row ids whose check-in failed
/// earlier in the same pass: they stay due for the next pass, and leaving
/// them out means one pass never takes a row twice, however many fail).
/// Never a terminal person's (`terminal:NAME`): there is no one to send a
/// message to, and `mend chat` offers theirs when they open it (see
/// [`offer_due`]).
pub async fn due(
    pool: &SqlitePool,
    now: Timestamp,
    passed_over: &[i64],
    limit: i64,
) -> Result<Vec<Due>, StoreError> {
    // A JSON array of numbers, read by `json_each`: one parameter however
    // many, and the index still gives the order (no sort).
    let passed_over = serde_json::to_string(passed_over).expect("numbers are JSON");
    let rows = sqlx::query_as(
        "SELECT c.person_id, p.external_id, c.local_time, c.zone, c.next_due, c.due_date,
                c.unanswered
         FROM checkins c INDEXED BY checkins_due JOIN people p ON p.id = c.person_id
         WHERE c.active = 1 AND c.next_due <= ?
             AND c.person_id NOT IN (SELECT value FROM json_each(?))
             AND p.external_id NOT LIKE 'terminal:%'
         ORDER BY c.next_due LIMIT ?",
    )
    .bind(now.as_millisecond())
    .bind(passed_over)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// For `mend chat`, as the person opens it: whether today's check-in is to
/// be offered, because its local time has passed today, check-ins are on
/// (and not paused past today) and the person has not checked in today.
/// Whatever the answer, a check-in that came due is moved on to the next
/// day's, so it is offered once; one offered becomes the day answers count
/// for, as a sent one does. Days missed while the chat was closed are
/// passed over, not offered late.
pub async fn offer_due(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(setting) = get(conn, person).await? else {
        return Ok(false);
    };
    if !setting.active || setting.next_due > now {
        return Ok(false);
    }
    let Ok(schedule) = crate::checkins::Schedule::new(&setting.local_time, &setting.zone) else {
        return Ok(false);
    };
    let today = schedule.local_date(now);
    let today_due = schedule.due_on(today);
    if today_due > now {
        // What fell due was an earlier day's: today's is still ahead.
        postpone(conn, person, today_due, today, now).await?;
        return Ok(false);
    }
    let done_today: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM checkin_days WHERE person_id = ? AND day = ?)",
    )
    .bind(person)
    .bind(today.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let (next, next_date) = schedule.next_day_after(today);
    postpone(conn, person, next, next_date, now).await?;
    if done_today {
        return Ok(false);
    }
    sqlx::query("UPDATE checkins SET sent_date = ? WHERE person_id = ?")
        .bind(today.to_string())
        .bind(person)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Claims a due check-in, inside the transaction that starts it and keeps
/// its replies in the outbox, by moving it to its next day in one
/// conditional update: true only for the one caller that moved it, so a
/// second scheduler can never start it twice. It is counted unanswered
/// only once delivered (see [`delivered`]).
pub async fn claim(
    conn: &mut SqliteConnection,
    due: &Due,
    next_due: Timestamp,
    next_date: Date,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkins SET next_due = ?, due_date = ?, sent_date = due_date, updated_at = ?
         WHERE person_id = ? AND next_due = ? AND active = 1",
    )
    .bind(next_due.as_millisecond())
    .bind(next_date.to_string())
    .bind(now.as_millisecond())
    .bind(due.person_id)
    .bind(due.next_due)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The outbox key of one due check-in: the person, the local day and the
/// moment it fell due. The same however often the scheduler runs, so it is
/// kept once; a check-in moved to later the same day (a new time) has a
/// key of its own.
pub fn event_key(due: &Due) -> String {
    format!(
        "{CHECKIN_KEY}{}:{}:{}",
        due.person_id, due.due_date, due.next_due
    )
}

const CHECKIN_KEY: &str = "checkin:";

/// The person a check-in's outbox key belongs to; `None` for other keys.
pub fn key_person(event_key: &str) -> Option<i64> {
    let rest = event_key.strip_prefix(CHECKIN_KEY)?;
    rest.split(':').next()?.parse().ok()
}

/// A check-in reached the person: one more without an answer, until they
/// answer. Called as its outbox entry is cleared, so it counts once.
pub async fn delivered(conn: &mut SqliteConnection, person: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE checkins SET unanswered = unanswered + 1 WHERE person_id = ?")
        .bind(person)
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves a check-in missed for too long to its next time, unsent.
pub async fn skip(
    pool: &SqlitePool,
    due: &Due,
    next_due: Timestamp,
    next_date: Date,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkins SET next_due = ?, due_date = ?, updated_at = ?
         WHERE person_id = ? AND next_due = ? AND active = 1",
    )
    .bind(next_due.as_millisecond())
    .bind(next_date.to_string())
    .bind(now.as_millisecond())
    .bind(due.person_id)
    .bind(due.next_due)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stops check-ins for a reason the person will be told about.
pub async fn pause(
    pool: &SqlitePool,
    person_id: i64,
    reason: PauseReason,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE checkins SET active = 0, pause_reason = ?, pause_notice = 1, updated_at = ?
         WHERE person_id = ?",
    )
    .bind(reason.as_str())
    .bind(now.as_millisecond())
    .bind(person_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The reason check-ins paused, once: the notice is cleared as it is taken.
pub async fn take_pause_notice(
    conn: &mut SqliteConnection,
    person: PersonId,
) -> Result<Option<PauseReason>, StoreError> {
    let reason: Option<Option<String>> = sqlx::query_scalar(
        "UPDATE checkins SET pause_notice = 0 WHERE person_id = ? AND pause_notice = 1
         RETURNING pause_reason",
    )
    .bind(person)
    .fetch_optional(conn)
    .await?;
    Ok(reason.flatten().as_deref().and_then(PauseReason::parse))
}

/// Records one answer of the daily check-in, and resets the unanswered
/// count. See [`answer_day`] for the day it counts for. A day can hold
/// several check-ins, each its own row (`entry` 1, 2, ...): an answer fills
/// the day's latest check-in, unless that one already has an answer to the
/// same question, which means a new check-in has begun. So a second
/// check-in on one day adds to the day and never replaces the first.
pub async fn record_answer(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    name: &str,
    value: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let setting: Option<(Option<String>, String)> =
        sqlx::query_as("SELECT sent_date, zone FROM checkins WHERE person_id = ?")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await?;
    let (sent, zone) = setting.unzip();
    let day = answer_day(sent.flatten().as_deref(), zone.as_deref(), now).to_string();
    let column = match name {
        "scale" if value.parse::<i64>().is_ok_and(|n| (1..=5).contains(&n)) => "scale",
        "action" if matches!(value, "yes" | "partly" | "not_today") => "action",
        "note" => "note",
        _ => return Ok(()),
    };
    let latest: Option<(i64, bool, bool, bool)> = sqlx::query_as(
        "SELECT entry, scale IS NOT NULL, action IS NOT NULL, note IS NOT NULL
         FROM checkin_days WHERE person_id = ? AND day = ? ORDER BY entry DESC LIMIT 1",
    )
    .bind(person)
    .bind(&day)
    .fetch_optional(&mut *conn)
    .await?;
    let (entry, fresh) = match latest {
        None => (1, true),
        Some((entry, scale, action, note)) => {
            let answered = match column {
                "scale" => scale,
                "action" => action,
                _ => note,
            };
            if answered {
                (entry + 1, true)
            } else {
                (entry, false)
            }
        }
    };
    let stored = if column == "note" {
        let field = Field::CheckinNote {
            person: person.0,
            day: &day,
            entry,
        };
        cipher.seal(field, value)
    } else {
        value.to_owned()
    };
    if fresh {
        sqlx::query(
            "INSERT INTO checkin_days (person_id, day, entry, answered_at) VALUES (?, ?, ?, ?)",
        )
        .bind(person)
        .bind(&day)
        .bind(entry)
        .bind(now.as_millisecond())
        .execute(&mut *conn)
        .await?;
    }
    // The column is one of three fixed names, never from the person.
    let set = match column {
        "scale" => {
            "UPDATE checkin_days SET scale = CAST(? AS INTEGER), answered_at = ?
                    WHERE person_id = ? AND day = ? AND entry = ?"
        }
        "action" => {
            "UPDATE checkin_days SET action = ?, answered_at = ?
                     WHERE person_id = ? AND day = ? AND entry = ?"
        }
        _ => {
            "UPDATE checkin_days SET note = ?, answered_at = ?
              WHERE person_id = ? AND day = ? AND entry = ?"
        }
    };
    sqlx::query(set)
        .bind(stored)
        .bind(now.as_millisecond())
        .bind(person)
        .bind(&day)
        .bind(entry)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE checkins SET unanswered = 0 WHERE person_id = ?")
        .bind(person)
        .execute(conn)
        .await?;
    Ok(())
}

/// The local day an answer counts for: the day of the last check-in sent,
/// if that was today or yesterday (an evening check-in answered after
/// midnight), else today, in the person's check-in zone (UTC for someone
/// who never set one). A check-in sent days ago is not the one being
/// answered: check-ins were paused or off, and the answer is today's.
pub fn answer_day(sent: Option<&str>, zone: Option<&str>, now: Timestamp) -> Date {
    let today = crate::checkins::local_date_in(zone, now);
    let yesterday = today.yesterday().unwrap_or(today);
    match sent.and_then(|day| day.parse::<Date>().ok()) {
        Some(sent) if sent >= yesterday => sent,
        _ => today,
    }
}

/// Answers from `since` on, one [`Day`] a day, oldest first. A day with
/// several check-ins counts once: its lowest scale (a hard moment is not
/// hidden by a better one later), the latest answer about the small action
/// (it may have happened after the morning's "not today"), and whether any
/// of them has a note.
pub async fn days(
    conn: &mut SqliteConnection,
    person: PersonId,
    since: Date,
) -> Result<Vec<Day>, StoreError> {
    let rows: Vec<(String, Option<i64>, Option<String>, bool)> = sqlx::query_as(
        "SELECT d.day, min(d.scale),
                (SELECT a.action FROM checkin_days a
                 WHERE a.person_id = d.person_id AND a.day = d.day AND a.action IS NOT NULL
                 ORDER BY a.entry DESC LIMIT 1),
                max(d.note IS NOT NULL)
         FROM checkin_days d
         WHERE d.person_id = ? AND d.day >= ? GROUP BY d.day ORDER BY d.day",
    )
    .bind(person)
    .bind(since.to_string())
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(day, scale, action, has_note)| {
            Ok(Day {
                day: day.parse().map_err(|_| StoreError::Corrupt {
                    table: "checkin_days",
                    column: "day",
                })?,
                scale: scale.and_then(|s| u8::try_from(s).ok()),
                action,
                has_note,
            })
        })
        .collect()
}

/// A note written with a check-in, opened, for the person's own view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub day: Date,
    pub text: String,
}

/// Up to `limit` notes written with check-ins from `since` on, the most
/// recent first. A note that does not open is left out (it is reported
/// where an export reads it).
pub async fn notes(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
    since: Date,
    limit: i64,
) -> Result<Vec<Note>, StoreError> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT day, entry, note FROM checkin_days
         WHERE person_id = ? AND day >= ? AND note IS NOT NULL
         ORDER BY day DESC, entry DESC LIMIT ?",
    )
    .bind(person)
    .bind(since.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let mut notes = Vec::with_capacity(rows.len());
    for (day, entry, sealed) in rows {
        let field = Field::CheckinNote {
            person: person.0,
            day: &day,
            entry,
        };
        let (Ok(text), Ok(day)) = (cipher.open(field, &sealed), day.parse()) else {
            continue;
        };
        notes.push(Note { day, text });
    }
    Ok(notes)
}
