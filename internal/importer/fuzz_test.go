package importer

import (
	"bytes"
	"testing"
)

// FuzzProcess feeds arbitrary bytes to the worker as a JSON file and as
// NDJSON lines: it must never panic, and every resource it hands to the
// writer has a type and an id.
func FuzzProcess(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","id":"p1"}`))
	f.Add(bundle("transaction", entry("urn:uuid:5b0a3c1e-7a55-4b7d-9f44-1d2a0e6c0a11", map[string]any{"resourceType": "Patient"})))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:x","resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:x"}}},{}]}`))
	f.Add([]byte(`{"resourceType":"Encounter","class":{"code":"AMB"}}`))
	opts := Options{Validator: testValidator}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := process(opts, &job{file: "f.json", json: data})
		check(t, r)
		var lines []ndjsonLine
		for i, l := range bytes.Split(data, []byte("\n")) {
			lines = append(lines, ndjsonLine{no: i + 1, data: l})
		}
		check(t, process(opts, &job{file: "f.ndjson", lines: lines, version: VersionR5}))
	})
}

func check(t *testing.T, r *result) {
	for _, u := range r.units {
		for _, it := range u.items {
			if it.res.Type() == "" || it.res.ID() == "" {
				t.Fatalf("item without type or id: %v", it.res)
			}
		}
	}
}
