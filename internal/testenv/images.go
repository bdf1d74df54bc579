package testenv

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// JPEG returns a real photograph-like JPEG of 100-300 KB (the documents'
// rule), different on each call.
func JPEG(t testing.TB) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	for side := 300; side < 1200; side += 20 {
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				img.Set(x, y, color.RGBA{uint8(x + rng.IntN(64)), uint8(y + rng.IntN(64)), uint8(rng.IntN(256)), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			t.Fatal(err)
		}
		if n := b.Len(); n >= 150<<10 && n <= 250<<10 { // each step grows the file ~13%: it cannot jump the window
			return b.Bytes()
		}
	}
	t.Fatal("could not make a JPEG of 150-250 KB")
	return nil
}
