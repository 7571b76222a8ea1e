package bench

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
)

func encode(rec *Record) []byte {
	var b []byte
	for _, res := range rec.Resources {
		b = fhir.AppendJSON(b, map[string]any(res))
		b = append(b, '\n')
	}
	return b
}

func TestDeterministic(t *testing.T) {
	a, b := NewGenerator(Options{Seed: 7}), NewGenerator(Options{Seed: 7})
	other := NewGenerator(Options{Seed: 8})
	for _, i := range []int{0, 1, 2, 99, 12345, 999_999} {
		ja, jb := encode(a.Patient(i)), encode(b.Patient(i))
		if !bytes.Equal(ja, jb) {
			t.Fatalf("patient %d: two generators with seed 7 differ:\n%s\n%s", i, ja, jb)
		}
		if again := encode(a.Patient(i)); !bytes.Equal(ja, again) {
			t.Fatalf("patient %d: generating twice differs", i)
		}
		if bytes.Equal(ja, encode(other.Patient(i))) {
			t.Errorf("patient %d: seeds 7 and 8 give the same record", i)
		}
	}
}

// TestValid runs the R5 validator, with invariants, over every resource of a
// few hundred patients, both as generated and after a JSON round trip.
func TestValid(t *testing.T) {
	v := validate.New(spec.R5(), validate.WithInvariants(validate.NewFHIRPathInvariants(spec.R5())))
	g := NewGenerator(Options{Seed: 1})
	n := 300
	if testing.Short() {
		n = 60
	}
	failures := 0
	for i := range n {
		for _, res := range g.Patient(i).Resources {
			parsed, err := fhir.ParseResource(res.JSON())
			if err != nil {
				t.Fatalf("patient %d: %s does not parse: %v", i, res.Type(), err)
			}
			for _, r := range []fhir.Resource{res, parsed} {
				if issues := v.Validate(r); validate.HasErrors(issues) {
					failures++
					if failures <= 5 {
						t.Errorf("patient %d: %s/%s is invalid: %v\n%s", i, res.Type(), res.ID(), issues, res.JSON())
					}
				}
			}
		}
	}
	if failures > 5 {
		t.Errorf("%d invalid resources in all", failures)
	}
}

// TestDistribution checks the population looks like a hospital's.
func TestDistribution(t *testing.T) {
	g := NewGenerator(Options{Seed: 3})
	const n = 2000
	counts := map[string]int{}
	perPatient := make([]int, 0, n)
	mrns, ids := map[string]bool{}, map[string]bool{}
	cultureSeen, genders := map[string]int{}, map[string]int{}
	accented, twoFamilies := 0, 0
	minBirth, maxBirth := "9999", "0000"
	for i := range n {
		rec := g.Patient(i)
		if mrns[rec.MRN] {
			t.Fatalf("MRN %s repeats", rec.MRN)
		}
		mrns[rec.MRN] = true
		for _, res := range rec.Resources {
			counts[res.Type()]++
			if ids[res.ID()] {
				t.Fatalf("id %s repeats", res.ID())
			}
			ids[res.ID()] = true
			if !fhir.ValidID(res.ID()) {
				t.Fatalf("id %q is not a FHIR id", res.ID())
			}
		}
		perPatient = append(perPatient, len(rec.Resources))
		pat := rec.Resources[0]
		genders[pat["gender"].(string)]++
		family := pat["name"].([]any)[0].(map[string]any)["family"].(string)
		if strings.ContainsAny(family, "áéíóúñüöäßłśżęąćńĐđễạ") {
			accented++
		}
		if strings.Contains(family, " ") {
			twoFamilies++
		}
		minBirth, maxBirth = min(minBirth, rec.BirthDate), max(maxBirth, rec.BirthDate)
		for _, c := range cultures {
			for _, f := range c.family {
				if f == rec.Family {
					cultureSeen[c.name]++
				}
			}
		}
	}
	per := func(typ string) float64 { return float64(counts[typ]) / n }
	for _, c := range []struct {
		typ    string
		lo, hi float64
	}{{"Patient", 1, 1}, {"Encounter", 2, 5}, {"Condition", 2, 5}, {"Observation", 18, 35}, {"MedicationRequest", 2, 5}} {
		if got := per(c.typ); got < c.lo || got > c.hi {
			t.Errorf("%s per patient: got %.2f, want %.0f–%.0f", c.typ, got, c.lo, c.hi)
		}
	}
	// Skew: the busiest tenth of patients hold a large share of the data.
	total, top := 0, 0
	sorted := append([]int(nil), perPatient...)
	slices.SortFunc(sorted, func(a, b int) int { return b - a })
	for i, k := range sorted {
		total += k
		if i < n/10 {
			top += k
		}
	}
	if share := float64(top) / float64(total); share < 0.2 || share > 0.6 {
		t.Errorf("busiest 10%% of patients hold %.0f%% of resources, want 20–60%%", 100*share)
	}
	if len(cultureSeen) < 12 {
		t.Errorf("only %d naming traditions among %d patients: %v", len(cultureSeen), n, cultureSeen)
	}
	if genders["male"] < n*4/10 || genders["female"] < n*4/10 {
		t.Errorf("genders %v: want roughly half male, half female", genders)
	}
	if accented < n/20 || twoFamilies < n/20 {
		t.Errorf("%d accented and %d double family names: too few", accented, twoFamilies)
	}
	if minBirth > "1925" || maxBirth < "2020" {
		t.Errorf("birth dates %s–%s, want to span 1920–2024", minBirth, maxBirth)
	}
	t.Logf("per patient: %v; busiest %d resources", counts, sorted[0])
}

func TestObservationKeysMatchResources(t *testing.T) {
	rec := NewGenerator(Options{Seed: 5}).Patient(42)
	byID := map[string]fhir.Resource{}
	for _, res := range rec.Resources {
		byID[res.ID()] = res
	}
	for _, k := range rec.Observations {
		res := byID[k.ID]
		if res == nil || res["effectiveDateTime"] != k.Effective.Format(time.RFC3339) {
			t.Errorf("observation key %+v does not match %v", k, res)
		}
	}
}

// TestClinicalPatients checks that limiting clinical data leaves the first
// patients unchanged and registers the rest without clinical resources.
func TestClinicalPatients(t *testing.T) {
	all := NewGenerator(Options{Seed: 7})
	some := NewGenerator(Options{Seed: 7, ClinicalPatients: 3})
	for i := 0; i < 3; i++ {
		a, b := all.Patient(i), some.Patient(i)
		if len(a.Resources) != len(b.Resources) || string(a.Resources[0].JSON()) != string(b.Resources[0].JSON()) {
			t.Errorf("patient %d differs when ClinicalPatients is set", i)
		}
	}
	for i := 3; i < 20; i++ {
		rec := some.Patient(i)
		if len(rec.Resources) != 1 || rec.Resources[0].Type() != "Patient" {
			t.Errorf("patient %d beyond ClinicalPatients has %d resources", i, len(rec.Resources))
		}
		if string(rec.Resources[0].JSON()) != string(all.Patient(i).Resources[0].JSON()) {
			t.Errorf("patient %d's Patient resource depends on ClinicalPatients", i)
		}
	}
	if n := len(NewPool(some, 20, 10).records); n != 3 {
		t.Errorf("pool of %d, want the 3 patients with clinical data", n)
	}
}
