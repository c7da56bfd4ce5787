-- Finding leads (OPS-6, issue 21; `leadrouter_store::search`).
--
-- Free text: a trigram GIN index (pg_trgm, a trusted extension shipped with PostgreSQL)
-- over one text per lead made of the email, first and last name, company and account
-- domain, lower-cased, so `LIKE '%word%'` for a word of three or more characters is
-- answered from the index. The index is on an expression of the row's own columns: when
-- `privacy.rs` erases or pseudonymises a lead, the new row version is indexed from the
-- scrubbed columns and the old version is no longer visible to any query.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- `payload::jsonb` refuses the escape `\u0000`, which JSON allows; a payload holding one
-- is searched by its email and account domain only, so an insert can never fail here.
CREATE FUNCTION lead_search_text(email TEXT, payload TEXT, account_domain TEXT)
RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(
        coalesce(email, '') || ' ' ||
        CASE WHEN strpos(payload, '\u0000') = 0 THEN
            coalesce(payload::jsonb ->> 'first_name', '') || ' ' ||
            coalesce(payload::jsonb ->> 'last_name', '') || ' ' ||
            coalesce(payload::jsonb ->> 'company', '')
        ELSE '' END || ' ' ||
        coalesce(account_domain, ''))
$$;

CREATE INDEX leads_search_trgm ON leads
    USING gin (lead_search_text(email, payload, account_domain) gin_trgm_ops);

-- Filters, newest first (see the SQLite migration).
CREATE INDEX leads_status_recent ON leads (status, received_at);
CREATE INDEX leads_team_recent ON leads (team, received_at) WHERE team IS NOT NULL;
CREATE INDEX leads_path_recent ON leads (path, received_at);
CREATE INDEX leads_segment_recent ON leads (segment, received_at) WHERE segment IS NOT NULL;
