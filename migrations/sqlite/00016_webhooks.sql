-- +goose Up
-- Webhook endpoints and the deliveries of the events they subscribe to.
-- secret is the endpoint's signing key sealed under the secret key
-- (label "webhook-secret:" and the id); after a rotation previous_secret
-- signs beside it until previous_until. Times are Unix microseconds.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    secret          BLOB NOT NULL,
    previous_secret BLOB,
    previous_until  INTEGER,
    created_at      INTEGER NOT NULL,
    CHECK ((previous_secret IS NULL) = (previous_until IS NULL))
) STRICT;
-- The list, oldest first.
CREATE INDEX webhooks_created ON webhooks (created_at, id);

-- The event types each endpoint hears of; the primary key finds the
-- endpoints of a type when an event is published.
CREATE TABLE webhook_events (
    event_type TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, webhook_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_events_webhook ON webhook_events (webhook_id);

-- One event for one endpoint. seq orders the events of a user; pending
-- is neither delivered_at nor failed_at (given up, keeping last_error).
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    body            BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
) STRICT;
-- The claim: pending and due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- The order check: an earlier pending delivery of the same user to the
-- same endpoint.
CREATE INDEX webhook_deliveries_user_pending ON webhook_deliveries (webhook_id, user_id, seq)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- An endpoint's recent failures.
CREATE INDEX webhook_deliveries_failures ON webhook_deliveries (webhook_id, last_attempt_at)
    WHERE last_error IS NOT NULL;
-- Deleting an endpoint deletes its deliveries.
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);
-- The oldest pending delivery (the metrics' gauge).
CREATE INDEX webhook_deliveries_pending_created ON webhook_deliveries (created_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- The retention sweep: delivered or given up.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at)
    WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhooks;
