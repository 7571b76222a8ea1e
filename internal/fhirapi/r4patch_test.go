package fhirapi_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const mediaJSONPatchHeader = "Content-Type: application/json-patch+json"

// fhirPathPatch builds a FHIRPath Patch Parameters resource from its
// operations' parts.
func fhirPathPatch(ops ...string) string {
	params := make([]string, len(ops))
	for i, op := range ops {
		params[i] = `{"name":"operation","part":[` + op + `]}`
	}
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(params, ",") + `]}`
}

// TestR4Patch checks that JSON Patch and FHIRPath Patch sent to /fhir/R4
// name R4 elements: Encounter.period (actualPeriod in R5) and
// Encounter.class (one Coding in R4, a list of CodeableConcept in R5), and a
// plain element that both versions share.
func TestR4Patch(t *testing.T) {
	ts := newTestServer(t)
	newEncounter := func(t *testing.T) string {
		t.Helper()
		got := ts.do("POST", "/fhir/R4/Encounter", r4Encounter)
		if got.status != http.StatusCreated {
			t.Fatalf("create: status %d: %s", got.status, got.body)
		}
		return got.resource(t).ID()
	}
	r5Class := func(t *testing.T, id string) any {
		t.Helper()
		r5 := ts.do("GET", "/fhir/Encounter/"+id, "").resource(t)
		class, _ := r5["class"].([]any)
		if len(class) != 1 {
			t.Fatalf("R5 class %v, want one CodeableConcept", r5["class"])
		}
		coding, _ := class[0].(map[string]any)["coding"].([]any)
		if len(coding) != 1 {
			t.Fatalf("R5 class %v, want one coding", class[0])
		}
		return coding[0].(map[string]any)["code"]
	}

	t.Run("JSON Patch of a moved element", func(t *testing.T) {
		id := newEncounter(t)
		patch := `[{"op":"replace","path":"/period/end","value":"2020-01-01T12:00:00Z"},{"op":"replace","path":"/class/code","value":"EMER"}]`
		got := ts.do("PATCH", "/fhir/R4/Encounter/"+id, patch, mediaJSONPatchHeader)
		if got.status != http.StatusOK || got.header.Get("ETag") != `W/"2"` {
			t.Fatalf("status %d, ETag %q: %s", got.status, got.header.Get("ETag"), got.body)
		}
		if period, _ := got.resource(t)["period"].(map[string]any); period["end"] != "2020-01-01T12:00:00Z" {
			t.Errorf("answer period %v, want the patched end", got.resource(t)["period"])
		}
		r5 := ts.do("GET", "/fhir/Encounter/"+id, "").resource(t)
		if period, _ := r5["actualPeriod"].(map[string]any); period["end"] != "2020-01-01T12:00:00Z" || period["start"] != "2020-01-01T10:00:00Z" {
			t.Errorf("R5 actualPeriod %v, want start kept and end patched", r5["actualPeriod"])
		}
		if code := r5Class(t, id); code != "EMER" {
			t.Errorf("R5 class code %v, want EMER", code)
		}
	})
	t.Run("JSON Patch of a plain element", func(t *testing.T) {
		pid := ts.do("POST", "/fhir/R4/Patient", `{"resourceType":"Patient","gender":"male","birthDate":"1970-01-01"}`).resource(t).ID()
		got := ts.do("PATCH", "/fhir/R4/Patient/"+pid, `[{"op":"replace","path":"/gender","value":"female"}]`, mediaJSONPatchHeader)
		if got.status != http.StatusOK || got.resource(t)["gender"] != "female" {
			t.Fatalf("status %d: %s", got.status, got.body)
		}
		if ct := got.header.Get("Content-Type"); !strings.Contains(ct, "fhirVersion=4.0") {
			t.Errorf("Content-Type %q, want fhirVersion=4.0", ct)
		}
	})
	t.Run("FHIRPath Patch with R4 types", func(t *testing.T) {
		id := newEncounter(t)
		// Deleting class and adding it again: R4 types it as one Coding, so
		// add writes an object, not the list R5 would have.
		patch := fhirPathPatch(
			`{"name":"type","valueCode":"delete"},{"name":"path","valueString":"Encounter.class"}`,
			`{"name":"type","valueCode":"add"},{"name":"path","valueString":"Encounter"},{"name":"name","valueString":"class"},{"name":"value","valueCoding":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"}}`,
			`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Encounter.period.start"},{"name":"value","valueDateTime":"2020-01-01T09:00:00Z"}`,
		)
		got := ts.do("PATCH", "/fhir/R4/Encounter/"+id, patch)
		if got.status != http.StatusOK {
			t.Fatalf("status %d: %s", got.status, got.body)
		}
		if class, ok := got.resource(t)["class"].(map[string]any); !ok || class["code"] != "IMP" {
			t.Errorf("answer class %v, want the Coding IMP", got.resource(t)["class"])
		}
		if code := r5Class(t, id); code != "IMP" {
			t.Errorf("R5 class code %v, want IMP", code)
		}
		r5 := ts.do("GET", "/fhir/Encounter/"+id, "").resource(t)
		if period, _ := r5["actualPeriod"].(map[string]any); period["start"] != "2020-01-01T09:00:00Z" {
			t.Errorf("R5 actualPeriod %v, want the patched start", r5["actualPeriod"])
		}
	})
	t.Run("If-Match", func(t *testing.T) {
		id := newEncounter(t)
		patch := `[{"op":"replace","path":"/status","value":"cancelled"}]`
		if got := ts.do("PATCH", "/fhir/R4/Encounter/"+id, patch, mediaJSONPatchHeader, `If-Match: W/"7"`); got.status != http.StatusPreconditionFailed {
			t.Errorf("stale If-Match: status %d, want 412: %s", got.status, got.body)
		}
		if got := ts.do("PATCH", "/fhir/R4/Encounter/"+id, patch, mediaJSONPatchHeader, `If-Match: W/"1"`); got.status != http.StatusOK || got.resource(t)["status"] != "cancelled" {
			t.Errorf("current If-Match: status %d: %s", got.status, got.body)
		}
	})
	t.Run("conditional", func(t *testing.T) {
		cond := ts.mustCreate(`{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"subject":{"reference":"Patient/p1"},"code":{"text":"x"}}`)
		enc := strings.Replace(r4Encounter, `"status"`, `"diagnosis":[{"condition":{"reference":"Condition/`+cond+`"}}],"status"`, 1)
		id := ts.do("POST", "/fhir/R4/Encounter", enc).resource(t).ID()
		// diagnosis is the R4 name of R5's diagnosis-reference.
		got := ts.do("PATCH", "/fhir/R4/Encounter?diagnosis=Condition/"+cond, `[{"op":"replace","path":"/period/end","value":"2020-01-01T13:00:00Z"}]`, mediaJSONPatchHeader)
		if got.status != http.StatusOK || got.resource(t).ID() != id {
			t.Fatalf("status %d: %s", got.status, got.body)
		}
	})
	t.Run("on /fhir with fhirVersion=4.0", func(t *testing.T) {
		id := newEncounter(t)
		got := ts.do("PATCH", "/fhir/Encounter/"+id, `[{"op":"replace","path":"/period/end","value":"2020-01-01T12:30:00Z"}]`,
			mediaJSONPatchHeader, "Accept: application/fhir+json; fhirVersion=4.0")
		if period, _ := got.resource(t)["period"].(map[string]any); got.status != http.StatusOK || period["end"] != "2020-01-01T12:30:00Z" {
			t.Errorf("status %d: %s", got.status, got.body)
		}
	})
	t.Run("concurrent patches lose nothing", func(t *testing.T) {
		pid := ts.do("POST", "/fhir/R4/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:x","value":"0"}]}`).resource(t).ID()
		const n = 8
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				patch := `[{"op":"add","path":"/identifier/-","value":{"system":"urn:x","value":"` + strconv.Itoa(i) + `"}}]`
				statuses <- ts.do("PATCH", "/fhir/R4/Patient/"+pid, patch, mediaJSONPatchHeader).status
			}()
		}
		wg.Wait()
		close(statuses)
		applied := 0
		for status := range statuses {
			switch status {
			case http.StatusOK:
				applied++
			case http.StatusConflict, http.StatusPreconditionFailed:
			default:
				t.Errorf("status %d, want 200, 409 or 412", status)
			}
		}
		ids, _ := ts.do("GET", "/fhir/Patient/"+pid, "").resource(t)["identifier"].([]any)
		if len(ids) != applied+1 {
			t.Errorf("%d identifiers after %d applied patches, want %d: an update was lost", len(ids), applied, applied+1)
		}
	})
	t.Run("R5 path refused", func(t *testing.T) {
		id := newEncounter(t)
		got := ts.do("PATCH", "/fhir/R4/Encounter/"+id, `[{"op":"replace","path":"/actualPeriod/end","value":"2020-01-01T12:00:00Z"}]`, mediaJSONPatchHeader)
		if got.status != http.StatusUnprocessableEntity || got.resource(t).Type() != "OperationOutcome" || !strings.Contains(string(got.body), "operation 0") {
			t.Errorf("status %d: %s; want 422 naming operation 0", got.status, got.body)
		}
		if v := ts.do("GET", "/fhir/Encounter/"+id, "").header.Get("ETag"); v != `W/"1"` {
			t.Errorf("ETag %q after a refused patch, want W/\"1\"", v)
		}
	})
	t.Run("result not valid R4", func(t *testing.T) {
		id := newEncounter(t)
		got := ts.do("PATCH", "/fhir/R4/Encounter/"+id, `[{"op":"replace","path":"/class","value":"AMB"}]`, mediaJSONPatchHeader)
		if got.status != http.StatusBadRequest || got.resource(t).Type() != "OperationOutcome" || !strings.Contains(string(got.body), "Encounter.class") {
			t.Errorf("status %d: %s; want 400 naming Encounter.class", got.status, got.body)
		}
	})
}

// TestR4PatchEntries checks PATCH entries of R4 batches and transactions:
// a JSON Patch in a Binary and a FHIRPath Patch in Parameters, both with
// R4 paths.
func TestR4PatchEntries(t *testing.T) {
	ts := newTestServer(t)
	first := ts.do("POST", "/fhir/R4/Encounter", r4Encounter).resource(t).ID()
	second := ts.do("POST", "/fhir/R4/Encounter", r4Encounter).resource(t).ID()
	jsonPatch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/period/end","value":"2020-01-01T12:00:00Z"}]`))
	fpPatch := fhirPathPatch(`{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Encounter.class.code"},{"name":"value","valueCode":"EMER"}`)
	entries := `[{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"` + jsonPatch + `"},"request":{"method":"PATCH","url":"Encounter/` + first + `"}},
	 {"resource":` + fpPatch + `,"request":{"method":"PATCH","url":"Encounter/` + second + `","ifMatch":"W/\"1\""}}]`
	for _, kind := range []string{"transaction", "batch"} {
		t.Run(kind, func(t *testing.T) {
			got := ts.do("POST", "/fhir/R4", `{"resourceType":"Bundle","type":"`+kind+`","entry":`+entries+`}`)
			if got.status != http.StatusOK {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			for i, e := range got.resource(t)["entry"].([]any) {
				status := e.(map[string]any)["response"].(map[string]any)["status"].(string)
				want := "200"
				if kind == "batch" && i == 1 {
					want = "412" // the transaction made it version 2
				}
				if !strings.HasPrefix(status, want) {
					t.Errorf("entry %d: status %s, want %s", i, status, want)
				}
			}
		})
	}
	r5 := ts.do("GET", "/fhir/Encounter/"+first, "").resource(t)
	if period, _ := r5["actualPeriod"].(map[string]any); period["end"] != "2020-01-01T12:00:00Z" {
		t.Errorf("R5 actualPeriod %v, want the patched end", r5["actualPeriod"])
	}
	r5 = ts.do("GET", "/fhir/Encounter/"+second, "").resource(t)
	if !strings.Contains(string(ts.do("GET", "/fhir/Encounter/"+second, "").body), `"code":"EMER"`) {
		t.Errorf("R5 class %v, want EMER", r5["class"])
	}
}
