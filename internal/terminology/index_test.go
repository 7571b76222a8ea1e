package terminology

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
	"github.com/emr-project/emr/internal/store/storetest"
)

const snomedFragment = `{"resourceType":"CodeSystem","id":"sct","url":"http://snomed.info/sct","name":"SNOMED_CT","title":"SNOMED CT","status":"active","content":"fragment",
	"concept":[
		{"code":"44054006","display":"Diabetes mellitus type 2","designation":[{"value":"Type II diabetes"}]},
		{"code":"73211009","display":"Diabetes mellitus"},
		{"code":"38341003","display":"Hypertensive disorder, systemic arterial","designation":[{"value":"High blood pressure"}]},
		{"code":"91936005","display":"Allergy to penicillin"},
		{"code":"195967001","display":"Asthma","concept":[{"code":"389145006","display":"Allergic asthma"}]}]}`

const rxnormFragment = `{"resourceType":"CodeSystem","id":"rx","url":"http://www.nlm.nih.gov/research/umls/rxnorm","name":"RxNorm","status":"active","content":"fragment",
	"concept":[{"code":"7980","display":"Penicillin G"},{"code":"723","display":"Amoxicillin"}]}`

func put(t *testing.T, st store.Store, bodies ...string) {
	t.Helper()
	storetest.PutJSON(t, st, bodies...)
}

func codes(cs []Concept) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Code)
	}
	return strings.Join(out, ",")
}

func TestSearch(t *testing.T) {
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ix := &Index{Store: st, Definitions: defs, Recheck: time.Nanosecond}
	ctx := context.Background()
	if got, err := ix.Search(ctx, "diab", nil, 10); err != nil || len(got) != 0 {
		t.Fatalf("with no CodeSystem: %v %v", got, err)
	}
	put(t, st, snomedFragment, rxnormFragment)
	for _, c := range []struct {
		q       string
		systems []string
		want    string
	}{
		{"diab", nil, "73211009,44054006"},              // the shorter display first
		{"Diabetes mellitus", nil, "73211009,44054006"}, // the exact display first
		{"diab type 2", nil, "44054006"},
		{"type ii", nil, "44054006"},           // by its synonym
		{"high blood", nil, "38341003"},        // by its synonym
		{"DIABÈTES", nil, "73211009,44054006"}, // case and accents ignored
		{"allergic ast", nil, "389145006"},     // a nested concept
		{"penicil", nil, "7980,91936005"},
		{"penicil", []string{RxNorm}, "7980"},
		{"44054006", nil, "44054006"}, // by its code
		{"zzz", nil, ""},
		{"  ", nil, ""},
	} {
		got, err := ix.Search(ctx, c.q, c.systems, 10)
		if err != nil {
			t.Fatal(err)
		}
		if codes(got) != c.want {
			t.Errorf("Search(%q, %v) = %s, want %s", c.q, c.systems, codes(got), c.want)
		}
	}
	if c, ok, _ := ix.Exact(ctx, "amoxicillin", []string{RxNorm}); !ok || c.Code != "723" || c.SystemName != "RxNorm" {
		t.Errorf("Exact(amoxicillin) = %+v %v", c, ok)
	}
	if _, ok, _ := ix.Exact(ctx, "amoxi", nil); ok {
		t.Errorf("Exact(amoxi) coded a part of a display")
	}
	// A CodeSystem changed in the store is searched at the next recheck.
	put(t, st, strings.Replace(rxnormFragment, `{"code":"723","display":"Amoxicillin"}`, `{"code":"723","display":"Amoxicillin"},{"code":"6809","display":"Metformin"}`, 1))
	if got, _ := ix.Search(ctx, "metf", nil, 10); codes(got) != "6809" {
		t.Errorf("after the CodeSystem changed: %s", codes(got))
	}
}
