package consular

import (
	_ "embed"
	"encoding/json"
	"fmt"
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
	Code      string         `json:"code"`
	Category  string         `json:"category"`
	Name      Text           `json:"name"`
	Documents []DocumentSpec `json:"documents"`
}

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
	var services []Service
	if err := json.Unmarshal(b, &services); err != nil {
		panic(fmt.Sprintf("services.json: %v", err))
	}
	seen := map[string]bool{}
	for _, s := range services {
		if s.Code == "" || seen[s.Code] || s.Name.Fa == "" || s.Name.En == "" || len(s.Documents) == 0 {
			panic(fmt.Sprintf("services.json: service %q is incomplete or declared twice", s.Code))
		}
		seen[s.Code] = true
	}
	return services
}
