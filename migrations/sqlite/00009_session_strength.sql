-- +goose Up
-- How, and when, a session authenticated: amr holds the RFC 8176 methods
-- it proved, space-separated in the order proved ("pwd", "pwd otp"; later
-- "hwk user"), and auth_time when the last of them was proved (Unix
-- microseconds). Step-up on accounts with MFA reads both. The 0/1 mfa
-- column they replace is carried over: a session that proved a second
-- factor at login did so when it was created.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd' CHECK (amr <> '');
ALTER TABLE sessions ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET amr = CASE WHEN mfa <> 0 THEN 'pwd otp' ELSE 'pwd' END, auth_time = created_at;
ALTER TABLE sessions DROP COLUMN mfa;

-- +goose Down
-- Back to the 0/1 flag: a session whose methods hold a second factor (a
-- code or a passkey) keeps amr ["pwd", "otp"]; its auth_time is lost.
ALTER TABLE sessions ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET mfa = (' ' || amr || ' ' LIKE '% otp %' OR ' ' || amr || ' ' LIKE '% hwk %');
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN amr;
