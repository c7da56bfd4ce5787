-- Every index on `leads` is another B-tree written for each routed lead, inside the
-- group commit. These are not read by any query, or are covered by a wider index:
--  - leads_email: dedupe goes through people (keyed by the normalised email, with the
--    person's latest lead id);
--  - leads_owner_status: GROUP BY owner is served by leads_owner_recent (owner, …);
--  - leads_queue: covered by leads_queue_recent (queue, status, received_at).
DROP INDEX IF EXISTS leads_email;
DROP INDEX IF EXISTS leads_owner_status;
DROP INDEX IF EXISTS leads_queue;
