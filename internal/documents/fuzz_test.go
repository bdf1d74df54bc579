package documents

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image/jpeg"
	"runtime"
	"slices"
	"testing"
)

// fuzzRule takes files of any size up to the usual maximum, so the fuzzer
// can work on small files and still reach the decoders.
var fuzzRule = Rule{MinBytes: 1, MaxBytes: 300 << 10}

var reasons = []string{ReasonEmpty, ReasonTooSmall, ReasonTooLarge, ReasonFormat, ReasonDimensions, ReasonTooManyPixels, ReasonCorrupt, ReasonName}

// FuzzCheck: whatever the bytes, Check returns a document or a Problem,
// never panics, and never allocates more than the bytes it holds and the
// decoding cost the header announced (at most DocumentBudget). The seeds
// in testdata/fuzz/FuzzCheck are small JPEGs (baseline, progressive, grey,
// CMYK), BMPs (8, 24, 32 bits) and the headers of the crafted files of
// issue 12.
func FuzzCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		held := fuzzRule.MaxBytes + 1
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		doc, got, err := Check("scan.jpg", bytes.NewReader(data), fuzzRule)
		runtime.ReadMemStats(&after)

		// The whole of the check, whatever the file says.
		allocated := int64(after.TotalAlloc - before.TotalAlloc)
		if limit := DocumentBudget + held + 1<<20; allocated > limit {
			t.Errorf("the check allocated %d bytes; at most %d", allocated, limit)
		}
		// And what the header announced, where it was read.
		if sniff(data) == FormatJPEG {
			if hdr, p := jpegHeader(data); p == nil {
				if hdr.cost <= DocumentBudget && allocated > hdr.cost+held+256<<10 {
					t.Errorf("the check allocated %d bytes; the header announced %d", allocated, hdr.cost)
				}
				// Our header reader never accepts what image/jpeg's refuses.
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
				if err != nil {
					t.Errorf("our header reader accepted what jpeg.DecodeConfig refuses: %v", err)
				} else if cfg.Width != hdr.width || cfg.Height != hdr.height {
					t.Errorf("header %dx%d, jpeg.DecodeConfig %dx%d", hdr.width, hdr.height, cfg.Width, cfg.Height)
				}
			}
		}

		if !bytes.Equal(got, data[:min(int64(len(data)), held)]) {
			t.Errorf("returned %d bytes, not the %d read", len(got), min(int64(len(data)), held))
		}
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("reading from memory failed with a non-Problem: %v", err)
			}
			if !slices.Contains(reasons, p.Reason) {
				t.Errorf("unknown reason %q", p.Reason)
			}
			if p.Message("en") == "" || p.Message("fa") == "" {
				t.Errorf("a %s problem has no message", p.Reason)
			}
			if doc != (Document{}) {
				t.Errorf("a refused check returned %+v", doc)
			}
			return
		}
		sum := sha256.Sum256(data)
		switch {
		case doc.Size != int64(len(data)) || doc.SHA256 != hex.EncodeToString(sum[:]):
			t.Errorf("accepted %+v, which is not the %d bytes checked", doc, len(data))
		case doc.Format != sniff(data):
			t.Errorf("accepted as %q, content is %q", doc.Format, sniff(data))
		case doc.Width <= 0 || doc.Height <= 0 || doc.Width > DefaultRule.MaxSide || doc.Height > DefaultRule.MaxSide ||
			int64(doc.Width)*int64(doc.Height) > int64(DefaultRule.MaxPixels):
			t.Errorf("accepted %dx%d pixels", doc.Width, doc.Height)
		}
	})
}
