package mpi

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

// pt is a compact way to write a test Patient.
type pt struct {
	given, family, birth, gender, phone, line, postcode string
	maiden                                              string
	ids                                                 [][2]string // system, value
}

func (p pt) resource() fhir.Resource {
	name := map[string]any{"use": "official"}
	if p.family != "" {
		name["family"] = p.family
	}
	if p.given != "" {
		var given []any
		for _, g := range splitSpace(p.given) {
			given = append(given, g)
		}
		name["given"] = given
	}
	names := []any{name}
	if p.maiden != "" {
		names = append(names, map[string]any{"use": "maiden", "family": p.maiden})
	}
	r := fhir.Resource{"resourceType": "Patient", "name": names}
	if p.birth != "" {
		r["birthDate"] = p.birth
	}
	if p.gender != "" {
		r["gender"] = p.gender
	}
	if p.phone != "" {
		r["telecom"] = []any{map[string]any{"system": "phone", "value": p.phone}}
	}
	if p.line != "" || p.postcode != "" {
		r["address"] = []any{map[string]any{"line": []any{p.line}, "postalCode": p.postcode}}
	}
	var ids []any
	for _, id := range p.ids {
		ids = append(ids, map[string]any{"system": id[0], "value": id[1]})
	}
	if ids != nil {
		r["identifier"] = ids
	}
	return r
}

func splitSpace(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return out
}

const mrn = "urn:oid:1.2.3.4.mrn"

func TestHardPairs(t *testing.T) {
	home := pt{line: "12 Oak Street", postcode: "90210", phone: "+1 555 123 4567"}
	with := func(p pt, given, family, birth, gender string) pt {
		p.given, p.family, p.birth, p.gender = given, family, birth, gender
		return p
	}
	tests := []struct {
		name     string
		a, b     pt
		min, max Grade
	}{
		{"accents", pt{given: "José", family: "García", birth: "1970-05-06", gender: "male"},
			pt{given: "Jose", family: "Garcia", birth: "1970-05-06", gender: "male"}, Probable, Certain},
		{"umlaut spelled out", pt{given: "Jürgen", family: "Müller", birth: "1961-01-02", gender: "male", phone: "030 1234567"},
			pt{given: "Juergen", family: "Mueller", birth: "1961-01-02", gender: "male"}, Probable, Certain},
		{"vietnamese", pt{given: "Văn An", family: "Nguyễn", birth: "1990-07-08", gender: "male"},
			pt{given: "Van An", family: "Nguyen", birth: "1990-07-08", gender: "male"}, Probable, Certain},
		{"nickname with phone", with(pt{phone: "555-123-4567"}, "William", "Smith", "1955-02-03", "male"),
			with(pt{phone: "(555) 123 4567"}, "Bill", "Smith", "1955-02-03", "male"), Probable, Certain},
		{"mohammed spellings", pt{given: "Mohammed", family: "Khan", birth: "1984-09-10", gender: "male"},
			pt{given: "Muhammad", family: "Khan", birth: "1984-09-10", gender: "male"}, Probable, Certain},
		{"given and family swapped", with(home, "Wei", "Zhang", "1979-11-12", "female"),
			with(home, "Zhang", "Wei", "1979-11-12", "female"), Probable, Certain},
		{"day and month swapped", with(home, "Anna", "Kowalska", "1980-03-04", "female"),
			with(home, "Anna", "Kowalska", "1980-04-03", "female"), Probable, Certain},
		{"cyrillic", pt{given: "Александр", family: "Иванов", birth: "1975-06-07", gender: "male"},
			pt{given: "Aleksandr", family: "Ivanov", birth: "1975-06-07", gender: "male"}, Probable, Certain},
		{"married name", with(home, "Sarah", "Jones", "1988-08-09", "female"),
			with(home, "Sarah", "Patel", "1988-08-09", "female"), Probable, Certain},
		{"married name with maiden", with(home, "Sarah", "Jones", "1988-08-09", "female"),
			pt{given: "Sarah", family: "Patel", maiden: "Jones", birth: "1988-08-09", gender: "female"}, Probable, Certain},
		{"hyphenated part", pt{given: "María", family: "García-López", birth: "1966-04-05", gender: "female", postcode: "28001"},
			pt{given: "Maria", family: "Garcia", birth: "1966-04-05", gender: "female", postcode: "28001"}, Probable, Certain},
		{"al prefix", pt{given: "Omar", family: "Al-Hassan", birth: "1993-12-01", gender: "male"},
			pt{given: "Omar", family: "Alhassan", birth: "1993-12-01", gender: "male"}, Probable, Certain},
		{"twins", with(home, "James", "Brown", "2001-06-15", "male"),
			with(home, "Oliver", "Brown", "2001-06-15", "male"), None, Possible},
		{"twins opposite sex", with(home, "Emma", "Brown", "2001-06-15", "female"),
			with(home, "Emma", "Brown", "2001-06-15", "male"), None, Possible},
		{"father and son", with(home, "John", "Smith", "1950-01-20", "male"),
			with(home, "John", "Smith", "1978-09-03", "male"), None, Possible},
		{"mother and daughter", with(home, "Fatima", "Rahman", "1960-02-02", "female"),
			with(home, "Ayesha", "Rahman", "1986-10-30", "female"), None, Possible},
		{"same MRN system, other value", pt{given: "Maria", family: "Garcia", birth: "1975-03-03", gender: "female", ids: [][2]string{{mrn, "A-1001"}}},
			pt{given: "Maria", family: "Garcia", birth: "1975-03-03", gender: "female", ids: [][2]string{{mrn, "A1002"}}}, None, Possible},
		{"same MRN", pt{given: "Maria", family: "Garcia", birth: "1975-03-03", ids: [][2]string{{mrn, "A-1001"}}},
			pt{given: "Mary", family: "Garsia", birth: "1975-03-30", ids: [][2]string{{mrn, "a 1001"}}}, Certain, Certain},
		{"common name same year", pt{given: "John", family: "Smith", birth: "1980-01-01", gender: "male"},
			pt{given: "John", family: "Smith", birth: "1980-07-19", gender: "male"}, None, Possible},
	}
	m := DefaultModel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := FromPatient(tt.a.resource()), FromPatient(tt.b.resource())
			r := m.Compare(a, b)
			if r.Grade < tt.min || r.Grade > tt.max {
				t.Errorf("got %s (score %.1f, rule %q, fields %v), want %s..%s", r.Grade, r.Score, r.Rule, r.Fields, tt.min, tt.max)
			}
			back := m.Compare(b, a)
			if back.Grade != r.Grade || abs(back.Score-r.Score) > 1e-9 {
				t.Errorf("not symmetric: %s %.3f vs %s %.3f", r.Grade, r.Score, back.Grade, back.Score)
			}
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
