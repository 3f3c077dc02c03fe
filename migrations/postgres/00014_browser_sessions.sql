-- +goose Up
-- A session signed in through the hosted pages is held by a browser: its
-- cookie carries a random secret whose SHA-256 finds the session.

ALTER TABLE sessions ADD COLUMN browser_secret_hash bytea;
CREATE UNIQUE INDEX sessions_browser_secret ON sessions (browser_secret_hash) WHERE browser_secret_hash IS NOT NULL;

-- +goose Down
DROP INDEX sessions_browser_secret;
ALTER TABLE sessions DROP COLUMN browser_secret_hash;
