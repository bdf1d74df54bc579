package documents

import (
	"bytes"
	"testing"

	"github.com/openconsular/consular/internal/testenv"
)

// BenchmarkCheck is one uploaded document's check as a submission runs it
// three times: read, decode the JPEG, hash. Most of the API's CPU per
// submission is here (make bench's profiles).
func BenchmarkCheck(b *testing.B) {
	doc := testenv.JPEG(b) // a photograph-like 150-250 KB JPEG
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Check("licence.jpg", bytes.NewReader(doc), DefaultRule); err != nil {
			b.Fatal(err)
		}
	}
}
