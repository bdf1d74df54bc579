-- Per-staff API tokens for the JSON staff endpoints (only their SHA-256 is kept).
-- +goose Up
ALTER TABLE staff ADD COLUMN api_token_hash bytea UNIQUE;

-- +goose Down
ALTER TABLE staff DROP COLUMN api_token_hash;
