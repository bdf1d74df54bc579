-- +goose NO TRANSACTION
-- +goose Up
-- The deadline filter lists open requests nearest deadline first, paged by
-- (deadline_at, tracking_code): the index carries the whole key, so every
-- page is a range scan that stops after 50 rows. Built CONCURRENTLY, so the
-- projection keeps being written while it builds (seconds at a million
-- requests); each statement can run again after a failure.
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_open_deadline_code;
CREATE INDEX CONCURRENTLY requests_mission_open_deadline_code ON requests (mission_code, deadline_at, tracking_code)
    WHERE status IN ('submitted', 'awaiting_appointment', 'appointment_booked', 'attended');
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_open_deadline;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_open_deadline;
CREATE INDEX CONCURRENTLY requests_mission_open_deadline ON requests (mission_code, deadline_at)
    WHERE status IN ('submitted', 'awaiting_appointment', 'appointment_booked', 'attended');
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_open_deadline_code;
