package sharedtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
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
	var out []Example
	bundles, _ := filepath.Glob(filepath.Join(Path(t, "testdata", "synthea-r4"), "*.json"))
	sort.Strings(bundles)
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
		for i, e := range b.Entry {
			out = append(out, Example{File: fmt.Sprintf("%s#entry[%d]", filepath.Base(name), i), Body: e.Resource})
		}
	}
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
