-- +goose Up
-- Applications registered to sign users in (OAuth 2.0 / OpenID Connect
-- clients). The lists are JSON arrays of strings; secret_hash is the
-- SHA-256 of a confidential client's secret (a public client has none).

CREATE TABLE clients (
    client_id                 text COLLATE "C" PRIMARY KEY,
    name                      text NOT NULL,
    client_type               text NOT NULL CHECK (client_type IN ('public', 'confidential')),
    redirect_uris             text NOT NULL,
    post_logout_redirect_uris text NOT NULL,
    grant_types               text NOT NULL,
    scopes                    text NOT NULL,
    consent                   boolean NOT NULL,
    id_token_alg              text NOT NULL,
    secret_hash               bytea,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
);
-- The list, oldest first.
CREATE INDEX clients_created ON clients (created_at, client_id);

-- +goose Down
DROP TABLE clients;
