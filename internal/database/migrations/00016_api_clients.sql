-- Registered API clients (a mission's kiosk, say): the only callers of
-- POST /api/v1/requests besides signed-in applicants. The token is kept as
-- its SHA-256 only; a client submits to its missions only, at most per_hour
-- times an hour, and is revoked, never deleted (the audit log names it).
-- Idempotency keys now belong to their caller: (caller, key) is unique, so
-- one caller's key never finds another's request.
-- +goose Up
CREATE TABLE api_clients (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    token_hash   bytea NOT NULL UNIQUE,
    per_hour     integer NOT NULL CHECK (per_hour > 0),
    created_by   bigint REFERENCES staff (id), -- null: created on the command line
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
-- A name is reused only once its client is revoked.
CREATE UNIQUE INDEX api_clients_live_name ON api_clients (name) WHERE revoked_at IS NULL;

CREATE TABLE api_client_missions (
    client_id    bigint NOT NULL REFERENCES api_clients (id),
    mission_code text NOT NULL REFERENCES missions (code),
    PRIMARY KEY (client_id, mission_code)
);

-- The audit log names a client acting on its own (role 'api_client',
-- staff_email its name) by id too.
ALTER TABLE audit_log ADD COLUMN api_client_id bigint REFERENCES api_clients (id);

-- caller: 'client:<id>' or 'account:<id>'. Submissions from before callers
-- were recorded: the portal's ('draft:<id>' keys) belong to the draft's
-- account; the anonymous API's to 'anonymous'.
ALTER TABLE submissions ADD COLUMN caller text NOT NULL DEFAULT 'anonymous';
UPDATE submissions s SET caller = 'account:' || d.account_id
FROM request_drafts d WHERE s.idempotency_key = 'draft:' || d.id::text;
ALTER TABLE submissions DROP CONSTRAINT submissions_pkey;
ALTER TABLE submissions ADD PRIMARY KEY (caller, idempotency_key);

-- +goose Down
-- Keys two callers share are told apart by their caller before the key is
-- unique on its own again.
UPDATE submissions s SET idempotency_key = s.caller || ':' || s.idempotency_key
WHERE EXISTS (SELECT 1 FROM submissions o WHERE o.idempotency_key = s.idempotency_key AND o.caller <> s.caller);
ALTER TABLE submissions DROP CONSTRAINT submissions_pkey;
ALTER TABLE submissions ADD PRIMARY KEY (idempotency_key);
ALTER TABLE submissions DROP COLUMN caller;
ALTER TABLE audit_log DROP COLUMN api_client_id;
DROP TABLE api_client_missions;
DROP TABLE api_clients;
