package checks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// RxNorm ingredient codes used by the fixtures.
const (
	amoxicillin = "723"
	clavulanate = "48203"
	warfarin    = "11289"
	aspirin     = "1191"
	ibuprofen   = "5640"
)

func rx(code, name string) map[string]any {
	return datatype.Concept(name, datatype.Coding{System: datatype.RxNorm, Code: code, Display: name})
}

// medRequest is a MedicationRequest for patient p1 prescribing code.
func medRequest(id, status, code, name string) fhir.Resource {
	r := fhir.Resource{"resourceType": "MedicationRequest", "status": status, "intent": "order",
		"subject": datatype.Ref("Patient/p1", ""), "medication": map[string]any{"concept": rx(code, name)}}
	if id != "" {
		r.SetID(id)
	}
	return r
}

func allergy(id, code, name string, fields map[string]any) fhir.Resource {
	r := fhir.Resource{"resourceType": "AllergyIntolerance", "id": id, "patient": datatype.Ref("Patient/p1", ""),
		"code":           rx(code, name),
		"clinicalStatus": datatype.Concept("", datatype.Coding{System: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", Code: "active"}),
	}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

func status(system, code string) map[string]any {
	return datatype.Concept("", datatype.Coding{System: "http://terminology.hl7.org/CodeSystem/" + system, Code: code})
}

// coAmoxiclav is a proposed prescription of a contained Medication whose
// ingredients are amoxicillin and clavulanate.
func coAmoxiclav() fhir.Resource {
	return fhir.Resource{"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
		"subject": datatype.Ref("Patient/p1", ""),
		"contained": []any{map[string]any{"resourceType": "Medication", "id": "m",
			"code": rx("19711", "amoxicillin / clavulanate"),
			"ingredient": []any{
				map[string]any{"item": map[string]any{"concept": rx(amoxicillin, "amoxicillin")}},
				map[string]any{"item": map[string]any{"concept": rx(clavulanate, "clavulanate")}},
			}}},
		"medication": map[string]any{"reference": map[string]any{"reference": "#m"}}}
}

func run(t *testing.T, check Check, proposed fhir.Resource, data ...fhir.Resource) []Alert {
	t.Helper()
	alerts, err := check.Run(context.Background(), Context{PatientID: "p1", Proposed: proposed, Now: now, Data: &MemorySource{Resources: data}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return alerts
}

func TestAllergy(t *testing.T) {
	storedMed := fhir.Resource{"resourceType": "Medication", "id": "augmentin", "code": rx("19711", "Augmentin"),
		"ingredient": []any{map[string]any{"item": map[string]any{"reference": map[string]any{"reference": "Substance/amox"}}}}}
	substance := fhir.Resource{"resourceType": "Substance", "id": "amox", "code": map[string]any{"concept": rx(amoxicillin, "amoxicillin")}}
	byReference := medRequest("", "draft", "", "")
	byReference["medication"] = map[string]any{"reference": datatype.Ref("Medication/augmentin", "")}
	dangling := medRequest("", "draft", "", "")
	dangling["medication"] = map[string]any{"reference": datatype.Ref("Medication/gone", "Mystery")}

	tests := []struct {
		name     string
		proposed fhir.Resource
		data     []fhir.Resource
		want     []string // MessageIDs
		severity Severity
	}{
		{"same drug", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil)}, []string{"checks.allergy"}, High},
		{"ingredient of a contained medication", coAmoxiclav(),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil)}, []string{"checks.allergy.ingredient"}, High},
		{"ingredient through stored Medication and Substance", byReference,
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil), storedMed, substance}, []string{"checks.allergy.ingredient"}, High},
		{"reaction substance", medRequest("", "draft", ibuprofen, "ibuprofen"),
			[]fhir.Resource{allergy("a1", "999", "NSAIDs", map[string]any{"reaction": []any{map[string]any{"substance": rx(ibuprofen, "ibuprofen")}}})},
			[]string{"checks.allergy"}, High},
		{"low criticality is moderate", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"criticality": "low"})}, []string{"checks.allergy"}, Moderate},
		{"no clinical status still counts", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"clinicalStatus": nil})}, []string{"checks.allergy"}, High},
		{"refuted skipped", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"verificationStatus": status("allergyintolerance-verification", "refuted")})}, nil, ""},
		{"entered in error skipped", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"verificationStatus": status("allergyintolerance-verification", "entered-in-error")})}, nil, ""},
		{"inactive skipped", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"clinicalStatus": status("allergyintolerance-clinical", "inactive")})}, nil, ""},
		{"resolved skipped", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"clinicalStatus": status("allergyintolerance-clinical", "resolved")})}, nil, ""},
		{"another patient's allergy", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", map[string]any{"patient": datatype.Ref("Patient/p2", "")})}, nil, ""},
		{"same code in another system", medRequest("", "draft", amoxicillin, "amoxicillin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "x", map[string]any{"code": datatype.Concept("", datatype.Coding{System: datatype.SNOMED, Code: amoxicillin})})}, nil, ""},
		{"other drug", medRequest("", "draft", warfarin, "warfarin"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil)}, nil, ""},
		{"uncoded drug", medRequest("", "draft", "", "free text drug"),
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil)}, nil, ""},
		{"medication not found", dangling, []fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil)}, nil, ""},
		{"service request", fhir.Resource{"resourceType": "ServiceRequest", "code": rx(amoxicillin, "x")},
			[]fhir.Resource{allergy("a1", amoxicillin, "amoxicillin", nil)}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := run(t, Allergy{}, tt.proposed, tt.data...)
			if len(alerts) != len(tt.want) {
				t.Fatalf("got %d alerts %+v, want %v", len(alerts), alerts, tt.want)
			}
			for i, a := range alerts {
				if a.MessageID != tt.want[i] {
					t.Errorf("alert %d: got %s, want %s", i, a.MessageID, tt.want[i])
				}
				if a.Rule != "allergy" || a.Code.Code != "ALGY" || a.Severity != tt.severity {
					t.Errorf("alert %d: got rule %s code %s severity %s", i, a.Rule, a.Code.Code, a.Severity)
				}
				if len(a.Implicated) != 1 || a.Implicated[0] != "AllergyIntolerance/a1" {
					t.Errorf("implicated: got %v, want AllergyIntolerance/a1", a.Implicated)
				}
				if a.Matched.Code == "" || !strings.Contains(a.Message(), a.Matched.Code) {
					t.Errorf("message %q does not name the matched code %v", a.Message(), a.Matched)
				}
			}
		})
	}
}

