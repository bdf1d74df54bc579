package consular

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// Text is a phrase in each language the system speaks.
type Text struct {
	Fa string `json:"fa"`
	En string `json:"en"`
}

// In returns the text in lang ("fa" or "en"), Persian by default.
func (t Text) In(lang string) string {
	if lang == "en" {
		return t.En
	}
	return t.Fa
}

// Service is a consular service an applicant can request, declared as data
// in services.json: adding a service means adding a declaration, not code.
type Service struct {
	Code        string `json:"code"`
	Category    string `json:"category"`
	Name        Text   `json:"name"`
	Appointment bool   `json:"appointment"` // the applicant attends in person
	// FourEyes says which decisions a supervisor confirms: "rejections" (the
	// default when empty), "all" (a sensitive service) or "none".
	FourEyes  string         `json:"four_eyes,omitempty"`
	Fields    []FieldSpec    `json:"fields"`
	Documents []DocumentSpec `json:"documents"`
}

// FieldSpec is a question of a service's form. Types: text, textarea,
// select, checkbox, number (1-10), year, date (a past day), future_date,
// date_any, national_id.
type FieldSpec struct {
	Name      string       `json:"name"`
	Type      string       `json:"type"`
	Required  bool         `json:"required"`
	Label     Text         `json:"label"`
	Hint      *Text        `json:"hint,omitempty"`
	Options   []OptionSpec `json:"options,omitempty"`
	MaxLength int          `json:"max_length,omitempty"`
	Pattern   string       `json:"pattern,omitempty"` // a regular expression the (upper-cased, ASCII-digit) answer must match
}

// OptionSpec is one choice of a select.
type OptionSpec struct {
	Value string `json:"value"`
	Label Text   `json:"label"`
}

// FieldTypes are the kinds of question a service may ask.
var FieldTypes = map[string]bool{"text": true, "textarea": true, "select": true, "checkbox": true, "number": true,
	"year": true, "date": true, "future_date": true, "date_any": true, "national_id": true}

// Categories group the catalogue as the seed portal does, in its order.
var Categories = []string{"power_of_attorney", "passport", "civil_registration", "student_affairs", "consular_judicial",
	"document_certification", "nationality", "personal_statistics"}

// DocumentSpec is a document a service asks for.
type DocumentSpec struct {
	Kind     string `json:"kind"`
	Name     Text   `json:"name"`
	Required bool   `json:"required"`
}

//go:embed services.json
var servicesJSON []byte

// Services is the catalogue, in the order applicants see it.
var Services = mustLoadServices(servicesJSON)

// ServiceByCode finds a service of the catalogue.
func ServiceByCode(code string) (Service, bool) {
	for _, s := range Services {
		if s.Code == code {
			return s, true
		}
	}
	return Service{}, false
}

// Document finds one of the service's documents by kind.
func (s Service) Document(kind string) (DocumentSpec, bool) {
	for _, d := range s.Documents {
		if d.Kind == kind {
			return d, true
		}
	}
	return DocumentSpec{}, false
}

func mustLoadServices(b []byte) []Service {
	services, err := ParseServices(b)
	if err != nil {
		panic(err)
	}
	return services
}

// ParseServices reads and checks service declarations: every name in both
// languages, known field types, options for selects, patterns that compile,
// nothing declared twice. The process refuses to start on a bad declaration.
func ParseServices(b []byte) ([]Service, error) {
	var services []Service
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&services); err != nil {
		return nil, fmt.Errorf("services.json: %w", err)
	}
	seen := map[string]bool{}
	for _, s := range services {
		bad := func(why string) error { return fmt.Errorf("services.json: service %q: %s", s.Code, why) }
		switch {
		case s.Code == "" || seen[s.Code]:
			return nil, bad("missing or repeated code")
		case s.Name.Fa == "" || s.Name.En == "":
			return nil, bad("name needs Persian and English")
		case !slices.Contains(Categories, s.Category):
			return nil, bad("unknown category " + s.Category)
		case len(s.Documents) == 0:
			return nil, bad("no documents")
		case !slices.Contains([]string{"", "rejections", "all", "none"}, s.FourEyes):
			return nil, bad("four_eyes must be rejections, all or none")
		}
		seen[s.Code] = true
		names := map[string]bool{"mission": true, "service": true}
		for _, f := range s.Fields {
			switch {
			case f.Name == "" || names[f.Name]:
				return nil, bad("field " + f.Name + " is unnamed or repeated")
			case !FieldTypes[f.Type]:
				return nil, bad("field " + f.Name + " has unknown type " + f.Type)
			case f.Label.Fa == "" || f.Label.En == "":
				return nil, bad("field " + f.Name + " needs a label in both languages")
			case f.Type == "select" && len(f.Options) == 0:
				return nil, bad("select " + f.Name + " has no options")
			}
			if f.Pattern != "" {
				if _, err := regexp.Compile(f.Pattern); err != nil {
					return nil, bad("field " + f.Name + ": " + err.Error())
				}
			}
			names[f.Name] = true
		}
		kinds := map[string]bool{}
		for _, d := range s.Documents {
			if d.Kind == "" || kinds[d.Kind] || d.Name.Fa == "" || d.Name.En == "" {
				return nil, bad("document " + d.Kind + " is unnamed or repeated")
			}
			kinds[d.Kind] = true
		}
	}
	return services, nil
}
