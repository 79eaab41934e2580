-- Dais store, schema version 4: meeting recordings, their backup copies, and release requests.
-- (Version 3 belongs to another change; sqlx applies versions in order on a fresh database.)

-- A finished recording: where its two copies are and what they hashed to when archived.
CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY,
    meeting       TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER NOT NULL,
    size          INTEGER NOT NULL CHECK (size >= 0),
    sha256        TEXT    NOT NULL,
    path          TEXT    NOT NULL UNIQUE,
    backup_path   TEXT    NOT NULL,
    archived_at   INTEGER NOT NULL,
    -- Set when retention deleted both copies; the row stays as the record that it existed.
    deleted_at    INTEGER
);
CREATE INDEX recordings_meeting ON recordings (meeting);

-- A request to release (download) a recording: requested → approved | rejected. An approval
-- is valid until expires_at and only for the operator who asked.
CREATE TABLE recording_releases (
    id            INTEGER PRIMARY KEY,
    recording_id  INTEGER NOT NULL REFERENCES recordings (id),
    requested_by  TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    requested_at  INTEGER NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'requested'
                  CHECK (state IN ('requested', 'approved', 'rejected')),
    decided_by    TEXT,
    decided_at    INTEGER,
    expires_at    INTEGER
);
CREATE INDEX recording_releases_recording ON recording_releases (recording_id);

-- Per-meeting recording policy; a meeting without a row is recorded (the server-wide default).
CREATE TABLE meeting_recording_policy (
    number  TEXT    PRIMARY KEY,
    record  INTEGER NOT NULL CHECK (record IN (0, 1)),
    set_by  TEXT    NOT NULL,
    set_at  INTEGER NOT NULL
);
