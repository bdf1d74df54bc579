-- The last TOTP time step a staff member signed in with: a code works once.
-- +goose Up
ALTER TABLE staff ADD COLUMN totp_step bigint;

-- +goose Down
ALTER TABLE staff DROP COLUMN totp_step;
