package receipt

import (
	"testing"
	"time"
)

// BenchmarkRender is one receipt PDF, as the worker renders it for every
// submission: both fonts, the bilingual text, the signed link's QR code.
func BenchmarkRender(b *testing.B) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 3, 21, 9, 5, 0, 0, tokyo)
	r := Receipt{TrackingCode: "1404-0000-0001-27", ServiceCode: "apostille", ServiceFa: "تأیید و تصدیق اسناد",
		ServiceEn: "Document certification (apostille)", MissionCode: "JP-TYO", MissionFa: "سفارت در توکیو",
		MissionEn: "Embassy in Tokyo", SubmittedAt: at, DeadlineAt: at.AddDate(0, 0, 90), Location: tokyo}
	link := testSigner("bench", 3).Link(testVerifyURL, r)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(r, link); err != nil {
			b.Fatal(err)
		}
	}
}
