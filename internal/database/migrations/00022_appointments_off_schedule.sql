-- An appointment staff give outside the mission's online schedule (a
-- walk-in, an extra hour) takes no seat, so giving it up frees none.
-- +goose Up
ALTER TABLE appointments ADD COLUMN seated boolean NOT NULL DEFAULT true;

-- +goose Down
ALTER TABLE appointments DROP COLUMN seated;
