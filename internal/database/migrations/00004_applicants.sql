-- Applicants' accounts, their sessions and the short-lived things of signing
-- in (captchas, one-time passwords, rate limits), their profile and their
-- request drafts. Personal data lives here and in request_applicants only.
-- +goose Up
CREATE TABLE accounts (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL UNIQUE,           -- lower-cased
    national_id   text NOT NULL UNIQUE,           -- bound to the email at first sign-in
    password_hash text,                           -- argon2id; null until a fixed password is set
    language      text NOT NULL DEFAULT 'fa' CHECK (language IN ('fa', 'en')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Sessions are server-side; the cookie holds a random ID whose SHA-256 is the key.
CREATE TABLE sessions (
    id_hash     bytea PRIMARY KEY,
    account_id  bigint REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',      -- a sign-in in progress: email, national ID
    created_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_seen ON sessions (seen_at);

CREATE TABLE captchas (
    id         text PRIMARY KEY,
    digits     text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One live one-time password per email; only its HMAC is kept.
CREATE TABLE one_time_passwords (
    email      text PRIMARY KEY,
    code_hash  bytea NOT NULL,
    sent_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0
);

-- Fixed-window counters: (what, window) -> hits.
CREATE TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- The profile wizard's answers, kept as the applicant goes (save and resume).
CREATE TABLE profiles (
    account_id   bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    identity     jsonb NOT NULL DEFAULT '{}',
    residence    jsonb NOT NULL DEFAULT '{}',
    completed_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Documents uploaded but not yet submitted: identity documents of the
-- profile (draft_id NULL) and documents of a request being filled in.
CREATE TABLE request_drafts (
    id           uuid PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    service_code text NOT NULL,
    fields       jsonb NOT NULL DEFAULT '{}',
    tracking_code text,                           -- set once submitted
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX request_drafts_open ON request_drafts (account_id, service_code) WHERE tracking_code IS NULL;

CREATE TABLE uploads (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    owner      text NOT NULL,                     -- 'profile' or a request draft's ID
    kind       text NOT NULL,
    object_key text NOT NULL,
    file_name  text NOT NULL,
    format     text NOT NULL,
    size_bytes integer NOT NULL,
    sha256     text NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, owner, kind)
);

-- What the applicant filled in, kept with the request for the mission.
ALTER TABLE request_applicants ADD COLUMN identity jsonb NOT NULL DEFAULT '{}';
ALTER TABLE request_applicants ADD COLUMN residence jsonb NOT NULL DEFAULT '{}';
ALTER TABLE request_applicants ADD COLUMN form jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE request_applicants DROP COLUMN form;
ALTER TABLE request_applicants DROP COLUMN residence;
ALTER TABLE request_applicants DROP COLUMN identity;
DROP TABLE uploads;
DROP TABLE request_drafts;
DROP TABLE profiles;
DROP TABLE rate_limits;
DROP TABLE one_time_passwords;
DROP TABLE captchas;
DROP TABLE sessions;
DROP TABLE accounts;
