-- Accounts keyed by (config_version, domain): during a rolling reload instances on
-- different config versions each keep their own mirror instead of deleting each other's
-- rows (issue 25). `account_versions` records when each version was last mirrored and
-- since when another version has been mirrored after it; a version superseded for longer
-- than the grace period (`backend::ACCOUNT_VERSION_GRACE_US`) is pruned by the next sync.
CREATE TABLE accounts_new (
    config_version TEXT NOT NULL,
    domain         TEXT NOT NULL,
    name           TEXT NOT NULL,
    owner          TEXT,
    named          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (config_version, domain)
) WITHOUT ROWID;
INSERT INTO accounts_new (config_version, domain, name, owner, named)
SELECT config_version, domain, name, owner, named FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
CREATE INDEX accounts_owner ON accounts (owner);

CREATE TABLE account_versions (
    config_version TEXT PRIMARY KEY NOT NULL,
    synced_at      BIGINT NOT NULL,
    superseded_at  BIGINT
);
-- The rows already stored are one version's (the old sync kept only the latest).
INSERT INTO account_versions (config_version, synced_at)
SELECT DISTINCT config_version, 0 FROM accounts;
