//! Pairing's tables (migration 0012), one function per query, each taking
//! the connection of the transaction it runs in: a person's pairing act is
//! carried out inside their turn's transaction, or in one of its own in the
//! writers' turn (see [`crate::store::Store::pair`]).

use jiff::Timestamp;
use sqlx::SqliteConnection;

use super::OUR_THING;
use super::{
    Act, Carried, DAY, Done, FAILED_JOINS_PER_DAY, INVITE_LASTS, INVITES_PER_DAY, KEPT, Kind,
    Refusal, SENDS_PER_DAY, Shared, Status, clean_text, framed, normalise_code, notice_for_partner,
    partner_buttons,
};
use crate::crypto::{Cipher, Field};
use crate::referrals::Reply;
use crate::safety::Hit;
use crate::store::{DIRECT, FACTS, PersonId, StoreError, answers, outbox};

/// Who is acting.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub person: PersonId,
    pub external: &'a str,
    /// Whether they have agreed to mend keeping what they write.
    pub consent: bool,
}

/// The screen every sent word passes, as the edge has it.
pub type Screening<'a> = &'a (dyn Fn(&str) -> Option<Hit> + Sync);

/// A person's active pairing.
#[derive(Debug, Clone)]
pub struct Active {
    pub id: i64,
    pub started_at: Timestamp,
    pub partner: PersonId,
    pub partner_external: String,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub async fn active(
    conn: &mut SqliteConnection,
    person: PersonId,
) -> Result<Option<Active>, StoreError> {
    let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
        "SELECT p.id, p.started_at, other.id, other.external_id
         FROM pairings p
         JOIN people other ON other.id =
              CASE WHEN p.inviter_id = ?1 THEN p.joiner_id ELSE p.inviter_id END
         WHERE p.ended_at IS NULL AND (p.inviter_id = ?1 OR p.joiner_id = ?1)
         LIMIT 1",
    )
    .bind(person)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id, started, partner, external)| Active {
        id,
        started_at: ts(started),
        partner: PersonId(partner),
        partner_external: external,
    }))
}

/// Carries out one act for `who`, in the caller's transaction.
pub async fn carry_out(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    act: &Act,
    screen: Screening<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    match act {
        Act::Status => Ok(Carried::just(Done::Status(
            status(conn, cipher, who, now).await?,
        ))),
        Act::Invite => invite(conn, cipher, who, now).await,
        Act::Join { code } => join(conn, cipher, who, code, now).await,
        Act::Confirm => confirm(conn, cipher, who, now).await,
        Act::Decline => {
            let done = sqlx::query(
                "UPDATE pair_invites SET used_at = ? WHERE joiner_id = ? AND used_at IS NULL",
            )
            .bind(now.as_millisecond())
            .bind(who.person)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return refused(Refusal::NothingWaiting);
            }
            Ok(Carried::just(Done::Declined))
        }
        Act::Draft { kind, text } => draft(conn, cipher, who, *kind, text, screen, now).await,
        Act::Kind(kind) => {
            let Some((_, text)) = open_draft(conn, cipher, who.person).await? else {
                return refused(Refusal::NothingWaiting);
            };
            sqlx::query("UPDATE pair_drafts SET kind = ? WHERE person_id = ?")
                .bind(kind.as_str())
                .bind(who.person)
                .execute(&mut *conn)
                .await?;
            Ok(Carried::just(Done::Drafted {
                kind: Some(*kind),
                text,
            }))
        }
        Act::Send => send(conn, cipher, who, screen, now).await,
        Act::Discard => {
            let done = sqlx::query("DELETE FROM pair_drafts WHERE person_id = ?")
                .bind(who.person)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return refused(Refusal::NothingWaiting);
            }
            Ok(Carried::just(Done::Discarded))
        }
        Act::NotYet => {
            let Some(pairing) = active(conn, who.person).await? else {
                return refused(Refusal::NotActive);
            };
            if !who.consent {
                return refused(Refusal::NoConsent);
            }
            if sent_today(conn, who.person, now).await? >= SENDS_PER_DAY {
                return refused(Refusal::TooManySends);
            }
            deliver(conn, cipher, who, &pairing, Kind::NotYet, "", now).await
        }
        Act::End => {
            if end(conn, who.person, now).await? {
                Ok(Carried::just(Done::Ended))
            } else {
                refused(Refusal::NotActive)
            }
        }
        Act::Block => block(conn, cipher, who, now).await,
        Act::Propose { text } => propose(conn, cipher, who, text, screen, now).await,
        Act::Answer { accept } => answer(conn, cipher, who, *accept, now).await,
    }
}

