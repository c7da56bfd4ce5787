-- CRM write-back outbox (CRM-1): one row per decision, reassignment, disqualification
-- or outcome to write to the CRM, inserted in the routing transaction that made the
-- change. The CRM worker claims the oldest pending row of each lead (order per lead),
-- sends them in batches, and records done / retry / dead. `dead` rows are the dead
-- letters the console and POST /v1/crm/dead-letters/{id}/retry show and requeue.
CREATE TABLE crm_outbox (
    id              TEXT PRIMARY KEY,          -- UUIDv7: creation order
    lead_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,             -- the history entry's kind (route, manual, sla_reassign, disqualify, outcome, …)
    payload         TEXT NOT NULL,             -- JSON: the provider-neutral write
    status          TEXT NOT NULL DEFAULT 'pending',   -- pending | done | dead
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    claimed_by      TEXT,
    last_error      TEXT,
    crm_id          TEXT,                      -- the CRM's record id once written
    created_at      BIGINT NOT NULL,
    done_at         BIGINT
);
CREATE INDEX crm_outbox_due ON crm_outbox (status, next_attempt_at);
CREATE INDEX crm_outbox_lead ON crm_outbox (lead_id, id);
