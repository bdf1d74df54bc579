package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/api/staff"
	"github.com/openconsular/consular/internal/consular"
)

// The staff queue at the scale of a few years of service: the projection
// holds queueRequests requests over queueMissions missions, and the queue's
// query, staff.List (a page of 50 and the counts per status, what GET /staff/
// runs), is timed under each filter the page offers, next to a primary-key
// lookup of one request through the same pool; then the queue and detail
// pages over HTTP, signed in as an officer, next to GET /healthz.
const (
	queueRequests = 1_000_000
	queueMissions = 40
	queueAimP99   = 20 * time.Millisecond
	// Requests of the officer's mission that also get the rows a detail page
	// reads (the submission, the applicant, documents, a receipt); the
	// detail measurement goes round them.
	queueDetailSample = 1000
	queueDeepRow      = 10_000 // the deep keyset page starts after this row of the officer's queue
	queueSpan         = 730 * 24 * time.Hour
	queueDeadline     = 90 * 24 * time.Hour
	queueOfficer      = "queue-officer@bench.example"
)

// queueReport is the queue part's figures.
type queueReport struct {
	seed       []queueStep
	seedTook   time.Duration
	mission    string // the officer's, the busiest
	missionN   int
	median     string // a mission of median size
	medianN    int
	base       result // one request by tracking code
	queries    []queueQuery
	floor      result       // GET /healthz
	pages      []queueQuery // over HTTP
	scaleSteps []queueStep  // the detail's other tables brought to scale
	explained  []queuePlan
	planCounts []string // custom and generic plans of the queue's statements on the explaining connection
}

type queueStep struct {
	what string
	took time.Duration
}

// queueQuery is one timed query or page.
type queueQuery struct {
	label        string
	rows         int // on the page, the last time
	res          result
	page, counts []time.Duration // List's two statements, each, sorted
}

type queuePlan struct {
	label, statement, plan string
}

// queueCase is one way of opening the queue.
type queueCase struct {
	label   string
	mission *string
	filter  func(i int) staff.Filter // i counts the calls, for filters that go round a list
}

// seededQueue is what the seeding leaves for the measurements.
type seededQueue struct {
	missions []string       // the officer's (the busiest) first, then by size
	counts   map[string]int // requests per mission
	sample   []sampleRequest
	day      string // tomorrow, for the appointment-day filter
}

// sampleRequest is a seeded request of the officer's mission.
type sampleRequest struct{ code, service string }

func measureQueue(ctx context.Context, rep *report, sys *system, timed func(int, op, func()) result) error {
	o := rep.opts
	q := &queueReport{}
	rep.queue = q
	progress("queue: seeding %d requests over %d missions into the projection", queueRequests, queueMissions)
	sd, err := seedQueue(ctx, sys.db, q)
	if err != nil {
		return fmt.Errorf("seed the queue: %w", err)
	}
	q.mission, q.missionN = sd.missions[0], sd.counts[sd.missions[0]]
	q.median = sd.missions[len(sd.missions)/2]
	q.medianN = sd.counts[q.median]
	progress("  seeded in %s; the officer's mission %s has %d requests", q.seedTook.Round(100*time.Millisecond), q.mission, q.missionN)

	cases, err := queueCases(ctx, sys.db, sd, q)
	if err != nil {
		return err
	}

	// A pool like the API's (database.Open's defaults) that also times
	// each statement, so a List call splits into its page and its counts.
	trace := &queryTrace{}
	cfg := sys.db.Config().Copy()
	cfg.ConnConfig.Tracer = trace
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	var next atomic.Int64
	progress("queue: baseline, one request by tracking code, %s", o.duration)
	q.base = timed(1, func(ctx context.Context) error {
		code := sd.sample[int(next.Add(1))%len(sd.sample)].code
		var r staff.Row
		return db.QueryRow(ctx, `SELECT tracking_code, status, service_code, mission_code, submitted_at, deadline_at, appointment_at
			FROM requests WHERE tracking_code = $1`, code).
			Scan(&r.TrackingCode, &r.Status, &r.ServiceCode, &r.MissionCode, &r.SubmittedAt, &r.DeadlineAt, &r.Appointment)
	}, nil)
	if q.base.ok == 0 {
		return fmt.Errorf("queue baseline: nothing succeeded: %v", q.base.firstErr)
	}
	for _, c := range cases {
		progress("queue: %s, %s", c.label, o.duration)
		var calls atomic.Int64
		var rows atomic.Int64
		trace.take()
		res := timed(1, func(ctx context.Context) error {
			list, _, err := staff.List(ctx, db, c.mission, c.filter(int(calls.Add(1))))
			rows.Store(int64(len(list)))
			return err
		}, nil)
		qq := queueQuery{label: c.label, rows: int(rows.Load()), res: res}
		// List runs the page's statement, then the counts'.
		var order []string
		times := map[string][]time.Duration{}
		for _, t := range trace.take() {
			if _, seen := times[t.sql]; !seen {
				order = append(order, t.sql)
			}
			times[t.sql] = append(times[t.sql], t.took)
		}
		if len(order) == 2 {
			qq.page, qq.counts = times[order[0]], times[order[1]]
			slices.Sort(qq.page)
			slices.Sort(qq.counts)
		}
		q.queries = append(q.queries, qq)
		progress("  p50 %s, p99 %s (page %s, counts %s), %d rows", ms(res.p50()), ms(res.p99()),
			ms(pct(qq.page, 0.99)), ms(pct(qq.counts, 0.99)), rows.Load())
	}

	if err := measureQueuePages(ctx, sys, sd, q, o.duration, timed); err != nil {
		return err
	}
	if o.explain {
		progress("queue: EXPLAIN (ANALYZE, BUFFERS) of every filter's statements")
		if err := explainQueue(ctx, sys.db, cases, sd.sample[0].code, q); err != nil {
			return fmt.Errorf("explain the queue: %w", err)
		}
	}
	return nil
}

