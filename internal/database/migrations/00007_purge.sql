-- Retention: when a finished request's personal data and documents were purged.
-- +goose Up
ALTER TABLE requests ADD COLUMN purged_at timestamptz;
CREATE INDEX requests_purge ON requests (updated_at) WHERE purged_at IS NULL
    AND status IN ('rejected_documents', 'approved', 'rejected', 'completed', 'archived', 'withdrawn');

-- +goose Down
DROP INDEX requests_purge;
ALTER TABLE requests DROP COLUMN purged_at;
