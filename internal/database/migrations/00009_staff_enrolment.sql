-- Staff added in the dashboard: an invitation by email, accepted on a page
-- where the new member sets a password and enrols an authenticator. Until
-- then the account has no password and cannot sign in. Disabled accounts
-- keep their rows (the audit log names them) and cannot sign in.
-- +goose Up
ALTER TABLE staff ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE staff ADD COLUMN invite_hash bytea UNIQUE;     -- SHA-256 of the invitation link's token
ALTER TABLE staff ADD COLUMN invite_expires_at timestamptz;
ALTER TABLE staff ADD COLUMN disabled_at timestamptz;
ALTER TABLE staff ADD COLUMN added_by bigint REFERENCES staff (id);

-- +goose Down
ALTER TABLE staff DROP COLUMN added_by;
ALTER TABLE staff DROP COLUMN disabled_at;
ALTER TABLE staff DROP COLUMN invite_expires_at;
ALTER TABLE staff DROP COLUMN invite_hash;
UPDATE staff SET password_hash = '' WHERE password_hash IS NULL;
ALTER TABLE staff ALTER COLUMN password_hash SET NOT NULL;
