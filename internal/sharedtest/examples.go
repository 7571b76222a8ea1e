package sharedtest

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
)

// Example is one file of the official R5 examples package.
type Example struct {
	File string // base name, e.g. "patient-example.json"
	Body []byte
}

// R5Examples reads every resource of hl7.fhir.r5.examples-5.0.0.tgz, sorted
// by file name (package.json and index files left out), skipping the test
// when the package is absent.
func R5Examples(t testing.TB) []Example {
	t.Helper()
	f, err := os.Open(Path(t, "fhir", "hl7.fhir.r5.examples-5.0.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []Example
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
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Example{File: name, Body: body})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}
