-- leads_account is read by no query of leadrouter's own; it stays for looking up an
-- account's leads (`account_domain = $1`, which a partial index serves), but only leads
-- matched to an account enter it, so most routed leads no longer write it at all (as on
-- SQLite, migration 0010 there).
DROP INDEX leads_account;
CREATE INDEX leads_account ON leads (account_domain) WHERE account_domain IS NOT NULL;
