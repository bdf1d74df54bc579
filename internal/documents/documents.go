// Package documents owns the decision whether an applicant's uploaded
// document is acceptable: its size, its real format (JPEG or BMP, judged by
// content), its dimensions, what decoding it will cost (read from the header
// and kept within a per-process memory budget), whether it decodes, the file
// name used as its label, and the SHA-256 of the exact bytes that were
// checked. The HTTP endpoints call CheckContext, which decodes every
// pixel; the Temporal activity calls CheckStored on the stored bytes, which
// applies the same rules but, holding the SHA-256 CheckContext gave, does
// not decode them again. Pure logic: no network, no database.
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
	"io"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/bmp"
)

// Reasons a document is refused. They are stable codes: handlers, activities,
// logs and metrics may match on them.
const (
	ReasonEmpty      = "empty"
	ReasonTooSmall   = "too_small"
	ReasonTooLarge   = "too_large"
	ReasonFormat     = "format"
	ReasonDimensions = "dimensions"
	// ReasonTooManyPixels: within the pixel limits, but saved in a way
	// (progressive JPEG, say) that would take more than DocumentBudget to
	// decode.
	ReasonTooManyPixels = "too_many_pixels"
	ReasonCorrupt       = "corrupt"
	ReasonName          = "name"
	// ReasonChanged: a stored document is not the bytes that were checked
	// when it was uploaded (CheckStored).
	ReasonChanged = "changed"
)

// Formats of an accepted document, as decided from its content.
const (
	FormatJPEG = "jpeg"
	FormatBMP  = "bmp"
)

// MaxNameBytes bounds the client's file name; it is a label shown on pages
// and stored with the document, not a path.
const MaxNameBytes = 120

// Rule bounds what a document may be. A zero field means "use the default",
// so a service can override only the sizes it cares about.
type Rule struct {
	MinBytes, MaxBytes int64 // inclusive
	MaxSide            int   // pixels, width and height each (inclusive)
	MaxPixels          int   // width × height (inclusive)
}

// DefaultRule accepts 100-300 KB, at most 5,000 pixels a side and 12.5
// megapixels. A document is a page: an A4 page scanned at 300 dpi is 2,480 ×
// 3,508 pixels (8.7 megapixels), US Legal 2,550 × 4,200, A3 3,508 × 4,961; a
// 12-megapixel phone photo of a page is 4,032 × 3,024. Anything larger in
// 300 KB is not a scan: at 0.2 bits a pixel nothing is legible, but a blank
// image costs a bit per block, which is how a 234 KB file claims 40
// megapixels and half a gigabyte to decode. What decoding may cost is
// bounded separately (DocumentBudget), because that depends on how the
// image is saved as well as on its pixels.
var DefaultRule = Rule{
	MinBytes:  100 << 10,
	MaxBytes:  300 << 10,
	MaxSide:   5000,
	MaxPixels: 12_500_000,
}

// Document describes a document that passed every check.
type Document struct {
	Name          string // the client's file name, a label only
	Format        string // FormatJPEG or FormatBMP
	Size          int64  // bytes
	Width, Height int    // pixels
	SHA256        string // hex of the exact bytes checked
}

// Problem is why a document was refused. Reason is one of the Reason
// constants; Detail is English for logs. Neither contains the file name, which
// may carry an applicant's name, so a Problem is safe to log.
type Problem struct {
	Reason string
	Detail string

	// Facts for Message. name is empty when the name itself was refused, so
	// a refused name is never echoed back.
	name          string
	nameIssue     nameIssue
	size          int64
	rule          Rule
	width, height int
	limit         int // pixels, for ReasonTooManyPixels
}

func (p *Problem) Error() string {
	return "document refused (" + p.Reason + "): " + p.Detail
}

type nameIssue int

const (
	nameOK nameIssue = iota
	nameMissing
	nameTooLong
	nameBadChars
	nameBadExtension
)

// Check is CheckContext without a deadline: waiting for the process's
// memory budget lasts as long as it takes.
func Check(name string, r io.Reader, rule Rule) (Document, []byte, error) {
	return CheckContext(context.Background(), name, r, rule)
}

