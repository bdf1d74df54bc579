package documents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/image/bmp"
)

// Fixtures are generated here, not committed: noise does not compress, so the
// encoded size is predictable from the dimensions.

func noise(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.UintN(256))
		if i%4 == 3 {
			img.Pix[i] = 0xFF // opaque, so encoders write plain RGB
		}
	}
	return img
}

// baseJPEG is about 60 KB: below the minimum, so tests pad it to the size
// they need.
func baseJPEG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, noise(256, 256), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// padJPEG inserts comment (COM) segments after the start-of-image marker until
// the file is exactly size bytes; decoders skip comments.
func padJPEG(t *testing.T, jpg []byte, size int) []byte {
	t.Helper()
	pad := size - len(jpg)
	if pad < 4 && pad != 0 {
		t.Fatalf("cannot pad %d bytes to %d", len(jpg), size)
	}
	out := append([]byte{}, jpg[:2]...)
	for pad > 0 {
		seg := min(pad, 4+65533) // marker, length, at most 65533 bytes of comment
		if rest := pad - seg; rest > 0 && rest < 4 {
			seg -= 4
		}
		out = append(out, 0xFF, 0xFE)
		out = binary.BigEndian.AppendUint16(out, uint16(seg-2))
		out = append(out, make([]byte, seg-4)...)
		pad -= seg
	}
	return append(out, jpg[2:]...)
}

func validJPEG(t *testing.T, size int) []byte {
	t.Helper()
	return padJPEG(t, baseJPEG(t), size)
}

// validBMP is 200×200 pixels, 24-bit: 54 + 600×200 = 120,054 bytes.
func validBMP(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, noise(200, 200)); err != nil {
		t.Fatal(err)
	}
	if b.Len() < 102_400 || b.Len() > 307_200 {
		t.Fatalf("BMP fixture is %d bytes, outside the default range", b.Len())
	}
	return b.Bytes()
}

func validPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, noise(200, 200)); err != nil {
		t.Fatal(err)
	}
	if b.Len() < 102_400 || b.Len() > 307_200 {
		t.Fatalf("PNG fixture is %d bytes, outside the default range", b.Len())
	}
	return b.Bytes()
}

// bmpClaiming is a 24-bit BMP header claiming w×h pixels, followed by zeros up
// to size bytes.
func bmpClaiming(w, h int32, size int) []byte {
	b := make([]byte, 54, size)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(size))
	binary.LittleEndian.PutUint32(b[10:], 54) // pixel data offset
	binary.LittleEndian.PutUint32(b[14:], 40) // BITMAPINFOHEADER
	binary.LittleEndian.PutUint32(b[18:], uint32(w))
	binary.LittleEndian.PutUint32(b[22:], uint32(h))
	binary.LittleEndian.PutUint16(b[26:], 1)  // planes
	binary.LittleEndian.PutUint16(b[28:], 24) // bits per pixel
	return b[:size]
}

func problemOf(t *testing.T, err error) *Problem {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("want a *Problem, got %T %v", err, err)
	}
	return p
}

func TestAcceptsJPEGAndBMPByContent(t *testing.T) {
	jpg := validJPEG(t, 150_000)
	bm := validBMP(t)
	tests := []struct {
		name, file string
		data       []byte
		format     string
		w, h       int
	}{
		{"jpeg", "passport.jpg", jpg, FormatJPEG, 256, 256},
		{"jpeg extension", "passport.jpeg", jpg, FormatJPEG, 256, 256},
		{"upper-case extension", "PASSPORT.JPG", jpg, FormatJPEG, 256, 256},
		{"bmp", "scan.bmp", bm, FormatBMP, 200, 200},
		{"mixed-case bmp extension", "scan.Bmp", bm, FormatBMP, 200, 200},
		{"bmp named .jpg is judged as bmp", "scan.jpg", bm, FormatBMP, 200, 200},
		{"persian name with zero-width non-joiner", "گذرنامه\u200cی من.jpg", jpg, FormatJPEG, 256, 256},
		{"name of exactly 120 bytes", strings.Repeat("a", 116) + ".jpg", jpg, FormatJPEG, 256, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, got, err := Check(tt.file, bytes.NewReader(tt.data), DefaultRule)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			want := Document{
				Name: tt.file, Format: tt.format, Size: int64(len(tt.data)),
				Width: tt.w, Height: tt.h, SHA256: doc.SHA256,
			}
			if doc != want {
				t.Errorf("got %+v, want %+v", doc, want)
			}
			if !bytes.Equal(got, tt.data) {
				t.Error("returned bytes differ from the bytes read")
			}
		})
	}
}

