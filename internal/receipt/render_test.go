package receipt

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderDrawsOneA4PageWithFontsAndQRCode(t *testing.T) {
	r := sampleReceipt(t)
	link := testSigner("2025-01", 7).Link(testVerifyURL, r)

	pdf, err := Render(r, link)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	writeArtifact(t, "receipt-sample.pdf", pdf)

	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("output does not start with %%PDF-: %q", pdf[:min(len(pdf), 16)])
	}
	if !bytes.Contains(pdf[max(0, len(pdf)-32):], []byte("%%EOF")) {
		t.Errorf("output does not end with %%%%EOF")
	}
	for _, want := range []string{
		"/MediaBox [ 0 0 595.00 842.00 ]", // A4
		"/FontFile2",                      // TrueType font embedded, not just named
		"/Subtype /Image",                 // the QR code
	} {
		if !bytes.Contains(pdf, []byte(want)) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if n := bytes.Count(pdf, []byte("/Type /Page\n")) + bytes.Count(pdf, []byte("/Type /Page ")); n != 1 {
		t.Errorf("PDF has %d pages, want 1", n)
	}

	// The tracking code is centred across both columns: read the whole page.
	if text := pdfText(t, pdf); !strings.Contains(text, r.TrackingCode) {
		t.Errorf("PDF text lacks the tracking code %q", r.TrackingCode)
	}
	// The English column alone, so wrapped sentences come out whole and not
	// interleaved with the Persian column.
	english := pdfText(t, pdf, "-x", "0", "-y", "0", "-W", "297", "-H", "842")
	for _, want := range append([]string{
		titleEn, trackingEn, r.ServiceEn, r.MissionEn,
		"21 March 2025", "19 June 2025", scanEn, nextStepsEn,
	}, stepsEn...) {
		if !strings.Contains(english, want) {
			t.Errorf("English column lacks %q; it reads:\n%s", want, english)
		}
	}
}

// TestRenderedQRCodeScansToVerifiableLink prints the page as a picture at a
// low resolution, as a phone camera would see it, scans it, and verifies the
// link it finds. It needs poppler-utils and zbar-tools, and skips without
// them.
func TestRenderedQRCodeScansToVerifiableLink(t *testing.T) {
	pdftoppm, err1 := exec.LookPath("pdftoppm")
	zbarimg, err2 := exec.LookPath("zbarimg")
	if err1 != nil || err2 != nil {
		t.Fatal("pdftoppm (poppler-utils) or zbarimg (zbar-tools) missing: make test installs them")
	}
	r := sampleReceipt(t)
	signer := testSigner("2025-01", 7)
	link := signer.Link(testVerifyURL, r)
	pdf, err := Render(r, link)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "receipt.pdf"), pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdftoppm, "-png", "-r", "80", "-singlefile",
		filepath.Join(dir, "receipt.pdf"), filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	scanned, err := exec.Command(zbarimg, "-q", "--raw", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v", err)
	}
	got := strings.TrimSpace(string(scanned))
	if got != link {
		t.Fatalf("scanned %q, want %q", got, link)
	}
	if _, err := Verify(got, keySetOf(signer)); err != nil {
		t.Fatalf("Verify(scanned link): %v", err)
	}
}

func TestRenderGivesTheSameBytesForTheSameReceipt(t *testing.T) {
	r := sampleReceipt(t)
	link := testSigner("2025-01", 7).Link(testVerifyURL, r)
	first, err := Render(r, link)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Render(r, link)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Error("two renderings of one receipt differ")
	}
}

func TestRenderRefusesDeadlineBeforeSubmission(t *testing.T) {
	r := sampleReceipt(t)
	r.DeadlineAt = r.SubmittedAt
	if _, err := Render(r, testVerifyURL); err == nil {
		t.Fatal("Render accepted a deadline that is not after submission")
	}
}

// pdfText extracts the text with poppler's pdftotext, with line breaks and
// runs of spaces folded into one space so wrapped sentences compare whole.
// Without pdftotext only this check is skipped; the structure checks above
// still run.
func pdfText(t *testing.T, pdf []byte, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext (poppler-utils) missing: make test installs it")
	}
	path := filepath.Join(t.TempDir(), "receipt.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(append([]string{"-enc", "UTF-8"}, args...), path, "-")
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// writeArtifact keeps a rendered file under .artifacts/ at the module root
// (git-ignored) so a person can open it after the test run.
func writeArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Logf("no module root above the test; %s not written", name)
			return
		}
		dir = parent
	}
	dir = filepath.Join(dir, ".artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
