-- The counts kept beside the projection are also by service, so the
-- consular_requests metric (by service, mission and status) reads these few
-- hundred rows instead of counting the whole projection every 30 seconds in
-- every API replica. The staff queue sums them over services. Rows are still
-- changed in key order, so two transitions never deadlock.
-- +goose Up
LOCK TABLE requests IN SHARE ROW EXCLUSIVE MODE; -- no transition between the count and the trigger
DROP TRIGGER request_counts_follow ON requests;
DROP TABLE request_counts;
CREATE TABLE request_counts (
    mission_code text NOT NULL,
    service_code text NOT NULL,
    status       text NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (mission_code, service_code, status)
);
INSERT INTO request_counts SELECT mission_code, service_code, status, count(*) FROM requests GROUP BY 1, 2, 3;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION request_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_counts AS c (mission_code, service_code, status, n)
    SELECT d.mission_code, d.service_code, d.status, sum(d.delta) FROM (
        SELECT NEW.mission_code, NEW.service_code, NEW.status, 1 WHERE TG_OP IN ('INSERT', 'UPDATE')
        UNION ALL
        SELECT OLD.mission_code, OLD.service_code, OLD.status, -1 WHERE TG_OP IN ('UPDATE', 'DELETE')
    ) AS d (mission_code, service_code, status, delta)
    GROUP BY 1, 2, 3 HAVING sum(d.delta) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (mission_code, service_code, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER request_counts_follow AFTER INSERT OR DELETE OR UPDATE OF status, mission_code, service_code ON requests
    FOR EACH ROW EXECUTE FUNCTION request_counts_follow();

-- +goose Down
LOCK TABLE requests IN SHARE ROW EXCLUSIVE MODE;
DROP TRIGGER request_counts_follow ON requests;
DROP TABLE request_counts;
CREATE TABLE request_counts (
    mission_code text NOT NULL,
    status       text NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (mission_code, status)
);
INSERT INTO request_counts SELECT mission_code, status, count(*) FROM requests GROUP BY 1, 2;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION request_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_counts AS c (mission_code, status, n)
    SELECT d.mission_code, d.status, sum(d.delta) FROM (
        SELECT NEW.mission_code, NEW.status, 1 WHERE TG_OP IN ('INSERT', 'UPDATE')
        UNION ALL
        SELECT OLD.mission_code, OLD.status, -1 WHERE TG_OP IN ('UPDATE', 'DELETE')
    ) AS d (mission_code, status, delta)
    GROUP BY 1, 2 HAVING sum(d.delta) <> 0
    ORDER BY 1, 2
    ON CONFLICT (mission_code, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER request_counts_follow AFTER INSERT OR DELETE OR UPDATE OF status, mission_code ON requests
    FOR EACH ROW EXECUTE FUNCTION request_counts_follow();
