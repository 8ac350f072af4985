-- A second check-in on one day is kept beside the first instead of
-- replacing its answers: `checkin_days` gets one row per check-in answered,
-- numbered within its day by `entry` from 1. Rows from before are each the
-- day's first (entry 1), and their sealed notes, bound to the person and
-- the day, still open as entry 1's.
--
-- SQLite cannot change a primary key in place, so the table is rebuilt.
-- Nothing refers to it, so dropping the old one takes only its own rows,
-- which have been copied by then.

CREATE TABLE checkin_days_new (
    person_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    day         TEXT    NOT NULL,             -- local date, YYYY-MM-DD
    entry       INTEGER NOT NULL DEFAULT 1 CHECK (entry >= 1),
    scale       INTEGER CHECK (scale BETWEEN 1 AND 5),
    action      TEXT    CHECK (action IN ('yes', 'partly', 'not_today')),
    note        TEXT,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, day, entry)
) STRICT;

INSERT INTO checkin_days_new (person_id, day, entry, scale, action, note, answered_at)
SELECT person_id, day, 1, scale, action, note, answered_at FROM checkin_days;

DROP TABLE checkin_days;
ALTER TABLE checkin_days_new RENAME TO checkin_days;
