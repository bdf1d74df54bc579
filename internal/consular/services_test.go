package consular

import (
	"strings"
	"testing"
)

func TestTheCatalogueDeclaresEveryCategoryAndTheDrivingLicenceInquiry(t *testing.T) {
	if len(Services) < 6 {
		t.Fatalf("%d services, want at least 6", len(Services))
	}
	categories := map[string]bool{}
	for _, s := range Services {
		categories[s.Category] = true
	}
	for _, c := range Categories {
		if !categories[c] {
			t.Errorf("no service in category %s", c)
		}
	}
	s, ok := ServiceByCode("driving_licence_inquiry")
	if !ok {
		t.Fatal("no driving-licence inquiry")
	}
	var fields, docs []string
	for _, f := range s.Fields {
		fields = append(fields, f.Name+":"+f.Type)
	}
	for _, d := range s.Documents {
		docs = append(docs, d.Kind)
	}
	if strings.Join(fields, ",") != "licence_number:text,include_driving_record:checkbox" ||
		strings.Join(docs, ",") != "licence,residence_proof,passport" {
		t.Fatalf("driving-licence inquiry asks %v and %v", fields, docs)
	}
}

func TestBadServiceDeclarationsAreRefused(t *testing.T) {
	ok := `{"code":"x","category":"nationality","name":{"fa":"ا","en":"x"},"appointment":true,"fields":[%s],"documents":[{"kind":"d","name":{"fa":"ا","en":"d"},"required":true}]}`
	field := func(f string) string { return "[" + strings.Replace(ok, "%s", f, 1) + "]" }
	if _, err := ParseServices([]byte(field(`{"name":"a","type":"text","label":{"fa":"ا","en":"a"}}`))); err != nil {
		t.Fatalf("a good declaration refused: %v", err)
	}
	for name, decl := range map[string]string{
		"unknown type":       field(`{"name":"a","type":"colour","label":{"fa":"ا","en":"a"}}`),
		"no English label":   field(`{"name":"a","type":"text","label":{"fa":"ا"}}`),
		"select, no options": field(`{"name":"a","type":"select","label":{"fa":"ا","en":"a"}}`),
		"bad pattern":        field(`{"name":"a","type":"text","pattern":"(","label":{"fa":"ا","en":"a"}}`),
		"repeated field":     field(`{"name":"a","type":"text","label":{"fa":"ا","en":"a"}},{"name":"a","type":"text","label":{"fa":"ا","en":"a"}}`),
		"unknown key":        field(`{"name":"a","type":"text","label":{"fa":"ا","en":"a"},"colour":"red"}`),
		"unknown category":   `[{"code":"x","category":"weather","name":{"fa":"ا","en":"x"},"documents":[{"kind":"d","name":{"fa":"ا","en":"d"}}]}]`,
	} {
		if _, err := ParseServices([]byte(decl)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
