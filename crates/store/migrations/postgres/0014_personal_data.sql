-- Erasure and retention (issue 24, SEC-3): when a lead's personal data was erased or
-- pseudonymised (`leadrouter_store::privacy`). The row itself stays, so counts, loads and
-- reports keep adding up; the retention job skips rows already done.
ALTER TABLE leads ADD COLUMN erased_at BIGINT;