func TestAllergyMessage(t *testing.T) {
	alerts := run(t, Allergy{}, coAmoxiclav(), allergy("a1", amoxicillin, "amoxicillin", nil))
	want := "Allergy: amoxicillin / clavulanate contains amoxicillin, which matches the recorded allergy to amoxicillin (RxNorm 723)."
	if len(alerts) != 1 || alerts[0].Message() != want {
		t.Fatalf("got %+v, want message %q", alerts, want)
	}
}

func TestDuplicateMedication(t *testing.T) {
	renewal := medRequest("", "draft", warfarin, "warfarin")
	renewal["priorPrescription"] = datatype.Ref("MedicationRequest/old", "")
	tests := []struct {
		name     string
		proposed fhir.Resource
		data     []fhir.Resource
		want     int
	}{
		{"same drug active", medRequest("", "draft", warfarin, "warfarin"), []fhir.Resource{medRequest("old", "active", warfarin, "warfarin")}, 1},
		{"same drug on hold", medRequest("", "draft", warfarin, "warfarin"), []fhir.Resource{medRequest("old", "on-hold", warfarin, "warfarin")}, 1},
		{"same drug stopped", medRequest("", "draft", warfarin, "warfarin"), []fhir.Resource{medRequest("old", "stopped", warfarin, "warfarin")}, 0},
		{"ingredient already prescribed", coAmoxiclav(), []fhir.Resource{medRequest("old", "active", amoxicillin, "amoxicillin")}, 1},
		{"other drug", medRequest("", "draft", aspirin, "aspirin"), []fhir.Resource{medRequest("old", "active", warfarin, "warfarin")}, 0},
		{"itself", medRequest("old", "active", warfarin, "warfarin"), []fhir.Resource{medRequest("old", "active", warfarin, "warfarin")}, 0},
		{"renewal of the prior prescription", renewal, []fhir.Resource{medRequest("old", "active", warfarin, "warfarin")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := run(t, Duplicate{}, tt.proposed, tt.data...)
			if len(alerts) != tt.want {
				t.Fatalf("got %d alerts %+v, want %d", len(alerts), alerts, tt.want)
			}
			for _, a := range alerts {
				if a.Rule != "duplicate" || a.Code.Code != "DUPTHPY" || a.Implicated[0] != "MedicationRequest/old" {
					t.Errorf("got %+v", a)
				}
			}
		})
	}
}

