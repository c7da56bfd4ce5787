-- Enrichment results by provider and key (registrable domain or email), so a restart
-- does not re-spend API credits (ENR-2). `value` is the mapped fields as JSON, or null
-- for "not found".
CREATE TABLE enrichment_cache (
    provider   TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (provider, key)
);
CREATE INDEX enrichment_cache_expiry ON enrichment_cache (expires_at);
