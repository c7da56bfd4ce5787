-- Transactional outbox (NTF-1..5): written in the same transaction as the assignment,
-- delivered by workers with retries; `dead` rows are the visible dead letters.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,          -- UUIDv7: creation order
    lead_id         TEXT NOT NULL,
    kind            TEXT NOT NULL,             -- rep_notification | lead_confirmation | manager_alert | leadership_alert | queue_alert | webhook
    channel         TEXT NOT NULL,             -- slack | email | sms | webhook:<name>
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,             -- JSON, rendered at decision time
    status          TEXT NOT NULL DEFAULT 'pending',   -- pending | delivered | dead
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    claimed_by      TEXT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_lead ON outbox (lead_id, channel, id);

-- SLA timers (SLA-1..3): rows, so they survive restarts.
CREATE TABLE sla_timers (
    id         TEXT PRIMARY KEY,
    lead_id    TEXT NOT NULL,
    step       TEXT NOT NULL,                  -- manager | reassign | leadership | queue_age
    due_at     BIGINT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending', -- pending | fired | cancelled
    owner      TEXT,                           -- the owner the step applies to
    fired_at   BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX sla_timers_due ON sla_timers (status, due_at);
CREATE INDEX sla_timers_lead ON sla_timers (lead_id);

ALTER TABLE leads ADD COLUMN accepted_at BIGINT;
ALTER TABLE leads ADD COLUMN first_touch_at BIGINT;
