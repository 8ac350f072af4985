-- People, where each is in a conversation, what they chose to write, and an
-- event log of ids and kinds (never message text). Times are Unix
-- milliseconds (UTC).

CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    -- Who this is at the edge: "discord:<user id>" or "terminal:<name>".
    external_id TEXT    NOT NULL UNIQUE,
    consent     TEXT    NOT NULL DEFAULT 'unasked'
                CHECK (consent IN ('unasked', 'given', 'declined')),
    situation   TEXT    CHECK (situation IN ('hurt', 'caused', 'together', 'earlier')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE conversations (
    person_id  INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    flow       TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    paused     INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE answers (
    person_id  INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    flow       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, flow, name)
) STRICT;

CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL,
    flow      TEXT,
    at        INTEGER NOT NULL
) STRICT;

CREATE INDEX events_by_person ON events (person_id, at);