func TestDuplicateOrder(t *testing.T) {
	cbc := func(id, status, authored string) fhir.Resource {
		r := fhir.Resource{"resourceType": "ServiceRequest", "status": status, "intent": "order",
			"subject": datatype.Ref("Patient/p1", ""),
			"code":    map[string]any{"concept": datatype.Concept("CBC", datatype.Coding{System: datatype.LOINC, Code: "58410-2"})}}
		if id != "" {
			r.SetID(id)
		}
		if authored != "" {
			r["authoredOn"] = authored
		}
		return r
	}
	replacing := cbc("", "draft", "")
	replacing["replaces"] = []any{datatype.Ref("ServiceRequest/s1", "")}
	tests := []struct {
		name     string
		window   time.Duration
		proposed fhir.Resource
		data     []fhir.Resource
		want     int
	}{
		{"open within window", 0, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "active", "2026-11-20T09:00:00Z")}, 1},
		{"open, no date", 0, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "active", "")}, 1},
		{"open, date only, within", 48 * time.Hour, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "active", "2026-11-21")}, 1},
		{"open before window", 48 * time.Hour, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "active", "2026-11-01T09:00:00Z")}, 0},
		{"completed", 0, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "completed", "2026-11-22T09:00:00Z")}, 0},
		{"revoked", 0, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "revoked", "2026-11-22T09:00:00Z")}, 0},
		{"replaces it", 0, replacing, []fhir.Resource{cbc("s1", "active", "2026-11-22T09:00:00Z")}, 0},
		{"itself", 0, cbc("s1", "active", ""), []fhir.Resource{cbc("s1", "active", "2026-11-22T09:00:00Z")}, 0},
		{"bad date counts as open", 0, cbc("", "draft", ""), []fhir.Resource{cbc("s1", "active", "yesterday")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := run(t, Duplicate{OrderWindow: tt.window}, tt.proposed, tt.data...)
			if len(alerts) != tt.want {
				t.Fatalf("got %d alerts %+v, want %d", len(alerts), alerts, tt.want)
			}
			for _, a := range alerts {
				if !strings.Contains(a.Message(), "CBC") || a.Implicated[0] != "ServiceRequest/s1" {
					t.Errorf("got %q %v", a.Message(), a.Implicated)
				}
			}
		})
	}
}

func warfarinAspirin() fhir.Resource {
	return fhir.Resource{"resourceType": "ClinicalUseDefinition", "id": "cud1", "type": "interaction",
		"interaction": map[string]any{
			"interactant": []any{
				map[string]any{"itemCodeableConcept": rx(warfarin, "warfarin")},
				map[string]any{"itemCodeableConcept": rx(aspirin, "aspirin")},
			},
			"effect":     map[string]any{"concept": datatype.Concept("Increased risk of bleeding")},
			"management": []any{datatype.Concept("Avoid, or monitor INR closely")},
		}}
}

