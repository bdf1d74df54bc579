package documents

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
)

// What decoding a document costs is read from its header before any pixel
// is decoded, by following what image/jpeg and x/image/bmp allocate (Go
// 1.26, x/image v0.47; re-read them when either is upgraded:
// TestCostCoversWhatTheDecoderAllocates fails if they allocate more). The
// estimate errs high where the file could make the decoder take the dearer
// path later on, never low.

// decoderState covers a decoder's own tables and buffers, and Check's.
const decoderState = 64 << 10

// header is what Check needs to know before decoding.
type header struct {
	width, height int
	cost          int64 // bytes the decoder will allocate, at most
}

// headerProblem is a header the decoder would refuse, or that we do.
type headerProblem struct {
	reason, detail string
}

// jpegComponent is one component of a JPEG frame: its identifier and
// sampling factors.
type jpegComponent struct {
	id, h, v int
}

// jpegHeader walks a JPEG's markers up to the first scan (SOS), the way
// image/jpeg does, and validates its frame (SOF) as image/jpeg's processSOF
// does. Segments before the first scan are skipped, not parsed, except the
// frame: tables cost the decoder nothing that depends on the file.
func jpegHeader(data []byte) (header, *headerProblem) {
	corrupt := func(format string, a ...any) (header, *headerProblem) {
		return header{}, &headerProblem{ReasonCorrupt, "jpeg " + fmt.Sprintf(format, a...)}
	}
	unsupported := func(format string, a ...any) (header, *headerProblem) {
		return header{}, &headerProblem{ReasonFormat, "jpeg " + fmt.Sprintf(format, a...)}
	}
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return corrupt("has no start-of-image marker")
	}
	var (
		comps       []jpegComponent
		width       int
		height      int
		progressive bool
	)
	for i := 2; ; {
		marker, seg, next, p := jpegSegment(data, i)
		if p != nil {
			return header{}, p
		}
		i = next
		switch {
		case marker == 0xC0 || marker == 0xC1 || marker == 0xC2: // baseline, extended, progressive
			if comps != nil {
				return corrupt("has more than one frame")
			}
			comps, width, height, p = jpegFrame(seg)
			if p != nil {
				return header{}, p
			}
			progressive = marker == 0xC2
		case marker == 0xDA: // SOS: pixels follow
			if comps == nil {
				return corrupt("has a scan before its frame header")
			}
			return header{width: width, height: height,
				cost: jpegCost(width, height, comps, progressive, adobeRGB(data))}, nil
		case marker == 0xC4 || marker == 0xDB || marker == 0xDD: // DHT, DQT, DRI
		case marker >= 0xE0 && marker <= 0xEF || marker == 0xFE: // APPn, COM
		case marker == 0xC3 || marker >= 0xC5 && marker <= 0xC7 || marker >= 0xC9 && marker <= 0xCB || marker >= 0xCD && marker <= 0xCF:
			return unsupported("is lossless, hierarchical or arithmetic-coded (SOF%d), which is not supported", marker-0xC0)
		case marker < 0xC0:
			return corrupt("has an unknown marker %#x", marker)
		default:
			// Markers no real file has before its first scan (JPGn, DAC,
			// DNL and the like): more likely damage than a feature.
			return corrupt("has an unexpected marker %#x", marker)
		}
	}
}

// jpegSegment finds the next marker at or after i that has a segment, the
// way image/jpeg does, and returns it with its segment and the index just
// past that segment.
func jpegSegment(data []byte, i int) (byte, []byte, int, *headerProblem) {
	corrupt := func(detail string) (byte, []byte, int, *headerProblem) {
		return 0, nil, 0, &headerProblem{ReasonCorrupt, "jpeg " + detail}
	}
	for {
		// As image/jpeg: bytes before a marker are ignored, FF 00 is not a
		// marker, and a marker may be preceded by any number of FF bytes.
		for i < len(data) && data[i] != 0xFF {
			i++
		}
		if i+1 >= len(data) {
			return corrupt("ends before its first scan")
		}
		marker := data[i+1]
		i += 2
		if marker == 0x00 {
			continue
		}
		for marker == 0xFF {
			if i >= len(data) {
				return corrupt("ends before its first scan")
			}
			marker = data[i]
			i++
		}
		switch {
		case marker == 0xD9:
			return corrupt("ends before its first scan")
		case marker >= 0xD0 && marker <= 0xD7: // RSTn, no length
			continue
		}
		if i+2 > len(data) {
			return corrupt("ends inside a segment")
		}
		n := int(binary.BigEndian.Uint16(data[i:])) - 2
		i += 2
		if n < 0 {
			return corrupt("has a segment shorter than its length field")
		}
		if i+n > len(data) {
			return corrupt("ends inside a segment")
		}
		return marker, data[i : i+n], i + n, nil
	}
}

