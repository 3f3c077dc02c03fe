-- +goose Up
-- A rotated refresh token keeps its successor sealed (under the secret key,
-- bound to the token's hash) for the reuse grace, so that a repeat within
-- it gets that same successor. Never the plain 43-character token: a sealed
-- value carries a nonce and a tag besides the ciphertext.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed BLOB CHECK (length(successor_sealed) > 43);
-- The sweep that erases successors once the grace has passed.
CREATE INDEX refresh_tokens_successor ON refresh_tokens (used_at) WHERE successor_sealed IS NOT NULL;

-- +goose Down
DROP INDEX refresh_tokens_successor;
ALTER TABLE refresh_tokens DROP COLUMN successor_sealed;
