package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/documents/documentstest"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/workflows/request"
)

// hostileJPEGs are the uploads of issue 12: blank images saved as
// progressive JPEGs, 234 KB and 211 KB, that took image/jpeg 572 MiB and
// 515 MiB to decode. Six at once took the API to 3.3 GB and the worker,
// checking them again, to 3.0 GB.
func hostileJPEGs(t *testing.T) [][]byte {
	t.Helper()
	var out [][]byte
	for _, j := range []documentstest.JPEG{
		{Width: 8000, Height: 5000, Components: 3, Progressive: true},
		{Width: 6000, Height: 6000, Components: 3, Progressive: true},
	} {
		b, err := j.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// peakRSS is a process's peak resident memory so far, in MB.
func peakRSS(t *testing.T, p interface{ RSS() (int64, int64, error) }) int64 {
	t.Helper()
	_, peak, err := p.RSS()
	if err != nil {
		t.Fatal(err)
	}
	return peak >> 20
}

// Twenty hostile images at once, uploaded by a signed-in applicant to the
// portal and, stored as if they had been, checked again by the worker: each
// process stays under 200 MB and every upload is answered. So do twenty
// large but legal images, which are decoded.
func TestHostileDocumentsKeepTheAPIAndTheWorkerUnder200MB(t *testing.T) {
	const uploads, limitMB = 20, 200
	s := startSystem(t, map[string]string{"CONSULAR_CAPTCHA_TEST_ANSWER": testCaptcha})
	hostile := hostileJPEGs(t)
	a := newApplicant(t, s)
	a.signUp(testenv.NationalID())
	action := s.url + "/profile/identity?_csrf=" + a.hiddenValue("_csrf")
	identity := map[string]string{"first_name_fa": "سارا", "last_name_fa": "احمدی", "first_name_en": "Sara", "last_name_en": "Ahmadi",
		"father_name": "Reza", "birth_certificate_number": "12345", "birth_date": "1991-08-03", "birth_place": "Tabriz", "gender": "female"}
	t.Logf("API peak RSS after start: %d MB, worker: %d MB", peakRSS(t, s.api), peakRSS(t, s.worker))

	// uploadAll sends the files at once as the identity step's passport.
	uploadAll := func(files [][]byte) (statuses []int, pages []string) {
		statuses, pages = make([]int, uploads), make([]string, uploads)
		var wg sync.WaitGroup
		for i := range uploads {
			wg.Go(func() {
				var body bytes.Buffer
				w := multipart.NewWriter(&body)
				for k, v := range identity {
					_ = w.WriteField(k, v)
				}
				part, _ := w.CreateFormFile("document.passport", "passport.jpg")
				_, _ = part.Write(files[i%len(files)])
				_ = w.Close()
				req, _ := http.NewRequest(http.MethodPost, action, &body)
				req.Header.Set("Content-Type", w.FormDataContentType())
				req.Header.Set("Accept", "text/html")
				resp, err := a.client.Do(req)
				if err != nil {
					pages[i] = err.Error()
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				statuses[i], pages[i] = resp.StatusCode, string(b)
			})
		}
		wg.Wait()
		return statuses, pages
	}

	statuses, pages := uploadAll(hostile)
	for i := range uploads {
		if statuses[i] != http.StatusUnprocessableEntity || !strings.Contains(pages[i], "megapixels in total") {
			t.Errorf("upload %d: status %d, want 422 saying the image has too many pixels; page:\n%.1500s", i, statuses[i], pages[i])
		}
	}
	if peak := peakRSS(t, s.api); peak >= limitMB {
		t.Errorf("the API's peak RSS was %d MB with %d hostile uploads at once; want under %d", peak, uploads, limitMB)
	} else {
		t.Logf("API peak RSS with %d hostile uploads at once: %d MB", uploads, peak)
	}

	// Large but legal: 4000 × 3000 colour, 150 KB, accepted, each taking
	// 36 MB to decode. The budget lets one decode at a time; counting
	// checks instead of bytes, four at once would take the API past 200 MB.
	legal, err := documentstest.JPEG{Width: 4000, Height: 3000, Components: 3, Size: 150_000}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	statuses, pages = uploadAll([][]byte{legal})
	for i := range uploads {
		// The step still lacks its birth certificate (422), but the passport is kept.
		if statuses[i] != http.StatusUnprocessableEntity || !strings.Contains(pages[i], "Uploaded: passport.jpg") {
			t.Errorf("legal upload %d: status %d, want 422 keeping the passport; page:\n%.1500s", i, statuses[i], pages[i])
		}
	}
	if peak := peakRSS(t, s.api); peak >= limitMB {
		t.Errorf("the API's peak RSS was %d MB with %d large legal uploads at once; want under %d", peak, uploads, limitMB)
	} else {
		t.Logf("API peak RSS after %d large legal uploads at once: %d MB", uploads, peak)
	}

	// The worker checks every stored document again. Store the same files
	// as if the API had accepted them and start twenty requests at once.
	ctx := context.Background()
	codes := make([]string, uploads)
	for i := range uploads {
		code, err := consular.NewTrackingCode()
		if err != nil {
			t.Fatal(err)
		}
		codes[i] = string(code)
		data := hostile[i%len(hostile)]
		key := codes[i] + "/passport.jpg"
		if _, err := s.objects.PutObject(ctx, s.documents, key, bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if err := request.Start(ctx, s.temporal, s.queue,
			request.Input{TrackingCode: codes[i], ServiceCode: "driving_licence_inquiry", MissionCode: "AT-VIE",
				SubmittedAt: time.Now(), Policy: request.Policy{Deadline: 90 * 24 * time.Hour, Retention: 24 * time.Hour},
				Documents: []consular.Document{{Kind: "passport", ObjectKey: key, SHA256: hex.EncodeToString(sum[:])}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, code := range codes {
		s.waitStatus(code, string(consular.StatusRejectedDocuments), 2*time.Minute)
	}
	if peak := peakRSS(t, s.worker); peak >= limitMB {
		t.Errorf("the worker's peak RSS was %d MB checking %d hostile documents; want under %d", peak, uploads, limitMB)
	} else {
		t.Logf("worker peak RSS checking %d hostile documents: %d MB", uploads, peak)
	}
}
