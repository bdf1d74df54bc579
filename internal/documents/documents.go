// Package documents owns the decision whether an applicant's uploaded
// document is acceptable: its size, its real format (JPEG or BMP, judged by
// content), its dimensions, whether it decodes, the file name used as its
// label, and the SHA-256 of the exact bytes that were checked. Both the HTTP
// submit endpoint and the Temporal activity call Check, so a document is
// judged the same way wherever it arrives. Pure logic: no network, no database.
package documents

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"path"
	"runtime"
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
	ReasonCorrupt    = "corrupt"
	ReasonName       = "name"
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

// DefaultRule accepts 100-300 KB, and at most 8000 px a side and 40 megapixels,
// which is far beyond any scan or photo of that size but keeps a crafted
// header from making the decoder allocate gigabytes.
var DefaultRule = Rule{
	MinBytes:  100 << 10,
	MaxBytes:  300 << 10,
	MaxSide:   8000,
	MaxPixels: 40_000_000,
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

// checking bounds the checks running at once in this process.
var checking = make(chan struct{}, 2*runtime.GOMAXPROCS(0))

// Check reads one document from r and decides whether it is acceptable under
// rule. It returns the bytes it read, so the caller stores exactly what was
// checked. A refusal is a *Problem; any other error is an I/O failure reading
// r (worth retrying, unlike a Problem).
//
// At most rule.MaxBytes+1 bytes are read, so an oversized stream is refused
// without being read to the end.
func Check(name string, r io.Reader, rule Rule) (Document, []byte, error) {
	// A few checks at a time per process: reading and decoding a document
	// takes its bytes and an image's worth of memory, so fifty uploads at
	// once wait here, their bodies unread, instead of growing the heap.
	checking <- struct{}{}
	defer func() { <-checking }()
	rule = rule.withDefaults()
	if err := rule.validate(); err != nil {
		return Document{}, nil, err
	}
	if p := checkName(name); p != nil {
		return Document{}, nil, p
	}

	data, err := io.ReadAll(io.LimitReader(r, rule.MaxBytes+1))
	if err != nil {
		return Document{}, nil, fmt.Errorf("read document: %w", err)
	}
	size := int64(len(data))
	refuse := func(reason, detail string) (Document, []byte, error) {
		return Document{}, data, &Problem{Reason: reason, Detail: detail, name: name, size: size, rule: rule}
	}

	switch {
	case size == 0:
		return refuse(ReasonEmpty, "file is empty")
	case size > rule.MaxBytes:
		return refuse(ReasonTooLarge, fmt.Sprintf("file is larger than %d bytes", rule.MaxBytes))
	}

	// The format comes from the first bytes, never from the name or a
	// declared content type. It is checked before the minimum size because
	// "wrong kind of file" is the more useful thing to tell the applicant.
	format := sniff(data)
	if format == "" {
		return refuse(ReasonFormat, "content is neither JPEG nor BMP")
	}
	if size < rule.MinBytes {
		return refuse(ReasonTooSmall, fmt.Sprintf("file is %d bytes, minimum %d", size, rule.MinBytes))
	}

	// Call the format's own decoder rather than image.DecodeConfig: other
	// packages in the binary (gopdf, for one) register decoders globally,
	// and whichever matches first would otherwise decide what we accept.
	dec := decoders[format]
	cfg, err := dec.config(bytes.NewReader(data))
	if err != nil {
		return refuse(ReasonCorrupt, fmt.Sprintf("%s header does not decode: %v", format, err))
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return refuse(ReasonCorrupt, fmt.Sprintf("%s header claims %dx%d pixels", format, cfg.Width, cfg.Height))
	}
	if cfg.Width > rule.MaxSide || cfg.Height > rule.MaxSide ||
		int64(cfg.Width)*int64(cfg.Height) > int64(rule.MaxPixels) {
		p := &Problem{
			Reason: ReasonDimensions,
			Detail: fmt.Sprintf("%dx%d pixels exceeds %d a side or %d in total", cfg.Width, cfg.Height, rule.MaxSide, rule.MaxPixels),
			name:   name, size: size, rule: rule, width: cfg.Width, height: cfg.Height,
		}
		return Document{}, data, p
	}
	// The BMP decoder allocates the whole image before reading a single row,
	// so a small file claiming 8000x5000 would cost 160 MB to find out it is
	// truncated. BMP pixel data is uncompressed: its length is known.
	if format == FormatBMP {
		if need, ok := bmpLength(data, cfg); !ok || size < need {
			return refuse(ReasonCorrupt, fmt.Sprintf("bmp pixel data is truncated: %d bytes, header needs %d", size, need))
		}
	}
	// Dimensions are within bounds: now decode every pixel, so a truncated
	// or damaged file is refused here rather than by a consular officer.
	if _, err := dec.decode(bytes.NewReader(data)); err != nil {
		return refuse(ReasonCorrupt, fmt.Sprintf("%s does not decode: %v", format, err))
	}

	sum := sha256.Sum256(data)
	return Document{
		Name:   name,
		Format: format,
		Size:   size,
		Width:  cfg.Width,
		Height: cfg.Height,
		SHA256: hex.EncodeToString(sum[:]),
	}, data, nil
}

type decoder struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var decoders = map[string]decoder{
	FormatJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	FormatBMP:  {bmp.DecodeConfig, bmp.Decode},
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
func bmpLength(data []byte, cfg image.Config) (int64, bool) {
	if len(data) < 30 {
		return 0, false
	}
	offset := int64(binary.LittleEndian.Uint32(data[10:14]))
	bpp := int64(binary.LittleEndian.Uint16(data[28:30]))
	row := (int64(cfg.Width)*bpp + 31) / 32 * 4
	return offset + row*int64(cfg.Height), true
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
	if r.MinBytes < 0 || r.MaxBytes < r.MinBytes || r.MaxSide < 0 || r.MaxPixels < 0 {
		return errors.New("documents: invalid rule: " + fmt.Sprint(r))
	}
	return nil
}
