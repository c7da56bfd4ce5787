-- CRM sync (CRM-3, issue 20): the CRM's users/owners and accounts as last pulled, and
-- per (provider, kind) the incremental read's position: the high-water mark of
-- modification times seen (micros) and, while a pass is unfinished, the page cursor it
-- resumes from with the `since` it was started with. Written only by the sync worker;
-- routing reads the accounts through the in-memory overlay built from these rows.
CREATE TABLE crm_users (
    provider  TEXT NOT NULL,                 -- salesforce | hubspot
    crm_id    TEXT NOT NULL,
    email     TEXT NOT NULL,
    name      TEXT NOT NULL,
    active    BIGINT NOT NULL,               -- 1 active, 0 deactivated
    modified  BIGINT NOT NULL,               -- micros, the CRM's last-modified time
    synced_at BIGINT NOT NULL,
    PRIMARY KEY (provider, crm_id)
);

CREATE TABLE crm_accounts (
    provider     TEXT NOT NULL,
    crm_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    domain       TEXT,                       -- website/domain as the CRM holds it
    owner_crm_id TEXT,
    named        BIGINT NOT NULL,            -- 1 named account
    modified     BIGINT NOT NULL,
    synced_at    BIGINT NOT NULL,
    PRIMARY KEY (provider, crm_id)
);

CREATE TABLE crm_sync_state (
    provider     TEXT NOT NULL,
    kind         TEXT NOT NULL,              -- users | accounts
    high_water   BIGINT,                     -- micros; NULL before the first pass
    cursor       TEXT,                       -- next page of an unfinished pass
    cursor_since BIGINT,                     -- the `since` that pass started with
    last_error   TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, kind)
);