async fn status(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    now: Timestamp,
) -> Result<Status, StoreError> {
    let Some(pairing) = active(conn, who.person).await? else {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pair_invites
                            WHERE inviter_id = ? AND used_at IS NULL AND expires_at > ?)",
        )
        .bind(who.person)
        .bind(now.as_millisecond())
        .fetch_one(&mut *conn)
        .await?;
        return Ok(Status::NotPaired {
            invite_waiting: waiting,
        });
    };
    let sent_today = sent_today(conn, who.person, now).await?;
    let talk_waiting = talk_waiting(conn, &pairing, who.person).await?;
    let shared = shared(conn, cipher, &pairing, who.person, now).await?;
    Ok(Status::Paired {
        since: pairing.started_at,
        sent_today,
        talk_waiting,
        shared,
    })
}

/// Whether the partner's latest request to talk has had no answer since.
async fn talk_waiting(
    conn: &mut SqliteConnection,
    pairing: &Active,
    person: PersonId,
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM pair_messages t
             WHERE t.pairing_id = ?1 AND t.sender_id = ?2 AND t.kind = 'talk'
               AND NOT EXISTS (SELECT 1 FROM pair_messages a
                               WHERE a.pairing_id = ?1 AND a.sender_id = ?3
                                 AND a.kind IN ('answer', 'not_yet') AND a.id > t.id))",
    )
    .bind(pairing.id)
    .bind(pairing.partner)
    .bind(person)
    .fetch_one(&mut *conn)
    .await?)
}

/// The one thing this week: the latest proposal of the last seven days.
async fn shared(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    pairing: &Active,
    person: PersonId,
    now: Timestamp,
) -> Result<Option<Shared>, StoreError> {
    let week = now - jiff::SignedDuration::from_hours(24 * 7);
    let row: Option<(i64, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, proposer_id, body, accepted FROM pair_actions
         WHERE pairing_id = ? AND proposed_at >= ? ORDER BY id DESC LIMIT 1",
    )
    .bind(pairing.id)
    .bind(week.as_millisecond())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id, proposer, body, accepted)| Shared {
        text: cipher
            .open(
                Field::PairAction {
                    proposer,
                    action: id,
                },
                &body,
            )
            .unwrap_or_else(|_| crate::store::NOT_OPENED.to_owned()),
        mine: proposer == person.0,
        accepted: accepted.map(|a| a == 1),
    }))
}

async fn sent_today(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    in_last_day(
        conn,
        "SELECT COUNT(*) FROM pair_messages WHERE sender_id = ? AND sent_at > ?",
        person,
        now,
    )
    .await
}

/// How many of a person's rows `count` finds in the day before `now`:
/// `count` takes the person, then the start of that day.
async fn in_last_day(
    conn: &mut SqliteConnection,
    count: &'static str,
    person: PersonId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(count)
        .bind(person)
        .bind((now - DAY).as_millisecond())
        .fetch_one(&mut *conn)
        .await?)
}

async fn invite(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    if !who.consent {
        return refused(Refusal::NoConsent);
    }
    if active(conn, who.person).await?.is_some() {
        return refused(Refusal::AlreadyPaired);
    }
    let made = in_last_day(
        conn,
        "SELECT COUNT(*) FROM pair_invites WHERE inviter_id = ? AND created_at > ?",
        who.person,
        now,
    )
    .await?;
    if made >= INVITES_PER_DAY {
        return refused(Refusal::TooManyInvites);
    }
    // One live code at a time: a new one retires the last.
    sqlx::query("UPDATE pair_invites SET used_at = ? WHERE inviter_id = ? AND used_at IS NULL")
        .bind(now.as_millisecond())
        .bind(who.person)
        .execute(&mut *conn)
        .await?;
    let expires = now + INVITE_LASTS;
    // Two codes with one hash are all but impossible; a clash is retried.
    for _ in 0..4 {
        let code = super::new_code();
        let Some(plain) = normalise_code(&code) else {
            continue;
        };
        let done = sqlx::query(
            "INSERT INTO pair_invites (inviter_id, code_hash, created_at, expires_at)
             VALUES (?, ?, ?, ?) ON CONFLICT (code_hash) DO NOTHING",
        )
        .bind(who.person)
        .bind(cipher.code_hash(&plain))
        .bind(now.as_millisecond())
        .bind(expires.as_millisecond())
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Carried::just(Done::Invited { code, expires }));
        }
    }
    Err(StoreError::Corrupt {
        table: "pair_invites",
        column: "code_hash",
    })
}

