-- Dais store, schema version 1.
-- Portable subset: the same tables are meant to run on PostgreSQL later (INTEGER PRIMARY KEY
-- becomes BIGINT GENERATED ALWAYS AS IDENTITY, the triggers become plpgsql). Times are Unix
-- seconds (BIGINT) so that no database-specific date type leaks into the code.

CREATE TABLE operators (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,            -- argon2id PHC string
    role          TEXT    NOT NULL CHECK (role IN ('it_centre', 'site_admin', 'chair_operator', 'approver', 'auditor')),
    role_site     TEXT,                        -- set only for site_admin
    role_stage    TEXT,                        -- set only for approver
    created_at    INTEGER NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    CHECK ((role = 'site_admin') = (role_site IS NOT NULL)),
    CHECK ((role = 'approver') = (role_stage IS NOT NULL))
);

-- Bearer sessions. Only the SHA-256 of the token is kept: a copy of the database does not let
-- anyone act as an operator.
CREATE TABLE sessions (
    token_sha256 TEXT    PRIMARY KEY,
    operator_id  INTEGER NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE venues (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('main', 'branch', 'city')),
    parent_id    INTEGER REFERENCES venues(id),
    site         TEXT    NOT NULL,
    sip_user     TEXT    NOT NULL UNIQUE,
    digest_realm TEXT    NOT NULL,
    ha1_md5      TEXT    NOT NULL,             -- hex MD5(user:realm:password), RFC 2617
    ha1_sha256   TEXT    NOT NULL,             -- hex SHA-256(user:realm:password), RFC 8760
    contact_uri  TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE meetings (
    id            INTEGER PRIMARY KEY,
    number        TEXT    NOT NULL UNIQUE,
    subject       TEXT    NOT NULL,
    main_venue_id INTEGER NOT NULL REFERENCES venues(id),
    state         TEXT    NOT NULL CHECK (state IN ('scheduled', 'testing', 'live', 'ended')),
    created_at    INTEGER NOT NULL
);

CREATE TABLE meeting_venues (
    meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    venue_id   INTEGER NOT NULL REFERENCES venues(id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, venue_id)
);

-- Append-only audit log, each row chained to the previous one by SHA-256.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    from_addr TEXT,
    result    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);

-- The chain detects edits; the triggers stop the accidental ones made through the application's
-- own connection.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
