-- Sessions end: each row carries the moment it stops being valid, the
-- earlier of its absolute end (created_at plus the lifetime: 12 hours for
-- applicants, 10 for staff) and its idle end (last use plus the idle
-- timeout). The API moves it at every use; the daily retention purge
-- deletes the rows past it (activities/retention.go), so the tables hold
-- live sessions only. Rows from before this migration get their absolute
-- end; their idle end is still checked by the API when they are presented.
-- +goose Up
ALTER TABLE sessions ADD COLUMN expires_at timestamptz;
UPDATE sessions SET expires_at = created_at + interval '12 hours';
ALTER TABLE sessions ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX sessions_expires ON sessions (expires_at);

ALTER TABLE staff_sessions ADD COLUMN expires_at timestamptz;
UPDATE staff_sessions SET expires_at = created_at + interval '10 hours';
ALTER TABLE staff_sessions ALTER COLUMN expires_at SET NOT NULL;
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

-- +goose Down
ALTER TABLE staff_sessions DROP COLUMN expires_at;
ALTER TABLE sessions DROP COLUMN expires_at;
