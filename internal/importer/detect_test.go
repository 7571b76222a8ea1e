package importer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
)

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestR5ExamplesAreNotR4 checks that no official R5 example shows a sign
// of R4: auto detection must never refuse real R5 data.
func TestR5ExamplesAreNotR4(t *testing.T) {
	for _, ex := range sharedtest.R5Examples(t) {
		res, err := fhir.ParseResource(ex.Body)
		if err != nil {
			continue
		}
		if sign := r4Sign(res); sign != "" {
			t.Errorf("%s looks like R4: %s", ex.File, sign)
		}
	}
}

// TestSyntheaR4IsRefused detects the Synthea R4 bundles and the bulk
// NDJSON export as R4 and, without a converter, imports nothing of them.
func TestSyntheaR4IsRefused(t *testing.T) {
	for _, dir := range []string{"synthea-r4", "synthea-bulk-ndjson-10pt"} {
		t.Run(dir, func(t *testing.T) {
			path := sharedtest.Path(t, "testdata", dir)
			sum := importOK(t, options(openSQLite(t)), path)
			total := sum.Total()
			if total.Read == 0 || total.Failed != total.Read {
				t.Errorf("total %+v, want every resource failed", total)
			}
			files := map[string]bool{}
			for _, p := range sum.Problems {
				if !strings.Contains(p.Message, "R4 input needs the R4→R5 converter") {
					t.Errorf("problem %v does not say R4 needs the converter", p)
				}
				files[p.File] = true
			}
			if len(sum.Problems) != len(files) || len(files) != sum.Files-len(sum.Skipped) {
				t.Errorf("%d problems in %d files of %d (%d skipped), want one per file", len(sum.Problems), len(files), sum.Files, len(sum.Skipped))
			}
			t.Logf("%d files, %d resources", sum.Files, total.Read)
		})
	}
}

// TestR4GoesThroughTheConverter checks the seam: with a converter, every
// R4 resource is handed to it and its errors are reported per resource.
func TestR4GoesThroughTheConverter(t *testing.T) {
	dir := sharedtest.Path(t, "testdata", "synthea-bulk-ndjson-10pt")
	opts := options(openSQLite(t))
	calls := 0
	opts.ConvertR4 = func(r fhir.Resource) (fhir.Resource, int, error) {
		calls++
		return nil, 0, errors.New("not yet")
	}
	opts.Workers = 1
	sum := importOK(t, opts, filepath.Join(dir, "Patient.000.ndjson"))
	if calls != 13 || sum.Total().Failed != 13 {
		t.Errorf("converter called %d times, %+v; want 13 failures", calls, sum.Total())
	}
	if len(sum.Problems) == 0 || sum.Problems[0].Where != "line 1" || !strings.Contains(sum.Problems[0].Message, "not yet") {
		t.Errorf("problems %v", sum.Problems)
	}
}
