-- +goose Up
-- Times are INTEGER microseconds since the Unix epoch (UTC); ids are the
-- canonical UUID text; booleans are 0 or 1.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    -- normalized form: trimmed, NFC, lower-cased by the application
    email           TEXT NOT NULL,
    hashed_password TEXT NOT NULL,
    is_active       INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_verified     INTEGER NOT NULL DEFAULT 0 CHECK (is_verified IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    verified_at     INTEGER,
    CONSTRAINT users_email_normalized CHECK (email = lower(email) AND email = trim(email) AND length(email) BETWEEN 3 AND 254)
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (email);

-- +goose Down
DROP TABLE users;
