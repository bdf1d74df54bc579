package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/openconsular/consular/internal/i18n"
	"github.com/openconsular/consular/internal/testenv"
	"github.com/openconsular/consular/internal/testenv/browser"
)

// The officer's desk in headless Chromium, in Persian and English: the
// queue filtered by a status chip and sorted by deadline, a Solar Hijri
// date typed into the filter (and a wrong one kept with its error), a
// tracking code searched without its dashes, and the day's appointments by
// hour. Each page is checked with axe-core at 390 and 1280 px and
// photographed at both widths.
func TestBrowserOfficerWorksTheQueueAndTheDay(t *testing.T) {
	s := startSystem(t, nil)
	ctx := context.Background()
	now := time.Now().In(vienna)
	day := func(days, h, m int) *time.Time {
		v := time.Date(now.Year(), now.Month(), now.Day(), h, m, 0, 0, vienna).AddDate(0, 0, days)
		return &v
	}
	names := []string{"سارا احمدی", "Reza Karimi", "مریم حسینی", "Ali Rezaei", "نگار موسوی", "Dariush Farahani", "لیلا صادقی", "Kian Tehrani"}
	services := []string{"passport_renewal", "driving_licence_inquiry", "apostille", "power_of_attorney"}
	var booked []string
	for i, name := range names {
		r := deskRequest{name: name, service: services[i%len(services)], submitted: now.Add(-time.Duration(i*29) * time.Hour),
			deadline: *day(3+i*11, 12, 0), status: "awaiting_appointment"}
		if i%2 == 0 {
			r.status, r.appointment = "appointment_booked", day(0, 9+i/2*2, 15*(i%4))
		}
		code := addDeskRequest(t, ctx, s.db, r)
		if i%2 == 0 {
			booked = append(booked, code)
		}
	}
	addDeskRequest(t, ctx, s.db, deskRequest{name: "Hamid Nazari", status: "attended", service: "apostille", appointment: day(0, 8, 30)})
	addDeskRequest(t, ctx, s.db, deskRequest{name: "Shirin Amini", status: "approved", service: "passport_renewal", submitted: now.AddDate(0, -2, 0)})

	var out bytes.Buffer
	officer := uniqueEmail("officer")
	if err := addStaff(ctx, &out, s.db, testenv.Config(t).Keys.TOTP, []string{"add", "--email", officer, "--role", "officer", "--mission", "AT-VIE"}); err != nil {
		t.Fatal(err)
	}
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())[1]
	secret := regexp.MustCompile(`TOTP secret: (\S+)`).FindStringSubmatch(out.String())[1]

	for n, lang := range []string{i18n.Persian, i18n.English} {
		t.Run(lang, func(t *testing.T) {
			b := browser.New(t)
			look := func(name string) {
				t.Helper()
				for _, w := range [][2]int{{390, 844}, {1280, 800}} {
					b.SetViewport(w[0], w[1])
					b.CheckAccessibility(t)
				}
				b.ScreenshotBothWidths(lang + "-" + name)
			}
			b.Visit(s.url + "/lang/" + lang + "?next=/staff/signin")
			b.Fill("#email", officer)
			b.Fill("#password", password)
			code, _ := totp.GenerateCode(secret, time.Now().Add(time.Duration(n)*30*time.Second))
			b.Fill("#totp", code)
			if status := b.Submit(`main form button[type=submit]`); status != 200 || !b.Exists("table#queue") {
				t.Fatalf("sign-in: %d\n%s", status, b.Text("main"))
			}
			look("queue")
			if got := b.Count("table#queue tbody th[scope=row]"); got != 10 {
				t.Fatalf("the queue lists %d requests, want 10", got)
			}

			// A status chip, then the deadline column: nearest first, the chip kept.
			b.ClickAndWait(`.chips a[href*="status=awaiting_appointment"]`)
			if b.Attr(`.chips a[href*="status=awaiting_appointment"]`, "aria-current") != "true" || b.Count("table#queue tbody th[scope=row]") != 4 {
				t.Fatalf("the chip did not filter:\n%s", b.Text("main"))
			}
			b.ClickAndWait("#sort-deadline")
			if !strings.Contains(b.URL(), "status=awaiting_appointment") || b.Attr(`th:has(#sort-deadline)`, "aria-sort") != "ascending" {
				t.Fatalf("sorting dropped the chip or is not marked: %s", b.URL())
			}
			if first := b.Text("table#queue tbody tr:first-child td.name"); !strings.Contains(first, "Reza Karimi") {
				t.Fatalf("nearest deadline first is %q, want Reza Karimi", first)
			}
			look("queue-awaiting-by-deadline")

			// A date the officer can type, and one that cannot be read.
			b.Visit(s.url + "/staff/")
			from := map[string]string{"fa": i18n.Date(now.AddDate(0, 0, -3), i18n.Persian), "en": now.AddDate(0, 0, -3).Format(time.DateOnly)}[lang]
			b.Fill("#from", from)
			if status := b.Submit(`form.queue-bar button[type=submit]`); status != 200 || b.Value("#from") != from {
				t.Fatalf("the date %q: %d, field %q\n%s", from, status, b.Value("#from"), b.Text("main"))
			}
			b.Fill("#from", "1405/13/45")
			if status := b.Submit(`form.queue-bar button[type=submit]`); status != 422 || b.Value("#from") != "1405/13/45" || !b.Exists("#from-error") {
				t.Fatalf("an unreadable date: %d, field %q", status, b.Value("#from"))
			}
			look("queue-bad-date")

			// A tracking code typed without its dashes opens the request's row.
			b.Visit(s.url + "/staff/")
			b.Fill("#code", strings.ReplaceAll(booked[1], "-", ""))
			b.Submit(`form.queue-bar button[type=submit]`)
			if b.Count("table#queue tbody th[scope=row]") != 1 || b.Direction(`table#queue tbody th bdi`) != "ltr" {
				t.Fatalf("search without dashes:\n%s", b.Text("main"))
			}

			// The day at the counter, by hour.
			b.ClickAndWait(`a[href="/staff/today"]`)
			if got := b.Count("ol.slots li"); got != 5 {
				t.Fatalf("today lists %d appointments, want 5\n%s", got, b.Text("main"))
			}
			if b.Count("section.hour") < 3 {
				t.Fatalf("today's appointments are not grouped by hour:\n%s", b.Text("main"))
			}
			look("today")
		})
	}
}
