-- Daily check-ins: who opted in, when the next one is due (an instant in
-- UTC computed from their local time and IANA zone), and their answers per
-- local day. Scheduled work lives here, not in a sleeping task, so a restart
-- loses nothing.

CREATE TABLE checkins (
    person_id    INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    local_time   TEXT    NOT NULL,            -- "HH:MM"
    zone         TEXT    NOT NULL,            -- an IANA name, never an offset
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    next_due     INTEGER NOT NULL,            -- Unix ms, UTC
    due_date     TEXT    NOT NULL,            -- the local date next_due belongs to
    -- Why check-ins stopped on their own: 'unanswered' or 'undeliverable'.
    pause_reason TEXT    CHECK (pause_reason IN ('unanswered', 'undeliverable')),
    -- Say so gently the next time the person writes.
    pause_notice INTEGER NOT NULL DEFAULT 0 CHECK (pause_notice IN (0, 1)),
    unanswered   INTEGER NOT NULL DEFAULT 0,
    -- The local day of the last check-in sent: answers count for it.
    sent_date    TEXT,
    updated_at   INTEGER NOT NULL
) STRICT;

-- The scheduler's only query path: due rows of active people, by time.
CREATE INDEX checkins_due ON checkins (next_due) WHERE active = 1;

CREATE TABLE checkin_days (
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    day         TEXT    NOT NULL,             -- local date, YYYY-MM-DD
    scale       INTEGER CHECK (scale BETWEEN 1 AND 5),
    action      TEXT    CHECK (action IN ('yes', 'partly', 'not_today')),
    note        TEXT,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, day)
) STRICT;
