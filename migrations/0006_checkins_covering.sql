-- The scheduler's due query reads only these columns: with all of them in
-- the index it never touches the table, so picking a batch from a million
-- people stays a short range scan.
DROP INDEX checkins_due;
CREATE INDEX checkins_due
    ON checkins (next_due, active, person_id, local_time, zone, due_date, unanswered)
    WHERE active = 1;
