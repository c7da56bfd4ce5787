-- The audit log (issue 24): who did what, when and from where. Append-only: the code
-- has no UPDATE or DELETE for it, and these triggers refuse both, so a mistaken or
-- malicious statement cannot rewrite history either.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    lead_id TEXT,
    subject TEXT,
    address TEXT,
    detail TEXT
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_lead ON audit_log (lead_id, id) WHERE lead_id IS NOT NULL;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
