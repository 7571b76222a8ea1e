package importer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/sharedtest"
)

// TestSyntheaR4 imports the 59 Synthea R4 transaction Bundles (12,541
// resources) through the R4→R5 converter: every resource is stored, the
// counts per type equal the input's distinct resources, every reference
// resolves to a stored resource, and a second run changes nothing.
func TestSyntheaR4(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 12,541 resources")
	}
	dir := sharedtest.Path(t, "testdata", "synthea-r4")
	want, entries := syntheaInput(t, dir)
	st := openSQLite(t)
	opts := options(st)
	opts.ConvertR4 = ConvertR4
	opts.BatchSize = 500

	sum := importOK(t, opts, dir)
	if len(sum.Problems) > 0 {
		t.Fatalf("%d problems, first: %v", len(sum.Problems), sum.Problems[0])
	}
	total := sum.Total()
	if total.Read != int64(entries) || total.Failed != 0 {
		t.Fatalf("read %d of %d entries, %d failed", total.Read, entries, total.Failed)
	}
	for typ, ids := range want {
		c := sum.ByType[typ]
		if c.Created != int64(len(ids)) {
			t.Errorf("%s: created %d, want %d distinct resources", typ, c.Created, len(ids))
		}
	}
	if len(sum.ByType) != len(want) {
		t.Errorf("types imported %v, want %d types", sum.Types(), len(want))
	}
	t.Logf("%d resources of %d types; %d elements kept as cross-version extensions", total.Read, len(want), total.Kept)

	// Every stored resource is there, and each of its references resolves.
	ctx := context.Background()
	refs := map[string]bool{}
	for typ, ids := range want {
		for id := range ids {
			v, err := st.Read(ctx, typ, id)
			if err != nil {
				t.Fatalf("read %s/%s: %v", typ, id, err)
			}
			collectRefs(map[string]any(v.Resource), refs)
		}
	}
	for ref := range refs {
		typ, id, _ := strings.Cut(ref, "/")
		if _, err := st.Read(ctx, typ, id); err != nil {
			t.Errorf("reference %s does not resolve: %v", ref, err)
		}
	}
	t.Logf("%d distinct references, all resolve", len(refs))

	again := importOK(t, opts, dir).Total()
	if again.Created != 0 || again.Updated != 0 || again.Unchanged != total.Read {
		t.Errorf("second run: %+v, want everything unchanged", again)
	}
}

// syntheaInput lists the distinct type/ids of the bundles' entries and
// the number of entries.
func syntheaInput(t *testing.T, dir string) (map[string]map[string]bool, int) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	want := map[string]map[string]bool{}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fhir.ParseResource(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			res := fhir.Resource(e.(map[string]any)["resource"].(map[string]any))
			if want[res.Type()] == nil {
				want[res.Type()] = map[string]bool{}
			}
			id := res.ID()
			if id == "" {
				id = strings.TrimPrefix(e.(map[string]any)["fullUrl"].(string), "urn:uuid:")
			}
			want[res.Type()][id] = true
			n++
		}
	}
	return want, n
}

// collectRefs adds every relative reference (Type/id) in v to refs.
func collectRefs(v any, refs map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" && !strings.Contains(s, ":") && strings.Count(s, "/") == 1 {
				refs[s] = true
			}
			collectRefs(x, refs)
		}
	case []any:
		for _, x := range v {
			collectRefs(x, refs)
		}
	}
}
