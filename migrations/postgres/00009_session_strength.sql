-- +goose Up
-- How, and when, a session authenticated: amr holds the RFC 8176 methods
-- it proved, space-separated in the order proved ("pwd", "pwd otp"; later
-- "hwk user"), and auth_time when the last of them was proved. Step-up
-- on accounts with MFA reads both. The boolean mfa column they replace is
-- carried over: a session that proved a second factor at login did so
-- when it was created.
ALTER TABLE sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd' CHECK (amr <> '');
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;
UPDATE sessions SET amr = CASE WHEN mfa THEN 'pwd otp' ELSE 'pwd' END, auth_time = created_at;
ALTER TABLE sessions ALTER COLUMN auth_time SET NOT NULL;
ALTER TABLE sessions DROP COLUMN mfa;

-- +goose Down
-- Back to the boolean: a session whose methods hold a second factor (a
-- code or a passkey) keeps amr ["pwd", "otp"]; its auth_time is lost.
ALTER TABLE sessions ADD COLUMN mfa boolean NOT NULL DEFAULT false;
UPDATE sessions SET mfa = (' ' || amr || ' ' LIKE '% otp %' OR ' ' || amr || ' ' LIKE '% hwk %');
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN amr;
