-- +goose Up
-- A verification token carries the password hash chosen at the registration
-- that issued it; verifying needs the token and that password.
ALTER TABLE one_time_tokens ADD COLUMN password_hash text;

-- +goose Down
ALTER TABLE one_time_tokens DROP COLUMN password_hash;
