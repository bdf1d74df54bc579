// Package fonts owns the typeface the system prints and shows Persian and
// English in: Vazirmatn 33.0.3 (npm package vazirmatn), licensed under the
// SIL Open Font License 1.1, whose text (OFL.txt) must travel with the files.
//
// Vazirmatn is used because it covers Latin, Persian digits and every Arabic
// presentation form that gopdf's ToArabic produces, and because gopdf's font
// subsetter keeps its dots (Noto Naskh Arabic loses them). The same family
// serves the web pages, so a receipt and the page that shows it look alike.
package fonts

import (
	"bytes"
	"embed"
)

//go:embed Vazirmatn-Regular.ttf
var regular []byte

//go:embed Vazirmatn-Bold.ttf
var bold []byte

// Web holds the variable-weight web font (Vazirmatn-Variable.woff2, one file
// for every weight; upstream calls it "Vazirmatn[wght].woff2", renamed so its
// URL needs no escaping) and OFL.txt, to be served beside it.
//
//go:embed *.woff2 OFL.txt
var Web embed.FS

// Regular returns the TrueType data of Vazirmatn Regular. It is a copy, so a
// caller that changes it cannot corrupt every later document.
func Regular() []byte { return bytes.Clone(regular) }

// Bold returns the TrueType data of Vazirmatn Bold, as a copy.
func Bold() []byte { return bytes.Clone(bold) }
