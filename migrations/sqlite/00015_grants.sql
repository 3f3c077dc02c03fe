-- +goose Up
-- The authorization endpoint's state. A grant (a client's tokens) is a
-- session of its own: client_id is the client, scopes what it was granted
-- (a JSON array of strings, as the clients' lists are), parent_id the
-- browser session whose sign-in it came from. All three are NULL on any
-- other session. Neither client_id nor parent_id is a foreign key:
-- deleting a client keeps its grants' rows (the application revokes them),
-- and a grant is revoked with its parent, after which the retention sweep
-- deletes each when it has ended. Times are Unix microseconds.
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scopes TEXT CHECK ((client_id IS NULL) = (scopes IS NULL));
ALTER TABLE sessions ADD COLUMN parent_id TEXT CHECK (parent_id IS NULL OR client_id IS NOT NULL);
-- Revoking the live grants of a browser session, and of a client.
CREATE INDEX sessions_parent_live ON sessions (parent_id) WHERE parent_id IS NOT NULL AND revoked_at IS NULL;
CREATE INDEX sessions_client_live ON sessions (client_id) WHERE client_id IS NOT NULL AND revoked_at IS NULL;

-- A request a client made that waits for the user to sign in (or
-- consent), checked against the client before it is kept. max_age is in
-- whole seconds, as the request gives it (0 unless has_max_age).
CREATE TABLE authorization_requests (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    state          TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    force_login    INTEGER NOT NULL CHECK (force_login IN (0, 1)),
    force_consent  INTEGER NOT NULL CHECK (force_consent IN (0, 1)),
    has_max_age    INTEGER NOT NULL CHECK (has_max_age IN (0, 1)),
    max_age        INTEGER NOT NULL CHECK (max_age >= 0 AND (has_max_age = 1 OR max_age = 0)),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;
-- The sweep of expired requests.
CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at);

-- Authorization codes, bound to what the request and the sign-in fixed.
-- amr is the sign-in's methods as sessions keep them (space-separated).
-- A code is redeemed once: used_at, and grant_id the session the
-- redemption made (which a replay revokes).
CREATE TABLE authorization_codes (
    -- SHA-256 of the code; the code itself is never stored
    code_hash      BLOB PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL CHECK (amr <> ''),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    grant_id       TEXT CHECK (grant_id IS NULL OR used_at IS NOT NULL)
) STRICT;
-- Deleting a user (cascade) and the sweep of expired codes.
CREATE INDEX authorization_codes_user ON authorization_codes (user_id);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

-- What a user allowed a client that asks for consent (a JSON array of
-- scopes), one row per user and client.
CREATE TABLE consents (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scopes    TEXT NOT NULL,
    given_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

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
