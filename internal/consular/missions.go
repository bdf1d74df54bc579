package consular

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // every mission's zone loads, whatever zone files the machine has
	"unicode"
)

// MissionInfo is what an applicant needs to reach a mission: where it is,
// how to call or write, when it opens, and the countries of residence it
// serves. It is data (missions.json), reviewed like code; the missions
// table keeps what requests refer to (code, names, zone, open or closed).
type MissionInfo struct {
	Code      string   `json:"code"`
	Countries []string `json:"countries"` // ISO 3166-1 alpha-2 codes of the countries it serves
	TimeZone  string   `json:"time_zone"` // IANA, as in the missions table
	City      Text     `json:"city"`
	Address   string   `json:"address"` // as written locally, for a letter or a taxi
	Phone     string   `json:"phone"`   // E.164
	Email     string   `json:"email"`
	Website   string   `json:"website"`
	Hours     Text     `json:"hours"`
	MapURL    string   `json:"map"` // a map link; else one is made from the address
	Source    string   `json:"source"`
}

// Country is a country of residence: its names, for matching what an
// applicant typed in the profile.
type Country struct {
	Fa   string   `json:"fa"`
	En   string   `json:"en"`
	Also []string `json:"also"`
}

// MissionData is missions.json.
type MissionData struct {
	Countries map[string]Country `json:"countries"`
	Missions  []MissionInfo      `json:"missions"`
}

//go:embed missions.json
var missionsJSON []byte

// Missions is missions.json, checked when the process starts.
var Missions = mustLoadMissions(missionsJSON)

func mustLoadMissions(b []byte) MissionData {
	d, err := ParseMissions(b)
	if err != nil {
		panic(err)
	}
	return d
}

var (
	isoCountry = regexp.MustCompile(`^[A-Z]{2}$`)
	missionRef = regexp.MustCompile(`^[A-Z]{2}-[A-Z]{3}$`)
	e164       = regexp.MustCompile(`^\+[1-9][0-9 ]{6,17}$`)
)

// ParseMissions reads and checks missions.json: codes unique and well
// formed, time zones that load, countries that are ISO codes with names in
// both languages, and contact details in the form they are shown in (an
// E.164 phone, an email address, https links). The process refuses to
// start on a bad file.
func ParseMissions(b []byte) (MissionData, error) {
	var d MissionData
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw struct {
		Comment []string `json:"_comment"`
		MissionData
	}
	if err := dec.Decode(&raw); err != nil {
		return d, fmt.Errorf("missions.json: %w", err)
	}
	d = raw.MissionData
	for code, c := range d.Countries {
		if !isoCountry.MatchString(code) || c.Fa == "" || c.En == "" {
			return d, fmt.Errorf("missions.json: country %q needs an ISO 3166-1 alpha-2 code and names in both languages", code)
		}
	}
	seen := map[string]bool{}
	for _, m := range d.Missions {
		bad := func(why string) error { return fmt.Errorf("missions.json: mission %q: %s", m.Code, why) }
		if !missionRef.MatchString(m.Code) || seen[m.Code] {
			return d, bad("missing, malformed or repeated code")
		}
		seen[m.Code] = true
		if _, err := time.LoadLocation(m.TimeZone); err != nil || m.TimeZone == "" {
			return d, bad("time zone " + m.TimeZone + " does not load")
		}
		if m.City.Fa == "" || m.City.En == "" {
			return d, bad("city needs Persian and English")
		}
		if len(m.Countries) == 0 {
			return d, bad("serves no country")
		}
		for _, c := range m.Countries {
			if _, ok := d.Countries[c]; !ok || !isoCountry.MatchString(c) {
				return d, bad("serves " + c + ", which is not an ISO code listed under countries")
			}
		}
		if m.Phone != "" && !e164.MatchString(m.Phone) {
			return d, bad("phone " + m.Phone + " is not in E.164 form (+43 1 234 5678)")
		}
		if m.Email != "" {
			if a, err := mail.ParseAddress(m.Email); err != nil || a.Address != m.Email {
				return d, bad("email " + m.Email + " is not a plain address")
			}
		}
		for _, link := range []string{m.Website, m.MapURL} {
			if u, err := url.Parse(link); link != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
				return d, bad("link " + link + " is not an https address")
			}
		}
		if (m.Hours.Fa == "") != (m.Hours.En == "") {
			return d, bad("opening hours need both languages or neither")
		}
		if (m.Address != "" || m.Phone != "" || m.Email != "" || m.Website != "" || m.Hours.Fa != "") && m.Source == "" {
			return d, bad("contact details without a source")
		}
	}
	return d, nil
}

// Mission returns the mission's details.
func (d MissionData) Mission(code string) (MissionInfo, bool) {
	for _, m := range d.Missions {
		if m.Code == code {
			return m, true
		}
	}
	return MissionInfo{}, false
}

// Serving lists the codes of the missions that serve a country of residence.
func (d MissionData) Serving(country string) []string {
	var codes []string
	for _, m := range d.Missions {
		for _, c := range m.Countries {
			if c == country {
				codes = append(codes, m.Code)
			}
		}
	}
	return codes
}

// CountryCode finds the ISO code of a country of residence as an applicant
// typed it ("اتریش", "Austria", "österreich", "UK"), or reports that it is
// not one of the countries the missions serve.
func (d MissionData) CountryCode(typed string) (string, bool) {
	want := foldName(typed)
	if want == "" {
		return "", false
	}
	if c := strings.ToUpper(want); isoCountry.MatchString(c) {
		if _, ok := d.Countries[c]; ok {
			return c, true
		}
	}
	for code, c := range d.Countries {
		for _, name := range append([]string{c.Fa, c.En}, c.Also...) {
			if foldName(name) == want {
				return code, true
			}
		}
	}
	return "", false
}

// foldName makes names comparable: case, spaces, the zero-width non-joiner
// and the Arabic forms of yeh and kaf that Persian keyboards differ on.
func foldName(s string) string {
	s = strings.NewReplacer("ي", "ی", "ى", "ی", "ك", "ک", "\u200c", "", "ـ", "", ".", "").Replace(s)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if !unicode.IsSpace(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Map is a link to the mission on a map: the one in the file, else a search
// for its address on OpenStreetMap, else none.
func (m MissionInfo) Map() string {
	if m.MapURL != "" {
		return m.MapURL
	}
	if m.Address == "" {
		return ""
	}
	return "https://www.openstreetmap.org/search?query=" + url.QueryEscape(m.Address+", "+m.City.En)
}

// Contactable reports whether the file has any way to reach the mission.
func (m MissionInfo) Contactable() bool {
	return m.Address != "" || m.Phone != "" || m.Email != "" || m.Website != ""
}
