package portal

import (
	"slices"
	"testing"

	"github.com/openconsular/consular/internal/consular"
)

// The apply form offers the missions serving the applicant's country of
// residence, unless asked for all, none serves it, or one elsewhere was chosen.
func TestMissionsAreNarrowedToTheCountryOfResidence(t *testing.T) {
	open := []string{"AT-VIE", "DE-BER", "TR-ANK", "TR-IST", "TR-ERZ", "TR-TZX", "JP-TYO"}
	for _, tc := range []struct {
		name, residence, chosen string
		all                     bool
		want                    []string
		country                 string
	}{
		{"resident in Austria", "اتریش", "", false, []string{"AT-VIE"}, "AT"},
		{"resident in Türkiye, typed in English", "Turkey", "", false, []string{"TR-ANK", "TR-IST", "TR-ERZ", "TR-TZX"}, "TR"},
		{"asked for all", "Austria", "", true, open, ""},
		{"a country no open mission serves", "Portugal", "", false, open, ""},
		{"a mission elsewhere chosen already", "Austria", "DE-BER", false, open, ""},
		{"no country of residence yet", "", "", false, open, ""},
	} {
		got, country := narrowMissions(&consular.Missions, open, tc.residence, tc.chosen, tc.all)
		if !slices.Equal(got, tc.want) || country != tc.country {
			t.Errorf("%s: %v (%q), want %v (%q)", tc.name, got, country, tc.want, tc.country)
		}
	}
}
