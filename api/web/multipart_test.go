package web

import (
	"errors"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

var testFormLimits = FormLimits{Parts: 6, Files: 2, TextParts: 4, TextBytes: 64, TextTotal: 128, HeaderBytes: 256}

func isDocument(name string) bool { return strings.HasPrefix(name, "document.") }

// form builds a multipart body with boundary "b".
func form(t testing.TB, parts ...[3]string) string { // name, filename ("" for text), content
	t.Helper()
	var b strings.Builder
	w := multipart.NewWriter(&b)
	_ = w.SetBoundary("b")
	for _, p := range parts {
		var pw io.Writer
		var err error
		if p[1] != "" {
			pw, err = w.CreateFormFile(p[0], p[1])
		} else {
			pw, err = w.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(pw, p[2])
	}
	_ = w.Close()
	return b.String()
}

// readAll reads a form as a handler would, reading each file whole.
func readAll(body string, limits FormLimits) (texts map[string]string, files map[string]string, err error) {
	fr := NewFormReaderFrom(strings.NewReader(body), "b", isDocument, limits)
	texts, files = map[string]string{}, map[string]string{}
	for {
		p, err := fr.Next()
		if err == io.EOF {
			return texts, files, nil
		}
		if err != nil {
			return texts, files, err
		}
		if p.IsFile {
			b, _ := io.ReadAll(p.File)
			files[p.Name] = string(b)
		} else {
			texts[p.Name] = p.Value
		}
	}
}

func statusOf(err error) int {
	var fe *FormError
	if errors.As(err, &fe) {
		return fe.Code
	}
	return 0
}

func TestFormReaderReadsFieldsAndStreamsFiles(t *testing.T) {
	body := form(t, [3]string{"full_name", "", "سارا"}, [3]string{"document.passport", "p.jpg", strings.Repeat("j", 10_000)},
		[3]string{"email", "", "a@b.c"})
	texts, files, err := readAll(body, testFormLimits)
	if err != nil {
		t.Fatal(err)
	}
	if texts["full_name"] != "سارا" || texts["email"] != "a@b.c" || len(files["document.passport"]) != 10_000 {
		t.Fatalf("texts %v, file of %d bytes", texts, len(files["document.passport"]))
	}
}

// Each bound refuses the form, with 413 where size or count is the reason
// and 400 where the form is wrong; nothing is cut silently.
func TestFormReaderRefusesWhatIsOverItsLimits(t *testing.T) {
	long := strings.Repeat("x", 65)
	for _, c := range []struct {
		name string
		body string
		want int
	}{
		{"a field one byte too long", form(t, [3]string{"a", "", long}), 413},
		{"too many fields", form(t, [3]string{"a", "", "1"}, [3]string{"b", "", "2"}, [3]string{"c", "", "3"}, [3]string{"d", "", "4"}, [3]string{"e", "", "5"}), 413},
		{"fields too long together", form(t, [3]string{"a", "", long[:60]}, [3]string{"b", "", long[:60]}, [3]string{"c", "", long[:60]}), 413},
		{"too many files", form(t, [3]string{"document.a", "a", "1"}, [3]string{"document.b", "b", "2"}, [3]string{"document.c", "c", "3"}), 413},
		{"too many parts", form(t, [3]string{"document.a", "a", "1"}, [3]string{"document.b", "b", "2"}, [3]string{"a", "", "1"}, [3]string{"b", "", "2"},
			[3]string{"c", "", "3"}, [3]string{"d", "", "4"}, [3]string{"e", "", "5"}), 413},
		{"a file under a name that takes none", form(t, [3]string{"photo", "p.jpg", "1"}), 400},
		{"a part without a name", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", 400},
		{"a header too large", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + strings.Repeat("p", 300) + "\r\n\r\nx\r\n--b--\r\n", 413},
		{"a header far too large", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + strings.Repeat("p", 100_000) + "\r\n\r\nx\r\n--b--\r\n", 413},
		{"a preamble far too large", strings.Repeat("preamble\r\n", 10_000) + "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b--\r\n", 413},
		{"cut short", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxyz", 400},
		{"no closing boundary", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxyz\r\n", 400},
	} {
		_, _, err := readAll(c.body, testFormLimits)
		if got := statusOf(err); got != c.want {
			t.Errorf("%s: %v (status %d), want %d", c.name, err, got, c.want)
		}
	}
}

// A field exactly at its limit passes.
func TestFormReaderTakesFieldsAtTheirLimit(t *testing.T) {
	texts, _, err := readAll(form(t, [3]string{"a", "", strings.Repeat("x", 64)}, [3]string{"b", "", strings.Repeat("y", 64)}), testFormLimits)
	if err != nil || len(texts["a"]) != 64 || len(texts["b"]) != 64 {
		t.Fatalf("%v, %d and %d bytes", err, len(texts["a"]), len(texts["b"]))
	}
}

// The body's own error (the server's 413 past the body limit) comes
// through as it is, not as "malformed".
func TestFormReaderPassesTheBodysErrorOn(t *testing.T) {
	tooLarge := fiber.NewError(fiber.StatusRequestEntityTooLarge, "too large")
	body := io.MultiReader(strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxy"), failing{tooLarge})
	fr := NewFormReaderFrom(body, "b", isDocument, testFormLimits)
	if _, err := fr.Next(); !errors.Is(err, tooLarge) {
		t.Fatalf("%v, want the body's error", err)
	}
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

// FuzzFormReader: whatever the body, the reader never panics, every part it
// hands out is within the limits, a file only under a name that takes one,
// and it fails only with a FormError (the body itself never fails here),
// the same one again if asked again.
func FuzzFormReader(f *testing.F) {
	f.Add([]byte(form(f, [3]string{"full_name", "", "سارا"}, [3]string{"document.passport", "p.jpg", "\xff\xd8\xff"}, [3]string{"email", "", "a@b.c"})))
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nxyz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		limits := testFormLimits
		fr := NewFormReaderFrom(strings.NewReader(string(body)), "b", isDocument, limits)
		parts, files, texts, textBytes := 0, 0, 0, 0
		for {
			p, err := fr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var fe *FormError
				if !errors.As(err, &fe) || (fe.Code != 400 && fe.Code != 413) {
					t.Fatalf("error %v (%T), want a FormError of 400 or 413", err, err)
				}
				if _, again := fr.Next(); again != err {
					t.Fatalf("asked again: %v, want %v", again, err)
				}
				return
			}
			parts++
			if p.Name == "" {
				t.Fatal("a part without a name")
			}
			if p.IsFile {
				files++
				if !isDocument(p.Name) {
					t.Fatalf("a file under %q", p.Name)
				}
				if len(body)%2 == 0 { // read some files, leave others to the reader
					_, _ = io.ReadAll(p.File)
				}
			} else {
				texts++
				textBytes += len(p.Value)
				if len(p.Value) > limits.TextBytes {
					t.Fatalf("a field of %d bytes", len(p.Value))
				}
			}
			if parts > limits.Parts || files > limits.Files || texts > limits.TextParts || textBytes > limits.TextTotal {
				t.Fatalf("%d parts, %d files, %d fields of %d bytes: over %+v", parts, files, texts, textBytes, limits)
			}
		}
	})
}
