package r4

import (
	"reflect"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/google/go-cmp/cmp"
)

// TestToR5OwnedEqualsToR5 converts every R4 resource of the corpora, and
// the R4 form of every official R5 example (whose R5-only elements are
// cross-version extensions that the conversion must restore, shared or
// not), with ToR5 and with ToR5Owned: the results and reports are equal,
// and ToR5Owned shares at least one object of most resources.
func TestToR5OwnedEqualsToR5(t *testing.T) {
	var inputs []fhir.Resource
	for _, ex := range append(sharedtest.SyntheaR4(t), sharedtest.HL7v2ConverterR4(t)...) {
		r, err := fhir.ParseResource(ex.Body)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, r)
	}
	for _, ex := range sharedtest.R5Examples(t) {
		r5, err := fhir.ParseResource(ex.Body)
		if err != nil || !supported[r5.Type()] {
			continue
		}
		if r, _, err := ToR4(r5); err == nil {
			inputs = append(inputs, r)
		}
	}
	compared, shared := 0, 0
	for _, in := range inputs {
		want, wantRep, wantErr := ToR5(in)
		owned := in.Clone()
		got, gotRep, gotErr := ToR5Owned(owned)
		if (wantErr == nil) != (gotErr == nil) {
			t.Errorf("%s/%s: ToR5 error %v, ToR5Owned error %v", in.Type(), in.ID(), wantErr, gotErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		compared++
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s/%s: ToR5Owned differs from ToR5 (-ToR5 +ToR5Owned):\n%s", in.Type(), in.ID(), diff)
		}
		if diff := cmp.Diff(wantRep, gotRep); diff != "" {
			t.Errorf("%s/%s: reports differ:\n%s", in.Type(), in.ID(), diff)
		}
		if sharesObject(owned, got) {
			shared++
		}
	}
	t.Logf("%d resources converted both ways, equal; %d share objects with their input", compared, shared)
	if compared == 0 || shared < compared/2 {
		t.Errorf("ToR5Owned shared objects in %d of %d resources", shared, compared)
	}
}

// sharesObject reports whether some object below in is, itself, in out.
func sharesObject(in, out fhir.Resource) bool {
	objects := map[uintptr]bool{}
	var collect func(v any, into bool) bool
	collect = func(v any, into bool) bool {
		switch v := v.(type) {
		case map[string]any:
			p := reflect.ValueOf(v).Pointer()
			if into {
				objects[p] = true
			} else if objects[p] {
				return true
			}
			for _, x := range v {
				if collect(x, into) {
					return true
				}
			}
		case []any:
			for _, x := range v {
				if collect(x, into) {
					return true
				}
			}
		}
		return false
	}
	for _, x := range in {
		collect(x, true)
	}
	for _, x := range out {
		if collect(x, false) {
			return true
		}
	}
	return false
}
