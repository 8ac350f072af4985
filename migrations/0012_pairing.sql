-- Pairing two partners (see src/pairing/). Nothing here is read for anyone
-- but the person it names, except what a sender chose to send.
--
-- An invitation: only a keyed hash of its code is kept, never the code. It
-- is used once (`used_at`), expires within a day, and between a joiner
-- entering it and confirming, it is held for them (`joiner_id`).
CREATE TABLE pair_invites (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    inviter_id  INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    joiner_id   INTEGER REFERENCES people (id) ON DELETE CASCADE,
    used_at     INTEGER
) STRICT;
CREATE INDEX pair_invites_by_inviter ON pair_invites (inviter_id);
CREATE INDEX pair_invites_by_joiner ON pair_invites (joiner_id);

-- A pairing, active while `ended_at` is null. Either side's erasure leaves
-- the row (ended) for the other's export, without naming who they were.
-- Why it ended is not kept; who ended it (`ended_by`) is kept only so that
-- person's own export can show when, which the other's never shows. Each
-- side is also named by a keyed
-- hash of their id, so that after an end either may block the other, even
-- one who has since been erased.
CREATE TABLE pairings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    inviter_id  INTEGER REFERENCES people (id) ON DELETE SET NULL,
    joiner_id   INTEGER REFERENCES people (id) ON DELETE SET NULL,
    inviter_hash TEXT   NOT NULL,
    joiner_hash TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    ended_by    INTEGER REFERENCES people (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX pairings_by_inviter ON pairings (inviter_id) WHERE ended_at IS NULL;
CREATE INDEX pairings_by_joiner ON pairings (joiner_id) WHERE ended_at IS NULL;

-- What one partner sent the other. The body is sealed to (sender, id). A
-- sender's erasure takes their messages with it; a recipient's leaves the
-- sender's copy of what they sent.
CREATE TABLE pair_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pairing_id   INTEGER NOT NULL REFERENCES pairings (id) ON DELETE CASCADE,
    sender_id    INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    recipient_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    kind         TEXT    NOT NULL
                 CHECK (kind IN ('appreciation', 'action', 'talk', 'answer', 'not_yet')),
    body         TEXT    NOT NULL,
    sent_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX pair_messages_by_sender ON pair_messages (sender_id, sent_at);
CREATE INDEX pair_messages_by_recipient ON pair_messages (recipient_id);

-- A send shown to its sender and not yet confirmed: one per person, sealed
-- to (person, created_at). `kind` is null until they choose it.
CREATE TABLE pair_drafts (
    person_id   INTEGER PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    kind        TEXT CHECK (kind IN ('appreciation', 'action', 'talk', 'answer')),
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- "Our one thing this week": proposed by one partner, accepted or not by
-- the other. The text is sealed to (proposer, id).
CREATE TABLE pair_actions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pairing_id   INTEGER NOT NULL REFERENCES pairings (id) ON DELETE CASCADE,
    proposer_id  INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    body         TEXT    NOT NULL,
    proposed_at  INTEGER NOT NULL,
    answered_at  INTEGER,
    accepted     INTEGER CHECK (accepted IN (0, 1))
) STRICT;
CREATE INDEX pair_actions_by_pairing ON pair_actions (pairing_id, proposed_at);

-- After an end, a person may stop another from pairing with them again.
-- The other is named by a keyed hash of their id, so the block outlives
-- their erasure (and says nothing readable about them).
CREATE TABLE pair_blocks (
    blocker_id   INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    blocked_hash TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_hash)
) STRICT;

-- Codes entered that did not work, by a keyed hash of who entered them,
-- so the daily limit outlives an erasure; kept a day.
CREATE TABLE pair_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_hash TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX pair_attempts_by_person ON pair_attempts (person_hash, at);
