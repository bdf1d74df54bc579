package receipt

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// Receipts share the fonts parsed once per process: rendered at once, each
// comes out as it does alone (run with -race, this also shows that gopdf
// only reads the shared font tables). Different tracking codes at once use
// different glyphs, so a subset leaking from one document into another
// would show.
func TestReceiptsRenderedAtOnceAreIdentical(t *testing.T) {
	signer := testSigner("2025-01", 7)
	receipts := make([]Receipt, 8)
	alone := make([][]byte, len(receipts))
	for i := range receipts {
		r := sampleReceipt(t)
		r.TrackingCode = fmt.Sprintf("1404-%04d-%04d-%02d", 1111*(i+1), 9999-i, 10+i)
		receipts[i] = r
		pdf, err := Render(r, signer.Link(testVerifyURL, r))
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = pdf
	}
	var wg sync.WaitGroup
	for round := range 3 {
		for i, r := range receipts {
			wg.Go(func() {
				pdf, err := Render(r, signer.Link(testVerifyURL, r))
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(pdf, alone[i]) {
					t.Errorf("round %d: receipt %s rendered alongside others differs from the one rendered alone", round, r.TrackingCode)
				}
			})
		}
	}
	wg.Wait()
}
