package sharedtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// SyntheaR4 returns every resource of the Synthea R4 test data: the entries
// of the 59 transaction Bundles of testdata/synthea-r4 and the lines of the
// bulk NDJSON export in testdata/synthea-bulk-ndjson-10pt (its log.ndjson,
// an export log rather than resources, left out). File names the source,
// "Bundle.json#entry[3]" or "Patient.000.ndjson:2". The test skips when the
// material is absent.
func SyntheaR4(t testing.TB) []Example {
	t.Helper()
	out := bundleEntries(t, Path(t, "testdata", "synthea-r4"))
	files, _ := filepath.Glob(filepath.Join(Path(t, "testdata", "synthea-bulk-ndjson-10pt"), "*.ndjson"))
	sort.Strings(files)
	for _, name := range files {
		if filepath.Base(name) == "log.ndjson" {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 64<<20)
		for line := 1; sc.Scan(); line++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			out = append(out, Example{File: fmt.Sprintf("%s:%d", filepath.Base(name), line), Body: bytes.Clone(sc.Bytes())})
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return out
}

// HL7v2ConverterR4 returns the entries of the R4 Bundles that
// microsoft/FHIR-Converter makes of the HL7 v2 test messages
// (testdata/hl7v2/microsoft-fhir-converter/expected-fhir-r4), skipping the
// test when they are absent.
func HL7v2ConverterR4(t testing.TB) []Example {
	t.Helper()
	return bundleEntries(t, Path(t, "testdata", "hl7v2", "microsoft-fhir-converter", "expected-fhir-r4"))
}

// bundleEntries reads the entries of the Bundles in the .json files below dir.
func bundleEntries(t testing.TB, dir string) []Example {
	t.Helper()
	var bundles []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			bundles = append(bundles, p)
		}
		return nil
	})
	sort.Strings(bundles)
	var out []Example
	for _, name := range bundles {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(data, &b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rel, _ := filepath.Rel(dir, name)
		for i, e := range b.Entry {
			out = append(out, Example{File: fmt.Sprintf("%s#entry[%d]", rel, i), Body: e.Resource})
		}
	}
	return out
}