async fn failed_join(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    sqlx::query("INSERT INTO pair_attempts (person_hash, at) VALUES (?, ?)")
        .bind(cipher.person_hash(who.external))
        .bind(now.as_millisecond())
        .execute(&mut *conn)
        .await?;
    Ok(Carried::just(Done::Refused(Refusal::CodeDidNotWork)))
}

/// Whether either of two people (by external id) has blocked the other.
async fn blocked(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    one: (PersonId, &str),
    other: (PersonId, &str),
) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pair_blocks
                        WHERE (blocker_id = ? AND blocked_hash = ?)
                           OR (blocker_id = ? AND blocked_hash = ?))",
    )
    .bind(one.0)
    .bind(cipher.person_hash(other.1))
    .bind(other.0)
    .bind(cipher.person_hash(one.1))
    .fetch_one(&mut *conn)
    .await?)
}

async fn join(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    typed: &str,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    if !who.consent {
        return refused(Refusal::NoConsent);
    }
    if active(conn, who.person).await?.is_some() {
        return refused(Refusal::AlreadyPaired);
    }
    let tries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pair_attempts WHERE person_hash = ? AND at > ?")
            .bind(cipher.person_hash(who.external))
            .bind((now - DAY).as_millisecond())
            .fetch_one(&mut *conn)
            .await?;
    if tries >= FAILED_JOINS_PER_DAY {
        return refused(Refusal::TooManyTries);
    }
    let Some(code) = normalise_code(typed) else {
        return failed_join(conn, cipher, who, now).await;
    };
    let found: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT i.id, i.inviter_id, p.external_id FROM pair_invites i
         JOIN people p ON p.id = i.inviter_id
         WHERE i.code_hash = ? AND i.used_at IS NULL AND i.expires_at > ?
           AND (i.joiner_id IS NULL OR i.joiner_id = ?)",
    )
    .bind(cipher.code_hash(&code))
    .bind(now.as_millisecond())
    .bind(who.person)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((invite, inviter, inviter_external)) = found else {
        return failed_join(conn, cipher, who, now).await;
    };
    let inviter = PersonId(inviter);
    if inviter == who.person
        || blocked(
            conn,
            cipher,
            (who.person, who.external),
            (inviter, &inviter_external),
        )
        .await?
    {
        return failed_join(conn, cipher, who, now).await;
    }
    // Any other code held for them goes back; this one is held for them.
    sqlx::query("UPDATE pair_invites SET joiner_id = NULL WHERE joiner_id = ? AND used_at IS NULL")
        .bind(who.person)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE pair_invites SET joiner_id = ? WHERE id = ?")
        .bind(who.person)
        .bind(invite)
        .execute(&mut *conn)
        .await?;
    Ok(Carried::just(Done::Held))
}

async fn confirm(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    let held: Option<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT i.id, i.inviter_id, p.external_id, p.consent FROM pair_invites i
         JOIN people p ON p.id = i.inviter_id
         WHERE i.joiner_id = ? AND i.used_at IS NULL AND i.expires_at > ?",
    )
    .bind(who.person)
    .bind(now.as_millisecond())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((invite, inviter, inviter_external, inviter_consent)) = held else {
        return refused(Refusal::NothingWaiting);
    };
    let inviter = PersonId(inviter);
    // Used whatever happens next: a code works once.
    sqlx::query("UPDATE pair_invites SET used_at = ? WHERE id = ?")
        .bind(now.as_millisecond())
        .bind(invite)
        .execute(&mut *conn)
        .await?;
    if !who.consent {
        return refused(Refusal::NoConsent);
    }
    if active(conn, who.person).await?.is_some() {
        return refused(Refusal::AlreadyPaired);
    }
    if inviter_consent != "given"
        || active(conn, inviter).await?.is_some()
        || blocked(
            conn,
            cipher,
            (who.person, who.external),
            (inviter, &inviter_external),
        )
        .await?
    {
        return refused(Refusal::InviterUnavailable);
    }
    let pairing: i64 = sqlx::query_scalar(
        "INSERT INTO pairings (inviter_id, joiner_id, inviter_hash, joiner_hash, started_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(inviter)
    .bind(who.person)
    .bind(cipher.person_hash(&inviter_external))
    .bind(cipher.person_hash(who.external))
    .bind(now.as_millisecond())
    .fetch_one(&mut *conn)
    .await?;
    let notice = notice_for_partner(&Done::Paired, None).unwrap_or_default();
    let key = format!("pair-joined:{pairing}");
    let reply = Reply::new(notice, Vec::new());
    outbox::put(conn, cipher, inviter, &key, DIRECT, &[reply], now).await?;
    Ok(Carried {
        done: Done::Paired,
        deliver: Some(inviter_external),
        withheld: None,
    })
}

