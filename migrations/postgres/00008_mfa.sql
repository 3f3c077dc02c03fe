-- +goose Up
-- Multi-factor authentication: a TOTP factor per user (its secret sealed
-- under the secret key), single-use recovery codes, and the short-lived
-- login tokens between a correct password and the code. The rules (steps
-- either side, attempts, lifetimes) are the application's; these tables
-- hold what the conditional updates need.

CREATE TABLE mfa_totp (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- the 20-byte secret, sealed (AEAD) under the secret key with the label
    -- "totp:" || user_id: never stored in clear
    sealed_secret  bytea NOT NULL CHECK (length(sealed_secret) > 20),
    created_at     timestamptz NOT NULL,
    -- NULL while the enrollment waits for its first code
    confirmed_at   timestamptz,
    -- the highest RFC 6238 time step a code was accepted for; a code is
    -- accepted only for a higher step (UPDATE ... WHERE last_used_step < $n)
    last_used_step bigint
);

CREATE TABLE mfa_recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the normalized code (80 random bits): the code itself is
    -- never stored
    code_hash  bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_login_tokens (
    -- SHA-256 of the mfa_token; the token itself is never stored
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the user, the checked password hash and the client (IP,
    -- User-Agent) of the login: a token only continues that login
    binding         bytea NOT NULL CHECK (length(binding) = 32),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    used_at         timestamptz
);
-- Deleting a user (cascade) and the retention sweep.
CREATE INDEX mfa_login_tokens_user ON mfa_login_tokens (user_id);
CREATE INDEX mfa_login_tokens_expires ON mfa_login_tokens (expires_at);

-- A session whose login proved the second factor: its access tokens carry
-- amr ["pwd", "otp"] through every refresh.
ALTER TABLE sessions ADD COLUMN mfa boolean NOT NULL DEFAULT false;

-- +goose Down
-- Going down turns every second factor off: the factors, their codes and
-- pending login tokens are dropped.
ALTER TABLE sessions DROP COLUMN mfa;
DROP TABLE mfa_login_tokens;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
