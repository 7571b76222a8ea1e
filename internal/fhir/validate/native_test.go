package validate

import (
	"fmt"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/sharedtest"
)

// crossCheck is an InvariantChecker that evaluates each natively
// implemented constraint both ways and records where they differ.
type crossCheck struct {
	fhirpath  *FHIRPathInvariants // noNative
	evaluated map[string]int      // sites per key where the native code ran
	decided   map[string]int      // of those, where it decided (and FHIRPath ran too)
	diffs     []string
}

func (x *crossCheck) Check(at InvariantSite, constraints []spec.Constraint) ([]spec.Constraint, error) {
	for _, con := range constraints {
		n, ok := nativeInvariants[con.Key]
		if !ok || n.expression != con.Expression {
			continue
		}
		holds, decided := n.eval(at)
		x.evaluated[con.Key]++
		if !decided {
			continue // FHIRPath decides, as without the native code
		}
		failed, err := x.fhirpath.Check(at, []spec.Constraint{con})
		if err != nil {
			x.diffs = append(x.diffs, fmt.Sprintf("%s at %s: FHIRPath: %v", con.Key, siteName(at), err))
			continue
		}
		x.decided[con.Key]++
		if holds != (len(failed) == 0) {
			x.diffs = append(x.diffs, fmt.Sprintf("%s at %s: native says holds=%v, FHIRPath the opposite", con.Key, siteName(at), holds))
		}
	}
	return nil, nil
}

// TestNativeInvariants checks that each native constraint is the one in
// the R5 definitions, and agrees with FHIRPath on every site of the
// official examples, of Synthea (converted from R4) and of edge cases.
func TestNativeInvariants(t *testing.T) {
	defs := spec.R5()
	found := map[string]bool{}
	for _, typ := range defs.Types {
		for _, e := range typ.Elements {
			for _, con := range e.Constraints {
				if n, ok := nativeInvariants[con.Key]; ok {
					found[con.Key] = true
					if n.expression != con.Expression {
						t.Errorf("%s on %s: the definitions say %q, the native code implements %q", con.Key, e.Path, con.Expression, n.expression)
					}
				}
			}
		}
	}
	for key := range nativeInvariants {
		if !found[key] {
			t.Errorf("%s is in no definition", key)
		}
	}

	fp := NewFHIRPathInvariants(defs)
	fp.noNative = true
	x := &crossCheck{fhirpath: fp, evaluated: map[string]int{}, decided: map[string]int{}}
	v := New(defs, WithInvariants(x))
	var corpus []fhir.Resource
	for _, ex := range sharedtest.R5Examples(t) {
		if res, err := fhir.ParseResource(ex.Body); err == nil {
			corpus = append(corpus, res)
		}
	}
	if !testing.Short() {
		for _, ex := range sharedtest.SyntheaR4(t) {
			res, err := fhir.ParseResource(ex.Body)
			if err != nil {
				continue
			}
			if r5, _, err := r4.ToR5(res); err == nil {
				corpus = append(corpus, r5)
			}
		}
	}
	for _, js := range nativeEdgeCases {
		corpus = append(corpus, parse(t, js))
	}
	for _, res := range corpus {
		v.Validate(res)
	}
	for _, d := range x.diffs {
		t.Error(d)
	}
	for key := range nativeInvariants {
		if x.decided[key] == 0 {
			t.Errorf("%s: never decided natively (%d sites)", key, x.evaluated[key])
		}
	}
	t.Logf("sites evaluated natively: %v; decided there (and compared with FHIRPath): %v", x.evaluated, x.decided)
}

// nativeEdgeCases hold what the corpus has little of: failures, local
// references, primitives with extensions only.
var nativeEdgeCases = []string{
	// cod-1: a display without a code; a code known by its extension only.
	`{"resourceType":"Observation","status":"final","code":{"coding":[{"display":"x"},{"_code":{"extension":[{"url":"http://x.org","valueString":"a"}]},"display":"y"},{"system":"http://x.org","code":"a"}]}}`,
	// ref-2: a reference with an extension only; ref-1: "#" from the root,
	// "#" from a contained resource, a contained id that is absent.
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"extension":[{"url":"http://x.org","valueString":"a"}]},"performer":[{"reference":"#"},{"reference":"#nope"},{"reference":"#p1"},{"_reference":{"extension":[{"url":"http://x.org","valueString":"a"}]}}],
	  "contained":[{"resourceType":"Practitioner","id":"p1"},{"resourceType":"Provenance","id":"v1","target":[{"reference":"#"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"#p1"}}]}]}`,
	// dom-3: referenced only from inside another contained resource; not
	// referenced at all; referenced by a canonical (FHIRPath decides).
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"performer":[{"reference":"#a"}],
	  "contained":[{"resourceType":"Practitioner","id":"a"},{"resourceType":"Organization","id":"b","partOf":{"reference":"#c"}},{"resourceType":"Organization","id":"c"},{"resourceType":"Organization","id":"d"}]}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"instantiatesCanonical":"#q","contained":[{"resourceType":"Questionnaire","id":"q","status":"draft"}]}`,
	// per-1: in order, the same second, the end a second early, across
	// zones, to the day (FHIRPath decides), an end known by extension
	// only; dom-6: no narrative; ext-1: neither or both of value and
	// extensions; qty-3: a code without a system; ident-1: no value;
	// obs-6 and obs-8: both of each pair.
	`{"resourceType":"Encounter","status":"planned","class":[{"coding":[{"system":"http://x.org","code":"a"}]}],
	  "actualPeriod":{"start":"2020-01-01T10:00:00Z","end":"2020-01-01T10:00:00Z"},
	  "extension":[{"url":"http://x.org/a"},{"url":"http://x.org/b","valueString":"v","extension":[{"url":"c","valueString":"w"}]}],
	  "identifier":[{"system":"http://x.org"}],
	  "participant":[{"period":{"start":"2020-01-01T10:00:01Z","end":"2020-01-01T10:00:00Z"}},{"period":{"start":"2020-01-01T10:00:00+01:00","end":"2020-01-01T09:30:00Z"}},
	    {"period":{"start":"2020-01-02","end":"2020-01-01"}},{"period":{"start":"2020-01-02T00:00:00Z","_end":{"extension":[{"url":"http://x.org","valueString":"a"}]}}}]}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"code":"mg"},"dataAbsentReason":{"text":"x"},
	  "bodySite":{"text":"arm"},"bodyStructure":{"concept":{"text":"arm"}},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}`,
	// In a Bundle: the entries are not the root.
	`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"performer":[{"reference":"#p"}],"contained":[{"resourceType":"Practitioner","id":"p"}]}}]}`,
}

// siteName names a site in a failure: the resource and the node's type.
func siteName(at InvariantSite) string {
	return fmt.Sprintf("%v/%v (a %s)", at.Resource["resourceType"], at.Resource["id"], at.TypeName)
}
