package access_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// A duty writes without a caller, under the agent it names, audited with
// its write; one that wrote nothing leaves no record, and one that does
// not name itself does not run.
func TestDuty(t *testing.T) {
	ctx := context.Background()
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// No principal in ctx: the role policy would refuse any caller's write.
	gate := access.NewGate(st, access.NewRolePolicy(defs, access.DefaultRoles(defs)), "emr")
	task := fhir.Resource{"resourceType": "Task", "id": "t1", "status": "requested", "intent": "order", "for": map[string]any{"reference": "Patient/p1"}}
	write := func(tx store.Tx) ([]access.Touched, error) {
		v, _, err := tx.Update(task, 0)
		return []access.Touched{access.TouchedVersion(v)}, err
	}
	if err := gate.Write(ctx, access.Request{Interaction: "update", Type: "Task", ID: "t1"}, write); err == nil {
		t.Fatal("a write without a caller was allowed")
	}
	if err := gate.Duty(ctx, access.Request{Interaction: "update", Type: "Task", ID: "t1"}, write); err == nil || !strings.Contains(err.Error(), "name itself") {
		t.Errorf("a duty that does not name itself: %v", err)
	}
	duty := access.Request{Interaction: "update", Type: "Task", ID: "t1", Agent: audit.Agent{User: "emr: a duty"}}
	if err := gate.Duty(ctx, duty, func(store.Tx) ([]access.Touched, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if err := gate.Duty(ctx, duty, write); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Read(ctx, "Task", "t1"); err != nil || v.VersionID != 1 {
		t.Fatalf("the duty's write: %v %v", v, err)
	}
	page, err := st.SearchAudit(ctx, store.AuditQuery{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	var duties []string
	for _, r := range page.Records {
		if j := string(r.Event); strings.Contains(j, "emr: a duty") {
			duties = append(duties, j)
		}
	}
	if len(duties) != 1 || !strings.Contains(duties[0], "Task/t1/_history/1") || !strings.Contains(duties[0], "Patient/p1") {
		t.Errorf("the duty's audit records: %q", duties)
	}
}