// CheckContext reads one document from r and decides whether it is
// acceptable under rule. It returns the bytes it read, so the caller stores
// exactly what was checked. A refusal is a *Problem; any other error is an
// I/O failure reading r, or ctx ending while the check waited for memory
// (worth retrying, unlike a Problem).
//
// At most rule.MaxBytes+1 bytes are read, so an oversized stream is refused
// without being read to the end. The check waits for its bytes and then for
// its decoding cost within the process's budgets (ReadingBudget,
// DecodingBudget), so fifty uploads at once wait, their bodies unread,
// instead of growing the heap.
func CheckContext(ctx context.Context, name string, r io.Reader, rule Rule) (Document, []byte, error) {
	rule = rule.withDefaults()
	if err := rule.validate(); err != nil {
		return Document{}, nil, err
	}
	if p := checkName(name); p != nil {
		return Document{}, nil, p
	}

	held := rule.MaxBytes + 1
	if err := reading.Acquire(ctx, held); err != nil {
		return Document{}, nil, fmt.Errorf("wait to read document: %w", err)
	}
	defer reading.Release(held)
	data, err := readAtMost(r, held)
	if err != nil {
		return Document{}, nil, err
	}

	format, hdr, p := checkContent(data, rule)
	if p == nil {
		// Dimensions and cost are within bounds: now decode every pixel, so a
		// truncated or damaged file is refused here rather than by a consular
		// officer.
		if p, err = decode(ctx, data, format, hdr); err != nil {
			return Document{}, data, err
		}
	}
	if p != nil {
		p.name, p.size, p.rule = name, int64(len(data)), rule
		return Document{}, data, p
	}

	return Document{
		Name:   name,
		Format: format,
		Size:   int64(len(data)),
		Width:  hdr.width,
		Height: hdr.height,
		SHA256: hash(data),
	}, data, nil
}

// CheckStored judges again a stored document that CheckContext accepted
// at upload, where sum is the SHA-256 (hex) CheckContext gave for it: the
// bytes must be those, and pass every rule that needs no decoding (so a
// rule made stricter since still applies). Its pixels are not decoded
// again: the same bytes decode the same way, and decoding was most of what
// a check cost (BenchmarkCheckStored). A refusal is a *Problem, of
// ReasonChanged when the bytes differ; any other error is an I/O failure or
// ctx ending while the check waited for memory.
//
// Only a caller that holds sum from CheckContext may use it; where it
// comes from anyone else (a client), call CheckContext.
func CheckStored(ctx context.Context, name string, r io.Reader, rule Rule, sum string) (Document, error) {
	rule = rule.withDefaults()
	if err := rule.validate(); err != nil {
		return Document{}, err
	}
	if p := checkName(name); p != nil {
		return Document{}, p
	}
	held := rule.MaxBytes + 1
	if err := reading.Acquire(ctx, held); err != nil {
		return Document{}, fmt.Errorf("wait to read document: %w", err)
	}
	defer reading.Release(held)
	data, err := readAtMost(r, held)
	if err != nil {
		return Document{}, err
	}
	format, hdr, p := checkContent(data, rule)
	if p == nil && hash(data) != sum {
		p = &Problem{Reason: ReasonChanged, Detail: "content is not the bytes checked at upload"}
	}
	if p != nil {
		p.name, p.size, p.rule = name, int64(len(data)), rule
		return Document{}, p
	}
	return Document{Name: name, Format: format, Size: int64(len(data)), Width: hdr.width, Height: hdr.height, SHA256: sum}, nil
}

func hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// readAtMost reads up to n bytes of r, so a longer stream is not read to
// its end.
func readAtMost(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, n)
	got, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read document: %w", err)
	}
	return buf[:got:got], nil
}

// checkContent applies every rule that needs no decoding: size and format,
// the header, the dimensions and decoding cost it claims, and a BMP's
// length. It returns the format and header of content that passes them.
func checkContent(data []byte, rule Rule) (string, header, *Problem) {
	format, p := checkSizeAndFormat(data, rule)
	if p != nil {
		return "", header{}, p
	}
	hdr, p := readHeader(format, data)
	if p != nil {
		return "", header{}, p
	}
	if p := checkBounds(format, hdr, rule); p != nil {
		return "", header{}, p
	}
	if format == FormatBMP {
		if p := checkBMPLength(data, hdr); p != nil {
			return "", header{}, p
		}
	}
	return format, hdr, nil
}

