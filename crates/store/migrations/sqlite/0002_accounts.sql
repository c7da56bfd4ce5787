-- Accounts as configured (ACC-1/ACC-2), synced from the config on start and on reload, so
-- reports can join leads to accounts. The config stays the source of truth.
CREATE TABLE accounts (
    domain         TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    owner          TEXT,
    named          BIGINT NOT NULL DEFAULT 0,
    config_version TEXT NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner);

ALTER TABLE leads ADD COLUMN account_domain TEXT;
CREATE INDEX leads_account ON leads (account_domain);
