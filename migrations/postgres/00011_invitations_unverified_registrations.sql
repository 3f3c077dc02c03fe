-- +goose Up
-- An invitation is a link of its own purpose: a reset requested for the
-- address neither replaces nor kills it. Reset tokens issued by earlier
-- invitations cannot be told from other reset tokens and stay resets:
-- they keep working until used or expired, as before.
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email', 'invite'));

-- A pending registration: made by a self-service registration and since
-- then neither verified nor logged in. It does not own its address, and
-- is deleted once it has no link left that works.
ALTER TABLE users ADD COLUMN registration_pending boolean NOT NULL DEFAULT false;
-- Existing accounts are marked only where nothing but a registration can
-- have made them: never verified nor logged in, with a registration's own
-- verification link (carrying its password) and no link of any other
-- purpose or used. Operators' accounts (an invitation, or no link at all)
-- are never marked.
UPDATE users SET registration_pending = true
WHERE NOT is_verified AND last_login_at IS NULL
  AND EXISTS (SELECT 1 FROM one_time_tokens t
              WHERE t.user_id = users.id AND t.purpose = 'verify_email' AND t.password_hash IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM one_time_tokens t
                  WHERE t.user_id = users.id AND (t.purpose <> 'verify_email' OR t.used_at IS NOT NULL));
-- The janitor's sweep of pending registrations reads only them.
CREATE INDEX users_registration_pending ON users (id) WHERE registration_pending;

-- +goose Down
DROP INDEX users_registration_pending;
ALTER TABLE users DROP COLUMN registration_pending;

-- Version 10 knows no invitation token: an unused one becomes the reset
-- token it was before (its link keeps working on the reset page).
UPDATE one_time_tokens SET purpose = 'reset_password' WHERE purpose = 'invite';
ALTER TABLE one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'change_email'));
