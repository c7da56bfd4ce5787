-- History good enough to replay (OPS-5, issue 21).
--
-- config_versions: every config version that served, once per version: the TOML text
-- and each CSV it read (JSON object: name as written in the TOML -> text), who loaded it
-- (admin key name, console user, "signal:SIGHUP" or "startup") and when.
CREATE TABLE config_versions (
    version    TEXT PRIMARY KEY,         -- "sha256:<16 hex>", as decisions record it
    loaded_at  BIGINT NOT NULL,          -- microseconds since the epoch
    loaded_by  TEXT NOT NULL,
    main_name  TEXT NOT NULL,            -- the TOML file's name
    main_text  TEXT NOT NULL,
    files      TEXT NOT NULL             -- JSON {"matrix.csv": "...", ...}
);

-- routing_events: every committed change to routing state, in commit order
-- (state_version of its batch, then its place in the batch), written by the routing
-- transaction that made it. A routing decision's row also holds what it was decided
-- from (the lead as parsed, its field issues, its enrichment, the exact instant) and
-- what was decided; a change to a stored lead holds the lead's lifecycle afterwards.
CREATE TABLE routing_events (
    state_version  BIGINT NOT NULL,
    idx            BIGINT NOT NULL,
    at             BIGINT NOT NULL,      -- microseconds since the epoch
    kind           TEXT NOT NULL,        -- route | reassign | disqualify | outcome | accept | contacted | sla | availability
    lead_id        TEXT,
    actor          TEXT,
    config_version TEXT NOT NULL,
    input          TEXT,                 -- JSON (route only)
    effects        TEXT NOT NULL,        -- JSON array of Effect, as applied
    result         TEXT,                 -- JSON
    people         TEXT,                 -- JSON: the person rows the job wrote [[email, person], …]
    PRIMARY KEY (state_version, idx)
);
CREATE INDEX routing_events_at ON routing_events (at);
CREATE INDEX routing_events_lead ON routing_events (lead_id);

-- state_checkpoints: the routing state (rotations, loads, daily counts, availability;
-- people are rebuilt from the events) as it stood after every event of state_version
-- and before any later one, so a rebuild starts from the last checkpoint before T.
CREATE TABLE state_checkpoints (
    state_version BIGINT PRIMARY KEY,
    at            BIGINT NOT NULL,
    state         TEXT NOT NULL
);
CREATE INDEX state_checkpoints_at ON state_checkpoints (at);
