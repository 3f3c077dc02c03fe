-- +goose Up
-- Administration: operators list, change and delete users, query the audit
-- trail and hold admin keys; owners change their address.

-- When a password login last started a session.
ALTER TABLE users ADD COLUMN last_login_at timestamptz;
-- The operators' user list: newest first, keyset-paginated by (created_at, id).
CREATE INDEX users_created ON users (created_at DESC, id DESC);
-- Prefix search on the normalized address. The range
-- email COLLATE "C" >= prefix AND email COLLATE "C" < successor(prefix)
-- holds exactly the addresses that start with prefix only in byte order,
-- which users_email_key (the database's collation) need not have.
CREATE INDEX users_email_prefix ON users (email COLLATE "C");

-- Deleting a user: the cascades from users and the outbox delete find the
-- user's rows by user_id (the older indexes are partial: live sessions,
-- unused tokens).
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id);
CREATE INDEX mail_outbox_user ON mail_outbox (user_id) WHERE user_id IS NOT NULL;

-- A change-email token carries the new (normalized) address. Unlike the
-- registration's password hash it is no secret, and stays after use.
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));
ALTER TABLE one_time_tokens ADD COLUMN new_email text;

-- The operators' audit queries: newest first, by user or by type. They
-- replace audit_events_user (user_id, occurred_at), which no query used.
DROP INDEX audit_events_user;
CREATE INDEX audit_events_user_seq ON audit_events (user_id, seq DESC) WHERE user_id IS NOT NULL;
CREATE INDEX audit_events_type_seq ON audit_events (event_type, seq DESC);

-- Keys in byte order, so that the primary key answers a literal prefix
-- range (ResetPrefix); equality, the only other use, is unchanged.
ALTER TABLE rate_limits ALTER COLUMN key TYPE text COLLATE "C";

CREATE TABLE admin_keys (
    -- never reused, revoked keys included: the audit trail names keys
    name       text COLLATE "C" PRIMARY KEY CHECK (name <> ''),
    -- SHA-256 of the key; the key itself is never stored
    key_hash   bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- +goose Down
DROP TABLE admin_keys;

ALTER TABLE rate_limits ALTER COLUMN key TYPE text COLLATE "default";

DROP INDEX audit_events_type_seq;
DROP INDEX audit_events_user_seq;
CREATE INDEX audit_events_user ON audit_events (user_id, occurred_at) WHERE user_id IS NOT NULL;

-- Version 5 knows no change-email token: they are dropped.
DELETE FROM one_time_tokens WHERE purpose = 'change_email';
ALTER TABLE one_time_tokens DROP COLUMN new_email;
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password'));

DROP INDEX mail_outbox_user;
DROP INDEX one_time_tokens_user;
DROP INDEX sessions_user;

DROP INDEX users_email_prefix;
DROP INDEX users_created;
ALTER TABLE users DROP COLUMN last_login_at;
