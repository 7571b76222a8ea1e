package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/deid/deidtest"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// readExport reads every resource of an export directory, by file.
func readExport(t *testing.T, dir string) (all []byte, byType map[string][]fhir.Resource) {
	t.Helper()
	byType = map[string][]fhir.Resource{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	var buf bytes.Buffer
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(data)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			res, err := fhir.ParseResource(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			typ := strings.TrimSuffix(filepath.Base(name), ".ndjson")
			if res.Type() != typ {
				t.Fatalf("%s holds a %s", name, res.Type())
			}
			byType[typ] = append(byType[typ], res)
		}
	}
	return buf.Bytes(), byType
}

// TestExportDeidentified imports the Synthea R4 test data and runs `emr
// export --deidentify` on it: no direct identifier of the source is in the
// files, every reference resolves inside the export, the same key gives
// the same pseudonyms and another key others, one patient's dates keep
// their intervals, and the export is audited.
func TestExportDeidentified(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the Synthea corpus")
	}
	sources := sharedtest.SyntheaR4(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	code, stdout, stderr := emrProcess(t, "import", "--data", data,
		sharedtest.Path(t, "testdata", "synthea-r4"), sharedtest.Path(t, "testdata", "synthea-bulk-ndjson-10pt"))
	if code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	key := filepath.Join(dir, "deid.key")
	out1, out2, out3 := filepath.Join(dir, "out1"), filepath.Join(dir, "out2"), filepath.Join(dir, "out3")
	for _, run := range []struct{ out, key string }{{out1, key}, {out2, key}, {out3, filepath.Join(dir, "other.key")}} {
		code, stdout, stderr := emrProcess(t, "export", "--deidentify", "--data", data, "--key", run.key, "--out", run.out)
		if code != 0 {
			t.Fatalf("export: exit %d\n%s\n%s", code, stdout, stderr)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v", err, fi.Mode())
	}

	// No identifier of the source survives.
	var ids deidtest.Identifiers
	for _, ex := range sources {
		res, err := fhir.ParseResource(ex.Body)
		if err != nil {
			t.Fatal(err)
		}
		ids.Collect(res, ex.File)
	}
	all, byType := readExport(t, out1)
	outPatients := map[string][]byte{}
	for _, p := range byType["Patient"] {
		outPatients[p.ID()] = p.JSON()
	}
	keyBytes, _, err := deid.LoadOrCreateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := deid.New(spec.R5(), keyBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(byType["Patient"]) < 60 || len(byType["Observation"]) < 1000 {
		t.Fatalf("export holds %d patients, %d observations", len(byType["Patient"]), len(byType["Observation"]))
	}
	// A birth date is looked for in its own patient's output: another
	// patient's shifted dates meet the sample's birth dates now and then.
	if leaks := ids.LeaksByPatient(all, outPatients, func(id string) string { return d.Pseudonym("Patient", id) }); len(leaks) > 0 {
		t.Errorf("%d identifiers survive, e.g. %s", len(leaks), strings.Join(leaks[:min(len(leaks), 20)], "; "))
	}

	// References resolve inside the export.
	have := map[string]bool{}
	for typ, list := range byType {
		for _, r := range list {
			have[typ+"/"+r.ID()] = true
		}
	}
	dangling, refs := 0, 0
	for _, list := range byType {
		for _, r := range list {
			forEachReference(map[string]any(r), func(ref string) {
				refs++
				if !strings.HasPrefix(ref, "#") && !have[ref] {
					if dangling++; dangling <= 5 {
						t.Errorf("%s/%s refers to %s, not in the export", r.Type(), r.ID(), ref)
					}
				}
			})
		}
	}
	if refs < 10000 || dangling > 0 {
		t.Errorf("%d references, %d dangling", refs, dangling)
	}

	// The same key, the same pseudonyms; another key, others.
	_, again := readExport(t, out2)
	_, other := readExport(t, out3)
	idsOf := func(list []fhir.Resource) map[string]bool {
		m := map[string]bool{}
		for _, r := range list {
			m[r.ID()] = true
		}
		return m
	}
	first, second, third := idsOf(byType["Patient"]), idsOf(again["Patient"]), idsOf(other["Patient"])
	for id := range first {
		if !second[id] {
			t.Errorf("Patient/%s is not in the second export with the same key", id)
		}
		if third[id] {
			t.Errorf("Patient/%s has the same pseudonym under another key", id)
		}
	}

	// One patient's encounters keep their lengths and move by the
	// patient's offset, read against the store.
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(data, "emr.db"), sqlstore.Options{Extractor: mpi.WithKeys(search.NewExtractor(defs))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, _ := search.Parse(defs, "Encounter", map[string][]string{"_count": {"200"}}, search.ParseOptions{})
	res, err := st.Search(context.Background(), q)
	if err != nil || len(res.Matches) == 0 {
		t.Fatalf("encounters: %v", err)
	}
	exported := map[string]fhir.Resource{}
	for _, e := range byType["Encounter"] {
		exported[e.ID()] = e
	}
	checked := 0
	for _, v := range res.Matches {
		src, _ := v.Resource["actualPeriod"].(map[string]any)
		subject, _ := v.Resource["subject"].(map[string]any)
		patient := strings.TrimPrefix(subject["reference"].(string), "Patient/")
		e := exported[d.Pseudonym("Encounter", v.ID)]
		if src == nil || e == nil {
			continue
		}
		dst := e["actualPeriod"].(map[string]any)
		s0, e0 := parseTime(t, src["start"]), parseTime(t, src["end"])
		s1, e1 := parseTime(t, dst["start"]), parseTime(t, dst["end"])
		if e1.Sub(s1) != e0.Sub(s0) {
			t.Errorf("Encounter/%s lasted %v, exported %v", v.ID, e0.Sub(s0), e1.Sub(s1))
		}
		if want := s0.AddDate(0, 0, d.ShiftDays(patient)); !s1.Equal(want) {
			t.Errorf("Encounter/%s starts %v, exported %v, want %v", v.ID, s0, s1, want)
		}
		if e1.Equal(e0) {
			t.Errorf("Encounter/%s end not shifted", v.ID)
		}
		checked++
	}
	if checked < 50 {
		t.Errorf("only %d encounters checked", checked)
	}

	// The manifest lists every file; the export is one audit record.
	var m struct {
		Output []struct {
			Type  string `json:"type"`
			URL   string `json:"url"`
			Count int    `json:"count"`
		} `json:"output"`
	}
	mdata, _ := os.ReadFile(filepath.Join(out1, "manifest.json"))
	if err := json.Unmarshal(mdata, &m); err != nil || len(m.Output) != len(byType) {
		t.Errorf("manifest: %v: %s", err, mdata)
	}
	for _, o := range m.Output {
		if o.Count != len(byType[o.Type]) {
			t.Errorf("manifest: %s %d, file holds %d", o.Type, o.Count, len(byType[o.Type]))
		}
	}
	exports := 0
	st.ScanAudit(context.Background(), 0, func(_ int64, ev fhir.Resource) error {
		if s := string(ev.JSON()); strings.Contains(s, "de-identified export") && strings.Contains(s, "HRESCH") && strings.Contains(s, "cli:") {
			exports++
		}
		return nil
	})
	if exports != 3 {
		t.Errorf("%d audit records of exports, want 3", exports)
	}
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm
}

func forEachReference(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["reference"].(string); ok {
			fn(ref)
		}
		for _, c := range v {
			forEachReference(c, fn)
		}
	case []any:
		for _, c := range v {
			forEachReference(c, fn)
		}
	}
}
