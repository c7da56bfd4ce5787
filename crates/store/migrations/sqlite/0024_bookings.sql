-- Meetings booked with a rep (issue 22, MTG-1/2). One row per meeting, kept across
-- reschedules (same id = the invitation's UID, `sequence` counts the updates) and
-- cancellations (status 'cancelled'). Written only in routing transactions, which hold
-- the state lock: the overlap check and the insert are serialised across instances.
-- The partial unique index is the database's own guarantee behind that check: two
-- active meetings of one rep can never start at the same instant.
CREATE TABLE bookings (
    id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    rep TEXT NOT NULL,
    start_at BIGINT NOT NULL,   -- micros, UTC
    end_at BIGINT NOT NULL,
    status TEXT NOT NULL,       -- booked | cancelled
    sequence BIGINT NOT NULL DEFAULT 0,
    lead_tz TEXT,               -- the visitor's zone, for their messages (erased with the lead)
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (end_at > start_at)
);
CREATE UNIQUE INDEX bookings_rep_start ON bookings (rep, start_at) WHERE status = 'booked';
CREATE INDEX bookings_rep_end ON bookings (rep, end_at) WHERE status = 'booked';
CREATE INDEX bookings_lead ON bookings (lead_id);
