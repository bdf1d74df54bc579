package documents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	"github.com/openconsular/consular/internal/documents/documentstest"
)

func crafted(t testing.TB, j documentstest.JPEG) []byte {
	t.Helper()
	b, err := j.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocatedBy is what f allocates in this process, in bytes.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The uploads of issue 12: blank images saved as progressive JPEGs, one bit
// a block, that fit the 100-300 KB rule and cost image/jpeg 4 bytes per
// pixel per component (572 MiB for the 8000×5000 one). Within the pixel
// limits the same trick still costs too much, so the way the image is saved
// is judged too.
func TestRefusesCraftedProgressiveJPEGsWithoutDecodingThem(t *testing.T) {
	tests := []struct {
		name   string
		jpeg   documentstest.JPEG
		reason string
	}{
		{"8000×5000 colour", documentstest.JPEG{Width: 8000, Height: 5000, Components: 3, Progressive: true}, ReasonDimensions},
		{"6000×6000 colour", documentstest.JPEG{Width: 6000, Height: 6000, Components: 3, Progressive: true}, ReasonDimensions},
		{"3500×3500 colour, within the pixel limits", documentstest.JPEG{Width: 3500, Height: 3500, Components: 3, Progressive: true, Size: 150_000}, ReasonTooManyPixels},
		{"4000×3000 grey, within the pixel limits", documentstest.JPEG{Width: 4000, Height: 3000, Components: 1, Progressive: true, Size: 150_000}, ReasonTooManyPixels},
		{"3000×3000 CMYK, within the pixel limits", documentstest.JPEG{Width: 3000, Height: 3000, Components: 4, Progressive: false, Size: 150_000}, ReasonTooManyPixels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := crafted(t, tt.jpeg)
			if len(data) < 100<<10 || len(data) > 300<<10 {
				t.Fatalf("fixture is %d bytes, outside the 100-300 KB rule", len(data))
			}
			var err error
			allocated := allocatedBy(func() { _, _, err = Check("scan.jpg", bytes.NewReader(data), DefaultRule) })
			if p := problemOf(t, err); p.Reason != tt.reason {
				t.Fatalf("reason %q, want %q (%v)", p.Reason, tt.reason, p)
			}
			if allocated > 64<<20 {
				t.Errorf("the check allocated %d MiB; at most 64 MiB", allocated>>20)
			}
		})
	}
}

// The estimate is what keeps the process within its budget, so it must
// cover what the decoders really allocate, and should not be so generous
// that it refuses ordinary scans.
func TestCostCoversWhatTheDecoderAllocates(t *testing.T) {
	stdJPEG := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	bmpOf := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := bmp.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	gray := image.NewGray(image.Rect(0, 0, 1001, 777))
	paletted := image.NewPaletted(image.Rect(0, 0, 999, 501), color.Palette{color.Black, color.White})
	nrgba := image.NewNRGBA(image.Rect(0, 0, 333, 201))
	nrgba.Pix[3] = 0x80 // not opaque, so the encoder writes 32 bits a pixel
	// An Adobe segment saying "RGB" makes image/jpeg convert to RGBA.
	rgb := crafted(t, documentstest.JPEG{Width: 1201, Height: 999, Components: 3})
	rgb = append(append(append([]byte{}, rgb[:2]...), "\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"...), rgb[2:]...)

	tests := []struct {
		name string
		data []byte
	}{
		{"baseline 4:2:0 colour (image/jpeg)", stdJPEG(noise(1203, 917))},
		{"baseline grey (image/jpeg)", stdJPEG(gray)},
		{"baseline 4:4:4 colour", crafted(t, documentstest.JPEG{Width: 2001, Height: 1499, Components: 3})},
		{"baseline RGB colour", rgb},
		{"baseline CMYK", crafted(t, documentstest.JPEG{Width: 1500, Height: 1001, Components: 4})},
		{"progressive grey", crafted(t, documentstest.JPEG{Width: 2001, Height: 1499, Components: 1, Progressive: true})},
		{"progressive colour", crafted(t, documentstest.JPEG{Width: 1000, Height: 1000, Components: 3, Progressive: true})},
		{"progressive CMYK", crafted(t, documentstest.JPEG{Width: 700, Height: 901, Components: 4, Progressive: true})},
		{"bmp 24-bit", validBMP(t)},
		{"bmp 32-bit", bmpOf(nrgba)},
		{"bmp 8-bit paletted", bmpOf(paletted)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := sniff(tt.data)
			var hdr header
			if format == FormatJPEG {
				var p *headerProblem
				if hdr, p = jpegHeader(tt.data); p != nil {
					t.Fatalf("header refused: %s", p.detail)
				}
			} else {
				cfg, err := bmp.DecodeConfig(bytes.NewReader(tt.data))
				if err != nil {
					t.Fatal(err)
				}
				hdr = bmpHeader(tt.data, cfg)
			}
			var img image.Image
			var err error
			actual := int64(allocatedBy(func() { img, err = decoders[format](bytes.NewReader(tt.data)) }))
			if err != nil {
				t.Fatalf("does not decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != hdr.width || b.Dy() != hdr.height {
				t.Fatalf("header says %dx%d, image is %v", hdr.width, hdr.height, b)
			}
			if actual > hdr.cost {
				t.Errorf("decoding allocated %d bytes, more than the estimate of %d", actual, hdr.cost)
			}
			if slack := hdr.cost - actual; slack > actual/20+decoderState {
				t.Errorf("the estimate of %d bytes is %d more than the %d decoding allocated", hdr.cost, slack, actual)
			}
			t.Logf("%s: estimate %d, allocated %d", tt.name, hdr.cost, actual)
		})
	}
}