// queueCases are the filters the queue page offers, on the officer's
// mission unless said otherwise.
func queueCases(ctx context.Context, db *pgxpool.Pool, sd *seededQueue, q *queueReport) ([]queueCase, error) {
	m, median := q.mission, q.median
	// The deep page: after the last row of page queueDeepRow/PageSize, as
	// the page's "next" link carries it.
	var at time.Time
	var code string
	if err := db.QueryRow(ctx, `SELECT submitted_at, tracking_code FROM requests WHERE mission_code = $1
		ORDER BY submitted_at DESC, tracking_code DESC OFFSET $2 LIMIT 1`, m, queueDeepRow-1).Scan(&at, &code); err != nil {
		return nil, fmt.Errorf("find the deep page's keyset: %w", err)
	}
	after := at.UTC().Format(time.RFC3339Nano) + "|" + code
	now := time.Now().UTC()
	from, to := now.AddDate(0, -13, 0).Format("2006-01-02"), now.AddDate(0, -12, 0).Format("2006-01-02")
	fixed := func(f staff.Filter) func(int) staff.Filter { return func(int) staff.Filter { return f } }
	return []queueCase{
		{"no filter, first page", &m, fixed(staff.Filter{})},
		{"status awaiting_appointment", &m, fixed(staff.Filter{Status: string(consular.StatusAwaitingAppointment)})},
		{"service passport_renewal", &m, fixed(staff.Filter{Service: "passport_renewal"})},
		{"status and service", &m, fixed(staff.Filter{Status: string(consular.StatusAppointmentBooked), Service: "passport_renewal"})},
		{"submitted in one month, a year ago", &m, fixed(staff.Filter{From: from, To: to})},
		{"deadline within 7 days", &m, fixed(staff.Filter{Within: 7})},
		{"appointment day " + sd.day, &m, fixed(staff.Filter{Day: sd.day})},
		{"tracking code (a different one each time)", &m, func(i int) staff.Filter {
			return staff.Filter{Code: sd.sample[i%len(sd.sample)].code}
		}},
		{fmt.Sprintf("deep page, after row %d", queueDeepRow), &m, fixed(staff.Filter{After: after})},
		{fmt.Sprintf("first page, a median mission (%s)", median), &median, fixed(staff.Filter{})},
		{"admin: every mission, first page", nil, fixed(staff.Filter{})},
	}, nil
}

// benchTrackingCode is the i-th seeded code: 13 digits from a bijection of
// [0, 10^13) (a multiplier prime to 10), so codes never repeat yet look
// random, and their Damm check digit.
func benchTrackingCode(i uint64) string {
	const space, mult, offset = 10_000_000_000_000, 3_141_592_653_589, 2_718_281_828_459
	var d [14]byte
	n := (i*mult + offset) % space
	for k := 12; k >= 0; k-- {
		d[k] = byte('0' + n%10)
		n /= 10
	}
	d[13] = consular.CheckDigit(string(d[:13]))
	s := string(d[:])
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:]
}

// weighted picks names with given weights.
type weighted struct {
	names []string
	cum   []float64
}

func newWeighted(names []string, weights []float64) weighted {
	w := weighted{names: names}
	var sum float64
	for _, x := range weights {
		sum += x
		w.cum = append(w.cum, sum)
	}
	return w
}

func (w weighted) pick(r *rand.Rand) string {
	i := sort.SearchFloat64s(w.cum, r.Float64()*w.cum[len(w.cum)-1])
	return w.names[min(i, len(w.names)-1)]
}

