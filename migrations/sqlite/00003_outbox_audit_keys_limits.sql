-- +goose Up
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    user_id         TEXT,
    payload         TEXT NOT NULL DEFAULT '{}', -- JSON object; cleared once sent or given up: links carry tokens
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    event_type  TEXT NOT NULL,
    user_id     TEXT,
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    occurred_at INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}', -- JSON object
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
) STRICT;
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at) WHERE user_id IS NOT NULL;

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY, -- one row, 'current'
    private_key BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE rate_limits (
    key         TEXT PRIMARY KEY,
    count       INTEGER NOT NULL,
    reset_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_reset ON rate_limits (reset_at);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE signing_keys;
DROP TABLE audit_events;
DROP TABLE mail_outbox;
