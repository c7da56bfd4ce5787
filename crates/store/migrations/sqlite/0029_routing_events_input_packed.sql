-- A routing decision's input (the lead as parsed, its field issues, its enrichment, the
-- exact instants) in a compact binary encoding (`leadrouter_core::record::RouteInput::pack`:
-- a format byte, then postcard) instead of JSON in `input`. A replay decodes one per
-- stored lead; as JSON that cost about as much as re-deciding the lead. Rows written
-- before keep their JSON `input` (and a NULL here); a row has one or the other. Erasing a
-- person writes their scrubbed input back as JSON and clears this column.
ALTER TABLE routing_events ADD COLUMN input_packed BLOB;