func TestSizeLimitsAreInclusive(t *testing.T) {
	tests := []struct {
		size   int
		reason string // "" means accepted
	}{
		{102_399, ReasonTooSmall},
		{102_400, ""},
		{307_200, ""},
		{307_201, ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes", tt.size), func(t *testing.T) {
			data := validJPEG(t, tt.size)
			if len(data) != tt.size {
				t.Fatalf("fixture is %d bytes, want %d", len(data), tt.size)
			}
			doc, _, err := Check("photo.jpg", bytes.NewReader(data), DefaultRule)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if doc.Size != int64(tt.size) {
					t.Errorf("Size = %d, want %d", doc.Size, tt.size)
				}
				return
			}
			if p := problemOf(t, err); p.Reason != tt.reason {
				t.Errorf("reason %q, want %q (%v)", p.Reason, tt.reason, p)
			}
		})
	}
}

func TestRefusesContentThatIsNotAGoodJPEGOrBMP(t *testing.T) {
	randomBytes := make([]byte, 150_000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range randomBytes {
		randomBytes[i] = byte(r.UintN(256))
	}
	randomBytes[0] = 0x00 // make sure chance did not write a JPEG or BMP signature

	jpg := validJPEG(t, 200_000)
	truncated := jpg[:len(jpg)-30_000] // cuts the entropy-coded scan, which sits after the padding

	jpegMagicThenJunk := append([]byte{0xFF, 0xD8, 0xFF}, randomBytes[3:]...)

	tests := []struct {
		name, file string
		data       []byte
		reason     string
	}{
		{"empty file", "photo.jpg", nil, ReasonEmpty},
		{"random bytes named .jpg", "photo.jpg", randomBytes, ReasonFormat},
		{"png renamed .jpg", "photo.jpg", validPNG(t), ReasonFormat},
		{"truncated jpeg", "photo.jpg", truncated, ReasonCorrupt},
		{"jpeg signature followed by junk", "photo.jpg", jpegMagicThenJunk, ReasonCorrupt},
		{"bmp signature with a broken header", "scan.bmp", append([]byte("BM"), randomBytes[2:]...), ReasonCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _, err := Check(tt.file, bytes.NewReader(tt.data), DefaultRule)
			if p := problemOf(t, err); p.Reason != tt.reason {
				t.Errorf("reason %q, want %q (%v)", p.Reason, tt.reason, p)
			}
			if doc != (Document{}) {
				t.Errorf("a refused check returned a document: %+v", doc)
			}
		})
	}
}

// A header is enough to refuse a file that could never be decoded in the
// memory it implies: 60000×60000 would need 14 GB, and 4000×3000 (within the
// limits) would need 48 MB only to find that 150 KB cannot hold its pixels.
// Both must be refused quickly and without allocating the image.
func TestRefusesFromTheHeaderWithoutAllocatingPixels(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"60000×60000", bmpClaiming(60000, 60000, 150_000), ReasonDimensions},
		{"4000×3000 in 150 KB", bmpClaiming(4000, 3000, 150_000), ReasonCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()

			_, _, err := Check("scan.bmp", bytes.NewReader(tt.data), DefaultRule)

			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if p := problemOf(t, err); p.Reason != tt.reason {
				t.Fatalf("reason %q, want %q (%v)", p.Reason, tt.reason, p)
			}
			if elapsed > time.Second {
				t.Errorf("took %v; the pixels must not be decoded", elapsed)
			}
			if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
				t.Errorf("allocated %d bytes; the pixels must not be decoded", allocated)
			}
		})
	}
}