func TestInteraction(t *testing.T) {
	bySubject := fhir.Resource{"resourceType": "ClinicalUseDefinition", "id": "cud2", "type": "interaction",
		"subject":     []any{datatype.Ref("Medication/warf", "")},
		"interaction": map[string]any{"interactant": []any{map[string]any{"itemReference": datatype.Ref("Substance/asa", "")}}}}
	warf := fhir.Resource{"resourceType": "Medication", "id": "warf", "code": rx(warfarin, "warfarin")}
	asa := fhir.Resource{"resourceType": "Substance", "id": "asa", "code": map[string]any{"concept": rx(aspirin, "aspirin")}}
	contraindication := warfarinAspirin()
	contraindication["type"] = "contraindication"
	withdrawn := warfarinAspirin()
	withdrawn["status"] = datatype.Concept("", datatype.Coding{System: "http://hl7.org/fhir/publication-status", Code: "retired"})
	tests := []struct {
		name     string
		proposed fhir.Resource
		data     []fhir.Resource
		want     []string // implicated of each alert
	}{
		{"interactants", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{warfarinAspirin(), medRequest("w", "active", warfarin, "warfarin")}, []string{"MedicationRequest/w ClinicalUseDefinition/cud1"}},
		{"either way round", medRequest("", "draft", warfarin, "warfarin"),
			[]fhir.Resource{warfarinAspirin(), medRequest("a", "active", aspirin, "aspirin")}, []string{"MedicationRequest/a ClinicalUseDefinition/cud1"}},
		{"subject and referenced interactant", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{bySubject, warf, asa, medRequest("w", "active", warfarin, "warfarin")}, []string{"MedicationRequest/w ClinicalUseDefinition/cud2"}},
		{"other drug not active", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{warfarinAspirin(), medRequest("w", "stopped", warfarin, "warfarin")}, nil},
		{"same party only", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{warfarinAspirin(), medRequest("a", "active", aspirin, "aspirin")}, nil},
		{"not an interaction", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{contraindication, medRequest("w", "active", warfarin, "warfarin")}, nil},
		{"retired definition", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{withdrawn, medRequest("w", "active", warfarin, "warfarin")}, nil},
		{"no data held", medRequest("", "draft", aspirin, "aspirin"),
			[]fhir.Resource{medRequest("w", "active", warfarin, "warfarin")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alerts := run(t, Interaction{}, tt.proposed, tt.data...)
			if len(alerts) != len(tt.want) {
				t.Fatalf("got %d alerts %+v, want %d", len(alerts), alerts, len(tt.want))
			}
			for i, a := range alerts {
				if got := strings.Join(a.Implicated, " "); got != tt.want[i] {
					t.Errorf("implicated: got %q, want %q", got, tt.want[i])
				}
				if a.Code.Code != "DRG" || a.Rule != "interaction" {
					t.Errorf("got %+v", a)
				}
			}
		})
	}
	alerts := run(t, Interaction{}, medRequest("", "draft", aspirin, "aspirin"), warfarinAspirin(), medRequest("w", "active", warfarin, "warfarin"))
	if want := "Effect: Increased risk of bleeding. Management: Avoid, or monitor INR closely."; alerts[0].Detail != want {
		t.Errorf("detail: got %q, want %q", alerts[0].Detail, want)
	}
}

// failingSource fails every read, as a store that is down does.
type failingSource struct{ MemorySource }

var errDown = errors.New("store down")

func (failingSource) Allergies(context.Context, string) ([]fhir.Resource, error) { return nil, errDown }
func (failingSource) ActiveMedications(context.Context, string) ([]fhir.Resource, error) {
	return nil, errDown
}
func (failingSource) OpenServiceRequests(context.Context, string) ([]fhir.Resource, error) {
	return nil, errDown
}
func (failingSource) Interactions(context.Context) ([]fhir.Resource, error) { return nil, errDown }

