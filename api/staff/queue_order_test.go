package staff

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openconsular/consular/internal/testenv"
)

// The queue sorted by applicant name or by appointment (either direction)
// within a mission walks an index in the sort's order and stops after a
// page: no Sort of the mission's requests (26 ms and 35 ms on the busiest
// mission of 200,000 requests before migration 00024, 5 ms with an index).
func TestQueueSortsByNameAndAppointmentAlongAnIndex(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	// 40,000 requests at two missions, a fifth of them booked, each with
	// an applicant: enough that the planner prefers an index to a sort.
	for _, q := range []string{
		`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at)
		 SELECT 'Q' || i, 'Q' || lpad(i::text, 13, '0'), 'apostille', (ARRAY['AT-VIE', 'FR-PAR'])[1 + i % 2], now() FROM generate_series(1, 40000) i`,
		`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language)
		 SELECT tracking_code, '0013542419', 'a@example.org', md5(tracking_code), 'fa' FROM submissions WHERE tracking_code LIKE 'Q%'`,
		`INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at, version)
		 SELECT tracking_code, 'appointment_booked', service_code, mission_code, submitted_at, submitted_at + interval '90 days',
		        CASE WHEN random() < 0.2 THEN now() + random() * interval '30 days' END, 1
		 FROM submissions WHERE tracking_code LIKE 'Q%'`,
		`ANALYZE requests`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	mission := "AT-VIE"
	for key, index := range map[string]string{"name": "requests_mission_name_code", "-name": "requests_mission_name_code",
		"appointment": "requests_mission_appointment_none_last", "-appointment": "requests_mission_appointment_none_first"} {
		var plan json.RawMessage
		if err := db.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+queueSQL[key], &mission, "", "", "", nil, nil, 0, nil, "", PageSize, nil, "").Scan(&plan); err != nil {
			t.Fatalf("%s: explain: %v", key, err)
		}
		text := string(plan)
		if !strings.Contains(text, `"Index Name": "`+index+`"`) || strings.Contains(text, `"Node Type": "Sort"`) || strings.Contains(text, `"Incremental Sort"`) {
			t.Errorf("sorted by %s, the queue does not walk %s:\n%s", key, index, text)
		}
	}
}
