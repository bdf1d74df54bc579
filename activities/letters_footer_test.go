package activities

import (
	"strings"
	"testing"
	"time"

	"github.com/openconsular/consular/internal/consular"
)

// withMission adds a mission to missions.json for one test.
func withMission(t *testing.T, m consular.MissionInfo) {
	t.Helper()
	saved := consular.Missions
	d := saved
	d.Missions = append(append([]consular.MissionInfo(nil), saved.Missions...), m)
	consular.Missions = d
	t.Cleanup(func() { consular.Missions = saved })
}

func footerFacts(code string) letterFacts {
	return letterFacts{
		MailInput:   MailInput{TrackingCode: "1404-7K3M-9QX2", Deadline: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		Name:        "Sara Ahmadi",
		Mission:     consular.Text{Fa: "سفارت جمهوری اسلامی ایران در وین", En: "Embassy of the Islamic Republic of Iran in Vienna"},
		Location:    time.UTC,
		MissionCode: code,
		PublicURL:   "https://consular.example.org",
	}
}

// Every email ends with how to reach the mission: only the lines
// missions.json knows, in the email's language, and the mission's page.
func TestEveryEmailEndsWithTheMissionsKnownDetails(t *testing.T) {
	withMission(t, consular.MissionInfo{Code: "XX-ALL", Address: "Jaurèsgasse 9, 1030 Wien", Phone: "+43 1 712 2657",
		Email: "consular@example.org", Hours: consular.Text{Fa: "دوشنبه تا جمعه، ۹ تا ۱۲", En: "Monday to Friday, 9:00 to 12:00"}})
	withMission(t, consular.MissionInfo{Code: "XX-ADR", Address: "50 Kensington Court, London"})
	withMission(t, consular.MissionInfo{Code: "XX-NON"})
	for _, tc := range []struct {
		mission, lang string
		want, not     []string
	}{
		{"XX-ALL", "en", []string{"Embassy of the Islamic Republic of Iran in Vienna", "Address: Jaurèsgasse 9, 1030 Wien", "Phone: +43 1 712 2657",
			"Email: consular@example.org", "Opening hours: Monday to Friday, 9:00 to 12:00", "The mission's page: https://consular.example.org/missions/XX-ALL"}, nil},
		{"XX-ALL", "fa", []string{"سفارت جمهوری اسلامی ایران در وین", "نشانی: \u2066Jaurèsgasse 9, 1030 Wien\u2069", "تلفن: \u2066+43 1 712 2657\u2069",
			"ایمیل: \u2066consular@example.org\u2069", "ساعت کار: دوشنبه تا جمعه، ۹ تا ۱۲", "صفحهٔ نمایندگی: \u2066https://consular.example.org/missions/XX-ALL\u2069"}, nil},
		{"XX-ADR", "en", []string{"Address: 50 Kensington Court, London", "The mission's page: "}, []string{"Phone", "Email:", "Opening hours"}},
		{"XX-NON", "en", []string{"The mission's address, phone and opening hours: https://consular.example.org/missions/XX-NON"}, []string{"Address:", "Phone", "Email:", "Opening hours"}},
		{"XX-NON", "fa", []string{"نشانی، تلفن و ساعت کار نمایندگی: \u2066https://consular.example.org/missions/XX-NON\u2069"}, []string{"تلفن:", "ایمیل:"}},
	} {
		for _, kind := range []MailKind{MailReceipt, MailDocumentsRejected, MailReminder, MailDeadlineExtended, MailArchived,
			MailAppointmentBooked, MailAppointmentCancelled, MailAppointmentReminder, MailNoShow, MailDecision, MailWithdrawn} {
			l := compose(kind, footerFacts(tc.mission), tc.lang)
			footer := l.Paragraphs[len(l.Paragraphs)-1]
			for _, want := range tc.want {
				if !strings.Contains(footer, want) {
					t.Errorf("%s %s email of %s: the footer lacks %q; it reads:\n%s", tc.lang, kind, tc.mission, want, footer)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(footer, not) {
					t.Errorf("%s %s email of %s: the footer has %q for an unknown detail:\n%s", tc.lang, kind, tc.mission, not, footer)
				}
			}
		}
	}
}

// The footer's lines stay lines in both parts of the email: the text part
// keeps them one under another, the HTML part breaks them (pre-line).
func TestMissionFooterKeepsItsLinesInTextAndHTML(t *testing.T) {
	withMission(t, consular.MissionInfo{Code: "XX-ALL", Address: "Jaurèsgasse 9, 1030 Wien", Phone: "+43 1 712 2657"})
	fa, en := compose(MailReceipt, footerFacts("XX-ALL"), "fa"), compose(MailReceipt, footerFacts("XX-ALL"), "en")
	if text := plainText(fa, en); !strings.Contains(text, "Embassy of the Islamic Republic of Iran in Vienna\nAddress: Jaurèsgasse 9, 1030 Wien\nPhone: +43 1 712 2657\n") {
		t.Errorf("the text part does not keep the footer's lines:\n%s", text)
	}
	html, err := htmlBody(fa, en)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, `<p style="white-space: pre-line">Embassy of the Islamic Republic of Iran in Vienna`+"\n"+`Address: Jaurèsgasse 9, 1030 Wien`) {
		t.Errorf("the HTML part does not keep the footer's lines:\n%s", html)
	}
	// Short: the footer is at most seven lines.
	if n := strings.Count(en.Paragraphs[len(en.Paragraphs)-1], "\n") + 1; n > 7 {
		t.Errorf("the footer has %d lines", n)
	}
}
