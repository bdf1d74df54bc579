// Package documentstest writes JPEGs that the standard library cannot: blank
// images in progressive or baseline form, with any number of pixels and a
// chosen file size. Each block of a blank image costs a bit or two, so a
// few hundred kilobytes can claim tens of megapixels: the hostile uploads
// the documents' memory budget exists for, and large-but-legal documents to
// test it with. For tests only.
package documentstest

import (
	"encoding/binary"
	"fmt"
)

// JPEG describes a blank image to write.
type JPEG struct {
	Width, Height int
	Components    int  // 1 (grey), 3 (colour) or 4 (CMYK), every component at full resolution
	Progressive   bool // one DC-only scan (SOF2); otherwise baseline (SOF0)
	Size          int  // pad with a comment segment to exactly this many bytes; 0: no padding
}

// Bytes encodes j. Every 8×8 block of every component is coded as "no change
// from the previous block": one bit for a progressive DC scan, two (DC and
// end-of-block) for a baseline scan.
func (j JPEG) Bytes() ([]byte, error) {
	if err := j.validate(); err != nil {
		return nil, err
	}
	out := j.tables([]byte{0xFF, 0xD8})
	sos, scan := j.scanHeader(), j.scanData()
	out, err := j.pad(out, len(sos)+4+len(scan)+2)
	if err != nil {
		return nil, err
	}
	out = segment(out, 0xDA, sos)
	out = append(out, scan...)
	return append(out, 0xFF, 0xD9), nil
}

func (j JPEG) validate() error {
	if j.Width <= 0 || j.Height <= 0 || j.Width > 65535 || j.Height > 65535 {
		return fmt.Errorf("documentstest: %dx%d pixels cannot be written", j.Width, j.Height)
	}
	if j.Components != 1 && j.Components != 3 && j.Components != 4 {
		return fmt.Errorf("documentstest: %d components: want 1, 3 or 4", j.Components)
	}
	return nil
}

// segment appends a marker segment: the marker, its length, its payload.
func segment(out []byte, marker byte, payload []byte) []byte {
	out = append(out, 0xFF, marker)
	out = binary.BigEndian.AppendUint16(out, uint16(len(payload)+2))
	return append(out, payload...)
}

// tables appends what comes before the scan: the Adobe segment for CMYK,
// the quantisation table, the frame header and the Huffman tables.
func (j JPEG) tables(out []byte) []byte {
	if j.Components == 4 {
		// Adobe's segment, without which image/jpeg refuses four components.
		out = segment(out, 0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00"))
	}
	// One quantisation table of ones: the coefficients are all zero anyway.
	dqt := make([]byte, 65)
	for i := 1; i < 65; i++ {
		dqt[i] = 1
	}
	out = segment(out, 0xDB, dqt)

	sof := []byte{8, byte(j.Height >> 8), byte(j.Height), byte(j.Width >> 8), byte(j.Width), byte(j.Components)}
	for c := 1; c <= j.Components; c++ {
		sof = append(sof, byte(c), 0x11, 0) // id, 1×1 sampling, table 0
	}
	marker := byte(0xC0)
	if j.Progressive {
		marker = 0xC2
	}
	out = segment(out, marker, sof)

	out = segment(out, 0xC4, huffmanTable(0))
	if !j.Progressive {
		out = segment(out, 0xC4, huffmanTable(1))
	}
	return out
}

// huffmanTable has a single one-bit code for symbol 0: a DC difference of
// zero, and for the AC table (class 1) end-of-block.
func huffmanTable(class byte) []byte {
	t := make([]byte, 18)
	t[0] = class << 4
	t[1] = 1 // one code of length 1
	t[17] = 0
	return t
}

func (j JPEG) scanHeader() []byte {
	sos := []byte{byte(j.Components)}
	for c := 1; c <= j.Components; c++ {
		sos = append(sos, byte(c), 0x00)
	}
	if j.Progressive {
		return append(sos, 0, 0, 0) // Ss=0, Se=0, Ah=Al=0: DC only
	}
	return append(sos, 0, 63, 0)
}

// scanData is the entropy-coded scan: all zero bits, a code (or two) a block.
func (j JPEG) scanData() []byte {
	blocks := ((j.Width + 7) / 8) * ((j.Height + 7) / 8) * j.Components
	bits := blocks
	if !j.Progressive {
		bits *= 2
	}
	scan := make([]byte, (bits+7)/8)
	if rest := bits % 8; rest != 0 {
		scan[len(scan)-1] = 0xFF >> rest // pad the last byte with ones
		if scan[len(scan)-1] == 0xFF {
			scan = append(scan, 0x00) // stuffed, though 0xFF>>rest never is
		}
	}
	return scan
}

// pad appends comment segments so that out and a tail of that many bytes
// make exactly j.Size; with j.Size 0 it appends nothing.
func (j JPEG) pad(out []byte, tail int) ([]byte, error) {
	if j.Size <= 0 {
		return out, nil
	}
	pad := j.Size - len(out) - tail
	if pad < 4 && pad != 0 {
		return nil, fmt.Errorf("documentstest: %dx%d needs %d bytes, more than %d", j.Width, j.Height, len(out)+tail, j.Size)
	}
	for pad > 0 {
		n := min(pad, 4+65533)
		if rest := pad - n; rest > 0 && rest < 4 {
			n -= 4
		}
		out = segment(out, 0xFE, make([]byte, n-4))
		pad -= n
	}
	return out, nil
}
