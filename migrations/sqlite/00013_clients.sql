-- +goose Up
-- Applications registered to sign users in (OAuth 2.0 / OpenID Connect
-- clients). The lists are JSON arrays of strings; secret_hash is the
-- SHA-256 of a confidential client's secret (a public client has none).
-- Times are Unix microseconds.

CREATE TABLE clients (
    client_id                 TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    client_type               TEXT NOT NULL CHECK (client_type IN ('public', 'confidential')),
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    consent                   INTEGER NOT NULL CHECK (consent IN (0, 1)),
    id_token_alg              TEXT NOT NULL,
    secret_hash               BLOB,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
) STRICT;
-- The list, oldest first.
CREATE INDEX clients_created ON clients (created_at, client_id);

-- +goose Down
DROP TABLE clients;
