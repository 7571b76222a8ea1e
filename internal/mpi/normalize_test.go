package mpi

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

func TestFoldName(t *testing.T) {
	tests := []struct{ in, plain, german string }{
		{"José García", "JOSE GARCIA", "JOSE GARCIA"},
		{"Müller", "MULLER", "MUELLER"},
		{"Straße", "STRASSE", "STRASSE"},
		{"Nguyễn Văn An", "NGUYEN VAN AN", "NGUYEN VAN AN"},
		{"Łukasz Wałęsa", "LUKASZ WALESA", "LUKASZ WALESA"},
		{"Søren Ærø", "SOREN AERO", "SOEREN AEROE"},
		{"Şükrü Çağlar Işık", "SUKRU CAGLAR ISIK", "SUEKRUE CAGLAR ISIK"},
		{"Peña", "PENA", "PENA"},
		{"Александр Иванов", "ALEKSANDR IVANOV", "ALEKSANDR IVANOV"},
		{"Йосиф Хрущёв", "YOSIF KHRUSHCHEV", "YOSIF KHRUSHCHEV"},
		{"Γιώργος", "GIORGOS", "GIORGOS"},
		{"O'Brien", "OBRIEN", "OBRIEN"},
		{"O’Brien", "OBRIEN", "OBRIEN"},
		{"Al-Hassan", "AL HASSAN", "AL HASSAN"},
		{"مُحَمَّد", "محمد", "محمد"},         // harakat dropped
		{"মোহাম্মদ", "মোহাম্মদ", "মোহাম্মদ"}, // vowel signs kept
		{"  ", "", ""},
	}
	for _, tt := range tests {
		if got := foldName(tt.in, false); got != tt.plain {
			t.Errorf("foldName(%q) = %q, want %q", tt.in, got, tt.plain)
		}
		if got := foldName(tt.in, true); got != tt.german {
			t.Errorf("foldName(%q, german) = %q, want %q", tt.in, got, tt.german)
		}
	}
}

func TestPhonetic(t *testing.T) {
	same := [][]string{
		{"MOHAMMED", "MUHAMMAD", "MOHAMED", "MOHAMMAD", "MUHAMMED", "MOHAMAD"},
		{"YUSUF", "YOUSEF", "YOUSSEF"},
		{"SCHMIDT", "SHMIDT", "SCHMITT"},
		{"KHAN", "KAN"},
		{"CHOWDHURY", "CHOUDHURY", "CHAUDHURY"},
		{"ALEKSANDR", "ALEXANDR"},
		{"ANA", "ANNA"},
		{"MULLER", "MUELLER"},
	}
	for _, group := range same {
		for _, n := range group[1:] {
			if phonetic(n) != phonetic(group[0]) {
				t.Errorf("phonetic(%s) = %s, phonetic(%s) = %s: want equal", n, phonetic(n), group[0], phonetic(group[0]))
			}
		}
	}
	different := [][2]string{{"SMITH", "SNYDER"}, {"ANNA", "EMMA"}, {"JAMES", "JOHN"}, {"LI", "LIN"}}
	for _, pair := range different {
		if phonetic(pair[0]) == phonetic(pair[1]) {
			t.Errorf("phonetic(%s) = phonetic(%s) = %s: want different", pair[0], pair[1], phonetic(pair[0]))
		}
	}
}

