package validate

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/sharedtest"
)

// knownInvalid lists official examples that are genuinely invalid against
// the R5 definitions, with the reason; the validator must keep rejecting them.
var knownInvalid = map[string]string{
	"BiologicallyDerivedProduct-allogeneicHCT.json":          "request refers to BiologicallyDerivedProduct/...; only ServiceRequest is allowed",
	"BiologicallyDerivedProduct-autologousHCT.json":          "request refers to BiologicallyDerivedProduct/...; only ServiceRequest is allowed",
	"DocumentReference-xray.json":                            "context refers to a DocumentReference; only Appointment, Encounter, EpisodeOfCare are allowed",
	"Encounter-example.json":                                 "careTeam refers to Encounter/example; only CareTeam is allowed",
	"GenomicStudy-example-lungMass.json":                     "references such as DocumentReference/genomicVCFfile_simple: '_' is not allowed in an id",
	"ResearchSubject-example-crossover-placebo-to-drug.json": "subject and study references are bare ids, not Type/id",
	"Transport-simpledelivery.json":                          "requestedLocation and currentLocation refer to Transport/...; only Location is allowed",
}

// TestOfficialExamples validates every resource of the R5 examples package.
func TestOfficialExamples(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "fhir", "hl7.fhir.r5.examples-5.0.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	v := New(spec.R5())
	tr := tar.NewReader(zr)
	valid, invalid := 0, 0
	var report []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || path.Dir(h.Name) != "package" || !strings.HasSuffix(name, ".json") ||
			name == "package.json" || strings.HasPrefix(name, ".") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		res, err := fhir.ParseResource(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		issues := v.Validate(res)
		_, known := knownInvalid[name]
		if !HasErrors(issues) {
			valid++
			if known {
				t.Errorf("%s: listed as invalid (%s) but validates", name, knownInvalid[name])
			}
			continue
		}
		invalid++
		var lines []string
		for _, is := range issues {
			if is.Severity == "error" {
				lines = append(lines, fmt.Sprintf("    %s %s: %s", is.Code, strings.Join(is.Expression, ","), is.Diagnostics))
			}
		}
		report = append(report, name+"\n"+strings.Join(lines, "\n"))
		if !known {
			t.Errorf("%s is rejected:\n%s", name, strings.Join(lines, "\n"))
		}
	}
	sort.Strings(report)
	t.Logf("%d valid, %d invalid", valid, invalid)
	for _, r := range report {
		t.Log(r)
	}
	if total := valid + invalid; total < 2800 {
		t.Errorf("only %d examples read", total)
	}
}
