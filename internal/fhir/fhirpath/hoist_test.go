package fhirpath

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// dom3 is the R5 invariant on DomainResource that made hoisting worth it.
const dom3 = `contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | %resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(uri) = '#').exists()).not()).trace('unmatched', id).empty()`

// claimWithContained is a resource holding n contained Coverages, each
// referenced from an insurance entry, and unreferenced ones after them.
func claimWithContained(n, unreferenced int) string {
	var contained, insurance []string
	for i := range n + unreferenced {
		contained = append(contained, fmt.Sprintf(`{"resourceType":"Coverage","id":"c%d","status":"active"}`, i))
		if i < n {
			insurance = append(insurance, fmt.Sprintf(`{"sequence":%d,"focal":true,"coverage":{"reference":"#c%d"}}`, i+1, i))
		}
	}
	return `{"resourceType":"Claim","id":"x","status":"active","contained":[` + strings.Join(contained, ",") +
		`],"insurance":[` + strings.Join(insurance, ",") + `]}`
}

func TestHoistEvaluatesFocusFreePartsOnce(t *testing.T) {
	x, err := Compile(dom3)
	if err != nil {
		t.Fatal(err)
	}
	// The union over %resource, its four %resource.descendants() sharing
	// one slot, and the three ofType() calls.
	if x.slots != 5 {
		t.Fatalf("dom-3 has %d cached subexpressions, want 5", x.slots)
	}
	// Walking the whole resource again for each of 100 contained resources
	// costs some 400,000 steps; walking it once, under 20,000.
	const budget = 50_000
	for _, tc := range []struct {
		unreferenced int
		want         bool
	}{{0, true}, {1, false}} {
		res := mustResource(t, claimWithContained(100, tc.unreferenced))
		var traced []Node
		ctx := &Context{MaxSteps: budget, Trace: func(_ string, c []Node) { traced = append(traced, c...) }}
		got, ok, err := x.EvaluateBool(ctx, res)
		if err != nil || !ok || got != tc.want {
			t.Errorf("dom-3 with %d unreferenced = %v, %v, %v; want %v within %d steps", tc.unreferenced, got, ok, err, tc.want, budget)
		}
		if len(traced) != tc.unreferenced {
			t.Errorf("trace saw %d unmatched, want %d", len(traced), tc.unreferenced)
		}
	}
}

func TestHoistKeepsMeaning(t *testing.T) {
	patient := mustResource(t, patientJSON)
	for _, tc := range []struct {
		expr  string
		slots int
		want  string
	}{
		// $this, $index and the implicit focus are the item's, never hoisted.
		{"name.where(given.count() > %resource.name.count()).family", 1, `["Chalmers"]`},
		{"name.select(%resource.name[$index].given.first())", 1, `["Peter","Jim"]`},
		{"name.select($this.given.first() | %resource.id)", 1, `["Peter","p1","Jim","p1"]`},
		// A nested iteration over a focus-free target is itself focus-free.
		{"name.where(%resource.generalPractitioner.where(reference.startsWith('Patient')).exists()).count()", 2, `[2]`},
		// Equal subexpressions share a slot.
		{"name.where(%resource.name.given.count() = %resource.name.given.count()).count()", 2, `[2]`},
		// Outside an iteration nothing is cached: it runs once anyway.
		{"%resource.name.given.count()", 0, `[4]`},
		// defineVariable turns hoisting off for the expression.
		{"defineVariable('n', name).name.select(%n.count())", 0, `[2,2]`},
	} {
		x, err := Compile(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if x.slots != tc.slots {
			t.Errorf("%s: %d hoisted, want %d", tc.expr, x.slots, tc.slots)
		}
		out, err := x.Evaluate(nil, patient)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := nodesJSON(out); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// nodesJSON renders a collection's values as a JSON array.
func nodesJSON(c []Node) string {
	vals := make([]any, len(c))
	for i, n := range c {
		vals[i] = n.Value
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
