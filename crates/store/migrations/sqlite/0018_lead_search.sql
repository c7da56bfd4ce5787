-- Finding leads (OPS-6, issue 21; `leadrouter_store::search`).
--
-- Free text: an FTS5 table with the trigram tokenizer, so a word of three or more
-- characters matches anywhere inside the email, first and last name, company or account
-- domain, case-insensitively, from the index. Its rowid is the lead's rowid. Triggers
-- keep it in step with `leads` on every insert, on the erasure or pseudonymisation of a
-- lead (`privacy.rs` rewrites `email` and `payload`) and on delete, so whatever writes a
-- lead, the index follows in the same transaction. `secure-delete` makes FTS5 remove a
-- deleted row's tokens from the index itself rather than shadow them with a delete marker:
-- an erased person's name is gone from the file, not only from the results.
CREATE VIRTUAL TABLE lead_search USING fts5 (
    lead_id UNINDEXED,
    body,
    tokenize = 'trigram'
);
INSERT INTO lead_search (lead_search, rank) VALUES ('secure-delete', 1);

INSERT INTO lead_search (rowid, lead_id, body)
SELECT rowid, id,
    coalesce(email, '') || ' ' || coalesce(json_extract(payload, '$.first_name'), '') || ' '
    || coalesce(json_extract(payload, '$.last_name'), '') || ' '
    || coalesce(json_extract(payload, '$.company'), '') || ' ' || coalesce(account_domain, '')
FROM leads;

CREATE TRIGGER lead_search_insert AFTER INSERT ON leads BEGIN
    INSERT INTO lead_search (rowid, lead_id, body) VALUES (new.rowid, new.id,
        coalesce(new.email, '') || ' ' || coalesce(json_extract(new.payload, '$.first_name'), '')
        || ' ' || coalesce(json_extract(new.payload, '$.last_name'), '') || ' '
        || coalesce(json_extract(new.payload, '$.company'), '') || ' '
        || coalesce(new.account_domain, ''));
END;

CREATE TRIGGER lead_search_update AFTER UPDATE OF email, payload, account_domain ON leads BEGIN
    DELETE FROM lead_search WHERE rowid = old.rowid;
    INSERT INTO lead_search (rowid, lead_id, body) VALUES (new.rowid, new.id,
        coalesce(new.email, '') || ' ' || coalesce(json_extract(new.payload, '$.first_name'), '')
        || ' ' || coalesce(json_extract(new.payload, '$.last_name'), '') || ' '
        || coalesce(json_extract(new.payload, '$.company'), '') || ' '
        || coalesce(new.account_domain, ''));
END;

CREATE TRIGGER lead_search_delete AFTER DELETE ON leads BEGIN
    DELETE FROM lead_search WHERE rowid = old.rowid;
END;

-- Filters, newest first: each serves `column = ? ORDER BY received_at DESC` from the
-- index, so a rare value is found without scanning every lead. Owner already has its
-- own (leads_owner_recent); tier has three values and is served by walking
-- leads_received_at.
CREATE INDEX leads_status_recent ON leads (status, received_at);
CREATE INDEX leads_team_recent ON leads (team, received_at) WHERE team IS NOT NULL;
CREATE INDEX leads_path_recent ON leads (path, received_at);
CREATE INDEX leads_segment_recent ON leads (segment, received_at) WHERE segment IS NOT NULL;
-- leads_queue_recent is (queue, status, received_at): for a queue alone SQLite sorted all
-- of the queue's leads (p99 369 ms at 1,000,000 leads); this one is in received order.
CREATE INDEX leads_queue_search ON leads (queue, received_at) WHERE queue IS NOT NULL;
