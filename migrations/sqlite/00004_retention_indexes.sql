-- +goose Up
-- Indexes for the retention sweep, which deletes what has ended long ago.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);
CREATE INDEX mail_outbox_done ON mail_outbox (created_at) WHERE status <> 'pending';

-- +goose Down
DROP INDEX mail_outbox_done;
DROP INDEX one_time_tokens_expires;
DROP INDEX sessions_revoked;
DROP INDEX sessions_expires;
