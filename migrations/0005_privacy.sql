-- Privacy: which data key this database is sealed with, and when each person
-- was last active, so the data of people who have gone quiet can expire.

-- One row: a known text sealed with the data key. Opening it at start-up
-- proves the key is the right one, so a wrong key is an error, never
-- silent garbage.
CREATE TABLE keycheck (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed TEXT    NOT NULL
) STRICT;

ALTER TABLE people ADD COLUMN last_seen INTEGER;
UPDATE people SET last_seen = updated_at;
CREATE INDEX people_by_last_seen ON people (last_seen);
