package sqlstore

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
)

// TestPatientKeyOnEveryRow checks, on PostgreSQL, that every version,
// current-version, key and index row of a resource carries its patient's
// id — a tombstone too — and that shared reference data carries none:
// what a distributed database shards by (docs/scaling.md).
func TestPatientKeyOnEveryRow(t *testing.T) {
	ctx := context.Background()
	db, err := OpenPostgres(ctx, pgtest.DSN(t), Options{Extractor: search.NewExtractor(spec.R5())})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func(res fhir.Resource) {
		t.Helper()
		if err := db.Write(ctx, func(tx store.Tx) error { _, _, err := tx.Update(res, 0); return err }); err != nil {
			t.Fatal(err)
		}
	}
	write(fhir.Resource{"resourceType": "Patient", "id": "pat1", "name": []any{map[string]any{"family": "Keyed"}},
		"text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">Keyed</div>`}})
	write(fhir.Resource{"resourceType": "Practitioner", "id": "doc1", "name": []any{map[string]any{"family": "Shared"}}})
	// performer before subject in the resource, subject first in the
	// CompartmentDefinition: the key is the subject.
	write(fhir.Resource{"resourceType": "Observation", "id": "obs1", "status": "final",
		"code":      map[string]any{"text": "weight", "coding": []any{map[string]any{"system": "http://loinc.org", "code": "29463-7"}}},
		"performer": []any{map[string]any{"reference": "Patient/other"}, map[string]any{"reference": "Practitioner/doc1"}},
		"subject":   map[string]any{"reference": "Patient/pat1"}, "effectiveDateTime": "2024-01-01",
		"valueQuantity": map[string]any{"value": json.Number("70"), "system": "http://unitsofmeasure.org", "code": "kg"}})
	write(fhir.Resource{"resourceType": "Observation", "id": "obs2", "status": "final", "code": map[string]any{"text": "x"},
		"subject": map[string]any{"reference": "Patient/pat1"}})
	if err := db.Write(ctx, func(tx store.Tx) error { _, err := tx.Delete("Observation", "obs2", 0); return err }); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{"Patient/pat1": "pat1", "Observation/obs1": "pat1", "Observation/obs2": "pat1", "Practitioner/doc1": ""}
	check := func(query, what string, min int) {
		t.Helper()
		rows, err := db.readers.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var ref, pkey string
			if err := rows.Scan(&ref, &pkey); err != nil {
				t.Fatal(err)
			}
			n++
			if w, ok := want[ref]; ok && pkey != w {
				t.Errorf("%s: a row of %s has pkey %q, want %q", what, ref, pkey, w)
			}
		}
		if n < min {
			t.Errorf("%s: %d rows, want at least %d", what, n, min)
		}
	}
	check("SELECT type || '/' || id, pkey FROM resource_version", "resource_version", 5)
	check("SELECT type || '/' || id, pkey FROM resource_current", "resource_current", 4)
	check("SELECT type || '/' || id, pkey FROM resource_key", "resource_key", 4)
	for _, table := range append(indexTables, "idx_fts") {
		min := 1
		if table == "idx_number" || table == "idx_uri" {
			min = 0 // none of these resources has such a parameter
		}
		check("SELECT k.type || '/' || k.id, x.pkey FROM "+table+" x JOIN resource_key k ON k.rid = x.rid", table, min)
	}
}
