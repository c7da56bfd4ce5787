-- Free text indexed a few hundred leads at a time, not lead by lead (docs/benchmarks.md,
-- "Intake service"; `leadrouter_store::search_index`).
--
-- The FTS5 insert trigger (0018) made every routing transaction write a new FTS5 segment
-- for its few dozen leads and merge segments: at 64 connections the service took 2,867
-- leads/s with it and 4,253 without. Now the routing transaction in which the leads not
-- yet indexed reach a few hundred indexes them all (one segment for hundreds).
-- `lead_search_mark.upto` is the highest `leads.rowid` indexed: every lead at or below it
-- has its `lead_search` and `lead_search_bound` rows, none above it has. Free-text search
-- reads the leads above the mark (the tail) directly, so results stay exact.
DROP TRIGGER lead_search_insert;
DROP TRIGGER lead_search_bound_insert;

CREATE TABLE lead_search_mark (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
);
INSERT INTO lead_search_mark (id, upto) SELECT 1, coalesce(max(rowid), 0) FROM leads;

-- An edit or erasure re-indexes a lead only if it is indexed already; one in the tail is
-- indexed from its columns as they are when the indexer gets to it.
DROP TRIGGER lead_search_update;
CREATE TRIGGER lead_search_update AFTER UPDATE OF email, payload, account_domain ON leads
WHEN new.rowid <= (SELECT upto FROM lead_search_mark WHERE id = 1) BEGIN
    DELETE FROM lead_search WHERE rowid = old.rowid;
    INSERT INTO lead_search (rowid, lead_id, body) VALUES (new.rowid, new.id,
        coalesce(new.email, '') || ' ' || coalesce(json_extract(new.payload, '$.first_name'), '')
        || ' ' || coalesce(json_extract(new.payload, '$.last_name'), '') || ' '
        || coalesce(json_extract(new.payload, '$.company'), '') || ' '
        || coalesce(new.account_domain, ''));
END;

-- SQLite gives a new row the highest rowid plus one, so deleting the highest rows would
-- let a new lead take a rowid at or below the mark and never be indexed: the mark comes
-- down to the highest rowid left (every row at or below it is still indexed).
CREATE TRIGGER lead_search_mark_delete AFTER DELETE ON leads BEGIN
    UPDATE lead_search_mark SET upto = coalesce((SELECT max(rowid) FROM leads), 0)
    WHERE id = 1 AND upto > coalesce((SELECT max(rowid) FROM leads), 0);
END;
