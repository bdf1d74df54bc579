package staff

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openconsular/consular/internal/testenv"
)

// queueRows is how many requests the queue benchmark seeds: 200,000 by
// default (about half a minute to seed); the README's figures are with a
// million (-args -queue-rows 1000000).
var queueRows = flag.Int("queue-rows", 200_000, "requests BenchmarkList seeds into the projection")

// BenchmarkList times List, what GET /staff/ runs (a page of 50 and the
// counts per status), under every filter the page offers, on the busiest of
// 40 missions of unequal size, a quiet one and the admin's all-mission view.
// It needs the test stack:
//
//	go run ./deploy/launcher test -- go test -run '^$' -bench List ./api/staff/
func BenchmarkList(b *testing.B) {
	db, _ := testenv.Database(b)
	ctx := context.Background()
	busiest, quiet := seedQueue(b, ctx, db, *queueRows)
	var code, after string
	var at time.Time
	if err := db.QueryRow(ctx, `SELECT tracking_code FROM requests WHERE mission_code = $1 LIMIT 1`, busiest).Scan(&code); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT submitted_at, tracking_code FROM requests WHERE mission_code = $1
		ORDER BY submitted_at DESC, tracking_code DESC
		OFFSET LEAST(5000, (SELECT count(*) / 2 FROM requests WHERE mission_code = $1)) LIMIT 1`, busiest).Scan(&at, &after); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	cases := []struct {
		name    string
		mission *string
		filter  Filter
	}{
		{"first page", &busiest, Filter{}},
		{"status", &busiest, Filter{Status: "awaiting_appointment"}},
		{"service", &busiest, Filter{Service: "passport_renewal"}},
		{"status and service", &busiest, Filter{Status: "appointment_booked", Service: "passport_renewal"}},
		{"submitted in one month a year ago", &busiest, Filter{From: now.AddDate(0, -13, 0).Format(time.DateOnly), To: now.AddDate(0, -12, 0).Format(time.DateOnly)}},
		{"deadline within 7 days", &busiest, Filter{Within: 7}},
		{"sorted by deadline", &busiest, Filter{Sort: "deadline"}},
		{"sorted by applicant name", &busiest, Filter{Sort: "name"}},
		{"tracking code's first digits", &busiest, Filter{Prefix: code[:9]}},
		{"appointment tomorrow", &busiest, Filter{Day: now.AddDate(0, 0, 1).Format(time.DateOnly)}},
		{"tracking code", &busiest, Filter{Code: code}},
		{"deep page (row 5000 or half the mission)", &busiest, Filter{After: at.UTC().Format(time.RFC3339Nano) + "|" + after}},
		{"a quiet mission", &quiet, Filter{}},
		{"admin, every mission", nil, Filter{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := List(ctx, db, c.mission, c.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seedQueue fills the projection with n requests over two years at 40
// missions, the first far busier than the last (a few consulates hold most
// of the work); open statuses for requests under 90 days old, final ones
// before. It returns the busiest mission and a quiet one.
func seedQueue(b *testing.B, ctx context.Context, db *pgxpool.Pool, n int) (busiest, quiet string) {
	b.Helper()
	begin := time.Now()
	if _, err := db.Exec(ctx, `
		INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at, version)
		SELECT 'B' || lpad(i::text, 13, '0'), st, svc, m.codes[1 + floor(40 * power(r1, 2.5))::int], sub, sub + interval '90 days',
			CASE WHEN st = 'appointment_booked' THEN date_trunc('hour', now()) + ceil(r2 * 28) * interval '1 day' END, 1
		FROM (SELECT array_agg(code ORDER BY code) AS codes FROM (SELECT code FROM missions WHERE active ORDER BY code LIMIT 40) x) m,
			LATERAL (SELECT i, random() AS r1, random() AS r2, now() - random() * interval '730 days' AS sub FROM generate_series(1, $1) i) g,
			LATERAL (SELECT (ARRAY['passport_renewal', 'power_of_attorney', 'travel_document', 'apostille', 'birth_registration',
				'degree_verification', 'marriage_registration', 'personal_statistics', 'driving_licence_inquiry', 'nationality'])[1 + i % 10] AS svc,
				CASE WHEN sub > now() - interval '90 days'
					THEN (ARRAY['submitted', 'awaiting_appointment', 'appointment_booked', 'appointment_booked', 'attended'])[1 + i % 5]
					ELSE (ARRAY['approved', 'approved', 'completed', 'rejected', 'archived', 'withdrawn'])[1 + i % 6] END AS st) s`, n); err != nil {
		b.Fatalf("seed %d requests: %v", n, err)
	}
	if _, err := db.Exec(ctx, "VACUUM ANALYZE requests"); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT (array_agg(mission_code ORDER BY n DESC))[1], (array_agg(mission_code ORDER BY n))[1]
		FROM (SELECT mission_code, count(*) AS n FROM requests GROUP BY 1) c`).Scan(&busiest, &quiet); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d requests in %s", n, time.Since(begin).Round(time.Second))
	return busiest, quiet
}
