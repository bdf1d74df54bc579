-- Sessions end: each row carries the rules it lives by, the idle timeout
-- (since seen_at) and the absolute lifetime (since created_at, which a
-- sign-in resets), as the API was configured when it last used the row.
-- The API refuses a row past either; the daily retention purge deletes
-- such rows (activities/retention.go) with a scan, cheap since the tables
-- then hold live sessions and at most a day's ended ones. The defaults are
-- what rows from before this migration get.
-- +goose Up
ALTER TABLE sessions
    ADD COLUMN idle_timeout interval NOT NULL DEFAULT interval '30 minutes',
    ADD COLUMN lifetime     interval NOT NULL DEFAULT interval '12 hours';
ALTER TABLE staff_sessions
    ADD COLUMN idle_timeout interval NOT NULL DEFAULT interval '15 minutes',
    ADD COLUMN lifetime     interval NOT NULL DEFAULT interval '10 hours';

-- +goose Down
ALTER TABLE staff_sessions DROP COLUMN lifetime, DROP COLUMN idle_timeout;
ALTER TABLE sessions DROP COLUMN lifetime, DROP COLUMN idle_timeout;
