package fhirpath

import (
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"Patient.name.given", "Observation.value.ofType(Quantity)", "name.where(use = 'official').given.first()",
		"(1 | 2 | 3).aggregate($this + $total, 0)", "@2014-01-01T10:00:00.000+10:00 + 1 'd'", "4 'mg' / 2 'g'",
		"defineVariable('x', name).select(%x.given)", "'a\\u0041'.matches('[a-z]+')", "iif(active, 1, 2.5)",
		"name.given.extension('http://x').value", "1.587.lowBoundary(2)", "`name`[0].descendants()",
		"%`vs-administrative-gender`", "children().repeat(children())", "-1.5.abs() mod 7 div 2",
		"name.where(given.count() < %resource.name.given.count())", "name.select(%resource.name[$index].family | %resource.id)",
		"contained.where(('#'+id in %resource.descendants().reference).not()).empty()",
	} {
		f.Add(s)
	}
	res, err := fhir.ParseResource([]byte(patientJSON))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		x, err := Compile(expr)
		if err != nil {
			return
		}
		// Evaluation may fail but must not panic or run away.
		// A slow evaluation crashes the worker so that the fuzzer keeps the input.
		timer := time.AfterFunc(3*time.Second, func() { panic("slow evaluation: " + expr) })
		defer timer.Stop()
		out, err := x.Evaluate(&Context{MaxSteps: 100_000}, res.Clone())
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%q: %v", expr, err)
		}
		// Caching focus-free subexpressions changes nothing but the work.
		plain, _ := compile(expr, false)
		want, plainErr := plain.Evaluate(&Context{MaxSteps: 10_000_000}, res.Clone())
		if err == nil && (plainErr != nil || nodesJSON(out) != nodesJSON(want)) {
			t.Fatalf("%q: hoisted %s, plain %s (%v)", expr, nodesJSON(out), nodesJSON(want), plainErr)
		}
	})
}
