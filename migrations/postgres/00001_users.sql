-- +goose Up
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    -- normalized form: trimmed, NFC, lower-cased by the application
    email           text NOT NULL,
    hashed_password text NOT NULL,
    is_active       boolean NOT NULL DEFAULT true,
    is_verified     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    verified_at     timestamptz,
    CONSTRAINT users_email_normalized CHECK (email = lower(email) AND email = btrim(email) AND length(email) BETWEEN 3 AND 254)
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- +goose Down
DROP TABLE users;
