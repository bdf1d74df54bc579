package portal

import "testing"

func TestRedirectsStayOnThisSite(t *testing.T) {
	for next, want := range map[string]string{
		"/services/apostille/apply": "/services/apostille/apply",
		"/account/password":         "/account/password",
		"":                          "/",
		"/%5Cevil.example":          "/",
		"/%252Fevil.example":        "/",
		"//evil.example":            "/",
		"https:evil.example":        "/",
		"https://evil.example/":     "/",
		"/\t/evil.example":          "/",
		"/%09/evil.example":         "/",
		"/\\evil.example":           "/",
		"/%2F%2Fevil.example":       "/",
		"/%25252F%25252Fevil":       "/",
		"/../staff":                 "/",
		"evil.example":              "/",
		"/a%zz":                     "/",
		"/javascript:alert(1)":      "/",
		"/staff/?status=awaiting_appointment&sort=deadline": "/staff/?sort=deadline&status=awaiting_appointment",
		"/staff/?q=%2F%2Fevil.example":                      "/staff/?q=%2F%2Fevil.example",
		"//evil.example?x=1":                                "/",
		"/%2F%2Fevil.example?x=1":                           "/",
		"/?x=1":                                             "/",
	} {
		if got := localPath(next); got != want {
			t.Errorf("localPath(%q) = %q, want %q", next, got, want)
		}
	}
}
