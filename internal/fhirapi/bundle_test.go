package fhirapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const transactionJSON = `{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Observation","status":"final",
   "code":{"text":"weight"},"subject":{"reference":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"},
   "valueQuantity":{"value":72.50,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}},
  "request":{"method":"POST","url":"Observation"}},
 {"fullUrl":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059","resource":{"resourceType":"Patient","name":[{"family":"Doe"}]},
  "request":{"method":"POST","url":"Patient"}},
 {"resource":{"resourceType":"Patient","id":"fixed-1","name":[{"family":"Roe"}],"link":[{"other":{"reference":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"},"type":"seealso"}]},
  "request":{"method":"PUT","url":"Patient/fixed-1"}}
]}`

func TestTransactionResolvesReferences(t *testing.T) {
	s := newTestServer(t)
	r := s.do("POST", "/fhir", transactionJSON)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	b := r.resource(t)
	if b["type"] != "transaction-response" {
		t.Fatalf("type %v", b["type"])
	}
	entries := b["entry"].([]any)
	if len(entries) != 3 {
		t.Fatalf("%d entries, want 3", len(entries))
	}
	status := func(i int) string {
		return entries[i].(map[string]any)["response"].(map[string]any)["status"].(string)
	}
	location := func(i int) string {
		return entries[i].(map[string]any)["response"].(map[string]any)["location"].(string)
	}
	for i, want := range []string{"201", "201", "201"} {
		if !strings.HasPrefix(status(i), want) {
			t.Errorf("entry %d status %q, want %s", i, status(i), want)
		}
	}
	// The observation's subject now names the new patient.
	obsPath := "/fhir/" + strings.TrimSuffix(location(0), "/_history/1")
	patientRef := strings.TrimSuffix(location(1), "/_history/1")
	obs := s.do("GET", obsPath, "").resource(t)
	if got := obs["subject"].(map[string]any)["reference"]; got != patientRef {
		t.Errorf("subject %v, want %v", got, patientRef)
	}
	if v := fmt.Sprint(obs["valueQuantity"].(map[string]any)["value"]); v != "72.50" {
		t.Errorf("decimal precision lost: %s", v)
	}
	fixed := s.do("GET", "/fhir/Patient/fixed-1", "").resource(t)
	if got := fixed["link"].([]any)[0].(map[string]any)["other"].(map[string]any)["reference"]; got != patientRef {
		t.Errorf("link %v, want %v", got, patientRef)
	}
}

func TestTransactionAllOrNothing(t *testing.T) {
	s := newTestServer(t)
	bad := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"keep-out","name":[{"family":"Doe"}]},"request":{"method":"PUT","url":"Patient/keep-out"}},
	 {"resource":{"resourceType":"Patient","birthDate":"not a date"},"request":{"method":"POST","url":"Patient"}}]}`
	r := s.do("POST", "/fhir", bad)
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", r.status, r.body)
	}
	if !strings.Contains(string(r.body), "Bundle.entry[1].resource.birthDate") {
		t.Errorf("the outcome does not point at the bad element: %s", r.body)
	}
	if got := s.do("GET", "/fhir/Patient/keep-out", ""); got.status != http.StatusNotFound {
		t.Errorf("the first entry was written although the transaction failed: %d", got.status)
	}
	// A failure inside the store (If-Match) also rolls everything back.
	s.do("PUT", "/fhir/Patient/p1", `{"resourceType":"Patient","id":"p1"}`)
	conflict := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"keep-out-2"},"request":{"method":"PUT","url":"Patient/keep-out-2"}},
	 {"resource":{"resourceType":"Patient","id":"p1","gender":"male"},"request":{"method":"PUT","url":"Patient/p1","ifMatch":"W/\"7\""}}]}`
	r = s.do("POST", "/fhir", conflict)
	if r.status != http.StatusPreconditionFailed {
		t.Fatalf("status %d, want 412: %s", r.status, r.body)
	}
	if got := s.do("GET", "/fhir/Patient/keep-out-2", ""); got.status != http.StatusNotFound {
		t.Errorf("transaction partly written: %d", got.status)
	}
}

