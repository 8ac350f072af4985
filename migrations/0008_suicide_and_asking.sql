-- The crisis screen now tells suicide from self-harm, and can ask before it
-- flags. Flags get the new category, say whether they were raised after
-- asking, and their ids are never reused (AUTOINCREMENT), so a button or an
-- audit row that names flag 7 can never reach a later, unrelated flag 7.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.

CREATE TABLE flags_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
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
    -- 1 when the person was asked first and answered yes or not sure.
    asked        INTEGER NOT NULL DEFAULT 0 CHECK (asked IN (0, 1))
) STRICT;

INSERT INTO flags_new (id, person_id, category, severity, excerpt, hits, status, handled_by,
                       note, notice_channel, notice_message, created_at, updated_at,
                       claimed_at, closed_at)
SELECT id, person_id, category, severity, excerpt, hits, status, handled_by, note,
       notice_channel, notice_message, created_at, updated_at, claimed_at, closed_at
FROM flags;

DROP TABLE flags;
ALTER TABLE flags_new RENAME TO flags;

CREATE UNIQUE INDEX flags_one_active ON flags (person_id) WHERE status IN ('open', 'claimed');
CREATE INDEX flags_by_status ON flags (status, id);

-- A question asked and not yet answered: what the screen found (the
-- excerpt sealed like everything a person writes), and when mend last
-- asked, so it does not ask again on every line.
ALTER TABLE people ADD COLUMN asked_at INTEGER;
ALTER TABLE people ADD COLUMN ask_category TEXT;
ALTER TABLE people ADD COLUMN ask_severity TEXT;
ALTER TABLE people ADD COLUMN ask_matched TEXT;
ALTER TABLE people ADD COLUMN ask_excerpt TEXT;
