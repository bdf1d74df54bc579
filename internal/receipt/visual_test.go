package receipt

import (
	"strings"
	"testing"

	"github.com/signintech/gopdf"
)

// shaped is what gopdf.ToArabic makes of a right-to-left run, with the
// brackets mirrored: the expected pieces of a visual line.
func shaped(s string) string { return mirrored.Replace(gopdf.ToArabic(s)) }

func TestVisualOrdersMixedPersianLines(t *testing.T) {
	for _, tc := range []struct {
		name, line, want string
	}{
		{
			name: "Persian only is shaped and reversed",
			line: "کد پیگیری",
			want: gopdf.ToArabic("کد پیگیری"),
		},
		{
			// Read right to left: label, code, mission in brackets. Drawn left
			// to right: the bracketed mission first, the code intact, the label last.
			name: "tracking code between Persian label and bracketed mission",
			line: "کد پیگیری: 4821-7730-9152-06 (سفارت وین)",
			want: shaped(" (سفارت وین)") + "4821-7730-9152-06" + shaped("کد پیگیری: "),
		},
		{
			// Letters in the code turn its hyphens into neutrals; without the
			// LRI...PDI isolate the code would be split and reordered.
			name: "alphanumeric code stays in one piece",
			line: "کد پیگیری: 1404-7K3M-9QX2 (سفارت وین)",
			want: shaped(" (سفارت وین)") + "1404-7K3M-9QX2" + shaped("کد پیگیری: "),
		},
		{
			name: "Solar Hijri date in Persian digits keeps its order",
			line: "تاریخ ثبت: ۱۴۰۴/۰۱/۰۱",
			want: "۱۴۰۴/۰۱/۰۱" + shaped("تاریخ ثبت: "),
		},
		{
			name: "Latin word inside a Persian sentence",
			line: "کد QR را اسکن کنید.",
			want: shaped(" را اسکن کنید.") + "QR" + shaped("کد "),
		},
		{
			// The non-joiner keeps می and شود apart, then is dropped.
			name: "zero-width non-joiner breaks the joining and disappears",
			line: "می‌شود",
			want: strings.ReplaceAll(gopdf.ToArabic("می‌شود"), "\u200c", ""),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := visual(tc.line)
			if err != nil {
				t.Fatalf("visual: %v", err)
			}
			if got != tc.want {
				t.Errorf("visual(%q)\n got %q\nwant %q", tc.line, got, tc.want)
			}
			if strings.ContainsAny(got, "\u2066\u2069\u200c") {
				t.Errorf("visual(%q) kept invisible marks: %q", tc.line, got)
			}
		})
	}
}

// The brackets of "(سفارت وین)" must face the text after reversal: the line
// drawn left to right starts with "(" and the code is followed by the label.
func TestVisualMirrorsBrackets(t *testing.T) {
	got, err := visual("کد پیگیری: 4821-7730-9152-06 (سفارت وین)")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "(") || strings.Index(got, ")") > strings.Index(got, "4821") {
		t.Errorf("brackets not mirrored: %q", got)
	}
	if strings.ContainsAny(got, "سک") {
		t.Errorf("letters left unshaped (still in their base form): %q", got)
	}
}

func TestVisualRefusesLineBreaks(t *testing.T) {
	if _, err := visual("خط اول\nخط دوم"); err == nil {
		t.Error("visual accepted a line holding a paragraph separator")
	}
}
