-- Decisions and traces are stored LZ4-compressed (`leadrouter_store::packed`): a routing
-- trace is ~2-3 KB of JSON, which took a 4 KiB page per decision and was most of the bytes
-- every routing commit wrote. Rows written before this migration keep their text columns
-- and are read as before.
ALTER TABLE decisions ADD COLUMN decision_z BYTEA;
ALTER TABLE decisions ADD COLUMN trace_z BYTEA;
