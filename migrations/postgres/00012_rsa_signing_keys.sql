-- +goose Up
-- The ring keeps keys of two algorithms, each with its own lifecycle:
-- EdDSA (Ed25519) keys sign access tokens, RS256 (RSA 2048) keys sign
-- OpenID Connect id_tokens. Every key stored so far is EdDSA. The sealed
-- private half is an Ed25519 seed or, for RS256, the PKCS #8 DER of the
-- RSA key: the column is named for both.
ALTER TABLE signing_key_ring ADD COLUMN alg text NOT NULL DEFAULT 'EdDSA' CHECK (alg IN ('EdDSA', 'RS256'));
ALTER TABLE signing_key_ring ALTER COLUMN alg DROP DEFAULT;
ALTER TABLE signing_key_ring RENAME COLUMN sealed_seed TO sealed_key;
-- One key of each algorithm signs, and at most one of each waits to.
DROP INDEX signing_key_ring_one_current;
DROP INDEX signing_key_ring_one_next;
CREATE UNIQUE INDEX signing_key_ring_one_current ON signing_key_ring (alg) WHERE state = 'current';
CREATE UNIQUE INDEX signing_key_ring_one_next ON signing_key_ring (alg) WHERE state = 'next';

-- +goose Down
-- Version 11 knows Ed25519 keys only: the RS256 keys are deleted (nothing
-- it serves was signed with them).
DELETE FROM signing_key_ring WHERE alg <> 'EdDSA';
DROP INDEX signing_key_ring_one_current;
DROP INDEX signing_key_ring_one_next;
CREATE UNIQUE INDEX signing_key_ring_one_current ON signing_key_ring (state) WHERE state = 'current';
CREATE UNIQUE INDEX signing_key_ring_one_next ON signing_key_ring (state) WHERE state = 'next';
ALTER TABLE signing_key_ring RENAME COLUMN sealed_key TO sealed_seed;
ALTER TABLE signing_key_ring DROP COLUMN alg;