/// What words must pass before they can go towards a partner: consent, an
/// active pairing, the length and shape rules, and the crisis screen. The
/// pairing and the cleaned words, or what to answer instead.
async fn may_go(
    conn: &mut SqliteConnection,
    who: Who<'_>,
    text: &str,
    screen: Screening<'_>,
) -> Result<Result<(Active, String), Carried>, StoreError> {
    let refused = |why| Ok(Err(Carried::just(Done::Refused(why))));
    if !who.consent {
        return refused(Refusal::NoConsent);
    }
    let Some(pairing) = active(conn, who.person).await? else {
        return refused(Refusal::NotActive);
    };
    let text = match clean_text(text) {
        Ok(text) => text,
        Err(why) => return refused(why),
    };
    if let Some(hit) = screen(&text) {
        return Ok(Err(Carried {
            done: Done::Withheld,
            deliver: None,
            withheld: Some(hit),
        }));
    }
    Ok(Ok((pairing, text)))
}

#[allow(clippy::too_many_arguments)]
async fn draft(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    kind: Option<Kind>,
    text: &str,
    screen: Screening<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    let text = match may_go(conn, who, text, screen).await? {
        Ok((_, text)) => text,
        Err(stop) => return Ok(stop),
    };
    if sent_today(conn, who.person, now).await? >= SENDS_PER_DAY {
        return refused(Refusal::TooManySends);
    }
    let sealed = cipher.seal(
        Field::PairDraft {
            person: who.person.0,
            at_ms: now.as_millisecond(),
        },
        &text,
    );
    sqlx::query(
        "INSERT INTO pair_drafts (person_id, kind, body, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (person_id) DO UPDATE
         SET kind = excluded.kind, body = excluded.body, created_at = excluded.created_at",
    )
    .bind(who.person)
    .bind(kind.map(Kind::as_str))
    .bind(sealed)
    .bind(now.as_millisecond())
    .execute(&mut *conn)
    .await?;
    Ok(Carried::just(Done::Drafted { kind, text }))
}

