-- +goose Up
CREATE TABLE one_time_tokens (
    token_hash  BLOB PRIMARY KEY CHECK (length(token_hash) = 32), -- SHA-256 of the token; the token itself is never stored
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;
CREATE INDEX one_time_tokens_user_purpose_unused ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user_live ON sessions (user_id, created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    token_hash  BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE one_time_tokens;
