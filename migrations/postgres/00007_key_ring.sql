-- +goose Up
-- Signing keys with a lifecycle (next -> current -> retired -> gone), their
-- private halves sealed under the secret key; and small shared settings.

CREATE TABLE signing_key_ring (
    kid           text COLLATE "C" PRIMARY KEY, -- RFC 7638 thumbprint of the public key
    sealed_seed   bytea NOT NULL,               -- Ed25519 seed, sealed (AEAD) under the secret key
    state         text NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at    timestamptz NOT NULL,
    activate_at   timestamptz NOT NULL,         -- when it signs (next) or began to sign
    activated_at  timestamptz,                  -- when the promotion was recorded
    retired_at    timestamptz,
    publish_until timestamptz,                  -- retired: in the JWKS until then, then gone
    CHECK ((state = 'retired') = (retired_at IS NOT NULL AND publish_until IS NOT NULL))
);
-- One key signs, and at most one waits to.
CREATE UNIQUE INDEX signing_key_ring_one_current ON signing_key_ring (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_key_ring_one_next ON signing_key_ring (state) WHERE state = 'next';

-- Named values every instance shares: the check value of the secret key
-- (sealed), and, when GATEHOUSE_SECRET_KEY_FILE is not set, the secret key.
CREATE TABLE settings (
    name       text COLLATE "C" PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The single plain key of signing_keys moves into the ring, sealed, when
-- serve first starts (sealing needs the secret key, which SQL does not
-- have); the row is then deleted.

-- +goose Down
-- Generated keys are not moved back: after going down the next start makes
-- a new key (live access tokens then fail verification and are refreshed).
DROP TABLE settings;
DROP TABLE signing_key_ring;