// Statuses by age: a request is over within its 90-day deadline, so the
// old ones are final and the open ones are recent.
var (
	queueNewStatus = newWeighted( // under 3 days old
		[]string{"submitted", "awaiting_appointment", "rejected_documents"}, []float64{50, 42, 8})
	queueOpenStatus = newWeighted( // 3 to 90 days old
		[]string{"awaiting_appointment", "appointment_booked", "attended", "approved", "rejected", "completed", "rejected_documents", "withdrawn"},
		[]float64{25, 30, 8, 20, 4, 5, 4, 4})
	queueOldStatus = newWeighted( // over 90 days old
		[]string{"approved", "completed", "rejected", "archived", "withdrawn", "rejected_documents"}, []float64{50, 20, 7, 10, 6, 7})
	queueServices = newWeighted(
		[]string{"passport_renewal", "power_of_attorney", "travel_document", "apostille", "birth_registration", "degree_verification",
			"marriage_registration", "personal_statistics", "driving_licence_inquiry", "nationality"},
		[]float64{25, 20, 12, 10, 8, 8, 6, 4, 4, 3})
	queueVersions = map[string]int32{"submitted": 1, "awaiting_appointment": 2, "rejected_documents": 2, "appointment_booked": 3,
		"attended": 4, "approved": 5, "rejected": 5, "completed": 6, "archived": 3, "withdrawn": 3}
)