func checkSizeAndFormat(data []byte, rule Rule) (string, *Problem) {
	size := int64(len(data))
	switch {
	case size == 0:
		return "", &Problem{Reason: ReasonEmpty, Detail: "file is empty"}
	case size > rule.MaxBytes:
		return "", &Problem{Reason: ReasonTooLarge, Detail: fmt.Sprintf("file is larger than %d bytes", rule.MaxBytes)}
	}

	// The format comes from the first bytes, never from the name or a
	// declared content type. It is checked before the minimum size because
	// "wrong kind of file" is the more useful thing to tell the applicant.
	format := sniff(data)
	if format == "" {
		return "", &Problem{Reason: ReasonFormat, Detail: "content is neither JPEG nor BMP"}
	}
	if size < rule.MinBytes {
		return "", &Problem{Reason: ReasonTooSmall, Detail: fmt.Sprintf("file is %d bytes, minimum %d", size, rule.MinBytes)}
	}
	return format, nil
}

// readHeader reads the dimensions and what decoding will cost before any
// pixel is decoded. Our own readers, not image.DecodeConfig: other packages
// in the binary (gopdf, for one) register decoders globally, and whichever
// matches first would otherwise decide what we accept.
func readHeader(format string, data []byte) (header, *Problem) {
	var hdr header
	switch format {
	case FormatJPEG:
		var hp *headerProblem
		if hdr, hp = jpegHeader(data); hp != nil {
			return header{}, &Problem{Reason: hp.reason, Detail: hp.detail}
		}
	case FormatBMP:
		cfg, err := bmp.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return header{}, &Problem{Reason: ReasonCorrupt, Detail: fmt.Sprintf("bmp header does not decode: %v", err)}
		}
		if cfg.Width > 0 && cfg.Height > 0 {
			hdr = bmpHeader(data, cfg)
		}
	}
	if hdr.width <= 0 || hdr.height <= 0 {
		return header{}, &Problem{Reason: ReasonCorrupt, Detail: fmt.Sprintf("%s header claims %dx%d pixels", format, hdr.width, hdr.height)}
	}
	return hdr, nil
}

// checkBounds refuses an image larger than the rule allows, or one that
// would cost more than DocumentBudget to decode.
func checkBounds(format string, hdr header, rule Rule) *Problem {
	pixels := int64(hdr.width) * int64(hdr.height)
	if hdr.width > rule.MaxSide || hdr.height > rule.MaxSide || pixels > int64(rule.MaxPixels) {
		return &Problem{
			Reason: ReasonDimensions,
			Detail: fmt.Sprintf("%dx%d pixels exceeds %d a side or %d in total", hdr.width, hdr.height, rule.MaxSide, rule.MaxPixels),
			width:  hdr.width, height: hdr.height,
		}
	}
	// Within the pixel limits, the way an image is saved can still make it
	// too dear to decode: progressive JPEG keeps 4 bytes per pixel per
	// component. The applicant is told the limit for an image saved that way.
	if hdr.cost > DocumentBudget {
		limit := min(int64(rule.MaxPixels), DocumentBudget*pixels/hdr.cost)
		return &Problem{
			Reason: ReasonTooManyPixels,
			Detail: fmt.Sprintf("%dx%d %s would take %d bytes to decode, more than %d", hdr.width, hdr.height, format, hdr.cost, int64(DocumentBudget)),
			width:  hdr.width, height: hdr.height, limit: int(limit),
		}
	}
	return nil
}

// checkBMPLength refuses a BMP shorter than its header says. The BMP decoder
// allocates the whole image before reading a single row, so a small file
// claiming 2000x2000 would cost 16 MB to find out it is truncated. BMP pixel
// data is uncompressed: its length is known.
func checkBMPLength(data []byte, hdr header) *Problem {
	size := int64(len(data))
	if need, ok := bmpLength(data, hdr); !ok || size < need {
		return &Problem{Reason: ReasonCorrupt, Detail: fmt.Sprintf("bmp pixel data is truncated: %d bytes, header needs %d", size, need)}
	}
	return nil
}

