package deid_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/deid/deidtest"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/importer"
	"github.com/emr-project/emr/internal/sharedtest"
)

// TestSyntheaNoIdentifierSurvives de-identifies every resource of the
// Synthea R4 test data (converted to R5) and looks for each direct
// identifier of the source in the output.
func TestSyntheaNoIdentifierSurvives(t *testing.T) {
	if testing.Short() {
		t.Skip("de-identifies the whole Synthea corpus")
	}
	d := newDeid(t, testKey)
	var ids deidtest.Identifiers
	var out, patients bytes.Buffer
	n := 0
	for _, ex := range sharedtest.SyntheaR4(t) {
		src, err := fhir.ParseResource(ex.Body)
		if err != nil {
			t.Fatalf("%s: %v", ex.File, err)
		}
		ids.Collect(src, ex.File)
		r5, _, err := importer.ConvertR4(src)
		if err != nil {
			continue // the importer refuses it too
		}
		patient := strings.TrimPrefix(audit.PatientOf(r5), "Patient/")
		res, err := d.Resource(r5, patient)
		if err != nil {
			t.Fatalf("%s: %v", ex.File, err)
		}
		line := append(res.JSON(), '\n')
		out.Write(line)
		if res.Type() == "Patient" {
			patients.Write(line)
		}
		n++
	}
	if n < 10000 {
		t.Fatalf("only %d resources de-identified", n)
	}
	if leaks := ids.Leaks(out.Bytes(), patients.Bytes()); len(leaks) > 0 {
		t.Errorf("%d identifiers survive, e.g. %s", len(leaks), strings.Join(leaks[:min(len(leaks), 20)], "; "))
	}
	t.Logf("%d resources, %d identifying values looked for, %d bytes out", n, len(ids.Anywhere)+len(ids.BirthDates), out.Len())
}
