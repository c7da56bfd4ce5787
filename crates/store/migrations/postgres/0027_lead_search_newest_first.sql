-- Free text from a narrow table (issue 21; `leadrouter_store::search`).
--
-- 0018 indexed `lead_search_text(...)` of the wide `leads` rows: every trigram match then
-- cost one heap page of `leads` to recheck and sort (a last name matching ~800 scattered
-- leads read ~1,000 pages, p99 1.9 s at 1,000,000 leads on a cold cache). This table
-- holds only what a search with free text needs: the lead's id, its received time, the
-- routing columns filters test and the searched text, so the recheck, the filters and
-- the newest-first sort read small rows, and only the page's own leads are read from
-- `leads`.
--
-- Triggers keep it in step with `leads` in the same transaction, whatever writes a lead:
-- inserts and deletes per statement, and an update of any column held here per row. Erasure (`privacy.rs` rewrites `email` and `payload`) therefore
-- rewrites the row here from the scrubbed columns too.
CREATE TABLE lead_search (
    lead_id     TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    owner       TEXT,
    queue       TEXT,
    team        TEXT,
    segment     TEXT,
    tier        TEXT NOT NULL,
    status      TEXT NOT NULL,
    path        TEXT NOT NULL,
    body        TEXT NOT NULL
);

INSERT INTO lead_search (lead_id, received_at, owner, queue, team, segment, tier, status, path, body)
SELECT id, received_at, owner, queue, team, segment, tier, status, path,
    lead_search_text(email, payload, account_domain)
FROM leads ORDER BY received_at, id;

CREATE INDEX lead_search_trgm ON lead_search USING gin (body gin_trgm_ops);
-- Newest first for a word matching many leads: walk back in time and recheck.
CREATE INDEX lead_search_recent ON lead_search (received_at, lead_id);
DROP INDEX leads_search_trgm;

CREATE FUNCTION lead_search_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_search (lead_id, received_at, owner, queue, team, segment, tier, status, path, body)
    SELECT id, received_at, owner, queue, team, segment, tier, status, path,
        lead_search_text(email, payload, account_domain)
    FROM new_leads;
    RETURN NULL;
END $$;

CREATE FUNCTION lead_search_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_search s USING old_leads o WHERE s.lead_id = o.id;
    RETURN NULL;
END $$;

CREATE FUNCTION lead_search_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM lead_search WHERE lead_id = OLD.id;
    INSERT INTO lead_search (lead_id, received_at, owner, queue, team, segment, tier, status, path, body)
    VALUES (NEW.id, NEW.received_at, NEW.owner, NEW.queue, NEW.team, NEW.segment, NEW.tier,
        NEW.status, NEW.path, lead_search_text(NEW.email, NEW.payload, NEW.account_domain));
    RETURN NULL;
END $$;

CREATE TRIGGER lead_search_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads FOR EACH STATEMENT EXECUTE FUNCTION lead_search_inserted();
CREATE TRIGGER lead_search_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_leads FOR EACH STATEMENT EXECUTE FUNCTION lead_search_deleted();
CREATE TRIGGER lead_search_update AFTER UPDATE OF id, email, payload, account_domain,
    received_at, owner, queue, team, segment, tier, status, path ON leads FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.payload IS DISTINCT FROM NEW.payload
          OR OLD.account_domain IS DISTINCT FROM NEW.account_domain
          OR OLD.received_at IS DISTINCT FROM NEW.received_at
          OR OLD.owner IS DISTINCT FROM NEW.owner OR OLD.queue IS DISTINCT FROM NEW.queue
          OR OLD.team IS DISTINCT FROM NEW.team OR OLD.segment IS DISTINCT FROM NEW.segment
          OR OLD.tier IS DISTINCT FROM NEW.tier OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION lead_search_updated();

-- `LIKE '%word%'` is estimated from the column's histogram: with the default 100 entries
-- a free-mail domain (4% of leads) could miss it, be planned as rare, and have its ~40,000
-- matches sorted (p99 246 ms at 1,000,000 leads) instead of walking back in time.
ALTER TABLE lead_search ALTER COLUMN body SET STATISTICS 1000;
ANALYZE lead_search;
