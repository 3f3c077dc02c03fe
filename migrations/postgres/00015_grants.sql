-- +goose Up
-- The authorization endpoint's state. A grant (a client's tokens) is a
-- session of its own: client_id is the client, scopes what it was granted
-- (a JSON array of strings, as the clients' lists are), parent_id the
-- browser session whose sign-in it came from. All three are NULL on any
-- other session. Neither client_id nor parent_id is a foreign key:
-- deleting a client keeps its grants' rows (the application revokes them),
-- and a grant is revoked with its parent, after which the retention sweep
-- deletes each when it has ended.
ALTER TABLE sessions ADD COLUMN client_id text COLLATE "C";
ALTER TABLE sessions ADD COLUMN scopes text CHECK ((client_id IS NULL) = (scopes IS NULL));
ALTER TABLE sessions ADD COLUMN parent_id uuid CHECK (parent_id IS NULL OR client_id IS NOT NULL);
-- Revoking the live grants of a browser session, and of a client.
CREATE INDEX sessions_parent_live ON sessions (parent_id) WHERE parent_id IS NOT NULL AND revoked_at IS NULL;
CREATE INDEX sessions_client_live ON sessions (client_id) WHERE client_id IS NOT NULL AND revoked_at IS NULL;

-- A request a client made that waits for the user to sign in (or
-- consent), checked against the client before it is kept. max_age is in
-- whole seconds, as the request gives it (0 unless has_max_age).
CREATE TABLE authorization_requests (
    id             uuid PRIMARY KEY,
    client_id      text COLLATE "C" NOT NULL,
    redirect_uri   text NOT NULL,
    scopes         text NOT NULL,
    state          text NOT NULL,
    nonce          text NOT NULL,
    code_challenge text NOT NULL,
    force_login    boolean NOT NULL,
    force_consent  boolean NOT NULL,
    has_max_age    boolean NOT NULL,
    max_age        bigint NOT NULL CHECK (max_age >= 0 AND (has_max_age OR max_age = 0)),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
-- The sweep of expired requests.
CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at);

-- Authorization codes, bound to what the request and the sign-in fixed.
-- amr is the sign-in's methods as sessions keep them (space-separated).
-- A code is redeemed once: used_at, and grant_id the session the
-- redemption made (which a replay revokes).
CREATE TABLE authorization_codes (
    -- SHA-256 of the code; the code itself is never stored
    code_hash      bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id      text COLLATE "C" NOT NULL,
    redirect_uri   text NOT NULL,
    scopes         text NOT NULL,
    nonce          text NOT NULL,
    code_challenge text NOT NULL,
    session_id     uuid NOT NULL,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time      timestamptz NOT NULL,
    amr            text NOT NULL CHECK (amr <> ''),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    grant_id       uuid CHECK (grant_id IS NULL OR used_at IS NOT NULL)
);
-- Deleting a user (cascade) and the sweep of expired codes.
CREATE INDEX authorization_codes_user ON authorization_codes (user_id);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

-- What a user allowed a client that asks for consent (a JSON array of
-- scopes), one row per user and client.
CREATE TABLE consents (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id text COLLATE "C" NOT NULL,
    scopes    text NOT NULL,
    given_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- +goose Down
-- Going down ends every grant: the sessions of clients are deleted (with
-- their refresh tokens, by cascade), so that none lives on as a session
-- of the user's own.
DROP TABLE consents;
DROP TABLE authorization_codes;
DROP TABLE authorization_requests;
DELETE FROM sessions WHERE client_id IS NOT NULL;
DROP INDEX sessions_client_live;
DROP INDEX sessions_parent_live;
ALTER TABLE sessions DROP COLUMN parent_id;
ALTER TABLE sessions DROP COLUMN scopes;
ALTER TABLE sessions DROP COLUMN client_id;
