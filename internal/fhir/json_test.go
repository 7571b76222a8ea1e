package fhir

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSON(t *testing.T) {
	cases := []struct {
		in      string
		wantErr string
	}{
		{`{"a":1.50,"b":[true,false,null],"c":"x\u00e9\n"}`, ""},
		{`{"a":1,"a":2}`, "duplicate property"},
		{`{"a":01}`, "leading zero"},
		{`{"a":1.}`, "no digits"},
		{"{\"a\":\"\x01\"}", "control character"},
		{`{"a":1} x`, "after the top-level"},
		{`{"a":"\ud83d\ude00"}`, ""},
		{`{"a":"\ud83d"}`, "surrogate"},
		{`{"a":tru}`, "invalid literal"},
		{`{"a" 1}`, "expected ':'"},
		{"{\"a\":\"\xff\"}", "UTF-8"},
		{strings.Repeat("[", 200) + strings.Repeat("]", 200), "nesting"},
	}
	for _, c := range cases {
		_, err := ParseJSON([]byte(c.in))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("ParseJSON(%q): unexpected error %v", c.in, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("ParseJSON(%q): got error %v, want one mentioning %q", c.in, err, c.wantErr)
		}
	}
}

func TestDecimalPrecisionSurvives(t *testing.T) {
	in := `{"resourceType":"Observation","id":"x","valueQuantity":{"value":1.500e2,"unit":"mg"},"z":0.10}`
	res, err := ParseResource([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := string(res.JSON())
	want := `{"resourceType":"Observation","id":"x","valueQuantity":{"unit":"mg","value":1.500e2},"z":0.10}`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzParseJSON checks the reader against encoding/json: both accept the
// same documents (but for duplicate keys, which we refuse), and what we
// write reads back to the same tree.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2,{"b":null}]}`, `"\u00e9"`, `-0.5e-3`, `{"resourceType":"Patient","name":[{"given":["A"]}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseJSON(data)
		stdValid := json.Valid(data)
		if err == nil && !stdValid {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if err != nil {
			if stdValid && !strings.Contains(err.Error(), "duplicate") && !strings.Contains(err.Error(), "nesting") && !strings.Contains(err.Error(), "UTF-8") && !strings.Contains(err.Error(), "surrogate") {
				t.Fatalf("refused valid JSON %q: %v", data, err)
			}
			return
		}
		out := AppendJSON(nil, v)
		v2, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("re-reading our own output %q: %v", out, err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip changed %q into %q", data, out)
		}
	})
}
