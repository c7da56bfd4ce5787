-- Fewer B-tree pages written by every routing commit (docs/benchmarks.md, "Pages per
-- commit"). Each page a commit dirties is another 4 KiB frame appended to the WAL and
-- fsync-ed before the request is answered.
--  - people and sla_timers were rowid tables with a TEXT primary key, i.e. two B-trees
--    (the table and its primary-key index) written for every upsert. As WITHOUT ROWID
--    tables keyed by that column they are one. Their rows are small, as WITHOUT ROWID
--    wants.
--  - decisions used AUTOINCREMENT, which rewrites the sqlite_sequence page in every
--    commit. Its ids only order a lead's history and decisions are never deleted, so a
--    plain INTEGER PRIMARY KEY (the largest id plus one) gives the same order.
-- The tables are rebuilt and their rows copied; nothing references them.
--  - leads_account becomes a partial index (see the end).

CREATE TABLE people_new (
    email           TEXT PRIMARY KEY NOT NULL, -- normalised (VAL-3)
    owner           TEXT,
    status          TEXT NOT NULL DEFAULT 'open',  -- open | disqualified
    disqualified_at BIGINT,
    note            TEXT,
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    lead_count      BIGINT NOT NULL DEFAULT 0,
    last_lead_id    TEXT
) WITHOUT ROWID;
INSERT INTO people_new (email, owner, status, disqualified_at, note, first_seen_at,
    last_seen_at, lead_count, last_lead_id)
SELECT email, owner, status, disqualified_at, note, first_seen_at, last_seen_at,
    lead_count, last_lead_id
FROM people WHERE email IS NOT NULL;
DROP TABLE people;
ALTER TABLE people_new RENAME TO people;

CREATE TABLE sla_timers_new (
    id         TEXT PRIMARY KEY NOT NULL,
    lead_id    TEXT NOT NULL,
    step       TEXT NOT NULL,                  -- manager | reassign | leadership | queue_age
    due_at     BIGINT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending', -- pending | fired | cancelled
    owner      TEXT,                           -- the owner the step applies to
    fired_at   BIGINT,
    created_at BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO sla_timers_new (id, lead_id, step, due_at, status, owner, fired_at, created_at)
SELECT id, lead_id, step, due_at, status, owner, fired_at, created_at
FROM sla_timers WHERE id IS NOT NULL;
DROP TABLE sla_timers;
ALTER TABLE sla_timers_new RENAME TO sla_timers;
CREATE INDEX sla_timers_due ON sla_timers (status, due_at);
CREATE INDEX sla_timers_lead ON sla_timers (lead_id);

CREATE TABLE decisions_new (
    id             INTEGER PRIMARY KEY,
    lead_id        TEXT NOT NULL REFERENCES leads (id),
    kind           TEXT NOT NULL,              -- route | manual | disqualify | outcome | sla
    decided_at     BIGINT NOT NULL,
    owner          TEXT,
    queue          TEXT,
    reason         TEXT NOT NULL,
    actor          TEXT,
    config_version TEXT NOT NULL,
    decision       TEXT,                       -- JSON (rows from before 0009)
    trace          TEXT,                       -- JSON (rows from before 0009)
    decision_z     BLOB,                       -- zstd (leadrouter_store::packed)
    trace_z        BLOB
);
INSERT INTO decisions_new (id, lead_id, kind, decided_at, owner, queue, reason, actor,
    config_version, decision, trace, decision_z, trace_z)
SELECT id, lead_id, kind, decided_at, owner, queue, reason, actor, config_version,
    decision, trace, decision_z, trace_z
FROM decisions;
DROP TABLE decisions;
ALTER TABLE decisions_new RENAME TO decisions;
CREATE INDEX decisions_lead ON decisions (lead_id, id);

-- leads_account is read by no query of leadrouter's own; it stays for looking up an
-- account's leads (`account_domain = ?`, which a partial index serves), but only leads
-- matched to an account enter it, so most routed leads no longer write it at all.
DROP INDEX leads_account;
CREATE INDEX leads_account ON leads (account_domain) WHERE account_domain IS NOT NULL;
