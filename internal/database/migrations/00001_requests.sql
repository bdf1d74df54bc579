-- The projection of each request's workflow, written by activities on every
-- transition, so staff lists and the appointment system never scan Temporal.
-- +goose Up
CREATE TABLE requests (
    tracking_code  text PRIMARY KEY,
    status         text NOT NULL CHECK (status IN (
                       'submitted', 'rejected_documents', 'awaiting_appointment',
                       'appointment_booked', 'attended', 'approved', 'rejected',
                       'completed', 'archived', 'withdrawn')),
    service_code   text NOT NULL,
    mission_code   text NOT NULL,
    submitted_at   timestamptz NOT NULL,
    deadline_at    timestamptz NOT NULL,
    appointment_at timestamptz,
    version        integer NOT NULL DEFAULT 0, -- the workflow's transition count; older writes lose
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX requests_mission_status ON requests (mission_code, status, submitted_at DESC);

-- +goose Down
DROP TABLE requests;
