-- +goose Up
-- Passkeys (WebAuthn credentials) and the challenges of their ceremonies.
-- credential_id is the authenticator's id of the credential, unique over
-- every user: it names the passkey in a sign-in. public_key is the COSE
-- key; sign_count the last signature counter taken (the counter rule is
-- the application's); transports are space-separated as the
-- authenticator reported them; the flags are those of the registration
-- (backup_state moves with each sign-in).
CREATE TABLE passkeys (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   bytea NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name            text NOT NULL CHECK (name <> ''),
    public_key      bytea NOT NULL CHECK (length(public_key) > 0),
    sign_count      bigint NOT NULL CHECK (sign_count BETWEEN 0 AND 4294967295),
    aaguid          bytea NOT NULL,
    transports      text NOT NULL,
    user_verified   boolean NOT NULL,
    backup_eligible boolean NOT NULL,
    backup_state    boolean NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz
);
-- A user's list, oldest first.
CREATE INDEX passkeys_user ON passkeys (user_id, created_at, id);

-- A ceremony between its begin and its finish: taken (deleted) by the
-- finish, whatever its outcome. user_id is the registering user, NULL for
-- a sign-in (no user is known before the answer); state is what the
-- WebAuthn library keeps between the two steps (its SessionData JSON,
-- with the challenge).
CREATE TABLE passkey_challenges (
    id         uuid PRIMARY KEY,
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('register', 'login')),
    state      text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
-- Deleting a user (cascade) and the retention sweep.
CREATE INDEX passkey_challenges_user ON passkey_challenges (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at);

-- What the first step of a login proved, for the session its code starts:
-- 'pwd', or 'hwk' for a passkey without user verification.
ALTER TABLE mfa_login_tokens ADD COLUMN first_factor text NOT NULL DEFAULT 'pwd' CHECK (first_factor <> '');

-- +goose Down
ALTER TABLE mfa_login_tokens DROP COLUMN first_factor;
DROP TABLE passkey_challenges;
DROP TABLE passkeys;