// seedQueue fills the projection: queueRequests rows in submission order (as
// the table grows in production), submitted over two years, deadlines 90
// days on, missions of unequal size (weights 1/rank^0.7: the busiest holds
// about 14 %, as a few consulates hold most of the work), and for a sample
// of the officer's mission the rows a detail page reads. Every seeded row
// is bench data in the bench's own database, dropped with it; updated_at is
// the seeding time, so the retention purge never picks one.
func seedQueue(ctx context.Context, db *pgxpool.Pool, q *queueReport) (*seededQueue, error) {
	begin := time.Now()
	step := func(what string, since time.Time) {
		q.seed = append(q.seed, queueStep{what, time.Since(since)})
	}
	r := rand.New(rand.NewPCG(20, 26))
	rows, err := db.Query(ctx, `SELECT code FROM missions WHERE active ORDER BY code LIMIT $1`, queueMissions)
	if err != nil {
		return nil, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if len(codes) < queueMissions {
		return nil, fmt.Errorf("only %d active missions", len(codes))
	}
	r.Shuffle(len(codes), func(i, j int) { codes[i], codes[j] = codes[j], codes[i] })
	weights := make([]float64, len(codes))
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 0.7)
	}
	missions := newWeighted(codes, weights)

	// Codes of requests the earlier parts made, which a seeded code must not repeat.
	rows, err = db.Query(ctx, `SELECT tracking_code FROM requests`)
	if err != nil {
		return nil, err
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, c := range existing {
		taken[c] = true
	}

	sd := &seededQueue{counts: map[string]int{}}
	now := time.Now().UTC().Truncate(time.Second)
	start := now.Add(-queueSpan)
	busiest := codes[0]
	sampleP := float64(queueDetailSample) / (queueRequests * weights[0] / missions.cum[len(missions.cum)-1])
	slot := func(day time.Time) time.Time { // 07:00-12:30 UTC, half-hourly
		return day.Truncate(24 * time.Hour).Add(7*time.Hour + time.Duration(r.IntN(12))*30*time.Minute)
	}
	var i, seq uint64
	next := func() ([]any, error) {
		if i == queueRequests {
			return nil, nil
		}
		code := benchTrackingCode(seq)
		seq++
		for taken[code] {
			code = benchTrackingCode(seq)
			seq++
		}
		submitted := start.Add(time.Duration((float64(i) + r.Float64()) / queueRequests * float64(queueSpan)))
		i++
		age := now.Sub(submitted)
		var status string
		switch {
		case age < 3*24*time.Hour:
			status = queueNewStatus.pick(r)
		case age < queueDeadline:
			status = queueOpenStatus.pick(r)
		default:
			status = queueOldStatus.pick(r)
		}
		deadline := submitted.Add(queueDeadline)
		var appointment *time.Time
		switch status {
		case "appointment_booked":
			days := max(1, min(28, int(deadline.Sub(now).Hours()/24)))
			a := slot(now.Add(time.Duration(1+r.IntN(days)) * 24 * time.Hour))
			appointment = &a
		case "attended", "approved", "rejected", "completed":
			var a time.Time
			if age < queueDeadline {
				a = slot(submitted.Add(time.Duration((0.2 + 0.7*r.Float64()) * float64(age))))
			} else {
				a = slot(submitted.Add(time.Duration(7+r.IntN(70)) * 24 * time.Hour))
			}
			appointment = &a
		}
		mission, service := missions.pick(r), queueServices.pick(r)
		sd.counts[mission]++
		if mission == busiest && status != "attended" && r.Float64() < sampleP {
			// Not attended: the detail page would ask that request's
			// workflow for a proposed decision, and seeded rows have none.
			sd.sample = append(sd.sample, sampleRequest{code: code, service: service})
		}
		return []any{code, status, service, mission, submitted, deadline, appointment, queueVersions[status]}, nil
	}
	var n int64
	if err := bulkLoad(ctx, db, "requests", q, func(conn *pgxpool.Conn) error {
		var err error
		n, err = conn.CopyFrom(ctx, pgx.Identifier{"requests"},
			[]string{"tracking_code", "status", "service_code", "mission_code", "submitted_at", "deadline_at", "appointment_at", "version"},
			pgx.CopyFromFunc(next))
		return err
	}); err != nil {
		return nil, fmt.Errorf("copy requests: %w", err)
	}
	if n != queueRequests {
		return nil, fmt.Errorf("copied %d requests, want %d", n, queueRequests)
	}
	if len(sd.sample) == 0 {
		return nil, errors.New("no request of the busiest mission was sampled")
	}
	for _, s := range sd.sample[:min(20, len(sd.sample))] {
		if c, err := consular.ParseTrackingCode(s.code); err != nil || string(c) != s.code {
			return nil, fmt.Errorf("seeded tracking code %s does not parse: %v", s.code, err)
		}
	}

	detailBegin := time.Now()
	if err := seedDetails(ctx, db, sd.sample); err != nil {
		return nil, err
	}
	step(fmt.Sprintf("submissions, applicants, documents, receipts of %d requests", len(sd.sample)), detailBegin)

	// The load ran with triggers off: count the requests per status once, as
	// the trigger would have, for the queue's counts.
	countsBegin := time.Now()
	if _, err := db.Exec(ctx, `DELETE FROM request_counts;
		INSERT INTO request_counts SELECT mission_code, service_code, status, count(*) FROM requests GROUP BY 1, 2, 3`); err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	step("counts per mission and status", countsBegin)

	vacuumBegin := time.Now()
	for _, t := range []string{"requests", "request_counts", "submissions", "request_applicants", "request_documents", "sent_mail"} {
		if _, err := db.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			return nil, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	step("VACUUM ANALYZE", vacuumBegin)
	q.seedTook = time.Since(begin)

	// The officer's mission is the one sampled, the largest by weight;
	// the others by their drawn size.
	sd.missions = append([]string{busiest}, codes[1:]...)
	sort.SliceStable(sd.missions[1:], func(a, b int) bool { return sd.counts[sd.missions[1+a]] > sd.counts[sd.missions[1+b]] })
	sd.day = now.Add(24 * time.Hour).Format("2006-01-02")
	return sd, nil
}

// seedDetails gives sampled requests what a submission leaves besides the
// projection: the submission, the applicant's details, the documents' rows
// (objects that are never read: the page only signs links to them) and the
// receipt's mail record.
func seedDetails(ctx context.Context, db *pgxpool.Pool, sample []sampleRequest) error {
	codes := make([]string, len(sample))
	for i, s := range sample {
		codes[i] = s.code
	}
	if _, err := db.Exec(ctx, `INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at)
		SELECT 'bench-queue-' || tracking_code, tracking_code, service_code, mission_code, submitted_at FROM requests WHERE tracking_code = ANY($1)`, codes); err != nil {
		return fmt.Errorf("seed submissions: %w", err)
	}
	var applicants, documents [][]any
	for i, s := range sample {
		lang := []string{"fa", "en"}[i%2]
		identity := map[string]string{"first_name_fa": "سارا", "last_name_fa": "احمدی", "first_name_en": "Sara", "last_name_en": "Ahmadi",
			"father_name": "علی", "birth_date": "1988-04-12", "birth_place": "تهران", "gender": "female", "birth_certificate_number": "1234"}
		residence := map[string]string{"country": "TR", "city": "Istanbul", "address": "Bench street 1", "residence_type": "permanent",
			"residence_since": "2015", "phone": "+90 212 000 0000", "occupation": "engineer", "education": "master"}
		form := map[string]string{}
		svc, ok := consular.ServiceByCode(s.service)
		if !ok {
			return fmt.Errorf("no service %q", s.service)
		}
		for _, f := range svc.Fields {
			form[f.Name] = "bench " + f.Name
		}
		applicants = append(applicants, []any{s.code, nationalID(), fmt.Sprintf("applicant-%d@bench.example", i), "Sara Ahmadi", lang,
			identity, residence, form})
		for _, d := range svc.Documents {
			sum := sha256.Sum256([]byte(s.code + d.Kind))
			documents = append(documents, []any{s.code, d.Kind, s.code + "/" + d.Kind + ".jpg", d.Kind + ".jpg", "jpeg", int32(200_000), hex.EncodeToString(sum[:])})
		}
	}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{"request_applicants"},
		[]string{"tracking_code", "national_id", "email", "full_name", "language", "identity", "residence", "form"}, pgx.CopyFromRows(applicants)); err != nil {
		return fmt.Errorf("seed applicants: %w", err)
	}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{"request_documents"},
		[]string{"tracking_code", "kind", "object_key", "file_name", "format", "size_bytes", "sha256"}, pgx.CopyFromRows(documents)); err != nil {
		return fmt.Errorf("seed documents: %w", err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO sent_mail (tracking_code, kind, message_id, sent_at)
		SELECT tracking_code, 'receipt', 'bench-' || tracking_code, submitted_at + interval '2 minutes' FROM requests WHERE tracking_code = ANY($1)`, codes); err != nil {
		return fmt.Errorf("seed receipts: %w", err)
	}
	return nil
}

// seedDetailScale gives the other tables a detail page reads their size
// beside a million requests: an appointment for every request that has one,
// and one audit line (a view) per request, where production would have
// several.
func seedDetailScale(ctx context.Context, db *pgxpool.Pool, q *queueReport) error {
	before := len(q.seed)
	for _, s := range []struct{ table, sql string }{
		{"appointments", `INSERT INTO appointments (tracking_code, mission_code, starts_at, ends_at, status, created_at, updated_at)
			SELECT r.tracking_code, r.mission_code, r.appointment_at, r.appointment_at + interval '30 minutes', 'booked',
			       r.submitted_at + interval '1 day', r.submitted_at + interval '1 day'
			FROM requests r WHERE r.appointment_at IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.tracking_code = r.tracking_code AND a.status = 'booked')`},
		{"audit_log", `INSERT INTO audit_log (at, staff_email, role, mission_code, action, tracking_code, source_ip, outcome)
			SELECT submitted_at + interval '3 days', 'seeded-officer@bench.example', 'officer', mission_code, 'view', tracking_code, '127.0.0.1', 'ok'
			FROM requests`},
	} {
		if err := bulkLoad(ctx, db, s.table, q, func(conn *pgxpool.Conn) error {
			_, err := conn.Exec(ctx, s.sql)
			return err
		}); err != nil {
			return fmt.Errorf("seed %s: %w", s.table, err)
		}
	}
	begin := time.Now()
	for _, t := range []string{"appointments", "audit_log"} {
		if _, err := db.Exec(ctx, "VACUUM ANALYZE "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	q.seed = append(q.seed, queueStep{"VACUUM ANALYZE", time.Since(begin)})
	// These steps are reported with the HTTP figures they precede.
	q.scaleSteps, q.seed = append(q.scaleSteps, q.seed[before:]...), q.seed[:before]
	return nil
}

// bulkLoad runs load on one connection with the table's secondary indexes
// dropped, and rebuilds them after from their own definitions (building an
// index is much faster than maintaining it row by row), with foreign-key
// triggers off for the load (seeded rows name missions from their table).
// The primary key stays. Its steps' times go into the report.
func bulkLoad(ctx context.Context, db *pgxpool.Pool, table string, q *queueReport, load func(*pgxpool.Conn) error) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = $1
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.conrelid = $1::regclass)
		ORDER BY i.indexname`, table)
	if err != nil {
		return err
	}
	type index struct{ name, def string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var i index
		return i, r.Scan(&i.name, &i.def)
	})
	if err != nil {
		return err
	}
	for _, i := range indexes {
		if _, err := conn.Exec(ctx, "DROP INDEX "+pgx.Identifier{i.name}.Sanitize()); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return err
	}
	begin := time.Now()
	err = load(conn)
	if _, resetErr := conn.Exec(context.WithoutCancel(ctx), "RESET session_replication_role"); resetErr != nil && err == nil {
		err = resetErr
	}
	if err != nil {
		return err
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return err
	}
	q.seed = append(q.seed, queueStep{fmt.Sprintf("load %s (now %d rows), primary key kept", table, n), time.Since(begin)})
	begin = time.Now()
	if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '256MB'"); err != nil {
		return err
	}
	for _, i := range indexes {
		if _, err := conn.Exec(ctx, i.def); err != nil {
			return fmt.Errorf("rebuild %s: %w", i.name, err)
		}
	}
	if _, err := conn.Exec(ctx, "RESET maintenance_work_mem"); err != nil {
		return err
	}
	q.seed = append(q.seed, queueStep{fmt.Sprintf("rebuild %d indexes of %s", len(indexes), table), time.Since(begin)})
	return nil
}

