-- A person's id is never handed to anyone else (AUTOINCREMENT): sealed
-- values are bound to it, so an id that came back after an erasure would
-- let an erased person's values, restored from a copy, open as someone
-- new's. Flags keep theirs (0008): buttons and audit rows name them.
--
-- SQLite cannot add AUTOINCREMENT in place, so `people` is rebuilt. sqlx
-- runs each migration in a transaction, where foreign keys cannot be turned
-- off, and dropping a table with foreign keys on first deletes its rows
-- (cascading into every table that refers to it). So every table that
-- refers to people is rebuilt too, pointing at the new table: the old ones
-- are dropped children first, when nothing refers to the old `people` any
-- more, and renaming the new `people` renames the references with it.
-- Columns, constraints and indexes are exactly as they were.

CREATE TABLE people_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT    NOT NULL UNIQUE,
    consent     TEXT    NOT NULL DEFAULT 'unasked'
                CHECK (consent IN ('unasked', 'given', 'declined')),
    situation   TEXT    CHECK (situation IN ('hurt', 'caused', 'together', 'earlier')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    crisis_replied_at INTEGER,
    last_seen   INTEGER,
    asked_at    INTEGER,
    ask_category TEXT,
    ask_severity TEXT,
    ask_matched TEXT,
    ask_excerpt TEXT
) STRICT;

INSERT INTO people_new (id, external_id, consent, situation, created_at, updated_at,
                        crisis_replied_at, last_seen, asked_at, ask_category, ask_severity,
                        ask_matched, ask_excerpt)
SELECT id, external_id, consent, situation, created_at, updated_at, crisis_replied_at,
       last_seen, asked_at, ask_category, ask_severity, ask_matched, ask_excerpt
FROM people;

CREATE TABLE conversations_new (
    person_id  INTEGER PRIMARY KEY REFERENCES people_new (id) ON DELETE CASCADE,
    flow       TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO conversations_new (person_id, flow, step, paused, updated_at)
SELECT person_id, flow, step, paused, updated_at FROM conversations;

CREATE TABLE answers_new (
    person_id  INTEGER NOT NULL REFERENCES people_new (id) ON DELETE CASCADE,
    flow       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, flow, name)
) STRICT;
INSERT INTO answers_new (person_id, flow, name, value, updated_at)
SELECT person_id, flow, name, value, updated_at FROM answers;

CREATE TABLE events_new (
    id        INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people_new (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL,
    flow      TEXT,
    at        INTEGER NOT NULL
) STRICT;
INSERT INTO events_new (id, person_id, kind, flow, at)
SELECT id, person_id, kind, flow, at FROM events;

CREATE TABLE flags_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES people_new (id) ON DELETE CASCADE,
    category     TEXT    NOT NULL
                 CHECK (category IN ('suicide', 'self_harm', 'harm_others', 'abuse', 'sexual_violence')),
    severity     TEXT    NOT NULL CHECK (severity IN ('concern', 'high', 'critical')),
    excerpt      TEXT,
    hits         INTEGER NOT NULL DEFAULT 1,
    status       TEXT    NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'claimed', 'resolved', 'escalated')),
    handled_by   TEXT,
    note         TEXT,
    notice_channel TEXT,
    notice_message TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    claimed_at   INTEGER,
    closed_at    INTEGER,
    asked        INTEGER NOT NULL DEFAULT 0 CHECK (asked IN (0, 1))
) STRICT;
INSERT INTO flags_new (id, person_id, category, severity, excerpt, hits, status, handled_by,
                       note, notice_channel, notice_message, created_at, updated_at,
                       claimed_at, closed_at, asked)
SELECT id, person_id, category, severity, excerpt, hits, status, handled_by, note,
       notice_channel, notice_message, created_at, updated_at, claimed_at, closed_at, asked
FROM flags;

CREATE TABLE checkins_new (
    person_id    INTEGER PRIMARY KEY REFERENCES people_new (id) ON DELETE CASCADE,
    local_time   TEXT    NOT NULL,
    zone         TEXT    NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    next_due     INTEGER NOT NULL,
    due_date     TEXT    NOT NULL,
    pause_reason TEXT    CHECK (pause_reason IN ('unanswered', 'undeliverable')),
    pause_notice INTEGER NOT NULL DEFAULT 0 CHECK (pause_notice IN (0, 1)),
    unanswered   INTEGER NOT NULL DEFAULT 0,
    sent_date    TEXT,
    updated_at   INTEGER NOT NULL
) STRICT;
INSERT INTO checkins_new (person_id, local_time, zone, active, next_due, due_date,
                          pause_reason, pause_notice, unanswered, sent_date, updated_at)
SELECT person_id, local_time, zone, active, next_due, due_date, pause_reason, pause_notice,
       unanswered, sent_date, updated_at
FROM checkins;

CREATE TABLE checkin_days_new (
    person_id   INTEGER NOT NULL REFERENCES people_new (id) ON DELETE CASCADE,
    day         TEXT    NOT NULL,
    scale       INTEGER CHECK (scale BETWEEN 1 AND 5),
    action      TEXT    CHECK (action IN ('yes', 'partly', 'not_today')),
    note        TEXT,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, day)
) STRICT;
INSERT INTO checkin_days_new (person_id, day, scale, action, note, answered_at)
SELECT person_id, day, scale, action, note, answered_at FROM checkin_days;

CREATE TABLE outbox_new (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people_new (id) ON DELETE CASCADE,
    event_key TEXT NOT NULL,
    address TEXT NOT NULL,
    position INTEGER NOT NULL,
    reply TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO outbox_new (id, person_id, event_key, address, position, reply, created_at)
SELECT id, person_id, event_key, address, position, reply, created_at FROM outbox;

-- A flag id handed out once is never handed out again, even if that flag
-- was erased: the new table starts where the old one's counter was (the
-- copy made a counter only if some flag is left).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'flags_new', seq FROM sqlite_sequence
WHERE name = 'flags' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'flags_new');
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'flags'), 0))
WHERE name = 'flags_new';

DROP TABLE conversations;
DROP TABLE answers;
DROP TABLE events;
DROP TABLE flags;
DROP TABLE checkins;
DROP TABLE checkin_days;
DROP TABLE outbox;
DROP TABLE people;

ALTER TABLE people_new RENAME TO people;
ALTER TABLE conversations_new RENAME TO conversations;
ALTER TABLE answers_new RENAME TO answers;
ALTER TABLE events_new RENAME TO events;
ALTER TABLE flags_new RENAME TO flags;
ALTER TABLE checkins_new RENAME TO checkins;
ALTER TABLE checkin_days_new RENAME TO checkin_days;
ALTER TABLE outbox_new RENAME TO outbox;

CREATE INDEX people_by_last_seen ON people (last_seen);
CREATE INDEX events_by_person ON events (person_id, at);
CREATE UNIQUE INDEX flags_one_active ON flags (person_id) WHERE status IN ('open', 'claimed');
CREATE INDEX flags_by_status ON flags (status, id);
CREATE INDEX checkins_due
    ON checkins (next_due, active, person_id, local_time, zone, due_date, unanswered)
    WHERE active = 1;
CREATE INDEX outbox_person ON outbox (person_id, id);
CREATE INDEX outbox_event ON outbox (event_key);
