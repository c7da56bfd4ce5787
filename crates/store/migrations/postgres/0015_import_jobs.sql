-- CSV import jobs (CAP-3, issue 24): an upload's rows are stored before it is
-- acknowledged, then routed by a worker at a bounded rate. A row is `pending` until its
-- lead is committed, then `imported` (result: lead id, owner, queue) or `rejected`
-- (result: field errors); the lead JSON is dropped once routed.
CREATE TABLE import_jobs (
    id            TEXT PRIMARY KEY,          -- UUIDv7
    import_id     TEXT NOT NULL,             -- X-Import-Id: rows are keyed by import id and line
    status        TEXT NOT NULL,             -- receiving | queued | running | done
    total         BIGINT NOT NULL,
    imported      BIGINT NOT NULL,
    rejected      BIGINT NOT NULL,
    received_at   BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    claimed_by    TEXT,
    claimed_until BIGINT
);
CREATE INDEX import_jobs_open ON import_jobs (status, created_at);

CREATE TABLE import_rows (
    job_id  TEXT NOT NULL,
    line    BIGINT NOT NULL,
    status  TEXT NOT NULL,                   -- pending | imported | rejected
    payload TEXT,                            -- the lead as JSON while pending
    result  TEXT,                            -- JSON
    PRIMARY KEY (job_id, line)
);
