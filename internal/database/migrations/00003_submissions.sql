-- What a submission stores outside Temporal: the applicant's contact details
-- (personal data: Temporal only ever sees the tracking code), the documents'
-- object keys and checksums, the idempotency keys of submissions, and the
-- record of every email sent so a retried activity never sends one twice.
-- +goose Up
-- One row per submission; the workflow can be started again from it when
-- the first start failed (Temporal was down) and the applicant retries.
CREATE TABLE submissions (
    idempotency_key text PRIMARY KEY,
    tracking_code   text NOT NULL UNIQUE,
    service_code    text NOT NULL,
    mission_code    text NOT NULL REFERENCES missions (code),
    submitted_at    timestamptz NOT NULL
);

CREATE TABLE request_applicants (
    tracking_code text PRIMARY KEY REFERENCES submissions (tracking_code),
    national_id   text NOT NULL,
    email         text NOT NULL,
    full_name     text NOT NULL,
    language      text NOT NULL CHECK (language IN ('fa', 'en'))
);

CREATE TABLE request_documents (
    tracking_code text NOT NULL REFERENCES submissions (tracking_code),
    kind          text NOT NULL,
    object_key    text NOT NULL,
    file_name     text NOT NULL,
    format        text NOT NULL,
    size_bytes    integer NOT NULL,
    sha256        text NOT NULL,
    PRIMARY KEY (tracking_code, kind)
);

CREATE TABLE sent_mail (
    tracking_code text NOT NULL,
    kind          text NOT NULL,
    message_id    text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tracking_code, kind)
);

-- +goose Down
DROP TABLE sent_mail;
DROP TABLE request_documents;
DROP TABLE request_applicants;
DROP TABLE submissions;