func TestStringComparators(t *testing.T) {
	jw := []struct {
		a, b     string
		min, max float64
	}{
		{"MARTHA", "MARHTA", 0.96, 0.962},
		{"DWAYNE", "DUANE", 0.84, 0.841},
		{"DIXON", "DICKSONX", 0.813, 0.814},
		{"", "", 1, 1},
		{"ABC", "", 0, 0},
		{"JONES", "JONES", 1, 1},
	}
	for _, tt := range jw {
		if got := jaroWinkler(tt.a, tt.b); got < tt.min || got > tt.max {
			t.Errorf("jaroWinkler(%q, %q) = %.4f, want [%.3f, %.3f]", tt.a, tt.b, got, tt.min, tt.max)
		}
	}
	osa := []struct {
		a, b string
		want int
	}{
		{"CA", "AC", 1}, {"ABC", "CA", 3}, {"KITTEN", "SITTING", 3}, {"", "ABC", 3}, {"SMITH", "SMYTH", 1}, {"JOHN", "JOHN", 0},
	}
	for _, tt := range osa {
		if got := osaDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("osaDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFromPatient(t *testing.T) {
	res, err := fhir.ParseResource([]byte(`{
	  "resourceType": "Patient", "id": "p1",
	  "name": [
	    {"use": "official", "family": "van der Berg-García", "given": ["Ana María", "Jürgen"]},
	    {"use": "maiden", "family": "O'Neill"},
	    {"use": "nickname", "given": ["Annie"]}
	  ],
	  "birthDate": "1980-03-04", "gender": "female",
	  "identifier": [{"system": "urn:ssn", "value": " 123-45 6789 "}],
	  "telecom": [{"system": "phone", "value": "+1 (555) 123-4567"}, {"system": "email", "value": " Ana@Example.ORG"}],
	  "address": [{"line": ["12 Oak Street", "Apartment 4"], "postalCode": "sw1a 1aa", "city": "London"}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p := FromPatient(res)
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
	}
	check("given", p.Given, []string{"ANA", "MARIA", "JURGEN", "ANNIE"})
	check("family", p.Family, []string{"VANDERBERGGARCIA"})
	check("parts", p.FamilyParts, []string{"BERG", "GARCIA"})
	check("former", p.Former, []string{"ONEILL"})
	check("identifiers", p.Identifiers, []string{"urn:ssn|123456789"})
	check("phones", p.Phones, []string{"5551234567"})
	check("emails", p.Emails, []string{"ana@example.org"})
	check("postcodes", p.Postcodes, []string{"SW1A1AA"})
	check("lines", p.Lines, []string{"12 OAK ST APT 4"})
	if p.BirthYear != 1980 || p.BirthMonth != 3 || p.BirthDay != 4 || p.BirthPrecision != 3 || p.Gender != "female" {
		t.Errorf("birth/gender: got %d-%d-%d/%d %s", p.BirthYear, p.BirthMonth, p.BirthDay, p.BirthPrecision, p.Gender)
	}
	if p.givenAlt[2] != "JUERGEN" {
		t.Errorf("givenAlt: got %q, want JUERGEN for Jürgen", p.givenAlt)
	}
}

func TestPhonesAgree(t *testing.T) {
	same := [][2]string{{"+1 555 123 4567", "(555) 123-4567"}, {"+44 20 7946 0958", "020 7946 0958"}, {"0049 30 1234567", "030 1234567"}}
	for _, pair := range same {
		a, b := normalizePhone(pair[0]), normalizePhone(pair[1])
		if !phonesAgree(a, b) {
			t.Errorf("%q (%s) and %q (%s) should agree", pair[0], a, pair[1], b)
		}
	}
	if phonesAgree(normalizePhone("555 123 4567"), normalizePhone("555 123 4568")) {
		t.Error("different numbers agree")
	}
}

func TestNicknames(t *testing.T) {
	pairs := [][2]string{{"WILLIAM", "BILL"}, {"WILLIAM", "LIAM"}, {"ROBERT", "BOBBY"}, {"ELIZABETH", "BETTY"},
		{"MARGARET", "PEGGY"}, {"KATHERINE", "CATHY"}, {"RICHARD", "DICK"}, {"JAMES", "JIMMY"}, {"JOHN", "JACK"},
		{"ALEXANDER", "SASHA"}, {"JOSE", "PEPE"}, {"FRANCISCO", "PACO"}, {"MOHAMMED", "MUHAMMAD"}, {"AHMED", "AHMAD"},
		{"YUSUF", "JOSEPH"}, {"EKATERINA", "KATYA"}, {"ALEKSANDR", "ALEXANDER"}}
	for _, p := range pairs {
		if !nameVariants(p[0], p[1]) || !nameVariants(p[1], p[0]) {
			t.Errorf("%s and %s should be variants", p[0], p[1])
		}
	}
	if nameVariants("JOHN", "JAMES") {
		t.Error("JOHN and JAMES are not variants")
	}
	if canonicalGiven("BILL") != "WILLIAM" || canonicalGiven("ZZZ") != "ZZZ" {
		t.Errorf("canonicalGiven: BILL → %s, ZZZ → %s", canonicalGiven("BILL"), canonicalGiven("ZZZ"))
	}
	if n := len(loadNicknames().canonical); n < 150 {
		t.Errorf("%d name groups, want ≥ 150", n)
	}
}

func TestModelJSON(t *testing.T) {
	m := DefaultModel()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Params != m.Params || back.Thresholds != m.Thresholds || back.weights != m.weights {
		t.Error("round trip changed the model")
	}
	var partial Model
	if err := json.Unmarshal([]byte(`{"thresholds":{"certain":30,"probable":20,"possible":10},"fields":{"phone":{"exact":{"m":0.5,"u":0.01}}}}`), &partial); err != nil {
		t.Fatal(err)
	}
	if partial.Params[FieldPhone][LevelExact] != (MU{0.5, 0.01}) || partial.Params[FieldGiven] != m.Params[FieldGiven] || partial.Thresholds.Certain != 30 {
		t.Errorf("partial file not applied over the defaults: %+v", partial.Params[FieldPhone])
	}
	for _, bad := range []string{`{"fields":{"shoe":{}}}`, `{"fields":{"phone":{"near":{"m":0.5,"u":0.5}}}}`,
		`{"fields":{"phone":{"exact":{"m":0,"u":0.5}}}}`, `{"thresholds":{"certain":1,"probable":2,"possible":3}}`} {
		if err := json.Unmarshal([]byte(bad), &partial); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