func TestRefusesBadNamesBeforeReading(t *testing.T) {
	jpg := validJPEG(t, 150_000)
	tests := []struct {
		name, file string
		issue      nameIssue
	}{
		{"empty", "", nameMissing},
		{"parent directory", "../../x.jpg", nameBadChars},
		{"dot dot inside", "a..b.jpg", nameBadChars},
		{"slash", "dir/x.jpg", nameBadChars},
		{"backslash", `dir\x.jpg`, nameBadChars},
		{"NUL", "x\x00.jpg", nameBadChars},
		{"newline", "x\n.jpg", nameBadChars},
		{"DEL", "x\x7f.jpg", nameBadChars},
		{"right-to-left override", "x\u202egpj.exe.jpg", nameBadChars},
		{"invalid UTF-8", "x\xff.jpg", nameBadChars},
		{"121 bytes", strings.Repeat("a", 117) + ".jpg", nameTooLong},
		{"png extension on a real jpeg", "photo.png", nameBadExtension},
		{"no extension", "photo", nameBadExtension},
		{"extension in the middle", "photo.jpg.exe", nameBadExtension},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &countingReader{r: bytes.NewReader(jpg)}
			_, _, err := Check(tt.file, r, DefaultRule)
			p := problemOf(t, err)
			if p.Reason != ReasonName || p.nameIssue != tt.issue {
				t.Errorf("reason %q issue %d, want %q issue %d (%v)", p.Reason, p.nameIssue, ReasonName, tt.issue, p)
			}
			if r.n != 0 {
				t.Errorf("read %d bytes of a document whose name was refused", r.n)
			}
		})
	}
}

func TestSHA256IsOfTheExactBytes(t *testing.T) {
	for _, data := range [][]byte{validJPEG(t, 123_456), validBMP(t)} {
		doc, _, err := Check("doc.jpg", bytes.NewReader(data), DefaultRule)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if want := hex.EncodeToString(sum[:]); doc.SHA256 != want {
			t.Errorf("SHA256 = %s, want %s", doc.SHA256, want)
		}
	}
}

// countingReader counts what Check pulls from the client's stream.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zeros yields n zero bytes without holding them in memory.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

func TestStopsReadingAHugeStreamPastTheMaximum(t *testing.T) {
	r := &countingReader{r: &zeros{n: 50 << 20}}
	_, data, err := Check("photo.jpg", r, DefaultRule)
	if p := problemOf(t, err); p.Reason != ReasonTooLarge {
		t.Fatalf("reason %q, want %q", p.Reason, ReasonTooLarge)
	}
	if limit := DefaultRule.MaxBytes + 1; r.n > limit || int64(len(data)) > limit {
		t.Errorf("read %d bytes (returned %d); at most %d allowed", r.n, len(data), limit)
	}
}

func TestServiceRuleOverridesDefaults(t *testing.T) {
	jpg := validJPEG(t, 150_000) // 256×256
	tests := []struct {
		name   string
		rule   Rule
		reason string
	}{
		{"zero rule means the defaults", Rule{}, ""},
		{"higher minimum", Rule{MinBytes: 200 << 10}, ReasonTooSmall},
		{"lower maximum", Rule{MaxBytes: 120 << 10}, ReasonTooLarge},
		{"smaller side", Rule{MaxSide: 255}, ReasonDimensions},
		{"fewer pixels", Rule{MaxPixels: 256*256 - 1}, ReasonDimensions},
		{"exactly the pixel limit", Rule{MaxSide: 256, MaxPixels: 256 * 256}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Check("photo.jpg", bytes.NewReader(jpg), tt.rule)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if p := problemOf(t, err); p.Reason != tt.reason {
				t.Errorf("reason %q, want %q (%v)", p.Reason, tt.reason, p)
			}
		})
	}
}

