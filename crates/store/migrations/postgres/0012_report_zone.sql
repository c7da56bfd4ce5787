-- The zone whose calendar days the console rollups (console_daily, console_speed,
-- console_window) count in: `organization.timezone` (issue 25). Read with the state
-- version under the routing lock, so every instance buckets a batch the same way. The
-- rows stored so far count UTC days; the first start with another zone rebuilds them
-- from the leads (`Reporting::set_report_zone`) and sets it here in the same transaction.
ALTER TABLE state_version ADD COLUMN report_zone TEXT NOT NULL DEFAULT 'UTC';
