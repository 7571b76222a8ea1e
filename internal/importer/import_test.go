package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// TestNDJSONAndRerun imports official R5 examples as NDJSON, then again
// (nothing new), then with one resource changed (one update).
func TestNDJSONAndRerun(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		rs := r5Resources(t, 300)
		n := int64(len(rs))
		file := writeNDJSON(t, filepath.Join(t.TempDir(), "data.ndjson"), lines(rs)...)
		wantTotal(t, importOK(t, options(st), file), Counts{Read: n, Created: n})
		for _, r := range rs[:5] {
			v, err := st.Read(context.Background(), r.Type(), r.ID())
			if err != nil {
				t.Fatalf("read %s/%s: %v", r.Type(), r.ID(), err)
			}
			if !sameContent(v.Resource, r) {
				t.Errorf("%s/%s: stored %s, want %s", r.Type(), r.ID(), v.Resource.JSON(), r.JSON())
			}
		}
		wantTotal(t, importOK(t, options(st), file), Counts{Read: n, Unchanged: n})

		rs[0]["language"] = "de"
		writeNDJSON(t, file, lines(rs)...)
		sum := importOK(t, options(st), file)
		wantTotal(t, sum, Counts{Read: n, Updated: 1, Unchanged: n - 1})
		if got := sum.ByType[rs[0].Type()].Updated; got != 1 {
			t.Errorf("%s updated %d, want 1", rs[0].Type(), got)
		}
	})
}

// TestBadLines imports the good lines of a file and reports the bad ones
// with their line numbers.
func TestBadLines(t *testing.T) {
	st := openSQLite(t)
	rs := r5Resources(t, 4)
	invalid := fhir.Resource{"resourceType": "Patient", "id": "bad", "gender": "sometimes"}
	file := writeNDJSON(t, filepath.Join(t.TempDir(), "data.ndjson"),
		string(rs[0].JSON()), `{"resourceType": "Patient", "id": `, string(rs[1].JSON()), "",
		string(invalid.JSON()), string(rs[2].JSON()), string(rs[3].JSON()))
	sum := importOK(t, options(st), file)
	wantTotal(t, sum, Counts{Read: 6, Created: 4, Failed: 2})
	var got []string
	for _, p := range sum.Problems {
		got = append(got, p.Where)
	}
	if strings.Join(got, ",") != "line 2,line 5" {
		t.Errorf("problems at %q, want line 2 and line 5: %v", got, sum.Problems)
	}
	if !strings.Contains(sum.Problems[1].Message, "Patient.gender") {
		t.Errorf("line 5: %q does not name Patient.gender", sum.Problems[1].Message)
	}
	if _, err := st.Read(context.Background(), "Patient", "bad"); !fhir.IsKind(err, fhir.KindNotFound) {
		t.Errorf("Patient/bad: got %v, want not found", err)
	}
}

