-- Corrections made at the mission during the visit: an officer changes a
-- field of the request (a service answer, or the identity or residence
-- copied in at submission) with a reason. Each row is one correction, the
-- old and the new value beside each other, for the request's timeline and
-- the applicant's email. Personal data: purged with the request's
-- applicant (activities/retention.go).
-- +goose Up
CREATE TABLE request_corrections (
    id            bigserial PRIMARY KEY,
    tracking_code text NOT NULL,
    update_id     text NOT NULL,              -- the workflow Update that made it: a retried activity records it once
    field         text NOT NULL,              -- "<section>.<name>": form.licence_number, identity.birth_date
    old_value     text NOT NULL,
    new_value     text NOT NULL,
    reason        text NOT NULL,
    staff_id      bigint NOT NULL,              -- who corrected (staff.id), like audit_log.staff_id
    corrected_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tracking_code, update_id)
);

-- +goose Down
DROP TABLE request_corrections;
