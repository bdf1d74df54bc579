package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"

	"github.com/gofiber/fiber/v2"
)

// FormLimits bound what a multipart form may hold besides its total size
// (which the server's body limit bounds): how many parts, how big a text
// field and all of them together, how big a part's header. File contents
// are streamed to the caller, never held here.
type FormLimits struct {
	Parts       int // parts in all
	Files       int // file parts
	TextParts   int // text fields
	TextBytes   int // one text field's value
	TextTotal   int // all text fields' values together
	HeaderBytes int // one part's header (names and values)
}

// DefaultFormLimits fit every form of the portal and the JSON API with room
// to spare: a dozen fields of at most 1,000 characters (Persian takes two
// bytes a letter), a few documents.
var DefaultFormLimits = FormLimits{Parts: 48, Files: 16, TextParts: 32, TextBytes: 8 << 10, TextTotal: 32 << 10, HeaderBytes: 2 << 10}

// FormPart is one part of a multipart form: a text field, read whole, or a
// file, to be read from File before the next call to Next.
type FormPart struct {
	Name     string
	IsFile   bool
	FileName string    // as the client sent it, any path included ("" for an empty file input)
	Value    string    // a text field's value, whole
	File     io.Reader // a file's content
}

// FormReader reads a multipart form part by part within its limits. Text
// fields are read whole (and refused when too long, never cut); a part is a
// file only if its name is one the caller takes, and a file part under any
// other name is refused; nothing is written to disk.
type FormReader struct {
	body    *window
	mr      *multipart.Reader
	limits  FormLimits
	isFile  func(name string) bool
	current *multipart.Part
	// counts so far
	parts, files, texts, textBytes int
	err                            error // sticky
}

// FormError is a refused form: its status (400 malformed, 413 over a
// limit) and its message in English and Persian.
type FormError struct {
	Code        int
	Message, Fa string
}

func (e *FormError) Error() string   { return e.Message }
func (e *FormError) Status() int     { return e.Code }
func (e *FormError) Persian() string { return e.Fa }

func malformed(detail string) *FormError {
	return &FormError{Code: fiber.StatusBadRequest, Message: "the multipart form is malformed: " + detail,
		Fa: "فرم ارسالی درست نیست: " + detail}
}

func overLimit(en, fa string) *FormError {
	return &FormError{Code: fiber.StatusRequestEntityTooLarge, Message: en, Fa: fa}
}

// NewFormReader reads the request's multipart body; isFile names the parts
// that are files (e.g. "document.passport"). Not multipart/form-data: 400.
func NewFormReader(c *fiber.Ctx, isFile func(name string) bool, limits FormLimits) (*FormReader, error) {
	mediaType, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mediaType != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return nil, &FormError{Code: fiber.StatusBadRequest, Message: "send the form as multipart/form-data",
			Fa: "فرم را به صورت multipart/form-data بفرستید"}
	}
	// A streamed body is counted and cut at the route's limit by the
	// server; any other has been read whole already, within its limit.
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	return NewFormReaderFrom(body, params["boundary"], isFile, limits), nil
}

// NewFormReaderFrom reads a multipart body with the given boundary.
func NewFormReaderFrom(body io.Reader, boundary string, isFile func(name string) bool, limits FormLimits) *FormReader {
	w := &window{r: body, left: -1}
	return &FormReader{body: w, mr: multipart.NewReader(w, boundary), limits: limits, isFile: isFile}
}

// peekBuffer is what mime/multipart reads ahead (its bufio reader's size):
// a part's header may already be in it when the part before ends.
const peekBuffer = 4096

// Next returns the next part, io.EOF after the last, or a *FormError (or
// the body's own error, such as the server's 413 past the body limit). A
// file part left unread is skipped.
func (r *FormReader) Next() (*FormPart, error) {
	if r.err != nil {
		return nil, r.err
	}
	p, err := r.next()
	if err != nil {
		r.err = err
	}
	return p, err
}

