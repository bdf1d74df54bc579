-- +goose NO TRANSACTION
-- +goose Up
-- The queue sorted by applicant name or by appointment, within a mission,
-- paged by (column, tracking_code): until now neither had an index, so each
-- page read and sorted the whole mission (26 ms and 35 ms for the busiest
-- of 200,000 requests, against 5 ms for the sorts with one).
--
-- The name lives in request_applicants, the mission in requests: no index
-- spans two tables, and a LEFT JOIN cannot be walked in the name's order
-- from its right side. So the projection keeps a copy of the name
-- (applicant_name, '' when no applicant was kept or once purged), written
-- by triggers whichever row comes first (the submission writes the
-- applicant, the workflow's projection the request) and cleared when the
-- applicant's data is purged (activities/retention.go deletes the row).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS applicant_name text NOT NULL DEFAULT '';

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION requests_applicant_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.applicant_name := COALESCE((SELECT full_name FROM request_applicants WHERE tracking_code = NEW.tracking_code), '');
    RETURN NEW;
END $$;
-- +goose StatementEnd
DROP TRIGGER IF EXISTS requests_applicant_name ON requests;
CREATE TRIGGER requests_applicant_name BEFORE INSERT ON requests
    FOR EACH ROW EXECUTE FUNCTION requests_applicant_name();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION request_applicants_name_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE requests SET applicant_name = '' WHERE tracking_code = OLD.tracking_code AND applicant_name <> '';
    ELSE
        UPDATE requests SET applicant_name = COALESCE(NEW.full_name, '')
        WHERE tracking_code = NEW.tracking_code AND applicant_name <> COALESCE(NEW.full_name, '');
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TRIGGER IF EXISTS request_applicants_name_follow ON request_applicants;
CREATE TRIGGER request_applicants_name_follow AFTER INSERT OR DELETE OR UPDATE OF full_name ON request_applicants
    FOR EACH ROW EXECUTE FUNCTION request_applicants_name_follow();

-- The requests already projected (the triggers keep new ones).
UPDATE requests r SET applicant_name = a.full_name
FROM request_applicants a
WHERE a.tracking_code = r.tracking_code AND a.full_name IS NOT NULL AND r.applicant_name <> a.full_name;

-- Built CONCURRENTLY, like 00013, so the projection keeps being written
-- while they build; each statement can run again after a failure. One
-- index serves both directions of the name; the appointment's two sorts
-- put requests without one last either way, so each direction has its own
-- expression (queue.go's whitelist), and its own index.
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_name_code;
CREATE INDEX CONCURRENTLY requests_mission_name_code ON requests (mission_code, applicant_name, tracking_code);
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_appointment_none_last;
CREATE INDEX CONCURRENTLY requests_mission_appointment_none_last
    ON requests (mission_code, COALESCE(appointment_at, 'infinity'::timestamptz), tracking_code);
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_appointment_none_first;
CREATE INDEX CONCURRENTLY requests_mission_appointment_none_first
    ON requests (mission_code, COALESCE(appointment_at, '-infinity'::timestamptz), tracking_code);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_appointment_none_first;
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_appointment_none_last;
DROP INDEX CONCURRENTLY IF EXISTS requests_mission_name_code;
DROP TRIGGER IF EXISTS request_applicants_name_follow ON request_applicants;
DROP FUNCTION IF EXISTS request_applicants_name_follow();
DROP TRIGGER IF EXISTS requests_applicant_name ON requests;
DROP FUNCTION IF EXISTS requests_applicant_name();
ALTER TABLE requests DROP COLUMN IF EXISTS applicant_name;