// I/O failures and a misconfigured rule are not the applicant's fault: the
// activity must be able to tell them from a Problem and retry or alert.
func TestFailuresThatAreNotTheApplicantsAreNotProblems(t *testing.T) {
	readErr := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
		rule Rule
	}{
		{"read error", io.MultiReader(bytes.NewReader([]byte{0xFF, 0xD8}), iotest.ErrReader(readErr)), DefaultRule},
		{"minimum above maximum", bytes.NewReader(nil), Rule{MinBytes: 10, MaxBytes: 5}},
		{"maximum beyond the reading budget", bytes.NewReader(nil), Rule{MaxBytes: ReadingBudget}},
		{"sides no JPEG can have", bytes.NewReader(nil), Rule{MaxSide: 70000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Check("photo.jpg", tt.r, tt.rule)
			var p *Problem
			if err == nil || errors.As(err, &p) {
				t.Fatalf("want a non-Problem error, got %v", err)
			}
		})
	}
}

func TestMessagesInPersianAndEnglish(t *testing.T) {
	jpg := validJPEG(t, 200_000)
	// Names without digits, so any digit in a message comes from a number
	// the message states.
	cases := []struct {
		name, file string
		data       []byte
		reason     string
	}{
		{"empty", "photo.jpg", nil, ReasonEmpty},
		{"too small", "photo.jpg", validJPEG(t, 100_000), ReasonTooSmall},
		{"too large", "photo.jpg", validJPEG(t, 400_000), ReasonTooLarge},
		{"format", "photo.jpg", validPNG(t), ReasonFormat},
		{"dimensions", "scan.bmp", bmpClaiming(60000, 60000, 150_000), ReasonDimensions},
		{"corrupt", "photo.jpg", jpg[:len(jpg)-30_000], ReasonCorrupt},
		{"name missing", "", jpg, ReasonName},
		{"name too long", strings.Repeat("a", 200) + ".jpg", jpg, ReasonName},
		{"name with path", "../../x.jpg", jpg, ReasonName},
		{"name with wrong extension", "photo.png", jpg, ReasonName},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Check(tc.file, bytes.NewReader(tc.data), DefaultRule)
			p := problemOf(t, err)
			if p.Reason != tc.reason {
				t.Fatalf("reason %q, want %q", p.Reason, tc.reason)
			}
			en, fa := p.Message("en"), p.Message("fa")
			if en == "" || fa == "" {
				t.Fatalf("empty message: en %q, fa %q", en, fa)
			}
			if fa == en || !strings.ContainsFunc(fa, isPersianLetter) {
				t.Errorf("Persian message is not Persian: %q", fa)
			}
			if strings.ContainsFunc(fa, isASCIIDigit) {
				t.Errorf("Persian message has ASCII digits: %q", fa)
			}
			if strings.ContainsFunc(en, isASCIIDigit) != strings.ContainsFunc(fa, isPersianDigit) {
				t.Errorf("numbers differ between en %q and fa %q", en, fa)
			}
			if strings.ContainsFunc(en, isPersianDigit) {
				t.Errorf("English message has Persian digits: %q", en)
			}
			if tc.reason == ReasonName && tc.file != "" && strings.Contains(en, tc.file) {
				t.Errorf("message repeats a refused name: %q", en)
			}
			if other := p.Message("de"); other != en {
				t.Errorf("unknown language should fall back to English, got %q", other)
			}
		})
	}
}

func TestTooSmallMessageStatesSizeAndRange(t *testing.T) {
	_, _, err := Check("photo.jpg", bytes.NewReader(validJPEG(t, 98*1024)), DefaultRule)
	p := problemOf(t, err)
	if got, want := p.Message("en"), "The file “photo.jpg” is 98 KB; it must be between 100 and 300 KB."; !strings.HasPrefix(got, want) {
		t.Errorf("en = %q, want prefix %q", got, want)
	}
	if got, want := p.Message("fa"), "حجم فایل «photo.jpg» ۹۸ کیلوبایت است؛ باید بین ۱۰۰ تا ۳۰۰ کیلوبایت باشد."; !strings.HasPrefix(got, want) {
		t.Errorf("fa = %q, want prefix %q", got, want)
	}
}

