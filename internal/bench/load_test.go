package bench

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/store/sqlstore"
)

func TestLoadResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "emr.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := NewGenerator(Options{Seed: 11})
	var progress strings.Builder
	first, err := Load(ctx, st, g, LoadOptions{Dir: dir, Patients: 30, BatchSize: 7, Workers: 2, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if first.From != 0 || first.To != 30 || first.State.Patients != 30 || first.Resources == 0 {
		t.Fatalf("first load: got %+v", first)
	}
	if !strings.Contains(progress.String(), "resources/s") {
		t.Errorf("progress: got %q", progress.String())
	}
	second, err := Load(ctx, st, g, LoadOptions{Dir: dir, Patients: 45, BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	if second.From != 30 || second.To != 45 {
		t.Fatalf("second load: got %+v", second)
	}
	if again, err := Load(ctx, st, g, LoadOptions{Dir: dir, Patients: 20}); err != nil || again.Resources != 0 || again.State.Patients != 45 {
		t.Fatalf("load to a smaller size: got %+v, %v; want nothing written", again, err)
	}
	var want int64
	for i := range 45 {
		rec := g.Patient(i)
		want += int64(len(rec.Resources))
		for _, res := range rec.Resources[:2] {
			v, err := st.Read(ctx, res.Type(), res.ID())
			if err != nil {
				t.Fatalf("patient %d: read %s/%s: %v", i, res.Type(), res.ID(), err)
			}
			if v.VersionID != 1 {
				t.Errorf("%s/%s: version %d, want 1", res.Type(), res.ID(), v.VersionID)
			}
		}
	}
	if state, _ := ReadState(dir); state.Resources != want {
		t.Errorf("state records %d resources, want %d", state.Resources, want)
	}
	if _, err := Load(ctx, st, NewGenerator(Options{Seed: 12}), LoadOptions{Dir: dir, Patients: 50}); err == nil {
		t.Error("loading another seed into the same directory: got no error")
	}
}