/// The person's draft, opened: its kind if chosen, and its words. A draft
/// that does not open is dropped, as if there were none.
async fn open_draft(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<Option<(Option<Kind>, String)>, StoreError> {
    let row: Option<(Option<String>, String, i64)> =
        sqlx::query_as("SELECT kind, body, created_at FROM pair_drafts WHERE person_id = ?")
            .bind(person)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((kind, body, at_ms)) = row else {
        return Ok(None);
    };
    let field = Field::PairDraft {
        person: person.0,
        at_ms,
    };
    match cipher.open(field, &body) {
        Ok(text) => Ok(Some((kind.as_deref().and_then(Kind::parse), text))),
        Err(_) => {
            tracing::warn!(table = "pair_drafts", "a sealed value did not open");
            sqlx::query("DELETE FROM pair_drafts WHERE person_id = ?")
                .bind(person)
                .execute(&mut *conn)
                .await?;
            Ok(None)
        }
    }
}

async fn send(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    screen: Screening<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    let Some((kind, text)) = open_draft(conn, cipher, who.person).await? else {
        return refused(Refusal::NothingWaiting);
    };
    let Some(kind) = kind else {
        return Ok(Carried::just(Done::Drafted { kind: None, text }));
    };
    let drop_draft = sqlx::query("DELETE FROM pair_drafts WHERE person_id = ?").bind(who.person);
    let Some(pairing) = active(conn, who.person).await? else {
        drop_draft.execute(&mut *conn).await?;
        return refused(Refusal::NotActive);
    };
    if !who.consent {
        drop_draft.execute(&mut *conn).await?;
        return refused(Refusal::NoConsent);
    }
    // Screened again as it goes: the lists may have changed since it was
    // written, and nothing the screen finds anything in is delivered.
    if let Some(hit) = screen(&text) {
        drop_draft.execute(&mut *conn).await?;
        return Ok(Carried {
            done: Done::Withheld,
            deliver: None,
            withheld: Some(hit),
        });
    }
    if sent_today(conn, who.person, now).await? >= SENDS_PER_DAY {
        drop_draft.execute(&mut *conn).await?;
        return refused(Refusal::TooManySends);
    }
    drop_draft.execute(&mut *conn).await?;
    deliver(conn, cipher, who, &pairing, kind, &text, now).await
}

/// Keeps a message and puts it in the partner's outbox, for their direct
/// messages, in the caller's transaction.
async fn deliver(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    pairing: &Active,
    kind: Kind,
    text: &str,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO pair_messages (pairing_id, sender_id, recipient_id, kind, body, sent_at)
         VALUES (?, ?, ?, ?, '', ?) RETURNING id",
    )
    .bind(pairing.id)
    .bind(who.person)
    .bind(pairing.partner)
    .bind(kind.as_str())
    .bind(now.as_millisecond())
    .fetch_one(&mut *conn)
    .await?;
    let field = Field::PairMessage {
        sender: who.person.0,
        message: id,
    };
    sqlx::query("UPDATE pair_messages SET body = ? WHERE id = ?")
        .bind(cipher.seal(field, text))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let reply = Reply::new(framed(kind, text), partner_buttons(Some(kind), false));
    let key = message_key(id);
    outbox::put(conn, cipher, pairing.partner, &key, DIRECT, &[reply], now).await?;
    let left = (SENDS_PER_DAY - sent_today(conn, who.person, now).await?).max(0);
    Ok(Carried {
        done: Done::Sent { left },
        deliver: Some(pairing.partner_external.clone()),
        withheld: None,
    })
}

/// The outbox key of a message to a partner.
pub fn message_key(id: i64) -> String {
    format!("pair:{id}")
}

/// Ends a person's active pairing, at once; anything either sent that has
/// not gone out yet goes no further. False if they had none.
pub async fn end(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(pairing) = active(conn, person).await? else {
        return Ok(false);
    };
    sqlx::query("UPDATE pairings SET ended_at = ?, ended_by = ? WHERE id = ?")
        .bind(now.as_millisecond())
        .bind(person)
        .bind(pairing.id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "DELETE FROM outbox WHERE event_key IN (
             SELECT 'pair:' || id FROM pair_messages WHERE pairing_id = ?1
             UNION ALL SELECT 'pair-action:' || id FROM pair_actions WHERE pairing_id = ?1
             UNION ALL SELECT 'pair-answer:' || id FROM pair_actions WHERE pairing_id = ?1
             UNION ALL SELECT 'pair-joined:' || ?1)",
    )
    .bind(pairing.id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM pair_drafts WHERE person_id IN (?, ?)")
        .bind(person)
        .bind(pairing.partner)
        .execute(&mut *conn)
        .await?;
    for one in [person, pairing.partner] {
        answers::delete(conn, one, FACTS, OUR_THING).await?;
    }
    Ok(true)
}

