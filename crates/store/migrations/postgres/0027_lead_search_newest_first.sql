-- Free text from a narrow table (issue 21; `leadrouter_store::search`).
--
-- 0018 indexed `lead_search_text(...)` of the wide `leads` rows: every trigram match then
-- cost one heap page of `leads` to recheck and sort (a last name matching ~800 scattered
-- leads read ~1,000 pages, p99 1.9 s at 1,000,000 leads on a cold cache). This table
-- holds only what free text needs: the lead's id, its received time and the searched
-- text, so the recheck and the newest-first sort read small rows (about 80 to a page,
-- in insertion order), and only the page's own leads are read from `leads`.
--
-- Triggers keep it in step with `leads` in the same transaction, whatever writes a lead:
-- inserts and deletes per statement, and an update of a searched column, the received
-- time or the id per row. Erasure (`privacy.rs` rewrites `email` and `payload`) therefore
-- rewrites the row here from the scrubbed columns too.
CREATE TABLE lead_search (
    lead_id     TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    body        TEXT NOT NULL
);

INSERT INTO lead_search (lead_id, received_at, body)
SELECT id, received_at, lead_search_text(email, payload, account_domain)
FROM leads ORDER BY received_at, id;

CREATE INDEX lead_search_trgm ON lead_search USING gin (body gin_trgm_ops);
-- Newest first for a word matching many leads: walk back in time and recheck.
CREATE INDEX lead_search_recent ON lead_search (received_at, lead_id);
DROP INDEX leads_search_trgm;

CREATE FUNCTION lead_search_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lead_search (lead_id, received_at, body)
    SELECT id, received_at, lead_search_text(email, payload, account_domain) FROM new_leads;
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
    INSERT INTO lead_search (lead_id, received_at, body)
    VALUES (NEW.id, NEW.received_at, lead_search_text(NEW.email, NEW.payload, NEW.account_domain));
    RETURN NULL;
END $$;

CREATE TRIGGER lead_search_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_leads FOR EACH STATEMENT EXECUTE FUNCTION lead_search_inserted();
CREATE TRIGGER lead_search_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_leads FOR EACH STATEMENT EXECUTE FUNCTION lead_search_deleted();
CREATE TRIGGER lead_search_update AFTER UPDATE OF id, email, payload, account_domain, received_at
    ON leads FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.payload IS DISTINCT FROM NEW.payload
          OR OLD.account_domain IS DISTINCT FROM NEW.account_domain
          OR OLD.received_at IS DISTINCT FROM NEW.received_at)
    EXECUTE FUNCTION lead_search_updated();
