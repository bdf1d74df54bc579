-- Consular staff: accounts with a password and a TOTP second factor, their
-- sessions (apart from applicants'), and the append-only audit log of every
-- sign-in and action.
-- +goose Up
CREATE TABLE staff (
    id              bigserial PRIMARY KEY,
    email           text NOT NULL UNIQUE,
    role            text NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    mission_code    text REFERENCES missions (code),  -- null only for admins, who see every mission
    password_hash   text NOT NULL,                    -- argon2id
    totp_secret     text NOT NULL,                    -- base32
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (role = 'admin' OR mission_code IS NOT NULL)
);

CREATE TABLE staff_sessions (
    id_hash    bytea PRIMARY KEY,
    staff_id   bigint REFERENCES staff (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    staff_id      bigint,
    staff_email   text NOT NULL,
    role          text NOT NULL,
    mission_code  text,
    action        text NOT NULL,     -- sign_in, record_attendance, decide, ...
    tracking_code text,
    source_ip     text NOT NULL,
    outcome       text NOT NULL,     -- ok, refused, failed
    detail        text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_mission_at ON audit_log (mission_code, at DESC);

-- The log is append-only for everyone, the application included.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The queue's filters: mission first, then each filter, newest first.
CREATE INDEX requests_queue ON requests (mission_code, submitted_at DESC, tracking_code);
CREATE INDEX requests_mission_deadline ON requests (mission_code, deadline_at);
CREATE INDEX requests_mission_appointment ON requests (mission_code, appointment_at);
CREATE INDEX requests_mission_service ON requests (mission_code, service_code, submitted_at DESC);

-- +goose Down
DROP INDEX requests_mission_service;
DROP INDEX requests_mission_appointment;
DROP INDEX requests_mission_deadline;
DROP INDEX requests_queue;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE staff_sessions;
DROP TABLE staff;
