-- Staff sign-in failures. The lockout is counted in one statement (see
-- api/staff signin): failed_attempts now counts the attempts whose password
-- was checked since the last sign-in, refused_attempts those turned away
-- unchecked while the account was locked. Failures are summarised here per
-- member and hour instead of one row per attempt in the audit log, which is
-- append-only: an anonymous flood of guesses would fill it for ever. The
-- audit log gets a row when a lock starts and at the next sign-in ("N failed
-- attempts since the last sign-in").
-- +goose Up
ALTER TABLE staff ADD COLUMN refused_attempts integer NOT NULL DEFAULT 0;

CREATE TABLE staff_signin_failures (
    staff_id bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    hour     timestamptz NOT NULL,
    wrong    integer NOT NULL DEFAULT 0, -- checked and wrong (password or authenticator code)
    refused  integer NOT NULL DEFAULT 0, -- turned away unchecked while locked
    PRIMARY KEY (staff_id, hour)
);

-- +goose Down
DROP TABLE staff_signin_failures;
ALTER TABLE staff DROP COLUMN refused_attempts;
