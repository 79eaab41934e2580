-- Dais store, schema version 2: the chair operator named when a meeting is scheduled.
-- NULL for meetings created before this version (the API then treats whoever starts the
-- meeting as its chair).
ALTER TABLE meetings ADD COLUMN chair TEXT;