// bundle builds a Bundle of kind whose entries carry urn:uuid fullUrls.
func bundle(kind string, entries ...map[string]any) []byte {
	list := make([]any, len(entries))
	for i, e := range entries {
		list[i] = e
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": kind, "entry": list})
	return b
}

func entry(fullURL string, res fhir.Resource) map[string]any {
	return map[string]any{"fullUrl": fullURL, "resource": map[string]any(res),
		"request": map[string]any{"method": "POST", "url": res.Type()}}
}

// TestTransactionBundle resolves urn:uuid references, gives an entry
// without an id the uuid of its fullUrl, and writes a transaction with an
// invalid entry not at all.
func TestTransactionBundle(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		dir := t.TempDir()
		const patientUUID = "5b0a3c1e-7a55-4b7d-9f44-1d2a0e6c0a11"
		patient := fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": "Chalmers"}}}
		obs := fhir.Resource{"resourceType": "Observation", "id": "obs-1", "status": "final",
			"code":    map[string]any{"text": "weight"},
			"subject": map[string]any{"reference": "urn:uuid:" + patientUUID}}
		good := bundle("transaction", entry("urn:uuid:"+patientUUID, patient), entry("urn:uuid:0d0a2d8e-0000-4000-8000-000000000001", obs))
		writeFile(t, filepath.Join(dir, "good.json"), good)

		bad := bundle("transaction",
			entry("urn:uuid:0d0a2d8e-0000-4000-8000-000000000002", fhir.Resource{"resourceType": "Patient", "id": "tx-ok"}),
			entry("urn:uuid:0d0a2d8e-0000-4000-8000-000000000003", fhir.Resource{"resourceType": "Patient", "id": "tx-bad", "gender": "sometimes"}))
		writeFile(t, filepath.Join(dir, "sub", "bad.json"), bad)

		sum := importOK(t, options(st), dir)
		wantTotal(t, sum, Counts{Read: 4, Created: 2, Failed: 2})
		ctx := context.Background()
		p, err := st.Read(ctx, "Patient", patientUUID)
		if err != nil {
			t.Fatalf("the patient is not stored under its urn:uuid: %v", err)
		}
		o, err := st.Read(ctx, "Observation", "obs-1")
		if err != nil {
			t.Fatal(err)
		}
		if got := o.Resource["subject"].(map[string]any)["reference"]; got != "Patient/"+p.ID {
			t.Errorf("subject %v, want Patient/%s", got, p.ID)
		}
		for _, id := range []string{"tx-ok", "tx-bad"} {
			if _, err := st.Read(ctx, "Patient", id); !fhir.IsKind(err, fhir.KindNotFound) {
				t.Errorf("Patient/%s of the failed transaction: got %v, want not found", id, err)
			}
		}
		var where []string
		for _, pr := range sum.Problems {
			where = append(where, pr.Where)
		}
		if len(where) != 2 || where[0] != "" || where[1] != "entry 1" {
			t.Errorf("problems %v, want entry 1 and the bundle", sum.Problems)
		}
		wantTotal(t, importOK(t, options(st), filepath.Join(dir, "good.json")), Counts{Read: 2, Unchanged: 2})
	})
}

// TestCollectionBundle imports the good entries of a collection and
// reports the bad one by its index.
func TestCollectionBundle(t *testing.T) {
	st := openSQLite(t)
	rs := r5Resources(t, 3)
	var entries []map[string]any
	for i, r := range rs {
		entries = append(entries, map[string]any{"fullUrl": fmt.Sprintf("http://example.org/fhir/%s/%s", r.Type(), r.ID()), "resource": map[string]any(r)})
		if i == 1 {
			entries = append(entries, map[string]any{"resource": map[string]any{"resourceType": "Patient", "active": "yes"}})
		}
	}
	file := filepath.Join(t.TempDir(), "c.json")
	writeFile(t, file, bundle("collection", entries...))
	sum := importOK(t, options(st), file)
	wantTotal(t, sum, Counts{Read: 4, Created: 3, Failed: 1})
	if len(sum.Problems) != 1 || sum.Problems[0].Where != "entry 2" {
		t.Errorf("problems %v, want one at entry 2", sum.Problems)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"auto": VersionAuto, "": VersionAuto, "4.0": VersionR4, "4.0.1": VersionR4, "5.0": VersionR5, "R5": VersionR5} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseVersion("3.0"); err == nil {
		t.Error("ParseVersion(3.0): no error")
	}
}

// TestExamplesAsBundles imports official R5 examples as a transaction
// Bundle and as a batch Bundle, with urn:uuid fullUrls: every resource
// keeps its id, and a second run changes nothing.
func TestExamplesAsBundles(t *testing.T) {
	st := openSQLite(t)
	rs := r5Resources(t, 400)
	half := len(rs) / 2
	dir := t.TempDir()
	for i, part := range [][]fhir.Resource{rs[:half], rs[half:]} {
		var entries []map[string]any
		for j, r := range part {
			entries = append(entries, entry(fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i*10000+j), r))
		}
		writeFile(t, filepath.Join(dir, fmt.Sprintf("%d.json", i)), bundle([]string{"transaction", "batch"}[i], entries...))
	}
	n := int64(len(rs))
	wantTotal(t, importOK(t, options(st), dir), Counts{Read: n, Created: n})
	for _, r := range []fhir.Resource{rs[0], rs[len(rs)-1]} {
		if _, err := st.Read(context.Background(), r.Type(), r.ID()); err != nil {
			t.Errorf("%s/%s: %v", r.Type(), r.ID(), err)
		}
	}
	wantTotal(t, importOK(t, options(st), dir), Counts{Read: n, Unchanged: n})
}
