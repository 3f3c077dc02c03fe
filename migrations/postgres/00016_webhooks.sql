-- +goose Up
-- Webhook endpoints and the deliveries of the events they subscribe to.
-- secret is the endpoint's signing key sealed under the secret key
-- (label "webhook-secret:" and the id); after a rotation previous_secret
-- signs beside it until previous_until.
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    url             text NOT NULL,
    secret          bytea NOT NULL,
    previous_secret bytea,
    previous_until  timestamptz,
    created_at      timestamptz NOT NULL,
    CHECK ((previous_secret IS NULL) = (previous_until IS NULL))
);
-- The list, oldest first.
CREATE INDEX webhooks_created ON webhooks (created_at, id);

-- The event types each endpoint hears of; the primary key finds the
-- endpoints of a type when an event is published.
CREATE TABLE webhook_events (
    event_type text COLLATE "C" NOT NULL,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, webhook_id)
);
CREATE INDEX webhook_events_webhook ON webhook_events (webhook_id);

-- One event for one endpoint. seq orders the events of a user; pending
-- is neither delivered_at nor failed_at (given up, keeping last_error).
CREATE TABLE webhook_deliveries (
    seq             bigserial PRIMARY KEY,
    webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id      text NOT NULL,
    event_type      text NOT NULL,
    user_id         uuid NOT NULL,
    body            bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    last_error      text
);
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
