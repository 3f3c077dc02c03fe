-- +goose Up
-- Administration: operators list, change and delete users, query the audit
-- trail and hold admin keys; owners change their address.

-- When a password login last started a session.
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
-- The operators' user list: newest first, keyset-paginated by (created_at, id).
CREATE INDEX users_created ON users (created_at DESC, id DESC);
-- Prefix search on the normalized address uses users_email_key: its BINARY
-- collation is byte order, so email >= prefix AND email < successor(prefix)
-- holds exactly the addresses that start with prefix.

-- Deleting a user: the cascades from users and the outbox delete find the
-- user's rows by user_id (the older indexes are partial: live sessions,
-- unused tokens).
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX mail_outbox_user ON mail_outbox (user_id) WHERE user_id IS NOT NULL;

-- A change-email token carries the new (normalized) address. Unlike the
-- registration's password hash it is no secret, and stays after use.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- (nothing references it; its foreign key and indexes are made again).
CREATE TABLE one_time_tokens_v6 (
    token_hash    BLOB PRIMARY KEY CHECK (length(token_hash) = 32), -- SHA-256 of the token; the token itself is never stored
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    password_hash TEXT,
    new_email     TEXT
) STRICT;
INSERT INTO one_time_tokens_v6 (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash)
    SELECT token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash FROM one_time_tokens;
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_v6 RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_purpose_unused ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);

-- The operators' audit queries: newest first, by user or by type. They
-- replace audit_events_user (user_id, occurred_at), which no query used.
DROP INDEX audit_events_user;
CREATE INDEX audit_events_user_seq ON audit_events (user_id, seq DESC) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_type_seq ON audit_events (event_type, seq DESC);

-- rate_limits: the primary key (BINARY, byte order) answers the literal
-- prefix range of ResetPrefix as it is.

CREATE TABLE admin_keys (
    -- never reused, revoked keys included: the audit trail names keys
    name       TEXT PRIMARY KEY CHECK (name <> ''),
    -- SHA-256 of the key; the key itself is never stored
    key_hash   BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- +goose Down
DROP TABLE admin_keys;

DROP INDEX audit_events_type_seq;
DROP INDEX audit_events_user_seq;
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at) WHERE user_id IS NOT NULL;

-- Version 5 knows no change-email token: they are dropped, and the table
-- is rebuilt as version 5 had it.
CREATE TABLE one_time_tokens_v5 (
    token_hash  BLOB PRIMARY KEY CHECK (length(token_hash) = 32), -- SHA-256 of the token; the token itself is never stored
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    password_hash TEXT
) STRICT;
INSERT INTO one_time_tokens_v5 (token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash)
    SELECT token_hash, user_id, purpose, created_at, expires_at, used_at, password_hash FROM one_time_tokens
    WHERE purpose <> 'change_email';
DROP TABLE one_time_tokens;
ALTER TABLE one_time_tokens_v5 RENAME TO one_time_tokens;
CREATE INDEX one_time_tokens_user_purpose_unused ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);

DROP INDEX mail_outbox_user;
DROP INDEX sessions_user;

DROP INDEX users_created;
ALTER TABLE users DROP COLUMN last_login_at;
