-- Dais store, schema version 3: operations (issue 6). Bookings with their three-stage
-- approval, sites with their A/B administrators and the replacement history, per-venue
-- equipment checks, fault reports and move requests. Portable SQL: no SQLite-only types.

-- The application form. `status` is where the booking stands: waiting at one of the three
-- stages in order, or decided. `meeting_number` is set once approved (the scheduled meeting).
CREATE TABLE bookings (
    id              INTEGER PRIMARY KEY,
    applicant       TEXT    NOT NULL,            -- operator user name who filed it
    applying_unit   TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    attendees       TEXT    NOT NULL,
    attendee_count  INTEGER NOT NULL CHECK (attendee_count >= 0),
    starts_at       INTEGER NOT NULL,
    ends_at         INTEGER NOT NULL,
    room            TEXT    NOT NULL,
    remarks         TEXT    NOT NULL DEFAULT '',
    chair           TEXT,
    wanted_number   TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('pending_unit_head', 'pending_it_centre',
                                    'pending_department_leader', 'approved', 'rejected')),
    meeting_number  TEXT    UNIQUE,
    created_at      INTEGER NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX bookings_time ON bookings (starts_at, ends_at);
CREATE INDEX bookings_room_time ON bookings (room, starts_at);

-- Venues to connect, main venue first.
CREATE TABLE booking_venues (
    booking_id INTEGER NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
    venue_id   INTEGER NOT NULL REFERENCES venues(id),
    position   INTEGER NOT NULL,
    PRIMARY KEY (booking_id, venue_id)
);
CREATE INDEX booking_venues_venue ON booking_venues (venue_id);

-- One row per stage decided, in order.
CREATE TABLE booking_opinions (
    booking_id INTEGER NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
    stage      TEXT    NOT NULL CHECK (stage IN ('unit_head', 'it_centre', 'department_leader')),
    approver   TEXT    NOT NULL,
    approved   BOOLEAN NOT NULL,
    opinion    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (booking_id, stage)
);

-- Sites and their two administrator slots.
CREATE TABLE sites (
    name       TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE site_admin_slots (
    site     TEXT    NOT NULL REFERENCES sites(name),
    slot     TEXT    NOT NULL CHECK (slot IN ('a', 'b')),
    operator TEXT,                               -- NULL: vacant
    since    INTEGER NOT NULL,
    PRIMARY KEY (site, slot)
);
-- Every change of a slot, never rewritten.
CREATE TABLE site_admin_history (
    id         INTEGER PRIMARY KEY,
    site       TEXT    NOT NULL REFERENCES sites(name),
    slot       TEXT    NOT NULL CHECK (slot IN ('a', 'b')),
    previous   TEXT,
    next       TEXT,
    reason     TEXT    NOT NULL CHECK (reason IN ('appointment', 'transfer', 'leave', 'resignation', 'retirement')),
    note       TEXT    NOT NULL DEFAULT '',
    by_operator TEXT   NOT NULL,
    at         INTEGER NOT NULL
);

-- Equipment: monthly checks, faults, moves.
CREATE TABLE equipment_checks (
    id        INTEGER PRIMARY KEY,
    venue_id  INTEGER NOT NULL REFERENCES venues(id),
    checked_by TEXT   NOT NULL,
    passed    BOOLEAN NOT NULL,
    notes     TEXT    NOT NULL DEFAULT '',
    at        INTEGER NOT NULL
);
CREATE INDEX equipment_checks_venue ON equipment_checks (venue_id, at);

CREATE TABLE equipment_faults (
    id          INTEGER PRIMARY KEY,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    reported_by TEXT    NOT NULL,
    description TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'in_repair', 'fixed', 'reported_to_it_centre')),
    opened_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE equipment_moves (
    id           INTEGER PRIMARY KEY,
    venue_id     INTEGER NOT NULL REFERENCES venues(id),
    requested_by TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('requested', 'test_failed', 'closed')),
    test_by      TEXT,
    test_notes   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- A meeting's record, written once when it ends.
CREATE TABLE meeting_records (
    number     TEXT    PRIMARY KEY,
    json       TEXT    NOT NULL,
    csv        TEXT    NOT NULL,
    written_at INTEGER NOT NULL
);