func (r *FormReader) next() (*FormPart, error) {
	if r.current != nil {
		if _, err := io.Copy(io.Discard, r.current); err != nil {
			return nil, r.fail(err, "a part ends early")
		}
		r.current = nil
	}
	// While the next header is read, the body may give at most this much:
	// the header, and what the reader fetches ahead of it.
	r.body.left = int64(r.limits.HeaderBytes) + peekBuffer
	part, err := r.mr.NextPart()
	r.body.left = -1
	if err == io.EOF { // the closing boundary; a body cut short is an error wrapping io.EOF
		return nil, io.EOF
	}
	if err != nil {
		if r.body.closed {
			return nil, overLimit("a part's header is too large", "سرآیند یکی از بخش‌های فرم بیش از حد بزرگ است")
		}
		return nil, r.fail(err, "no next part")
	}
	if headerSize(part) > r.limits.HeaderBytes {
		return nil, overLimit("a part's header is too large", "سرآیند یکی از بخش‌های فرم بیش از حد بزرگ است")
	}
	if r.parts++; r.parts > r.limits.Parts {
		return nil, overLimit(fmt.Sprintf("the form has more than %d parts", r.limits.Parts),
			fmt.Sprintf("فرم بیش از %d بخش دارد", r.limits.Parts))
	}
	disposition, params, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	name := params["name"]
	if err != nil || disposition != "form-data" || name == "" {
		return nil, malformed("a part without a form-data name")
	}
	fileName, hasFile := params["filename"]
	if r.isFile != nil && r.isFile(name) {
		if r.files++; r.files > r.limits.Files {
			return nil, overLimit(fmt.Sprintf("the form has more than %d files", r.limits.Files),
				fmt.Sprintf("فرم بیش از %d فایل دارد", r.limits.Files))
		}
		r.current = part
		return &FormPart{Name: name, IsFile: true, FileName: fileName, File: part}, nil
	}
	if hasFile {
		return nil, malformed("a file under a name that takes none: " + name)
	}
	if r.texts++; r.texts > r.limits.TextParts {
		return nil, overLimit(fmt.Sprintf("the form has more than %d fields", r.limits.TextParts),
			fmt.Sprintf("فرم بیش از %d فیلد دارد", r.limits.TextParts))
	}
	value, err := io.ReadAll(io.LimitReader(part, int64(r.limits.TextBytes)+1))
	if err != nil {
		return nil, r.fail(err, "a field ends early")
	}
	if len(value) > r.limits.TextBytes {
		return nil, overLimit(fmt.Sprintf("the field %q is longer than %d bytes", name, r.limits.TextBytes),
			fmt.Sprintf("فیلد %q بیش از %d بایت است", name, r.limits.TextBytes))
	}
	if r.textBytes += len(value); r.textBytes > r.limits.TextTotal {
		return nil, overLimit(fmt.Sprintf("the form's fields are longer than %d bytes together", r.limits.TextTotal),
			fmt.Sprintf("فیلدهای فرم روی هم بیش از %d بایت است", r.limits.TextTotal))
	}
	return &FormPart{Name: name, Value: string(value)}, nil
}

// fail is the error for a read that failed: the body's own (the server's
// 413 past the body limit, a connection gone) if it failed, else malformed.
func (r *FormReader) fail(err error, detail string) error {
	if r.body.err != nil {
		return r.body.err
	}
	return malformed(detail)
}

// headerSize is a part header's size as sent, near enough (names, values
// and their separators).
func headerSize(p *multipart.Part) int {
	n := 0
	for k, vs := range p.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// window passes the body through; while left is not negative, it gives at
// most left more bytes and then reports itself closed. It remembers the
// body's own error.
type window struct {
	r      io.Reader
	left   int64
	closed bool
	err    error
}

var errWindowClosed = errors.New("part header too large")

func (w *window) Read(p []byte) (int, error) {
	if w.left == 0 {
		w.closed = true
		return 0, errWindowClosed
	}
	if w.left > 0 && int64(len(p)) > w.left {
		p = p[:w.left]
	}
	n, err := w.r.Read(p)
	if w.left > 0 {
		w.left -= int64(n)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		w.err = err
	}
	return n, err
}
