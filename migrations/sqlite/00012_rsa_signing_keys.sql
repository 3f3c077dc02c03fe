-- +goose Up
-- The ring keeps keys of two algorithms, each with its own lifecycle:
-- EdDSA (Ed25519) keys sign access tokens, RS256 (RSA 2048) keys sign
-- OpenID Connect id_tokens. Every key stored so far is EdDSA. The sealed
-- private half is an Ed25519 seed or, for RS256, the PKCS #8 DER of the
-- RSA key: the column is named for both. Times are Unix microseconds.
-- SQLite cannot add a column without a default that existing rows take,
-- nor drop that default: the table is rebuilt (nothing references it).
CREATE TABLE signing_key_ring_v12 (
    kid           TEXT PRIMARY KEY,  -- RFC 7638 thumbprint of the public key
    alg           TEXT NOT NULL CHECK (alg IN ('EdDSA', 'RS256')),
    sealed_key    BLOB NOT NULL,     -- Ed25519 seed or RSA PKCS #8 DER, sealed (AEAD) under the secret key
    state         TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at    INTEGER NOT NULL,
    activate_at   INTEGER NOT NULL,  -- when it signs (next) or began to sign
    activated_at  INTEGER,           -- when the promotion was recorded
    retired_at    INTEGER,
    publish_until INTEGER,           -- retired: in the JWKS until then, then gone
    CHECK ((state = 'retired') = (retired_at IS NOT NULL AND publish_until IS NOT NULL))
) STRICT;
INSERT INTO signing_key_ring_v12 (kid, alg, sealed_key, state, created_at, activate_at, activated_at, retired_at, publish_until)
    SELECT kid, 'EdDSA', sealed_seed, state, created_at, activate_at, activated_at, retired_at, publish_until FROM signing_key_ring;
DROP TABLE signing_key_ring;
ALTER TABLE signing_key_ring_v12 RENAME TO signing_key_ring;
-- One key of each algorithm signs, and at most one of each waits to.
CREATE UNIQUE INDEX signing_key_ring_one_current ON signing_key_ring (alg) WHERE state = 'current';
CREATE UNIQUE INDEX signing_key_ring_one_next ON signing_key_ring (alg) WHERE state = 'next';

-- +goose Down
-- Version 11 knows Ed25519 keys only: the RS256 keys are deleted (nothing
-- it serves was signed with them), and the table is rebuilt as version 11
-- had it.
CREATE TABLE signing_key_ring_v11 (
    kid           TEXT PRIMARY KEY,  -- RFC 7638 thumbprint of the public key
    sealed_seed   BLOB NOT NULL,     -- Ed25519 seed, sealed (AEAD) under the secret key
    state         TEXT NOT NULL CHECK (state IN ('next', 'current', 'retired')),
    created_at    INTEGER NOT NULL,
    activate_at   INTEGER NOT NULL,  -- when it signs (next) or began to sign
    activated_at  INTEGER,           -- when the promotion was recorded
    retired_at    INTEGER,
    publish_until INTEGER,           -- retired: in the JWKS until then, then gone
    CHECK ((state = 'retired') = (retired_at IS NOT NULL AND publish_until IS NOT NULL))
) STRICT;
INSERT INTO signing_key_ring_v11 (kid, sealed_seed, state, created_at, activate_at, activated_at, retired_at, publish_until)
    SELECT kid, sealed_key, state, created_at, activate_at, activated_at, retired_at, publish_until FROM signing_key_ring
    WHERE alg = 'EdDSA';
DROP TABLE signing_key_ring;
ALTER TABLE signing_key_ring_v11 RENAME TO signing_key_ring;
CREATE UNIQUE INDEX signing_key_ring_one_current ON signing_key_ring (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_key_ring_one_next ON signing_key_ring (state) WHERE state = 'next';
