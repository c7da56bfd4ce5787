-- Audit log retention (issue 24, SEC-2 and SEC-3). The log stays append-only with one
-- narrow exception: an entry older than the retention horizon may be deleted, nothing
-- else, and no entry may ever be updated (nor the table truncated). The horizon is one
-- row that only moves forward and never closer than 30 days to the database's own clock,
-- so no statement, mistaken or malicious, can delete the last 30 days; the server's
-- retention job moves it to `now - retention.audit_days` (default 400) and deletes what
-- lies behind it.
CREATE TABLE audit_log_horizon (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    before_at BIGINT NOT NULL          -- entries with at < before_at may be deleted
);
INSERT INTO audit_log_horizon (id, before_at) VALUES (1, 0);
CREATE FUNCTION audit_log_horizon_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = 1 AND NEW.before_at >= OLD.before_at
        AND NEW.before_at <= (EXTRACT(EPOCH FROM clock_timestamp())::BIGINT - 30 * 86400) * 1000000 THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log_horizon only moves forward and keeps the last 30 days';
END;
$$;
CREATE TRIGGER audit_log_horizon_guard BEFORE UPDATE OR DELETE ON audit_log_horizon
    FOR EACH ROW EXECUTE FUNCTION audit_log_horizon_guard();
CREATE TRIGGER audit_log_horizon_no_truncate BEFORE TRUNCATE ON audit_log_horizon
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_horizon_guard();
-- The function behind 0013's triggers (UPDATE OR DELETE per row, TRUNCATE): a DELETE of an
-- entry behind the horizon passes, everything else is refused as before. COALESCE:
-- without a horizon row nothing may be deleted.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
        AND OLD.at < COALESCE((SELECT before_at FROM audit_log_horizon WHERE id = 1), 0) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: only entries older than the retention horizon may be deleted';
END;
$$;
