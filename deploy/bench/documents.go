package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"mime/multipart"
)

// Document sizes the bench uploads: about 200 KB, inside the 100-300 KB the
// documents rule accepts.
const (
	docTarget = 200 << 10
	docMin    = 150 << 10
	docMax    = 250 << 10
)

// noiseJPEG returns a JPEG of random pixels of about docTarget bytes. Noise
// barely compresses, so the picture is small (about 580x580); decoding it
// costs about what the test suite's documents of the same size do (10 ms
// here). A photographed page of 200 KB has more pixels and may cost more.
func noiseJPEG(seed uint64) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 0x62656e6368))
	side := 256
	for range 20 {
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			return nil, fmt.Errorf("encode %dx%d JPEG: %w", side, side, err)
		}
		n := b.Len()
		if n >= docTarget*95/100 && n <= docMax {
			return b.Bytes(), nil
		}
		// The size grows with the pixel count: aim straight at the target.
		next := int(float64(side) * math.Sqrt(float64(docTarget)/float64(n)))
		if next == side {
			next++
		}
		side = next
	}
	return nil, fmt.Errorf("no JPEG of %d-%d KB after 20 tries", docMin>>10, docMax>>10)
}

// body is one complete multipart submission, built once and sent many times:
// only the Idempotency-Key header changes from one request to the next.
type body struct {
	data        []byte
	contentType string
}

// Every submission is a driving-licence inquiry at the embassy in Vienna,
// with a national ID that passes the checksum.
var submissionFields = [][2]string{
	{"service", "driving_licence_inquiry"},
	{"mission", "AT-VIE"},
	{"full_name", "Bench Applicant"},
	{"email", "bench@example.org"},
	{"national_id", "0013542419"},
	{"language", "en"},
	{"field.licence_number", "12345678"},
}

var documentKinds = []string{"licence", "residence_proof", "passport"}

// submissionBodies builds n bodies from a handful of distinct documents, so
// the uploads do not all carry the same bytes.
func submissionBodies(docs [][]byte, n int) ([]body, error) {
	bodies := make([]body, n)
	for i := range bodies {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for _, f := range submissionFields {
			if err := w.WriteField(f[0], f[1]); err != nil {
				return nil, err
			}
		}
		for k, kind := range documentKinds {
			part, err := w.CreateFormFile("document."+kind, kind+".jpg")
			if err != nil {
				return nil, err
			}
			if _, err := part.Write(docs[(i+k)%len(docs)]); err != nil {
				return nil, err
			}
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		bodies[i] = body{data: b.Bytes(), contentType: w.FormDataContentType()}
	}
	return bodies, nil
}