func TestRunAll(t *testing.T) {
	data := &MemorySource{Resources: []fhir.Resource{
		allergy("a1", amoxicillin, "amoxicillin", nil),
		medRequest("old", "active", amoxicillin, "amoxicillin"),
	}}
	alerts, err := RunAll(context.Background(), Default(0), Context{PatientID: "p1", Proposed: coAmoxiclav(), Now: now, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	keys := map[string]bool{}
	for _, a := range alerts {
		rules = append(rules, a.Rule)
		if keys[a.Key()] {
			t.Errorf("two alerts share the key %s", a.Key())
		}
		keys[a.Key()] = true
	}
	if want := "allergy:http://www.nlm.nih.gov/research/umls/rxnorm|723:AllergyIntolerance/a1"; !keys[want] {
		t.Errorf("keys: got %v, want %s among them", keys, want)
	}
	if got := strings.Join(rules, ","); got != "allergy,duplicate" {
		t.Errorf("rules: got %s, want allergy,duplicate", got)
	}

	bad := []struct {
		name string
		c    Context
	}{
		{"no proposal", Context{PatientID: "p1", Data: data}},
		{"not an order", Context{PatientID: "p1", Proposed: fhir.Resource{"resourceType": "Patient"}, Data: data}},
		{"no source", Context{PatientID: "p1", Proposed: coAmoxiclav()}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RunAll(context.Background(), Default(0), tt.c); !fhir.IsKind(err, fhir.KindInvalid) {
				t.Errorf("got %v, want an invalid error", err)
			}
		})
	}
	_, err = RunAll(context.Background(), Default(0), Context{PatientID: "p1", Proposed: coAmoxiclav(), Data: &failingSource{}})
	if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "allergy") {
		t.Errorf("got %v, want the source's error naming the check", err)
	}
}

func TestDetectedIssue(t *testing.T) {
	alerts := run(t, Allergy{}, coAmoxiclav(), allergy("a1", amoxicillin, "amoxicillin", nil))
	o := Override{Alert: alerts[0], PatientID: "p1", Encounter: "Encounter/e1", Proposed: "MedicationRequest/new",
		Author: "Practitioner/d1", AuthorName: "Dr Ada Obi", Reason: "Tolerated amoxicillin last year without reaction", When: now}
	di, err := DetectedIssue(o)
	if err != nil {
		t.Fatal(err)
	}
	got := string(di.JSON())
	for _, want := range []string{
		`"resourceType":"DetectedIssue"`, `"status":"final"`, `"severity":"high"`,
		`"code":"ALGY"`, `"subject":{"reference":"Patient/p1"}`, `"encounter":{"reference":"Encounter/e1"}`,
		`"identifiedDateTime":"2026-11-23T10:00:00Z"`,
		`"implicated":[{"reference":"MedicationRequest/new"},{"reference":"AllergyIntolerance/a1"}]`,
		`"text":"Tolerated amoxicillin last year without reaction"`,
		`"author":{"display":"Dr Ada Obi","reference":"Practitioner/d1"}`,
		`"code":"1","display":"Therapy Appropriate"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("DetectedIssue lacks %s:\n%s", want, got)
		}
	}

	for name, mutate := range map[string]func(*Override){
		"no reason":     func(o *Override) { o.Reason = "" },
		"blank reason":  func(o *Override) { o.Reason = "  \n" },
		"no patient":    func(o *Override) { o.PatientID = "" },
		"no author":     func(o *Override) { o.Author, o.AuthorName = "", "" },
		"no time":       func(o *Override) { o.When = time.Time{} },
		"no alert rule": func(o *Override) { o.Alert = Alert{} },
	} {
		t.Run(name, func(t *testing.T) {
			bad := o
			mutate(&bad)
			if _, err := DetectedIssue(bad); !fhir.IsKind(err, fhir.KindInvalid) {
				t.Errorf("got %v, want an invalid error", err)
			}
		})
	}
}
