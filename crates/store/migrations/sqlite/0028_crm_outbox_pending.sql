-- The CRM worker's claim (`crm_claim`) looks for the oldest due pending rows, one per
-- lead, in id order. With only `(status, next_attempt_at)` and `(lead_id, id)` to go by,
-- it read every due row and sorted them, or walked the primary key through every
-- delivered row: 217 ms a claim on SQLite (holding the write lock) and 158 ms on
-- PostgreSQL, p50, behind 1,000,000 delivered rows with 300,000 pending after a CRM
-- outage (`crates/store/examples/crm_claim_bench.rs`). Pending rows by id, and each
-- lead's pending rows, make it a walk of the first pending rows: 1.2 ms and 4.1 ms.
-- Both indexes hold pending rows only, so they stay as small as the backlog however long
-- the history grows. The claim names the index on SQLite and turns sorting off on
-- PostgreSQL, so stale statistics cannot bring the sort back.
CREATE INDEX crm_outbox_pending ON crm_outbox (id) WHERE status = 'pending';
CREATE INDEX crm_outbox_pending_lead ON crm_outbox (lead_id, id) WHERE status = 'pending';
