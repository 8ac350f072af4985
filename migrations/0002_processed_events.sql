-- Discord events (messages, interactions) already applied, by id, written in
-- the same transaction as their effects so a redelivered event is a no-op.
CREATE TABLE processed_events (
    key TEXT    PRIMARY KEY,
    at  INTEGER NOT NULL
) STRICT;

CREATE INDEX processed_events_by_time ON processed_events (at);
