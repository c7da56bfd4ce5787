-- Free text newest first (issue 21; `leadrouter_store::search`).
--
-- `lead_search` (0018) has the lead's rowid as its own, so FTS5 can hand out its matches
-- in rowid order, newest inserted first, and a page can stop after a few chunks instead
-- of collecting and sorting every match. Insertion order is only nearly the received
-- order (concurrent intake, imports of old leads, an edited received time), so the search
-- also needs to know when the matches it has not read yet cannot be newer than the page
-- it holds. This table gives that bound: for each lead's rowid `pos`, `bound` is at least
-- the received time of every lead whose rowid is `pos` or less. It never decreases along
-- `pos` (each row starts at the maximum of its own time and the previous row's bound),
-- so the bound of everything below a rowid is the bound of the nearest row below it.
-- The triggers keep it true for any write: an insert below existing rows or a received
-- time moved later raises the rows after it; a delete leaves the others as they are
-- (still upper bounds).
CREATE TABLE lead_search_bound (
    pos   INTEGER PRIMARY KEY,   -- leads.rowid
    bound BIGINT NOT NULL
);

INSERT INTO lead_search_bound (pos, bound)
SELECT rowid, max(received_at) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) FROM leads;

CREATE TRIGGER lead_search_bound_insert AFTER INSERT ON leads BEGIN
    INSERT INTO lead_search_bound (pos, bound) VALUES (new.rowid, max(new.received_at,
        coalesce((SELECT bound FROM lead_search_bound WHERE pos < new.rowid
                  ORDER BY pos DESC LIMIT 1), new.received_at)));
    UPDATE lead_search_bound SET bound = new.received_at
    WHERE pos > new.rowid AND bound < new.received_at;
END;

CREATE TRIGGER lead_search_bound_update AFTER UPDATE OF received_at ON leads BEGIN
    UPDATE lead_search_bound SET bound = new.received_at
    WHERE pos >= new.rowid AND bound < new.received_at;
END;

CREATE TRIGGER lead_search_bound_delete AFTER DELETE ON leads BEGIN
    DELETE FROM lead_search_bound WHERE pos = old.rowid;
END;

-- Tier alone, newest first. 0018 left it to a walk of `leads_received_at`, which SQLite
-- 3.40 chooses, but the SQLite bundled with the service sorted the whole tier instead
-- (a fifth of all leads for `hot`; the 1,000,000-lead run never got past this case).
CREATE INDEX leads_tier_recent ON leads (tier, received_at);