func TestDimensionsMessageStatesLimits(t *testing.T) {
	_, _, err := Check("scan.bmp", bytes.NewReader(bmpClaiming(60000, 60000, 150_000)), DefaultRule)
	p := problemOf(t, err)
	for _, want := range []string{"60000 × 60000", "5000 pixels", "12.5 megapixels"} {
		if !strings.Contains(p.Message("en"), want) {
			t.Errorf("en %q lacks %q", p.Message("en"), want)
		}
	}
	for _, want := range []string{"۶۰۰۰۰ × ۶۰۰۰۰", "۵۰۰۰ پیکسل", "۱۲٫۵ مگاپیکسل"} {
		if !strings.Contains(p.Message("fa"), want) {
			t.Errorf("fa %q lacks %q", p.Message("fa"), want)
		}
	}
}

// The messages are formats that vet cannot hold against their arguments:
// each reason's arguments must fill its verbs exactly, in both languages.
func TestEveryMessageFillsItsVerbs(t *testing.T) {
	for reason := range reasonMessages {
		p := &Problem{Reason: reason, name: "scan.jpg", size: 99_000, rule: DefaultRule, width: 6000, height: 6000, limit: 4_000_000}
		for _, lang := range []string{"en", "fa"} {
			if m := p.Message(lang); strings.Contains(m, "%!") {
				t.Errorf("%s in %s: %q", reason, lang, m)
			}
		}
	}
}

func isASCIIDigit(r rune) bool    { return r >= '0' && r <= '9' }
func isPersianDigit(r rune) bool  { return r >= '۰' && r <= '۹' }
func isPersianLetter(r rune) bool { return r >= 0x0621 && r <= 0x06CC && !isPersianDigit(r) }

// The worker judges a stored document again with CheckStored: the bytes
// checked at upload pass without their pixels being decoded a second time;
// other bytes, or bytes a rule now refuses, do not.
func TestStoredDocumentIsJudgedAgainWithoutDecodingItsPixels(t *testing.T) {
	good := validJPEG(t, 123_456)
	checked, _, err := Check("passport.jpg", bytes.NewReader(good), DefaultRule)
	if err != nil {
		t.Fatal(err)
	}

	decoding.peak.Store(0)
	doc, err := CheckStored(context.Background(), "passport.jpg", bytes.NewReader(good), DefaultRule, checked.SHA256)
	if err != nil {
		t.Fatalf("the bytes checked at upload were refused: %v", err)
	}
	if doc != checked {
		t.Errorf("CheckStored = %+v, want what Check found: %+v", doc, checked)
	}
	if peak := decoding.peak.Load(); peak != 0 {
		t.Errorf("CheckStored decoded %d bytes' worth of pixels again; want none", peak)
	}

	changed := bytes.Clone(good)
	changed[len(changed)-3] ^= 0xFF // inside the pixel data, which only a decode would notice
	tooLarge := validJPEG(t, 310_000)
	strict := DefaultRule
	strict.MaxSide = 100 // the 256×256 image is now too large
	for _, c := range []struct {
		name   string
		data   []byte
		rule   Rule
		reason string
	}{
		{"changed pixels", changed, DefaultRule, ReasonChanged},
		{"truncated", good[:len(good)-1000], DefaultRule, ReasonChanged},
		{"too large", tooLarge, DefaultRule, ReasonTooLarge},
		{"a stricter rule", good, strict, ReasonDimensions},
		{"not an image", bytes.Repeat([]byte("x"), 123_456), DefaultRule, ReasonFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := CheckStored(context.Background(), "passport.jpg", bytes.NewReader(c.data), c.rule, checked.SHA256)
			if p := problemOf(t, err); p.Reason != c.reason {
				t.Errorf("reason %q, want %q", p.Reason, c.reason)
			}
		})
	}
}
