-- A person's journal: words they typed where mend offered buttons, kept as
-- a note only when they pressed "keep it". The note on offer (kept = 0) is
-- held until their next turn, at most one per person; it goes then,
-- whatever they answer. The text is sealed to (person, written_at).
CREATE TABLE journal (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id  INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    written_at INTEGER NOT NULL,
    text       TEXT    NOT NULL,
    kept       INTEGER NOT NULL DEFAULT 0 CHECK (kept IN (0, 1)),
    UNIQUE (person_id, written_at)
) STRICT;

CREATE UNIQUE INDEX journal_one_offer ON journal (person_id) WHERE kept = 0;
