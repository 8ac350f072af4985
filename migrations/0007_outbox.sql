-- Replies kept in the same transaction as the turn that made them, until
-- they are sent: a crash between the commit and the send loses no reply.
-- `address` is where the edge sends them (a Discord channel id); `reply`
-- is sealed, since a reply can quote what the person wrote.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    event_key TEXT NOT NULL,
    address TEXT NOT NULL,
    position INTEGER NOT NULL,
    reply TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_person ON outbox (person_id, id);
CREATE INDEX outbox_event ON outbox (event_key);
