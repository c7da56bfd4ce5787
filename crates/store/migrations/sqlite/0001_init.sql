-- leadrouter schema, SQLite. Timestamps are microseconds since the Unix epoch (UTC).
CREATE TABLE people (
    email           TEXT PRIMARY KEY,          -- normalised (VAL-3)
    owner           TEXT,
    status          TEXT NOT NULL DEFAULT 'open',  -- open | disqualified
    disqualified_at BIGINT,
    note            TEXT,
    first_seen_at   BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    lead_count      BIGINT NOT NULL DEFAULT 0,
    last_lead_id    TEXT
);

CREATE TABLE leads (
    id             TEXT PRIMARY KEY,
    source         TEXT NOT NULL,              -- api | form:<key> | import:<id>
    email          TEXT,
    payload        TEXT NOT NULL,              -- the lead as received (JSON)
    received_at    BIGINT NOT NULL,            -- CAP-5
    routed_at      BIGINT NOT NULL,            -- CAP-5
    owner          TEXT,
    queue          TEXT,
    team           TEXT,
    segment        TEXT,
    tier           TEXT NOT NULL,
    score          BIGINT NOT NULL,
    path           TEXT NOT NULL,
    rule           TEXT,
    status         TEXT NOT NULL DEFAULT 'open',   -- open | disqualified | won | lost
    stage          TEXT NOT NULL DEFAULT 'early',  -- early | mid | late (ASG-4 load)
    outcome        TEXT,
    outcome_at     BIGINT,
    route_by       BIGINT,
    contact_by     BIGINT,
    config_version TEXT NOT NULL
);
CREATE INDEX leads_received_at ON leads (received_at);
CREATE INDEX leads_owner_status ON leads (owner, status);
CREATE INDEX leads_queue ON leads (queue) WHERE queue IS NOT NULL;
CREATE INDEX leads_email ON leads (email);

-- Every decision a lead went through: routing, manual reassignment, SLA reassignment.
CREATE TABLE decisions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id        TEXT NOT NULL REFERENCES leads (id),
    kind           TEXT NOT NULL,              -- route | manual | disqualify | outcome | sla
    decided_at     BIGINT NOT NULL,
    owner          TEXT,
    queue          TEXT,
    reason         TEXT NOT NULL,
    actor          TEXT,
    config_version TEXT NOT NULL,
    decision       TEXT,                       -- JSON
    trace          TEXT                        -- JSON
);
CREATE INDEX decisions_lead ON decisions (lead_id, id);

CREATE TABLE rotations (
    team TEXT NOT NULL,
    rep  TEXT NOT NULL,
    pass BIGINT NOT NULL,
    PRIMARY KEY (team, rep)
);
CREATE TABLE rotation_clocks (
    team         TEXT PRIMARY KEY,
    virtual_time BIGINT NOT NULL
);
CREATE TABLE rep_state (
    rep         TEXT PRIMARY KEY,
    early       BIGINT NOT NULL DEFAULT 0,
    mid         BIGINT NOT NULL DEFAULT 0,
    late        BIGINT NOT NULL DEFAULT 0,
    daily_date  TEXT,
    daily_count BIGINT NOT NULL DEFAULT 0,
    out         BIGINT NOT NULL DEFAULT 0,
    out_until   BIGINT,
    out_note    TEXT
);

CREATE TABLE idempotency (
    key        TEXT PRIMARY KEY,               -- CAP-4
    lead_id    TEXT NOT NULL,
    status     BIGINT NOT NULL,
    response   TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Bumped by every routing transaction; an instance whose cached state is older reloads.
CREATE TABLE state_version (
    id      BIGINT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO state_version (id, version) VALUES (1, 0);