async fn block(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let mine = cipher.person_hash(who.external);
    let other: Option<String> = sqlx::query_scalar(
        "SELECT CASE WHEN inviter_hash = ?1 THEN joiner_hash ELSE inviter_hash END
         FROM pairings
         WHERE ended_at IS NOT NULL AND (inviter_id = ?2 OR joiner_id = ?2)
         ORDER BY ended_at DESC LIMIT 1",
    )
    .bind(&mine)
    .bind(who.person)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(other) = other else {
        return Ok(Carried::just(Done::Refused(Refusal::NothingWaiting)));
    };
    sqlx::query(
        "INSERT INTO pair_blocks (blocker_id, blocked_hash, created_at) VALUES (?, ?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(who.person)
    .bind(other)
    .bind(now.as_millisecond())
    .execute(&mut *conn)
    .await?;
    Ok(Carried::just(Done::Blocked))
}

async fn propose(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    text: &str,
    screen: Screening<'_>,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let refused = |why| Ok(Carried::just(Done::Refused(why)));
    let (pairing, text) = match may_go(conn, who, text, screen).await? {
        Ok(ready) => ready,
        Err(stop) => return Ok(stop),
    };
    // Proposals are held to the day's limit on their own, so they cannot
    // become a way around it.
    let proposed = in_last_day(
        conn,
        "SELECT COUNT(*) FROM pair_actions WHERE proposer_id = ? AND proposed_at > ?",
        who.person,
        now,
    )
    .await?;
    if proposed >= SENDS_PER_DAY {
        return refused(Refusal::TooManySends);
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO pair_actions (pairing_id, proposer_id, body, proposed_at)
         VALUES (?, ?, '', ?) RETURNING id",
    )
    .bind(pairing.id)
    .bind(who.person)
    .bind(now.as_millisecond())
    .fetch_one(&mut *conn)
    .await?;
    let field = Field::PairAction {
        proposer: who.person.0,
        action: id,
    };
    sqlx::query("UPDATE pair_actions SET body = ? WHERE id = ?")
        .bind(cipher.seal(field, &text))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let notice = notice_for_partner(&Done::Proposed, Some(&text)).unwrap_or_default();
    let reply = Reply::new(notice, partner_buttons(None, true));
    let key = format!("pair-action:{id}");
    outbox::put(conn, cipher, pairing.partner, &key, DIRECT, &[reply], now).await?;
    Ok(Carried {
        done: Done::Proposed,
        deliver: Some(pairing.partner_external),
        withheld: None,
    })
}

async fn answer(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    who: Who<'_>,
    accept: bool,
    now: Timestamp,
) -> Result<Carried, StoreError> {
    let Some(pairing) = active(conn, who.person).await? else {
        return Ok(Carried::just(Done::Refused(Refusal::NotActive)));
    };
    let waiting: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM pair_actions
         WHERE pairing_id = ? AND proposer_id = ? AND answered_at IS NULL
         ORDER BY id DESC LIMIT 1",
    )
    .bind(pairing.id)
    .bind(pairing.partner)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = waiting else {
        return Ok(Carried::just(Done::Refused(Refusal::NothingWaiting)));
    };
    sqlx::query("UPDATE pair_actions SET answered_at = ?, accepted = ? WHERE id = ?")
        .bind(now.as_millisecond())
        .bind(i64::from(accept))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if accept {
        // Agreed, it becomes each one's own: their check-ins may ask about
        // it, and each answer stays with the one who gave it.
        let body: String = sqlx::query_scalar("SELECT body FROM pair_actions WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        let field = Field::PairAction {
            proposer: pairing.partner.0,
            action: id,
        };
        if let Ok(text) = cipher.open(field, &body) {
            for person in [who.person, pairing.partner] {
                answers::set(conn, cipher, person, FACTS, OUR_THING, &text, now).await?;
            }
        }
    }
    let done = Done::Answered { accept };
    let notice = notice_for_partner(&done, None).unwrap_or_default();
    let key = format!("pair-answer:{id}");
    let reply = Reply::new(notice, Vec::new());
    outbox::put(conn, cipher, pairing.partner, &key, DIRECT, &[reply], now).await?;
    Ok(Carried {
        done,
        deliver: Some(pairing.partner_external),
        withheld: None,
    })
}