func TestTransactionOrderAndDuplicates(t *testing.T) {
	s := newTestServer(t)
	s.do("PUT", "/fhir/Patient/gone", `{"resourceType":"Patient","id":"gone"}`)
	// GET runs after the PUT, DELETE before the POST, whatever the entry order.
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"request":{"method":"GET","url":"Patient/t1"}},
	 {"resource":{"resourceType":"Patient","id":"t1","gender":"female"},"request":{"method":"PUT","url":"Patient/t1"}},
	 {"request":{"method":"DELETE","url":"Patient/gone"}}]}`
	r := s.do("POST", "/fhir", bundle)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	first := r.resource(t)["entry"].([]any)[0].(map[string]any)
	if res, ok := first["resource"].(map[string]any); !ok || res["gender"] != "female" {
		t.Errorf("GET entry did not see the PUT of the same transaction: %v", first)
	}
	if got := s.do("GET", "/fhir/Patient/gone", ""); got.status != http.StatusGone {
		t.Errorf("DELETE entry: read answers %d, want 410", got.status)
	}
	dup := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Patient","id":"d1"},"request":{"method":"PUT","url":"Patient/d1"}},
	 {"resource":{"resourceType":"Patient","id":"d1"},"request":{"method":"PUT","url":"Patient/d1"}}]}`
	if r := s.do("POST", "/fhir", dup); r.status != http.StatusBadRequest {
		t.Errorf("two writes of one resource: status %d, want 400", r.status)
	}
}

func TestBatchEntriesIndependent(t *testing.T) {
	s := newTestServer(t)
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
	 {"resource":{"resourceType":"Patient","name":[{"family":"Good"}]},"request":{"method":"POST","url":"Patient"}},
	 {"resource":{"resourceType":"Patient","gender":"nonsense"},"request":{"method":"POST","url":"Patient"}},
	 {"request":{"method":"GET","url":"Patient/missing"}},
	 {"resource":{"resourceType":"Patient","id":"b1"},"request":{"method":"PUT","url":"Patient/b1"}},
	 {"request":{"method":"GET","url":"Patient/b1"}}]}`
	r := s.do("POST", "/fhir", batch)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	b := r.resource(t)
	if b["type"] != "batch-response" {
		t.Fatalf("type %v", b["type"])
	}
	want := []string{"201", "400", "404", "201", "200"}
	for i, e := range b["entry"].([]any) {
		resp := e.(map[string]any)["response"].(map[string]any)
		if !strings.HasPrefix(resp["status"].(string), want[i]) {
			t.Errorf("entry %d: status %v, want %s", i, resp["status"], want[i])
		}
		if want[i] >= "400" {
			if oo, ok := resp["outcome"].(map[string]any); !ok || oo["resourceType"] != "OperationOutcome" {
				t.Errorf("entry %d: failure without OperationOutcome", i)
			}
		}
	}
}

func TestBundlePatchEntries(t *testing.T) {
	s := newTestServer(t)
	s.do("PUT", "/fhir/Patient/pp", `{"resourceType":"Patient","id":"pp","gender":"male"}`)
	// [{"op":"replace","path":"/gender","value":"female"}] in base64
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"W3sib3AiOiJyZXBsYWNlIiwicGF0aCI6Ii9nZW5kZXIiLCJ2YWx1ZSI6ImZlbWFsZSJ9XQ=="},
	  "request":{"method":"PATCH","url":"Patient/pp"}}]}`
	if r := s.do("POST", "/fhir", bundle); r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := s.do("GET", "/fhir/Patient/pp", "").resource(t)["gender"]; got != "female" {
		t.Errorf("gender %v after patch", got)
	}
}
