package fonts

import (
	"bytes"
	"io/fs"
	"testing"
)

func TestFontsAreEmbedded(t *testing.T) {
	trueType := []byte{0, 1, 0, 0} // sfnt version of a TrueType font
	for name, data := range map[string][]byte{"Regular": Regular(), "Bold": Bold()} {
		if !bytes.HasPrefix(data, trueType) {
			t.Errorf("%s is not TrueType data", name)
		}
	}
	woff2, err := fs.ReadFile(Web, "Vazirmatn-Variable.woff2")
	if err != nil || !bytes.HasPrefix(woff2, []byte("wOF2")) {
		t.Errorf("web font missing or not WOFF2: %v", err)
	}
	if licence, err := fs.ReadFile(Web, "OFL.txt"); err != nil || !bytes.Contains(licence, []byte("SIL Open Font License")) {
		t.Errorf("OFL.txt missing beside the web font: %v", err)
	}
}