/// The person ended consent to mend keeping what they write: their pairing
/// ends with it (it keeps what they send), and any draft goes.
pub async fn consent_withdrawn(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<(), StoreError> {
    end(conn, person, now).await?;
    sqlx::query("DELETE FROM pair_drafts WHERE person_id = ?")
        .bind(person)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Before a person is erased: their pairing ends, and what they sent that
/// waits in their partner's outbox goes (their messages themselves, drafts,
/// proposals, invites and blocks go with their row).
pub async fn before_erasure(
    conn: &mut SqliteConnection,
    person: PersonId,
    now: Timestamp,
) -> Result<(), StoreError> {
    end(conn, person, now).await?;
    sqlx::query(
        "DELETE FROM outbox WHERE event_key IN (
             SELECT 'pair:' || id FROM pair_messages WHERE sender_id = ?1
             UNION ALL SELECT 'pair-action:' || id FROM pair_actions WHERE proposer_id = ?1)",
    )
    .bind(person)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a person is paired now (for offering a private end).
pub async fn is_paired(conn: &mut SqliteConnection, person: PersonId) -> Result<bool, StoreError> {
    Ok(active(conn, person).await?.is_some())
}

/// What a person's export holds of pairing.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Exported {
    /// Each pairing they were part of: when it began, and ended if it has.
    pub pairings: Vec<ExportedPairing>,
    /// What they sent, and what they received.
    pub sent: Vec<ExportedMessage>,
    pub received: Vec<ExportedMessage>,
    /// "Our one thing this week" proposals of theirs.
    pub proposed: Vec<ExportedMessage>,
    /// How many people they have stopped pairing with them again.
    pub blocked: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedPairing {
    pub started_at: String,
    pub ended: bool,
    /// When it ended, only for the one who ended it: the other learns no time.
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedMessage {
    pub kind: String,
    pub text: crate::privacy::Opened,
    pub at: String,
}

pub async fn export(
    conn: &mut SqliteConnection,
    cipher: &Cipher,
    person: PersonId,
) -> Result<Exported, StoreError> {
    use crate::privacy::Opened;
    let at = |ms: i64| ts(ms).to_string();
    let pairings: Vec<(i64, Option<i64>, bool)> = sqlx::query_as(
        "SELECT started_at, ended_at, ended_by IS ?1 FROM pairings
         WHERE inviter_id = ?1 OR joiner_id = ?1 ORDER BY id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let messages: Vec<(i64, i64, Option<i64>, String, String, i64)> = sqlx::query_as(
        "SELECT id, sender_id, recipient_id, kind, body, sent_at FROM pair_messages
         WHERE sender_id = ?1 OR recipient_id = ?1 ORDER BY id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Exported {
        pairings: pairings
            .into_iter()
            .map(|(started, ended, by_them)| ExportedPairing {
                started_at: at(started),
                ended: ended.is_some(),
                ended_at: ended.filter(|_| by_them).map(at),
            })
            .collect(),
        ..Exported::default()
    };
    for (id, sender, _, kind, body, sent_at) in messages {
        let field = Field::PairMessage {
            sender,
            message: id,
        };
        let text = Opened::open(cipher, field, &body, "pair_messages.body");
        let message = ExportedMessage {
            kind,
            text,
            at: at(sent_at),
        };
        if sender == person.0 {
            out.sent.push(message);
        } else {
            out.received.push(message);
        }
    }
    let proposed: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT id, body, proposed_at FROM pair_actions WHERE proposer_id = ? ORDER BY id",
    )
    .bind(person)
    .fetch_all(&mut *conn)
    .await?;
    for (id, body, proposed_at) in proposed {
        let field = Field::PairAction {
            proposer: person.0,
            action: id,
        };
        out.proposed.push(ExportedMessage {
            kind: "our_one_thing".into(),
            text: Opened::open(cipher, field, &body, "pair_actions.body"),
            at: at(proposed_at),
        });
    }
    out.blocked = sqlx::query_scalar("SELECT COUNT(*) FROM pair_blocks WHERE blocker_id = ?")
        .bind(person)
        .fetch_one(&mut *conn)
        .await?;
    Ok(out)
}

/// Retention: codes and attempts after a day, drafts after a day, messages,
/// proposals and ended pairings after [`KEPT`]. Returns how many rows went.
pub async fn prune(conn: &mut SqliteConnection, now: Timestamp) -> Result<u64, StoreError> {
    let day = (now - DAY).as_millisecond();
    let kept = (now - KEPT).as_millisecond();
    let mut gone = 0;
    for (sql, cutoff) in [
        ("DELETE FROM pair_invites WHERE expires_at < ?", day),
        ("DELETE FROM pair_attempts WHERE at < ?", day),
        ("DELETE FROM pair_drafts WHERE created_at < ?", day),
        ("DELETE FROM pair_messages WHERE sent_at < ?", kept),
        ("DELETE FROM pair_actions WHERE proposed_at < ?", kept),
        ("DELETE FROM pairings WHERE ended_at < ?", kept),
    ] {
        gone += sqlx::query(sql)
            .bind(cutoff)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    gone += sqlx::query("DELETE FROM pairings WHERE inviter_id IS NULL AND joiner_id IS NULL")
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(gone)
}
