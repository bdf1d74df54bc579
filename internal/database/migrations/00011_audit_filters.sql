-- The audit page pages by id, newest first, within a mission, and filters
-- by tracking code and by staff member.
-- +goose Up
CREATE INDEX audit_log_mission_id ON audit_log (mission_code, id DESC);
CREATE INDEX audit_log_tracking_code ON audit_log (tracking_code, id DESC) WHERE tracking_code IS NOT NULL;
CREATE INDEX audit_log_staff_email ON audit_log (staff_email, id DESC);

-- +goose Down
DROP INDEX audit_log_staff_email;
DROP INDEX audit_log_tracking_code;
DROP INDEX audit_log_mission_id;
