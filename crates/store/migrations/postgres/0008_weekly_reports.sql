-- The weekly report email (MET-2): one row per ISO week sent, written in the same
-- transaction as its outbox rows (lead_id 'report:<week>'), so each week is queued
-- exactly once however many instances run or restart.
CREATE TABLE weekly_reports (
    week       TEXT PRIMARY KEY,            -- ISO week, e.g. 2026-W48
    queued_at  BIGINT NOT NULL,
    recipients BIGINT NOT NULL,
    actor      TEXT NOT NULL                -- schedule | admin-api
);
