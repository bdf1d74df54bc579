-- Appointments: each mission's weekly template and closures (in the
-- mission's local time), the seats taken per slot, and the appointments.
-- +goose Up
CREATE TABLE schedule_templates (
    id           bigserial PRIMARY KEY,
    mission_code text NOT NULL REFERENCES missions (code),
    -- {"1": [["09:00","12:30"], ["14:00","16:00"]], ...}: ISO weekday (1 = Monday) to local opening periods
    weekdays     jsonb NOT NULL,
    slot_minutes integer NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
    capacity     integer NOT NULL CHECK (capacity BETWEEN 1 AND 100),
    services     text[] NOT NULL DEFAULT '{}',   -- empty: every service
    valid_from   date,
    valid_until  date
);
CREATE INDEX schedule_templates_mission ON schedule_templates (mission_code);

CREATE TABLE closures (
    id           bigserial PRIMARY KEY,
    mission_code text NOT NULL REFERENCES missions (code),
    day          date NOT NULL,                 -- the mission's local calendar day
    start_time   time,                          -- null: the whole day
    end_time     time,
    reason       text NOT NULL DEFAULT ''
);
CREATE INDEX closures_mission_day ON closures (mission_code, day);

-- Seats taken per slot. A booking takes a seat with one conditional update
-- (booked < capacity), so two people can never both take the last seat.
CREATE TABLE slot_seats (
    mission_code text NOT NULL,
    starts_at    timestamptz NOT NULL,
    capacity     integer NOT NULL,
    booked       integer NOT NULL DEFAULT 0 CHECK (booked >= 0 AND booked <= capacity),
    PRIMARY KEY (mission_code, starts_at)
);

-- An appointment is 'pending' from taking its seat until the request's
-- workflow accepts it ('booked') or refuses it ('refused', seat released).
CREATE TABLE appointments (
    id            bigserial PRIMARY KEY,
    tracking_code text NOT NULL,
    mission_code  text NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'booked', 'refused', 'cancelled', 'rescheduled', 'released')),
    replaces      bigint REFERENCES appointments (id), -- the appointment a reschedule moves
    refusal       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- One live appointment per request (a reschedule's new one is pending beside the old).
CREATE UNIQUE INDEX appointments_one_booked ON appointments (tracking_code) WHERE status = 'booked';
CREATE UNIQUE INDEX appointments_one_pending ON appointments (tracking_code) WHERE status = 'pending';
CREATE INDEX appointments_pending ON appointments (updated_at) WHERE status = 'pending';
CREATE INDEX appointments_mission_day ON appointments (mission_code, starts_at) WHERE status = 'booked';

-- Every open mission receives on weekdays, 09:00-12:30 and 14:00-16:00 local
-- time, in 30-minute slots of 3 seats, until supervisors set their own.
INSERT INTO schedule_templates (mission_code, weekdays, slot_minutes, capacity)
SELECT code, '{"1": [["09:00","12:30"],["14:00","16:00"]], "2": [["09:00","12:30"],["14:00","16:00"]],
               "3": [["09:00","12:30"],["14:00","16:00"]], "4": [["09:00","12:30"],["14:00","16:00"]],
               "5": [["09:00","12:30"]]}', 30, 3
FROM missions WHERE active;

-- +goose Down
DROP TABLE appointments;
DROP TABLE slot_seats;
DROP TABLE closures;
DROP TABLE schedule_templates;