// staffBrowser is a signed-in staff member's browser: its session cookie,
// no redirects followed.
type staffBrowser struct {
	base   string
	http   *http.Client
	mu     sync.Mutex
	cookie string
	// csrfSeed is the cookie behind the sign-in form's token: a visitor
	// has no session row until signed in.
	csrfSeed string
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *staffBrowser) call(ctx context.Context, method, path string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	b.mu.Lock()
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "consular_staff", Value: b.cookie})
	}
	if b.csrfSeed != "" {
		req.AddCookie(&http.Cookie{Name: "consular_staff_csrf", Value: b.csrfSeed})
	}
	b.mu.Unlock()
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	for _, c := range resp.Cookies() {
		b.mu.Lock()
		switch {
		case c.Name == "consular_staff" && c.Value != "":
			b.cookie = c.Value
		case c.Name == "consular_staff_csrf" && c.Value != "":
			b.csrfSeed = c.Value
		}
		b.mu.Unlock()
	}
	return resp.StatusCode, string(page), nil
}

// get expects a 200 page.
func (b *staffBrowser) get(ctx context.Context, path string) (string, error) {
	status, page, err := b.call(ctx, http.MethodGet, path, nil)
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("GET %s: %d, want 200: %.300s", path, status, page)
	}
	return page, err
}

