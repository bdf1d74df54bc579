-- +goose Up
-- A submission is saved before its workflow starts. start_pending is true
-- from the save until the start succeeded: one saved while Temporal was
-- unreachable, and not retried by its applicant, is started by the API's
-- background loop once Temporal answers again (requests.Handlers.StartPending).
ALTER TABLE submissions ADD COLUMN start_pending boolean NOT NULL DEFAULT false;
-- Saved before this migration and never projected: possibly never started.
-- Starting one that runs already is harmless (the start finds it running).
UPDATE submissions s SET start_pending = true
    WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.tracking_code = s.tracking_code);
CREATE INDEX submissions_start_pending ON submissions (submitted_at) WHERE start_pending;

-- +goose Down
DROP INDEX submissions_start_pending;
ALTER TABLE submissions DROP COLUMN start_pending;
