-- One-time-code challenges replace one_time_passwords. Every sign-in or
-- sign-up attempt that passes the form's checks gets a row, whether or not
-- a code could be sent (an unusable pair gets the HMAC of a code nobody is
-- told), so the code page counts tries, expires and answers the same way
-- for an address with an account and one without. The browser's session
-- keeps only the row's ID: email and national ID stay here, for the ten
-- minutes of the challenge (rows are deleted an hour after they expire).
-- A row with a purpose of 'password' is a code that lets a signed-in
-- applicant change their password.
-- +goose Up
DROP TABLE one_time_passwords;

CREATE TABLE signin_challenges (
    id          bigserial PRIMARY KEY,
    purpose     text NOT NULL DEFAULT 'signin' CHECK (purpose IN ('signin', 'password')),
    email       text NOT NULL,                   -- lower-cased, as typed
    national_id text NOT NULL,
    code_hash   bytea NOT NULL,                  -- HMAC of email and code
    sent_at     timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0
);
CREATE INDEX signin_challenges_expires ON signin_challenges (expires_at);

-- +goose Down
DROP TABLE signin_challenges;
CREATE TABLE one_time_passwords (
    email      text PRIMARY KEY,
    code_hash  bytea NOT NULL,
    sent_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0
);
