package workflows

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"go.temporal.io/sdk/testsuite"

	"github.com/openconsular/consular/activities"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/storage"
	"github.com/openconsular/consular/internal/testenv"
)

// A year after an archived request ended, the purge leaves no document and no
// personal field of it; the open request beside it is untouched. Then it
// deletes a document left under a tracking code no submission owns, and
// nothing else. The purge runs with the real activities on PostgreSQL and
// MinIO (a bucket of its own: to the sweep, every object is a day old), its
// clock a year ahead.
func TestPurgeRemovesDocumentsAndPersonalDataOfOldFinishedRequests(t *testing.T) {
	ctx := context.Background()
	r := newRetention(t, "purge")
	db, objects, bucket := r.DB, r.Objects, r.DocumentsBucket
	now := time.Now().UTC()
	codes := map[string]string{}
	for _, status := range []string{"archived", "awaiting_appointment"} {
		c, _ := consular.NewTrackingCode()
		code := string(c)
		codes[status] = code
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO submissions (idempotency_key, tracking_code, service_code, mission_code, submitted_at) VALUES ($1, $1, 'apostille', 'AT-VIE', $2)`, []any{code, now}},
			{`INSERT INTO request_applicants (tracking_code, national_id, email, full_name, language) VALUES ($1, '0013542419', 'a@example.org', 'Sara Ahmadi', 'fa')`, []any{code}},
			{`INSERT INTO request_documents (tracking_code, kind, object_key, file_name, format, size_bytes, sha256) VALUES ($1, 'document', $1 || '/document.jpg', 'd.jpg', 'jpeg', 3, 'x')`, []any{code}},
			{`INSERT INTO request_corrections (tracking_code, update_id, field, old_value, new_value, reason, staff_id) VALUES ($1, 'u', 'residence.city', 'Wien', 'Graz', 'moved', 7)`, []any{code}},
		} {
			if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(ctx, `INSERT INTO requests (tracking_code, status, service_code, mission_code, submitted_at, deadline_at, version, updated_at)
			VALUES ($1, $2, 'apostille', 'AT-VIE', $3, $3, 1, $3)`, code, status, now); err != nil {
			t.Fatal(err)
		}
		if _, err := objects.PutObject(ctx, bucket, code+"/document.jpg", bytes.NewReader([]byte("jpg")), 3, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	orphan, _ := consular.NewTrackingCode() // an upload cut off: objects, no submission
	kept := []string{
		codes["awaiting_appointment"] + "/passport.jpg", // a request's
		"uploads/7/draft-1/passport.jpg",                // a draft's
		"not-a-code/x.jpg",
	}
	for _, key := range append([]string{string(orphan) + "/passport.jpg", string(orphan) + "/photo.jpg"}, kept...) {
		if _, err := objects.PutObject(ctx, bucket, key, bytes.NewReader([]byte("jpg")), 3, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(now.Add(366 * 24 * time.Hour))
	env.RegisterActivity(r)
	env.ExecuteWorkflow(Purge, PurgeInput{Retention: 365 * 24 * time.Hour, BatchSize: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res PurgeResult
	_ = env.GetWorkflowResult(&res)
	if res.Requests < 1 || res.Documents < 1 || res.Orphans != 2 {
		t.Fatalf("purged %+v, want the archived request and its document, and 2 orphans", res)
	}
	for _, key := range []string{string(orphan) + "/passport.jpg", string(orphan) + "/photo.jpg"} {
		if _, err := objects.StatObject(ctx, bucket, key, minio.StatObjectOptions{}); err == nil {
			t.Errorf("orphaned %s is still there", key)
		}
	}
	for _, key := range kept {
		if _, err := objects.StatObject(ctx, bucket, key, minio.StatObjectOptions{}); err != nil {
			t.Errorf("the sweep deleted %s: %v", key, err)
		}
	}
	for status, code := range codes {
		var people, docs, corrections int
		_ = db.QueryRow(ctx, "SELECT count(*) FROM request_applicants WHERE tracking_code = $1", code).Scan(&people)
		_ = db.QueryRow(ctx, "SELECT count(*) FROM request_corrections WHERE tracking_code = $1", code).Scan(&corrections)
		_ = db.QueryRow(ctx, "SELECT count(*) FROM request_documents WHERE tracking_code = $1", code).Scan(&docs)
		_, statErr := objects.StatObject(ctx, bucket, code+"/document.jpg", minio.StatObjectOptions{})
		var kept string
		_ = db.QueryRow(ctx, "SELECT status FROM requests WHERE tracking_code = $1", code).Scan(&kept)
		if status == "archived" {
			if people != 0 || docs != 0 || corrections != 0 || statErr == nil || kept != "archived" {
				t.Errorf("archived request after purge: %d applicant rows, %d document rows, %d corrections (old and new values), object err %v, projection %q",
					people, docs, corrections, statErr, kept)
			}
		} else if people != 1 || docs != 1 || corrections != 1 || statErr != nil {
			t.Errorf("the open request lost data: %d applicant rows, %d document rows, %d corrections, object err %v", people, docs, corrections, statErr)
		}
	}
}

// The sweep deletes only what is older than its cut-off (an upload whose
// submission is still being saved is new), and at most its limit per run.
func TestSweepSparesRecentUploadsAndStopsAtItsLimit(t *testing.T) {
	ctx := context.Background()
	r := newRetention(t, "sweep")
	objects, bucket := r.Objects, r.DocumentsBucket
	var keys []string
	for range 3 {
		code, _ := consular.NewTrackingCode()
		key := string(code) + "/passport.jpg"
		keys = append(keys, key)
		if _, err := objects.PutObject(ctx, bucket, key, bytes.NewReader([]byte("jpg")), 3, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	left := func() int {
		n := 0
		for _, key := range keys {
			if _, err := objects.StatObject(ctx, bucket, key, minio.StatObjectOptions{}); err == nil {
				n++
			}
		}
		return n
	}
	sweep := func(in activities.OrphansInput) int { return count(t, r, retention.SweepOrphans, in) }
	if n := sweep(activities.OrphansInput{Before: time.Now().Add(-24 * time.Hour)}); n != 0 || left() != 3 {
		t.Fatalf("uploads of a moment ago: %d deleted, %d of 3 left; want none deleted", n, left())
	}
	if n := sweep(activities.OrphansInput{Before: time.Now().Add(time.Hour), Limit: 2}); n != 2 || left() != 1 {
		t.Fatalf("limit 2: %d deleted, %d of 3 left", n, left())
	}
}

// A draft never submitted and untouched for longer than it is kept goes,
// with the documents uploaded to it; a draft touched since (a field or an
// upload), a submitted one and the applicant's profile documents stay.
func TestExpireDraftsDeletesOnlyAbandonedOnes(t *testing.T) {
	ctx := context.Background()
	r := newRetention(t, "drafts")
	db, objects, bucket := r.DB, r.Objects, r.DocumentsBucket
	var account int64
	if err := db.QueryRow(ctx, `INSERT INTO accounts (email, national_id) VALUES ('drafts@example.org', '0013542419') RETURNING id`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	draft := func(service string, touched, uploaded time.Time, code *string) string {
		t.Helper()
		var id string
		if err := db.QueryRow(ctx, `INSERT INTO request_drafts (id, account_id, service_code, tracking_code, updated_at)
			VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING id::text`, account, service, code, touched).Scan(&id); err != nil {
			t.Fatal(err)
		}
		upload(t, db, objects, bucket, account, id, uploaded)
		return id
	}
	submitted := "4821-7730-9152-06"
	abandoned := draft("apostille", old, old, nil)
	fieldsTouched := draft("passport_renewal", time.Now(), old, nil)
	uploadTouched := draft("driving_licence_inquiry", old, time.Now(), nil)
	sent := draft("nationality", old, old, &submitted)
	upload(t, db, objects, bucket, account, "profile", old)

	if n := count(t, r, retention.ExpireDrafts, activities.DraftsInput{Before: time.Now().Add(-30 * 24 * time.Hour)}); n != 1 {
		t.Fatalf("expired %d drafts, want the abandoned one", n)
	}
	for owner, want := range map[string]bool{abandoned: false, fieldsTouched: true, uploadTouched: true, sent: true, "profile": true} {
		var rows int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM uploads WHERE account_id = $1 AND owner = $2`, account, owner).Scan(&rows)
		_, statErr := objects.StatObject(ctx, bucket, uploadKey(account, owner), minio.StatObjectOptions{})
		if kept := rows == 1 && statErr == nil; kept != want {
			t.Errorf("%s: upload row %d, object %v; want kept %v", owner, rows, statErr, want)
		}
		if owner == "profile" {
			continue
		}
		var drafts int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM request_drafts WHERE id::text = $1`, owner).Scan(&drafts)
		if (drafts == 1) != want {
			t.Errorf("draft %s: %d rows, want kept %v", owner, drafts, want)
		}
	}
}

func uploadKey(account int64, owner string) string {
	return fmt.Sprintf("uploads/%d/%s/passport.jpg", account, owner)
}

// upload stores a document of the account's, as the portal does, at the time given.
func upload(t *testing.T, db *pgxpool.Pool, objects *minio.Client, bucket string, account int64, owner string, at time.Time) {
	t.Helper()
	key := uploadKey(account, owner)
	if _, err := objects.PutObject(context.Background(), bucket, key, bytes.NewReader([]byte("jpg")), 3, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), `INSERT INTO uploads (account_id, owner, kind, object_key, file_name, format, size_bytes, sha256, uploaded_at)
		VALUES ($1, $2, 'passport', $3, 'p.jpg', 'jpeg', 3, 'x', $4)`, account, owner, key, at); err != nil {
		t.Fatal(err)
	}
}

// newRetention is the retention activities on the test's own database and
// a documents bucket of their own (to a sweep, any other test's object
// would be fair game).
func newRetention(t *testing.T, name string) *activities.Retention {
	t.Helper()
	db, _ := testenv.Database(t)
	objects := testenv.Storage(t)
	bucket := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	if err := storage.EnsureBuckets(context.Background(), objects, bucket); err != nil {
		t.Fatal(err)
	}
	return &activities.Retention{DB: db, Objects: objects, DocumentsBucket: bucket}
}

// count runs one of r's activities that returns a count, as a worker would.
func count[In any](t *testing.T, r *activities.Retention, activity func(context.Context, In) (int, error), in In) int {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(r)
	v, err := env.ExecuteActivity(activity, in)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := v.Get(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
