-- +goose Up
-- The deadline filter lists open requests nearest deadline first, paged by
-- (deadline_at, tracking_code): the index carries the whole key, so every
-- page is a range scan that stops after 50 rows.
CREATE INDEX requests_mission_open_deadline_code ON requests (mission_code, deadline_at, tracking_code)
    WHERE status IN ('submitted', 'awaiting_appointment', 'appointment_booked', 'attended');
DROP INDEX requests_mission_open_deadline;

-- +goose Down
CREATE INDEX requests_mission_open_deadline ON requests (mission_code, deadline_at)
    WHERE status IN ('submitted', 'awaiting_appointment', 'appointment_booked', 'attended');
DROP INDEX requests_mission_open_deadline_code;
