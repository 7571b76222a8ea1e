package sqlstore

import (
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/store"
)

// TestQueryPlans guards the indexes that keep reads and history cheap on a
// store of tens of millions of versions: no query may scan a table, and
// instance history must walk the instance index.
func TestQueryPlans(t *testing.T) {
	db := openTest(t)
	defer db.Close()
	now := time.Now()
	explain := func(t *testing.T, query string, args ...any) string {
		t.Helper()
		return explainPlan(t, db, query, args...)
	}
	check := func(t *testing.T, plan, wantIndex string) {
		t.Helper()
		if strings.Contains(strings.ReplaceAll(plan, "SCAN CONSTANT ROW", ""), "SCAN ") || !strings.Contains(plan, wantIndex) {
			t.Errorf("plan %q: want no SCAN and use of %s", plan, wantIndex)
		}
	}
	for _, tc := range []struct {
		name, index string
		q           store.HistoryQuery
	}{
		{"system", "INTEGER PRIMARY KEY", store.HistoryQuery{}},
		{"type", "resource_version_type", store.HistoryQuery{Type: "Patient"}},
		{"instance", "resource_version_instance", store.HistoryQuery{Type: "Patient", ID: "x"}},
		{"system since", "resource_version_time", store.HistoryQuery{Since: now}},
		{"type since", "resource_version_type", store.HistoryQuery{Type: "Patient", Since: now}},
		{"system at", "resource_version_instance", store.HistoryQuery{AtStart: now, AtEnd: now}},
		{"type previous page", "resource_version_type", store.HistoryQuery{Type: "Patient", After: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHistoryFilter(sqliteDialect, tc.q)
			check(t, explain(t, f.pageSQL(tc.q.After > 0), f.pageArgs(1<<62, 0, 10)...), tc.index)
			check(t, explain(t, f.existsSQL("v.seq > ?"), append(f.args, 1)...), tc.index)
		})
	}
	check(t, explain(t, sqlReadCurrent, "Patient", "x"), "PRIMARY KEY")
	check(t, explain(t, sqlVRead, "Patient", "x", 1), "resource_version_instance")
}
