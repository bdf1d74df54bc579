package documents

import (
	"bytes"
	"context"
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

// BenchmarkCheckStored is the worker's judgement of the same document once
// stored: read, header, hash, no decoding.
func BenchmarkCheckStored(b *testing.B) {
	doc := testenv.JPEG(b)
	checked, _, err := Check("licence.jpg", bytes.NewReader(doc), DefaultRule)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CheckStored(context.Background(), "licence.jpg", bytes.NewReader(doc), DefaultRule, checked.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
