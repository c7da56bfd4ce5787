-- Accounts keyed by (config_version, domain): during a rolling reload instances on
-- different config versions each keep their own mirror instead of deleting each other's
-- rows (issue 25). `account_versions` records when each version was last mirrored and
-- since when another version has been mirrored after it; a version superseded for longer
-- than the grace period (`backend::ACCOUNT_VERSION_GRACE_US`) is pruned by the next sync.
ALTER TABLE accounts DROP CONSTRAINT accounts_pkey;
ALTER TABLE accounts ADD PRIMARY KEY (config_version, domain);

CREATE TABLE account_versions (
    config_version TEXT PRIMARY KEY,
    synced_at      BIGINT NOT NULL,
    superseded_at  BIGINT
);
-- The rows already stored are one version's (the old sync kept only the latest).
INSERT INTO account_versions (config_version, synced_at)
SELECT DISTINCT config_version, 0 FROM accounts;