// signInOfficer adds an officer of the mission with a known password and
// TOTP secret (as `api staff add` stores them) and signs in through the
// form, once: a failure is reported, never retried, so the lockout after
// five failures cannot bite.
func signInOfficer(ctx context.Context, sys *system, mission string) (*staffBrowser, error) {
	password := "bench-" + sys.runID
	hash, err := argon2id.CreateHash(password, argon2id.DefaultParams)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Consular services", AccountName: queueOfficer})
	if err != nil {
		return nil, err
	}
	if _, err := sys.db.Exec(ctx, `INSERT INTO staff (email, role, mission_code, password_hash, totp_secret) VALUES ($1, $2, $3, $4, $5)`,
		queueOfficer, staff.Officer, mission, hash, key.Secret()); err != nil {
		return nil, fmt.Errorf("add the officer: %w", err)
	}
	client := newHTTPClient()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	b := &staffBrowser{base: sys.url, http: client}
	form, err := b.get(ctx, "/staff/signin")
	if err != nil {
		return nil, err
	}
	m := csrfField.FindStringSubmatch(form)
	if m == nil {
		return nil, errors.New("GET /staff/signin: no CSRF token in the form")
	}
	code, err := totp.GenerateCode(key.Secret(), time.Now())
	if err != nil {
		return nil, err
	}
	status, page, err := b.call(ctx, http.MethodPost, "/staff/signin",
		url.Values{"_csrf": {m[1]}, "email": {queueOfficer}, "password": {password}, "totp": {code}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /staff/signin: %d, want 303: %.500s", status, page)
	}
	return b, nil
}

// measureQueuePages times the queue and detail pages over HTTP as an
// officer of the busiest mission, next to GET /healthz; then the detail page
// again once the tables it reads beside the request hold a million
// requests' worth of rows.
func measureQueuePages(ctx context.Context, sys *system, sd *seededQueue, q *queueReport, d time.Duration,
	timed func(int, op, func()) result) error {
	progress("queue: signing in as an officer of %s", q.mission)
	b, err := signInOfficer(ctx, sys, q.mission)
	if err != nil {
		return err
	}
	rowLink := regexp.MustCompile(`href="/staff/requests/`)
	page, err := b.get(ctx, "/staff/")
	if err != nil {
		return err
	}
	if n := len(rowLink.FindAllStringIndex(page, -1)); n != staff.PageSize {
		return fmt.Errorf("GET /staff/: %d requests listed, want %d", n, staff.PageSize)
	}
	first := sd.sample[0]
	page, err = b.get(ctx, "/staff/requests/"+first.code)
	if err != nil {
		return err
	}
	if !strings.Contains(page, first.code) || !strings.Contains(page, "X-Amz-Signature") {
		return fmt.Errorf("GET /staff/requests/%s: the page lacks the request or its document links", first.code)
	}

	q.floor = timed(1, sys.healthz, nil)
	pageOp := func(path func(int) string, rows *atomic.Int64) op {
		var calls atomic.Int64
		return func(ctx context.Context) error {
			page, err := b.get(ctx, path(int(calls.Add(1))))
			if rows != nil {
				rows.Store(int64(len(rowLink.FindAllStringIndex(page, -1))))
			}
			return err
		}
	}
	pages := []struct {
		label string
		path  func(int) string
		list  bool
	}{
		{"GET /staff/ (queue, first page)", func(int) string { return "/staff/" }, true},
		{"GET /staff/?status=awaiting_appointment", func(int) string { return "/staff/?status=awaiting_appointment" }, true},
		{"GET /staff/requests/:code (detail)", func(i int) string { return "/staff/requests/" + sd.sample[i%len(sd.sample)].code }, false},
	}
	run := func(label string, path func(int) string, list bool) {
		progress("queue: %s, %s", label, d)
		var rows atomic.Int64
		var counter *atomic.Int64
		if list {
			counter = &rows
		}
		res := timed(1, pageOp(path, counter), nil)
		q.pages = append(q.pages, queueQuery{label: label, rows: int(rows.Load()), res: res})
		progress("  p50 %s, p99 %s", ms(res.p50()), ms(res.p99()))
	}
	for _, p := range pages {
		run(p.label, p.path, p.list)
	}
	progress("queue: appointments and audit log at the scale of the requests")
	if err := seedDetailScale(ctx, sys.db, q); err != nil {
		return err
	}
	run("GET /staff/requests/:code, tables at scale", pages[2].path, false)
	return nil
}

// queryTrace records the statements a pool ran, their arguments and how
// long each took (until its rows were read), so the bench times and
// explains exactly what staff.List runs without copying its SQL.
type queryTrace struct {
	mu  sync.Mutex
	log []tracedQuery
}

type tracedQuery struct {
	sql   string
	args  []any
	begin time.Time
	took  time.Duration
}

type traceKey struct{}

func (t *queryTrace) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, tracedQuery{sql: d.SQL, args: d.Args, begin: time.Now()})
}

