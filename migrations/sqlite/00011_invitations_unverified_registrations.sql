-- +goose Up
-- An invitation is a link of its own purpose: a reset requested for the
-- address neither replaces nor kills it. Reset tokens issued by earlier
-- invitations cannot be told from other reset tokens and stay resets:
-- they keep working until used or expired, as before.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- (nothing references it; its foreign key and indexes are made again).
CREATE TABLE one_time_tokens_v11 (
    token_hash    BLOB PRIMARY KEY CHECK (length(token_hash) = 32), -- SHA-256 of the token; the token itself is never stored
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email', 'invite')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    password_hash TEXT,
    new_email     TEXT
) STRICT;
INSERT INTO one_time_tokens_v11 (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email)
    SELECT token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_v11 RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_purpose_unused ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);

-- A pending registration: made by a self-service registration and since
-- then neither verified nor logged in. It does not own its address, and
-- is deleted once it has no link left that works.
ALTER TABLE users ADD COLUMN registration_pending INTEGER NOT NULL DEFAULT 0 CHECK (registration_pending IN (0, 1));
-- Existing accounts are marked only where nothing but a registration can
-- have made them: never verified nor logged in, with a registration's own
-- verification link (carrying its password) and no link of any other
-- purpose or used. Operators' accounts (an invitation, or no link at all)
-- are never marked.
UPDATE users SET registration_pending = 1
WHERE is_verified = 0 AND last_login_at IS NULL
  AND EXISTS (SELECT 1 FROM one_time_tokens t
              WHERE t.user_id = users.id AND t.purpose = 'verify_email' AND t.password_hash IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM one_time_tokens t
                  WHERE t.user_id = users.id AND (t.purpose <> 'verify_email' OR t.used_at IS NOT NULL));
-- The janitor's sweep of pending registrations reads only them.
CREATE INDEX users_registration_pending ON users (id) WHERE registration_pending = 1;

-- +goose Down
DROP INDEX users_registration_pending;
ALTER TABLE users DROP COLUMN registration_pending;

-- Version 10 knows no invitation token: an unused one becomes the reset
-- token it was before (its link keeps working on the reset page), and the
-- table is rebuilt as version 10 had it.
CREATE TABLE one_time_tokens_v10 (
    token_hash    BLOB PRIMARY KEY CHECK (length(token_hash) = 32), -- SHA-256 of the token; the token itself is never stored
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    password_hash TEXT,
    new_email     TEXT
) STRICT;
INSERT INTO one_time_tokens_v10 (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash, new_email)
    SELECT token_hash, user_id, CASE purpose WHEN 'invite' THEN 'reset_password' ELSE purpose END,
           created_at, expires_at, used_at, password_hash, new_email FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_v10 RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_purpose_unused ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);
