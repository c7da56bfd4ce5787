-- Calendar feeds (issue 22): the last good copy of each rep's iCalendar feed, so a
-- restart or a failing feed keeps working. One row per rep; written only by the calendar
-- worker. The feed's address is a secret and is not stored: `source_hash` (SHA-256 of
-- it) tells whether the copy came from the address configured now.
CREATE TABLE calendar_feeds (
    rep           TEXT PRIMARY KEY,
    source_hash   TEXT NOT NULL,
    etag          TEXT,                      -- for If-None-Match
    last_modified TEXT,                      -- for If-Modified-Since, as the server sent it
    body          TEXT,                      -- the last good feed; NULL before the first
    fetched_at    BIGINT,                    -- micros: last 200 or 304
    changed_at    BIGINT,                    -- micros: last 200 (the body changed)
    last_error    TEXT,                      -- the last failure, cleared by a success
    error_at      BIGINT
);
