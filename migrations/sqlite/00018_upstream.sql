-- +goose Up
-- Upstream (social) sign-in: the identities users have at upstream
-- providers, and the round trips to those providers. An identity
-- (provider, subject) belongs to one user: the unique index decides
-- races between first sign-ins. email is what the provider last said the
-- address is (shown to the user; never used to find an account). Times
-- are Unix microseconds.
CREATE TABLE upstream_identities (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider     TEXT NOT NULL CHECK (provider <> '' AND provider NOT GLOB '*[^a-z0-9-]*'),
    subject      TEXT NOT NULL CHECK (subject <> '' AND length(subject) <= 1024),
    email        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (provider, subject)
) STRICT;
-- A user's list, oldest first.
CREATE INDEX upstream_identities_user ON upstream_identities (user_id, created_at, id);

-- A round trip between its start and its callback, found by the hash of
-- its state and taken (deleted) by the callback, whatever its outcome.
-- nonce and verifier (the PKCE code verifier) go with the code exchange;
-- pending_request is the authorization request the sign-in answers;
-- link_user_id the user signed in when it began (the identity is linked
-- to them). Expired ones are swept by the retention sweep.
CREATE TABLE upstream_flows (
    state_hash      BLOB PRIMARY KEY CHECK (length(state_hash) = 32),
    provider        TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    verifier        TEXT NOT NULL,
    pending_request TEXT,
    link_user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX upstream_flows_expires ON upstream_flows (expires_at);
CREATE INDEX upstream_flows_user ON upstream_flows (link_user_id) WHERE link_user_id IS NOT NULL;

-- +goose Down
DROP TABLE upstream_flows;
DROP TABLE upstream_identities;