// Twenty large-but-legal documents checked at once never have more than the
// decoding budget in flight; without the budget they would take four times
// as much.
func TestConcurrentChecksStayWithinTheDecodingBudget(t *testing.T) {
	docs := [][]byte{
		// 36 MB each to decode: one at a time.
		crafted(t, documentstest.JPEG{Width: 4000, Height: 3000, Components: 3, Size: 150_000}),
		// 25 MB each: a second may join a smaller one.
		crafted(t, documentstest.JPEG{Width: 2200, Height: 2200, Components: 1, Progressive: true, Size: 120_000}),
		// 5 MB: ordinary scans, several at once.
		testJPEG(t),
	}
	decoding.peak.Store(0)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			data := docs[i%len(docs)]
			if _, _, err := Check("scan.jpg", bytes.NewReader(data), DefaultRule); err != nil {
				errs <- fmt.Errorf("document %d refused: %w", i%len(docs), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if peak := decoding.peak.Load(); peak > DecodingBudget || peak == 0 {
		t.Errorf("%d bytes were decoding at once; the budget is %d", peak, DecodingBudget)
	}
	if now := decoding.now.Load(); now != 0 {
		t.Errorf("%d bytes are still counted as decoding", now)
	}
}

// testJPEG is an ordinary 2000×1500 colour JPEG (4.5 MB to decode), padded
// to 200 KB.
func testJPEG(t *testing.T) []byte {
	var b bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 2000, 1500), image.YCbCrSubsampleRatio420)
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return padJPEG(t, b.Bytes(), 200_000)
}

// A check that cannot get memory waits no longer than its caller: an upload
// whose client has gone, or an activity being cancelled, gives up.
func TestWaitingForMemoryEndsWithTheContext(t *testing.T) {
	if err := decoding.acquire(context.Background(), DecodingBudget); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			decoding.release(DecodingBudget)
			released = true
		}
	}
	defer release()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := CheckContext(ctx, "scan.jpg", bytes.NewReader(testJPEG(t)), DefaultRule)
	var p *Problem
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &p) {
		t.Fatalf("want a non-Problem error wrapping the deadline, got %v", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("waited %v after the deadline", waited)
	}
	release()
	if _, _, err := Check("scan.jpg", bytes.NewReader(testJPEG(t)), DefaultRule); err != nil {
		t.Errorf("once the memory is free the same document passes: %v", err)
	}
}

func TestTooManyPixelsMessageStatesTheLimit(t *testing.T) {
	data := crafted(t, documentstest.JPEG{Width: 4000, Height: 3000, Components: 1, Progressive: true, Size: 150_000})
	_, _, err := Check("scan.jpg", bytes.NewReader(data), DefaultRule)
	p := problemOf(t, err)
	if p.Reason != ReasonTooManyPixels {
		t.Fatalf("reason %q, want %q", p.Reason, ReasonTooManyPixels)
	}
	// 4000×3000 grey progressive: 5 bytes a pixel, so 48 MiB is 10 megapixels.
	for lang, want := range map[string]string{"en": "4000 × 3000 pixels; saved the way it is (a progressive JPEG, for example), it may be at most 10 megapixels",
		"fa": "۴۰۰۰ × ۳۰۰۰ پیکسل است؛ تصویری که به این شکل ذخیره شده (برای نمونه JPEG پیشرونده یا progressive) حداکثر ۱۰ مگاپیکسل"} {
		if got := p.Message(lang); !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("%s = %q, want it to contain %q", lang, got, want)
		}
	}
}
