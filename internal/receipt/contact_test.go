package receipt

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const samplePage = "https://consular.example.org/missions/AT-VIE"

// The mission's details are printed beside the QR code, each line only if
// missions.json knows it, and the mission's page always; the receipt stays
// one page. The pictures of both are kept in .artifacts/ to be looked at.
func TestReceiptPrintsTheMissionsKnownDetailsAndItsPage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		contact Contact
		want    []string // in the English column
		wantNot []string
	}{
		{
			name: "every detail known",
			contact: Contact{Address: "Jaurèsgasse 9, 1030 Wien", Phone: "+43 1 712 2657", Email: "consular.vienna@example.org",
				HoursEn: "Monday to Friday, 9:00 to 12:30", HoursFa: "دوشنبه تا جمعه، ۹ تا ۱۲:۳۰", Page: samplePage},
			want: []string{contactEn, addressEn, "Jaurèsgasse 9, 1030 Wien", phoneEn, "+43 1 712 2657", emailEn,
				"consular.vienna@example.org", hoursEn, "Monday to Friday, 9:00 to 12:30", pageEn, samplePage},
			wantNot: []string{unknownEn},
		},
		{
			name:    "address only",
			contact: Contact{Address: "50 Kensington Court, London (consular section)", Page: samplePage},
			want:    []string{addressEn, "50 Kensington Court, London (consular section)", pageEn, samplePage},
			wantNot: []string{phoneEn, emailEn, hoursEn, unknownEn},
		},
		{
			name:    "nothing known but the page",
			contact: Contact{Page: samplePage},
			want:    []string{contactEn, unknownEn, samplePage},
			wantNot: []string{addressEn, phoneEn, emailEn, hoursEn},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleReceipt(t)
			r.Contact = tc.contact
			pdf, err := Render(r, testSigner("2025-01", 7).Link(testVerifyURL, r))
			if err != nil {
				t.Fatalf("Render: %v", err) // also when the page would run past its bottom margin
			}
			name := "receipt-contact-" + strings.ReplaceAll(tc.name, " ", "-")
			writeArtifact(t, name+".pdf", pdf)
			writePicture(t, name, pdf)
			// The English column left of the QR code, read alone so its
			// lines are not interleaved with the Persian ones.
			english := strings.ReplaceAll(pdfText(t, pdf, "-x", "0", "-y", "0", "-W", "225", "-H", "842"), "/ ", "/")
			for _, want := range tc.want {
				if !strings.Contains(english, want) {
					t.Errorf("the English column lacks %q; it reads:\n%s", want, english)
				}
			}
			for _, not := range tc.wantNot {
				if strings.Contains(english, not) {
					t.Errorf("the English column prints %q for an unknown detail; it reads:\n%s", not, english)
				}
			}
			// The Persian column right of the QR code carries the same
			// details, the address and numbers as they are written.
			persian := pdfText(t, pdf, "-x", "372", "-y", "0", "-W", "223", "-H", "842")
			for _, v := range []string{tc.contact.Address, tc.contact.Phone, tc.contact.Email} {
				for _, word := range strings.Fields(strings.Trim(v, "()")) { // a long address wraps; pdftotext reads brackets in Persian order
					if !strings.Contains(persian, word) {
						t.Errorf("the Persian column lacks %q of %q; it reads:\n%s", word, v, persian)
					}
				}
			}
		})
	}
}

// A receipt stays one page whatever the mission's details: long but usual
// ones are printed in full beside the long names of a service and a
// mission; details too long for the page give way to the mission's page
// (Render refuses a page whose text runs past the bottom margin, which
// would leave the applicant without a receipt).
func TestReceiptWithLongMissionDetailsStaysOnePage(t *testing.T) {
	long := func(t *testing.T) Receipt {
		r := sampleReceipt(t)
		r.ServiceEn = "Certificate of no criminal record (for use abroad), with apostille"
		r.ServiceFa = "گواهی عدم سوءپیشینه (برای استفاده در خارج از کشور) همراه با آپوستیل"
		r.MissionEn = "Consulate General of the Islamic Republic of Iran in Frankfurt am Main"
		r.MissionFa = "سرکنسولگری جمهوری اسلامی ایران در فرانکفورت آم ماین"
		return r
	}
	page := "https://consular-services.mission.example.org/missions/GB-LON"
	for _, tc := range []struct {
		name     string
		contact  Contact
		detailed bool // printed in full, not given way to the page
	}{
		{"long", Contact{Address: "Consular section, 50 Kensington Court, London W8 5DB", Phone: "+44 20 7937 5225",
			Email: "consular.section.london@mission.example.org", HoursEn: "Monday to Friday, 9:00 to 12:30",
			HoursFa: "دوشنبه تا جمعه، ۹ تا ۱۲:۳۰", Page: page}, true},
		{"too long", Contact{Address: "Consular section, Kensington Court 50, London W8 5DB, United Kingdom of Great Britain and Northern Ireland",
			Phone: "+44 20 7937 5225", Email: "consular.section.london@mission.example.org",
			HoursEn: "Monday to Thursday 9:00 to 12:30; Friday 9:00 to 11:00; closed on Iranian and British public holidays",
			HoursFa: "دوشنبه تا پنجشنبه ۹ تا ۱۲:۳۰؛ جمعه ۹ تا ۱۱؛ در تعطیلات رسمی ایران و بریتانیا بسته است", Page: page}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := long(t)
			r.Contact = tc.contact
			pdf, err := Render(r, testSigner("2025-01", 7).Link(testVerifyURL, r))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			name := "receipt-contact-" + strings.ReplaceAll(tc.name, " ", "-")
			writeArtifact(t, name+".pdf", pdf)
			writePicture(t, name, pdf)
			english := pdfText(t, pdf, "-x", "0", "-y", "0", "-W", "230", "-H", "842")
			joined := strings.NewReplacer("/ ", "/", "@ ", "@", ". ", ".").Replace(english) // links and addresses broken over lines
			if got := strings.Contains(joined, tc.contact.Email); got != tc.detailed {
				t.Errorf("email printed: %v, want %v; the English column reads:\n%s", got, tc.detailed, english)
			}
			if !strings.Contains(joined, page) {
				t.Errorf("the mission's page is not printed; the English column reads:\n%s", english)
			}
			if got := strings.Contains(english, unknownEn); got == tc.detailed {
				t.Errorf("says the details are on the mission's page: %v, want %v", got, !tc.detailed)
			}
		})
	}
}

// writePicture renders the first page as a PNG beside the PDF in
// .artifacts/, for a person to look at; without pdftoppm it only says so.
func writePicture(t *testing.T, name string, pdf []byte) {
	t.Helper()
	bin, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Log("pdftoppm missing: no picture")
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.pdf"), pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-png", "-r", "90", "-singlefile", filepath.Join(dir, "r.pdf"), filepath.Join(dir, "r")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "r.png"))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, name+".png", b)
}
