package fhirapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHistoryPagingWhileWriting pages through system history while new
// versions are written between pages: every version present at the start is
// seen exactly once.
func TestHistoryPagingWhileWriting(t *testing.T) {
	s := newTestServer(t)
	want := map[string]bool{}
	for i := 0; i < 12; i++ {
		id := s.mustCreate(patientJSON)
		want["Patient/"+id+"/1"] = true
	}
	seen := map[string]int{}
	next := "/fhir/Patient/_history?_count=5"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := s.do("GET", next, "")
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		b := r.resource(t)
		for _, e := range asList(b["entry"]) {
			entry := e.(map[string]any)
			res := entry["resource"].(map[string]any)
			key := "Patient/" + res["id"].(string) + "/" + res["meta"].(map[string]any)["versionId"].(string)
			seen[key]++
		}
		// A write between pages must not shift the next page.
		s.mustCreate(patientJSON)
		next = ""
		for _, l := range asList(b["link"]) {
			link := l.(map[string]any)
			if link["relation"] == "next" {
				u, err := url.Parse(link["url"].(string))
				if err != nil {
					t.Fatal(err)
				}
				next = strings.TrimPrefix(u.Path, "") + "?" + u.RawQuery
			}
		}
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("%s seen %d times", k, seen[k])
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s seen %d times", k, n)
		}
	}
}

func TestHistoryShowsDeletes(t *testing.T) {
	s := newTestServer(t)
	id := s.mustCreate(patientJSON)
	s.do("PUT", "/fhir/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`"}`)
	s.do("DELETE", "/fhir/Patient/"+id, "")
	b := s.do("GET", "/fhir/Patient/"+id+"/_history", "").resource(t)
	entries := asList(b["entry"])
	if len(entries) != 3 {
		t.Fatalf("%d entries, want 3", len(entries))
	}
	methods := []string{}
	for _, e := range entries {
		methods = append(methods, e.(map[string]any)["request"].(map[string]any)["method"].(string))
	}
	if strings.Join(methods, ",") != "DELETE,PUT,POST" {
		t.Errorf("methods newest first: %v", methods)
	}
	if b["type"] != "history" {
		t.Errorf("type %v", b["type"])
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }
