package fhir

import (
	"regexp"
	"testing"
)

// dateTimePattern is the FHIR dateTime grammar DateTimeParts follows.
var dateTimePattern = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

func sameAsPattern(t *testing.T, s string) {
	t.Helper()
	m, ok := DateTimeParts(s)
	want := dateTimePattern.FindStringSubmatch(s)
	if ok != (want != nil) {
		t.Fatalf("DateTimeParts(%q) ok=%v, the grammar says %v", s, ok, want != nil)
	}
	if !ok {
		return
	}
	for i := range want {
		if m[i] != want[i] {
			t.Fatalf("DateTimeParts(%q)[%d] = %q, the grammar says %q", s, i, m[i], want[i])
		}
	}
}

var dateTimeSeeds = []string{"", "2013", "2013-01", "2013-01-02", "2013-01-02T10:00", "2013-01-02T10:00:05",
	"2013-01-02T10:00:05.123", "2013-01-02T10:00:05.123456789Z", "2013-01-02T10:00:05.1234567890Z",
	"2013-01-02T10:00:05+01:00", "2013-01-02T10:00-05:00", "2013-01-02T10:00Z", "2013-01-02T10:00:05.Z",
	"2013-1-02", "201", "2013-01-02T", "2013-01-02T10", "2013-01-02T10:00:05+0100", "2013-01-02T10:00:05+01:00x",
	"2013-01-02Z", "2013Z", "２０１３", "2013-01-02T10:00:5", "2013-01-02T10:00:05.", "2013-13-45T99:99:99Z"}

func TestDateTimeParts(t *testing.T) {
	for _, s := range dateTimeSeeds {
		sameAsPattern(t, s)
	}
}

func FuzzDateTimeParts(f *testing.F) {
	for _, s := range dateTimeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { sameAsPattern(t, s) })
}
