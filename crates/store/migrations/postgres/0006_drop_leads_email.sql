-- No query reads leads by email (dedupe goes through people, keyed by the normalised
-- email, with the person's latest lead id). The index cost a random page write per lead
-- in every group commit.
DROP INDEX IF EXISTS leads_email;