func (t *queryTrace) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	q, ok := ctx.Value(traceKey{}).(tracedQuery)
	if !ok {
		return
	}
	q.took = time.Since(q.begin)
	t.mu.Lock()
	t.log = append(t.log, q)
	t.mu.Unlock()
}

func (t *queryTrace) take() []tracedQuery {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.log
	t.log = nil
	return l
}

// explainQueue runs each case through staff.List on a pool of one
// connection, as often as a long-lived API connection has (so PostgreSQL
// has chosen between custom and generic plans), then explains pgx's
// prepared statements with the same arguments: EXPLAIN EXECUTE shows the
// plan that connection really uses.
func explainQueue(ctx context.Context, db *pgxpool.Pool, cases []queueCase, detailCode string, q *queueReport) error {
	cfg := db.Config().Copy()
	cfg.MaxConns, cfg.MinConns = 1, 0
	trace := &queryTrace{}
	cfg.ConnConfig.Tracer = trace
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	statements := map[string]string{} // SQL -> prepared statement's name
	countsShown := map[string]bool{}
	for _, c := range cases {
		f := c.filter(0)
		for range 8 {
			if _, _, err := staff.List(ctx, pool, c.mission, f); err != nil {
				return err
			}
		}
		trace.take()
		if _, _, err := staff.List(ctx, pool, c.mission, f); err != nil {
			return err
		}
		for k, t := range trace.take() {
			scope := "every mission"
			if c.mission != nil {
				scope = *c.mission
			}
			what := "page query"
			if k > 0 {
				what = "counts per status, " + scope
				if countsShown[scope] {
					continue
				}
				countsShown[scope] = true
			}
			name, ok := statements[t.sql]
			if !ok {
				if err := pool.QueryRow(ctx, `SELECT name FROM pg_prepared_statements WHERE statement = $1`, t.sql).Scan(&name); err != nil {
					return fmt.Errorf("find the prepared statement of %.60q: %w", t.sql, err)
				}
				statements[t.sql] = name
			}
			marks := make([]string, len(t.args))
			for i := range marks {
				marks[i] = fmt.Sprintf("$%d", i+1)
			}
			args := append([]any{pgx.QueryExecModeSimpleProtocol}, t.args...)
			rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) EXECUTE "+pgx.Identifier{name}.Sanitize()+"("+strings.Join(marks, ", ")+")", args...)
			if err != nil {
				return err
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("explain %s: %w", c.label, err)
			}
			q.explained = append(q.explained, queuePlan{label: c.label, statement: what, plan: strings.Join(lines, "\n")})
		}
	}
	// The detail page's reads beside the request, as api/staff/detail.go
	// runs them (copied here: they are not exported), now that their tables
	// hold a million requests' worth of rows.
	for _, d := range []struct{ what, sql string }{
		{"documents", `SELECT kind, object_key, file_name, size_bytes FROM request_documents WHERE tracking_code = $1 ORDER BY kind`},
		{"timeline: emails", `SELECT sent_at, 'email: ' || split_part(kind, ':', 1) FROM sent_mail WHERE tracking_code = $1`},
		{"timeline: appointments", `SELECT created_at, 'appointment ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC: ' || status FROM appointments WHERE tracking_code = $1`},
		{"timeline: audit log", `SELECT at, action || ' by ' || staff_email || ' (' || outcome || ')' || CASE WHEN detail <> '' THEN ': ' || detail ELSE '' END FROM audit_log WHERE tracking_code = $1`},
	} {
		rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+d.sql, detailCode)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("explain the detail's %s: %w", d.what, err)
		}
		q.explained = append(q.explained, queuePlan{label: "detail page", statement: d.what, plan: strings.Join(lines, "\n")})
	}

	rows, err := pool.Query(ctx, `SELECT statement, custom_plans, generic_plans FROM pg_prepared_statements WHERE name = ANY($1) ORDER BY name`,
		mapValues(statements))
	if err != nil {
		return err
	}
	for rows.Next() {
		var sql string
		var custom, generic int64
		if err := rows.Scan(&sql, &custom, &generic); err != nil {
			rows.Close()
			return err
		}
		first := strings.Join(strings.Fields(sql), " ")
		q.planCounts = append(q.planCounts, fmt.Sprintf("%d custom, %d generic plans: %.70s...", custom, generic, first))
	}
	return rows.Err()
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// printQueue writes the queue part's tables.
func (r *report) printQueue(w io.Writer) {
	q := r.queue
	if q == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\nStaff queue: %d requests in the projection over %d missions, seeded in %.1f s\n", queueRequests, queueMissions, q.seedTook.Seconds())
	for _, s := range q.seed {
		p("  %-66s %6.1f s\n", s.what, s.took.Seconds())
	}
	p("  the officer's mission %s: %d requests (the busiest); a median mission, %s: %d\n", q.mission, q.missionN, q.median, q.medianN)

	header := func(title string, split bool) {
		p("\n%-52s %6s %7s %8s %8s %7s %7s %6s  %-14s", title, "rows", "calls", "p50 ms", "p99 ms", "p50 x", "p99 x", "other", "p99 < "+ms(queueAimP99))
		if split {
			p(" %17s %17s", "page p50/p99", "counts p50/p99")
		}
		p("\n")
	}
	line := func(label string, rows int, res, base result, verdict bool, split ...[]time.Duration) {
		secs := res.elapsed.Seconds()
		other := 0.0
		if secs > 0 {
			other = res.cpu.other() / secs
		}
		v := ""
		if verdict {
			v = "PASS"
			if res.p99() >= queueAimP99 || res.failed > 0 || res.ok == 0 {
				v = "MISS"
			}
		}
		rs := ""
		if rows >= 0 {
			rs = fmt.Sprint(rows)
		}
		p("%-52s %6s %7d %8.2f %8.2f %7.1f %7.1f %6.2f  %-14s", label, rs, res.ok, msf(res.p50()), msf(res.p99()),
			float64(res.p50())/float64(max(1, base.p50())), float64(res.p99())/float64(max(1, base.p99())), other, v)
		for _, d := range split {
			p(" %8.2f/%8.2f", msf(pct(d, 0.5)), msf(pct(d, 0.99)))
		}
		p("\n")
		if res.failed > 0 {
			p("  %d failed, first: %v\n", res.failed, res.firstErr)
		}
	}
	header("staff.List: a page of 50 and the counts, 1 client", true)
	line("B  one request by tracking code (baseline)", 1, q.base, q.base, false)
	for _, s := range q.queries {
		line("   "+s.label, s.rows, s.res, q.base, true, s.page, s.counts)
	}
	if len(q.pages) > 0 {
		header("over HTTP, signed in as an officer, 1 client", false)
		line("F  GET /healthz (baseline)", -1, q.floor, q.floor, false)
		for _, s := range q.pages {
			rows := -1
			if strings.HasPrefix(s.label, "GET /staff/ ") || strings.HasPrefix(s.label, "GET /staff/?") {
				rows = s.rows
			}
			line("   "+s.label, rows, s.res, q.floor, true)
		}
		p("  x: p50 and p99 as multiples of the baseline's; other: cores of other work on the machine while measured\n")
		for _, s := range q.scaleSteps {
			p("  tables at scale: %-48s %6.1f s\n", s.what, s.took.Seconds())
		}
	}
	if len(q.explained) > 0 {
		p("\nEXPLAIN (ANALYZE, BUFFERS) EXECUTE of staff.List's prepared statements, after 8 runs on one connection\n")
		for _, e := range q.explained {
			p("\n-- %s: %s\n", e.label, e.statement)
			for _, l := range strings.Split(e.plan, "\n") {
				p("   %s\n", l)
			}
		}
		p("\nplans PostgreSQL chose on that connection:\n")
		for _, c := range q.planCounts {
			p("  %s\n", c)
		}
	}
}