// decode decodes every pixel once the process's decoding budget has room
// for the header's cost. A file that does not decode is a Problem; ctx
// ending while waiting is an error.
func decode(ctx context.Context, data []byte, format string, hdr header) (*Problem, error) {
	if err := decoding.acquire(ctx, hdr.cost); err != nil {
		return nil, fmt.Errorf("wait to decode document: %w", err)
	}
	_, err := decoders[format](bytes.NewReader(data))
	decoding.release(hdr.cost)
	if err != nil {
		return &Problem{Reason: ReasonCorrupt, Detail: fmt.Sprintf("%s does not decode: %v", format, err)}, nil
	}
	return nil, nil
}

var decoders = map[string]func(io.Reader) (image.Image, error){
	FormatJPEG: jpeg.Decode,
	FormatBMP:  bmp.Decode,
}

func sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return FormatJPEG
	case bytes.HasPrefix(data, []byte("BM")):
		return FormatBMP
	}
	return ""
}

// bmpLength is the file length a BMP's header implies: pixel data offset plus
// rows padded to four bytes. Only called after bmp.DecodeConfig accepted the
// header, so the header is complete.
func bmpLength(data []byte, cfg header) (int64, bool) {
	if len(data) < 30 {
		return 0, false
	}
	offset := int64(binary.LittleEndian.Uint32(data[10:14]))
	bpp := int64(binary.LittleEndian.Uint16(data[28:30]))
	row := (int64(cfg.width)*bpp + 31) / 32 * 4
	return offset + row*int64(cfg.height), true
}

var extensions = map[string]bool{".jpg": true, ".jpeg": true, ".bmp": true}

// checkName refuses file names that could be mistaken for paths or that would
// render misleadingly. The extension is required only so the label matches
// what we accept; it never makes content acceptable.
func checkName(name string) *Problem {
	refuse := func(issue nameIssue, detail string) *Problem {
		return &Problem{Reason: ReasonName, Detail: detail, nameIssue: issue}
	}
	switch {
	case name == "":
		return refuse(nameMissing, "file name is empty")
	case len(name) > MaxNameBytes:
		return refuse(nameTooLong, fmt.Sprintf("file name is %d bytes, maximum %d", len(name), MaxNameBytes))
	case !utf8.ValidString(name):
		return refuse(nameBadChars, "file name is not valid UTF-8")
	case strings.ContainsAny(name, `/\`) || strings.Contains(name, ".."):
		return refuse(nameBadChars, "file name contains a path separator or ..")
	case strings.IndexFunc(name, badRune) >= 0:
		return refuse(nameBadChars, "file name contains a control or bidirectional formatting character")
	case !extensions[strings.ToLower(path.Ext(name))]:
		return refuse(nameBadExtension, "file name extension is not .jpg, .jpeg or .bmp")
	}
	return nil
}

// badRune reports control characters, and the bidirectional embedding,
// override and isolate marks that can make "x‮gpj.exe" display as something
// else. Other format characters stay allowed: Persian names need the
// zero-width non-joiner (U+200C).
func badRune(r rune) bool {
	return unicode.IsControl(r) ||
		(r >= 0x202A && r <= 0x202E) ||
		(r >= 0x2066 && r <= 0x2069)
}

func (r Rule) withDefaults() Rule {
	if r.MinBytes == 0 {
		r.MinBytes = DefaultRule.MinBytes
	}
	if r.MaxBytes == 0 {
		r.MaxBytes = DefaultRule.MaxBytes
	}
	if r.MaxSide == 0 {
		r.MaxSide = DefaultRule.MaxSide
	}
	if r.MaxPixels == 0 {
		r.MaxPixels = DefaultRule.MaxPixels
	}
	return r
}

// validate catches a misconfigured service; it is the operator's error, not
// the applicant's, so it is not a Problem.
func (r Rule) validate() error {
	// A document larger than the reading budget could never be read; sides
	// beyond JPEG's 65,535 and pixels beyond 2^31 are no document, and
	// keep the cost arithmetic far from overflowing.
	if r.MinBytes < 0 || r.MaxBytes < r.MinBytes || r.MaxBytes >= ReadingBudget ||
		r.MaxSide < 0 || r.MaxSide > 65535 || r.MaxPixels < 0 || int64(r.MaxPixels) > 1<<31 {
		return errors.New("documents: invalid rule: " + fmt.Sprint(r))
	}
	return nil
}
