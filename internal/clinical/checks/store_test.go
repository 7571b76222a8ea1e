package checks

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store/sqlstore"
	"github.com/emr-project/emr/internal/store/storetest"
)

// TestStoreSource runs the default checks on data held in a real store.
func TestStoreSource(t *testing.T) {
	ctx := context.Background()
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed := []fhir.Resource{
		{"resourceType": "Patient", "id": "p1"},
		allergy("a1", amoxicillin, "amoxicillin", nil),
		allergy("a2", ibuprofen, "ibuprofen", map[string]any{"verificationStatus": status("allergyintolerance-verification", "refuted")}),
		medRequest("w", "active", warfarin, "warfarin"),
		medRequest("x", "stopped", aspirin, "aspirin"),
		warfarinAspirin(),
	}
	storetest.Put(t, st, seed...)
	src := &StoreSource{Store: st, Definitions: defs}

	tests := []struct {
		name     string
		proposed fhir.Resource
		want     string
	}{
		{"allergy", coAmoxiclav(), "allergy:AllergyIntolerance/a1"},
		{"refuted allergy, stopped drug, interaction with warfarin", medRequest("", "draft", aspirin, "aspirin"), "interaction:MedicationRequest/w"},
		{"duplicate", medRequest("", "draft", warfarin, "warfarin"), "duplicate:MedicationRequest/w"},
		{"ibuprofen: refuted allergy only", medRequest("", "draft", ibuprofen, "ibuprofen"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts, err := RunAll(ctx, Default(0), Context{PatientID: "p1", Proposed: tt.proposed, Now: now, Data: src})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, a := range alerts {
				got += a.Rule + ":" + a.Implicated[0]
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := src.Resolve(ctx, "Medication/none"); !fhir.IsKind(err, fhir.KindNotFound) {
		t.Errorf("Resolve of a missing resource: got %v, want not found", err)
	}
	if _, err := src.Resolve(ctx, "#contained"); !fhir.IsKind(err, fhir.KindNotFound) {
		t.Errorf("Resolve of a contained reference: got %v, want not found", err)
	}
}
