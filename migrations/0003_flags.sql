-- Crisis flags for the moderators' queue, and an append-only audit log of
-- everything moderators do (and every refused attempt).

ALTER TABLE people ADD COLUMN crisis_replied_at INTEGER;

CREATE TABLE flags (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    category     TEXT    NOT NULL
                 CHECK (category IN ('self_harm', 'harm_others', 'abuse', 'sexual_violence')),
    severity     TEXT    NOT NULL CHECK (severity IN ('concern', 'high', 'critical')),
    -- A short excerpt around the match, never the whole message. Erased
    -- (NULL) some days after the flag is resolved; the bare facts stay.
    excerpt      TEXT,
    hits         INTEGER NOT NULL DEFAULT 1,
    status       TEXT    NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'claimed', 'resolved', 'escalated')),
    handled_by   TEXT,
    note         TEXT,
    -- Where the moderators' notice is, so it can be edited to show the state.
    notice_channel TEXT,
    notice_message TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    claimed_at   INTEGER,
    closed_at    INTEGER
) STRICT;

-- At most one open or claimed flag per person: repeated hits update it.
CREATE UNIQUE INDEX flags_one_active ON flags (person_id) WHERE status IN ('open', 'claimed');
CREATE INDEX flags_by_status ON flags (status, id);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    flag_id INTEGER,
    detail  TEXT
) STRICT;

CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
