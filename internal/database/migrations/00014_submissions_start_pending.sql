-- +goose Up
-- A submission is saved before its workflow starts. start_pending is true
-- from the save until the start succeeded: one saved while Temporal was
-- unreachable, and not retried by its applicant, is started by the API's
-- background loop once Temporal answers again (requests.Handlers.StartPending).
ALTER TABLE submissions ADD COLUMN start_pending boolean NOT NULL DEFAULT false;
CREATE INDEX submissions_start_pending ON submissions (submitted_at) WHERE start_pending;

-- +goose Down
DROP INDEX submissions_start_pending;
ALTER TABLE submissions DROP COLUMN start_pending;