// jpegFrame validates a frame header as image/jpeg's processSOF does and
// returns its components, with the sampling factors the decoder will use.
func jpegFrame(seg []byte) ([]jpegComponent, int, int, *headerProblem) {
	bad := func(reason, format string, a ...any) ([]jpegComponent, int, int, *headerProblem) {
		return nil, 0, 0, &headerProblem{reason, "jpeg frame " + fmt.Sprintf(format, a...)}
	}
	var nComp int
	switch len(seg) {
	case 6 + 3*1, 6 + 3*3, 6 + 3*4:
		nComp = (len(seg) - 6) / 3
	default:
		return bad(ReasonFormat, "has an unsupported number of components")
	}
	if seg[0] != 8 {
		return bad(ReasonFormat, "has %d-bit samples; only 8-bit is supported", seg[0])
	}
	height := int(binary.BigEndian.Uint16(seg[1:]))
	width := int(binary.BigEndian.Uint16(seg[3:]))
	if int(seg[5]) != nComp {
		return bad(ReasonCorrupt, "has the wrong length for %d components", seg[5])
	}
	comps := make([]jpegComponent, nComp)
	for i := range comps {
		c := seg[6+3*i : 9+3*i]
		for j := 0; j < i; j++ {
			if comps[j].id == int(c[0]) {
				return bad(ReasonCorrupt, "repeats a component identifier")
			}
		}
		if c[2] > 3 {
			return bad(ReasonCorrupt, "names quantisation table %d", c[2])
		}
		hv := c[1]
		h, v := int(hv>>4), int(hv&0x0F)
		if h < 1 || h > 4 || v < 1 || v > 4 {
			return bad(ReasonCorrupt, "has sampling factors %dx%d", h, v)
		}
		if h == 3 || v == 3 {
			return bad(ReasonFormat, "has an unsupported chroma subsampling")
		}
		switch nComp {
		case 1:
			h, v = 1, 1 // the decoder treats a single component as 1x1
		case 3:
			switch {
			case i == 0 && v == 4,
				i == 1 && (comps[0].h%h != 0 || comps[0].v%v != 0),
				i == 2 && (comps[1].h != h || comps[1].v != v):
				return bad(ReasonFormat, "has an unsupported chroma subsampling")
			}
		case 4:
			switch {
			case i == 0 && hv != 0x11 && hv != 0x22,
				(i == 1 || i == 2) && hv != 0x11,
				i == 3 && (comps[0].h != h || comps[0].v != v):
				return bad(ReasonFormat, "has an unsupported chroma subsampling")
			}
		}
		comps[i] = jpegComponent{id: int(c[0]), h: h, v: v}
	}
	return comps, width, height, nil
}

// jpegCost is what image/jpeg allocates to decode a frame: the output
// image, padded to whole MCUs (scan.go makeImg); for a progressive frame
// every component's coefficients, 64 int32 (256 bytes) per 8×8 block, for
// the whole image at once (processSOS); and a 4-byte-per-pixel copy when a
// 4-component image becomes CMYK or a 3-component one RGB (reader.go
// applyBlack, convertToRGB). rgb is whether the file may be RGB-coded.
func jpegCost(width, height int, comps []jpegComponent, progressive, rgb bool) int64 {
	w, h := int64(width), int64(height)
	h0, v0 := int64(comps[0].h), int64(comps[0].v)
	mxx := (w + 8*h0 - 1) / (8 * h0) // MCUs across
	myy := (h + 8*v0 - 1) / (8 * v0) // and down
	lumaW, lumaH := 8*h0*mxx, 8*v0*myy

	cost := lumaW * lumaH // Y, or the grey image
	if len(comps) > 1 {
		// image.NewYCbCr: two chroma planes subsampled by the ratio of the
		// first component's factors to the second's.
		hr, vr := h0/int64(comps[1].h), v0/int64(comps[1].v)
		cost += 2 * (lumaW / hr) * (lumaH / vr)
	}
	switch {
	case len(comps) == 4:
		cost += 8 * int64(comps[3].h) * mxx * 8 * int64(comps[3].v) * myy // the K plane
		cost += 4 * w * h
	case len(comps) == 3 && (rgb || comps[0].id == 'R' && comps[1].id == 'G' && comps[2].id == 'B'):
		cost += 4 * w * h
	}
	if progressive {
		for _, c := range comps {
			cost += 256 * mxx * myy * int64(c.h) * int64(c.v)
		}
	}
	return cost + decoderState
}

// adobeRGB reports whether an Adobe segment anywhere in the file says its
// three components are RGB (transform 0), which makes image/jpeg convert
// the image to RGBA. The decoder reads such segments wherever they are,
// even between scans, so the whole file is searched, not just the header.
func adobeRGB(data []byte) bool {
	const sig = "Adobe"
	for at := 0; ; {
		k := bytes.Index(data[at:], []byte(sig))
		if k < 0 {
			return false
		}
		k += at
		// FF EE, a length of at least 14, "Adobe", then 6 bytes to the transform.
		if k >= 4 && data[k-4] == 0xFF && data[k-3] == 0xEE &&
			int(data[k-2])<<8|int(data[k-1]) >= 14 && k+11 < len(data) && data[k+11] == 0 {
			return true
		}
		at = k + 1
	}
}

// bmpHeader reads what x/image/bmp will allocate for a BMP whose header
// bmp.DecodeConfig accepted: a paletted image of a byte per pixel for 1 to
// 8 bits per pixel, four bytes per pixel (RGBA or NRGBA) for 24 and 32, and
// one row of the file.
func bmpHeader(data []byte, cfg image.Config) header {
	w, h := int64(cfg.Width), int64(cfg.Height)
	bpp := int64(binary.LittleEndian.Uint16(data[28:30]))
	perPixel := int64(4)
	if bpp <= 8 {
		perPixel = 1
	}
	row := (w*bpp + 31) / 32 * 4
	return header{width: cfg.Width, height: cfg.Height, cost: perPixel*w*h + row + decoderState}
}
