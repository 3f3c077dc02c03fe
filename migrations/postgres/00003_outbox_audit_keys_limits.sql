-- +goose Up
CREATE TABLE mail_outbox (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,
    to_address      text NOT NULL,
    user_id         uuid,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb, -- cleared once sent or given up: links carry tokens
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE audit_events (
    seq         bigint PRIMARY KEY,
    event_type  text NOT NULL,
    user_id     uuid,
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    occurred_at timestamptz NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at) WHERE user_id IS NOT NULL;

CREATE TABLE signing_keys (
    id          text PRIMARY KEY, -- one row, 'current'
    private_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rate_limits (
    key         text PRIMARY KEY,
    count       integer NOT NULL,
    reset_at    timestamptz NOT NULL
);
CREATE INDEX rate_limits_reset ON rate_limits (reset_at);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE signing_keys;
DROP TABLE audit_events;
DROP TABLE mail_outbox;
