-- Operations console (issue 6): reporting columns, indexes and rollups, console sessions.
-- Rollup rows are written by `Tx::write` in the same transaction as the leads they count.

-- Set from the routing decision's `fallback` flag, and counted up by every manual or SLA
-- reassignment (routing accuracy = share of leads never reassigned).
ALTER TABLE leads ADD COLUMN fallback BIGINT NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN reassignments BIGINT NOT NULL DEFAULT 0;

-- Window aggregates (today, this week, a report week) read only this index.
CREATE INDEX leads_console_window ON leads (received_at, tier, path, team, owner, routed_at,
    contact_by, first_touch_at, accepted_at, status, stage, fallback, reassignments);
-- Queues page: open leads per queue, newest first, and their age.
CREATE INDEX leads_queue_recent ON leads (queue, status, received_at) WHERE queue IS NOT NULL;
-- A rep's leads, newest first.
CREATE INDEX leads_owner_recent ON leads (owner, received_at);
-- Dead letters, newest first.
CREATE INDEX outbox_status_id ON outbox (status, id);

-- Per UTC day x tier x path: leads, assigned to a rep, fallbacks, speed-to-assign sum.
CREATE TABLE console_daily (
    day           BIGINT NOT NULL,             -- microseconds at UTC midnight
    tier          TEXT NOT NULL,
    path          TEXT NOT NULL,
    leads         BIGINT NOT NULL,
    assigned      BIGINT NOT NULL,
    fallbacks     BIGINT NOT NULL,
    assign_us_sum BIGINT NOT NULL,
    PRIMARY KEY (day, tier, path)
);

-- Speed-to-assign histogram per UTC day: bucket b counts durations d (microseconds) with
-- floor(4 * log2(d)) = b (four buckets per doubling; d < 1 is bucket 0).
CREATE TABLE console_speed (
    day    BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, bucket)
);

-- Console sessions: the cookie value is kept only as its SHA-256.
CREATE TABLE console_sessions (
    id         TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    role       TEXT NOT NULL,                  -- admin | ops | rep
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
