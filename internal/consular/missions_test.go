package consular

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every mission of the database seed has its entry in missions.json, with
// the same country and time zone, and the file names no mission the
// database lacks: the data and the table cannot drift apart unseen.
func TestEveryMissionOfTheSeedHasItsDetails(t *testing.T) {
	sql, err := os.ReadFile("../database/migrations/00002_missions.sql")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`\('([A-Z]{2}-[A-Z]{3})', '[a-z_]+', '[^']*', '[^']*', '([A-Z]{2})', '([^']*)', '([^']*)', '([^']*)', (?:true|false)\)`)
	rows := row.FindAllStringSubmatch(string(sql), -1)
	if len(rows) < 50 {
		t.Fatalf("read %d missions from the seed", len(rows))
	}
	inSeed := map[string]bool{}
	for _, r := range rows {
		code, country, cityFa, cityEn, zone := r[1], r[2], r[3], r[4], r[5]
		inSeed[code] = true
		m, ok := Missions.Mission(code)
		switch {
		case !ok:
			t.Errorf("%s is in the seed but not in missions.json", code)
		case m.TimeZone != zone:
			t.Errorf("%s: time zone %s in missions.json, %s in the seed", code, m.TimeZone, zone)
		case !slices.Contains(m.Countries, country):
			t.Errorf("%s: does not serve its own country %s", code, country)
		case m.City.Fa != cityFa || m.City.En != cityEn:
			t.Errorf("%s: city %v, the seed says %s/%s", code, m.City, cityFa, cityEn)
		}
	}
	for _, m := range Missions.Missions {
		if !inSeed[m.Code] {
			t.Errorf("%s is in missions.json but not in the seed", m.Code)
		}
	}
}

// The file is refused when a value is not in the form it is shown in.
func TestMissionDataIsChecked(t *testing.T) {
	base := `{"countries": {"AT": {"fa": "اتریش", "en": "Austria"}}, "missions": [{"code": "AT-VIE", "countries": ["AT"], "time_zone": "Europe/Vienna", "city": {"fa": "وین", "en": "Vienna"}, %s}]}`
	for _, tc := range []struct{ name, extra, want string }{
		{"a time zone that does not load", `"address": "", "time_zone": "Europe/Vienne"`, "time zone"},
		{"a country that is not an ISO code", `"countries": ["Austria"]`, "ISO"},
		{"a phone not in E.164", `"phone": "01 712 2657", "source": "s"`, "E.164"},
		{"an email that is not an address", `"email": "consular at example.org", "source": "s"`, "email"},
		{"a link that is not https", `"website": "http://austria.example", "source": "s"`, "https"},
		{"details without a source", `"address": "Jaurèsgasse 9"`, "source"},
		{"hours in one language", `"hours": {"fa": "", "en": "Mon-Fri 9-12"}, "source": "s"`, "hours"},
	} {
		// A repeated key: the later value wins in encoding/json.
		_, err := ParseMissions([]byte(strings.Replace(base, "%s", tc.extra, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := ParseMissions([]byte(strings.Replace(base, "%s", `"phone": "+43 1 712 2657", "source": "s"`, 1))); err != nil {
		t.Errorf("a good entry is refused: %v", err)
	}
}

// A country of residence typed in the profile finds the missions serving
// it, in either language and with either keyboard's letters.
func TestCountryOfResidenceFindsItsMissions(t *testing.T) {
	for typed, want := range map[string]string{"اتریش": "AT", "Austria": "AT", " austria ": "AT", "Österreich": "AT",
		"UK": "GB", "انگلستان": "GB", "تركيه": "TR", "at": "AT", "Atlantis": "", "": ""} {
		got, ok := Missions.CountryCode(typed)
		if got != want || ok != (want != "") {
			t.Errorf("CountryCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
	if got := Missions.Serving("TR"); len(got) != 4 {
		t.Errorf("missions serving Türkiye: %v", got)
	}
	if m, _ := Missions.Mission("AT-VIE"); !strings.HasPrefix(m.Map(), "https://www.openstreetmap.org/") {
		t.Errorf("Vienna's map link: %q", m.Map())
	}
}
