-- Audit log retention (issue 24, SEC-2 and SEC-3). The log stays append-only with one
-- narrow exception: an entry older than the retention horizon may be deleted, nothing
-- else, and no entry may ever be updated. The horizon is one row that only moves
-- forward and never closer than 30 days to the database's own clock, so no statement,
-- mistaken or malicious, can delete the last 30 days; the server's retention job moves it
-- to `now - retention.audit_days` (default 400) and deletes what lies behind it.
CREATE TABLE audit_log_horizon (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    before_at BIGINT NOT NULL          -- entries with at < before_at may be deleted
);
INSERT INTO audit_log_horizon (id, before_at) VALUES (1, 0);
CREATE TRIGGER audit_log_horizon_forward BEFORE UPDATE ON audit_log_horizon
WHEN NEW.id <> 1 OR NEW.before_at < OLD.before_at
    OR NEW.before_at > (CAST(strftime('%s', 'now') AS INTEGER) - 30 * 86400) * 1000000
BEGIN SELECT RAISE(ABORT, 'audit_log_horizon only moves forward and keeps the last 30 days'); END;
CREATE TRIGGER audit_log_horizon_no_delete BEFORE DELETE ON audit_log_horizon
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: its horizon cannot be deleted'); END;
DROP TRIGGER audit_log_no_delete;
-- COALESCE: without a horizon row nothing may be deleted.
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= COALESCE((SELECT before_at FROM audit_log_horizon WHERE id = 1), 0)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: only entries older than the retention horizon may be deleted'); END;
