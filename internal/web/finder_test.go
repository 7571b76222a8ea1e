package web

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/store"
)

func TestFinderPhoneYearKeyboardVisits(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rahim, `{"resourceType":"Encounter","id":"visit1","status":"completed","class":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}]}],
		"subject":{"reference":"Patient/jose"},"actualPeriod":{"start":"2026-10-02T09:30:00Z"}}`,
		`{"resourceType":"Encounter","id":"visit0","status":"completed","class":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}]}],
		"subject":{"reference":"Patient/jose"},"actualPeriod":{"start":"2025-01-15T09:30:00Z"}}`)
	b := s.signedIn("clerk1", "registrar")
	// José's phone is stored as 555-201-3344; any way of writing it finds him.
	for _, q := range []string{"(555) 201 3344", "+1 555 201 3344", "5552013344", "555.201.3344"} {
		a := b.get("/?q=" + url.QueryEscape(q))
		if !strings.Contains(a.body, "/patients/jose") {
			t.Errorf("phone %q did not find José: %.1500s", q, a.body)
		}
		if strings.Contains(a.body, "/patients/rahim") {
			t.Errorf("phone %q found Rahim too", q)
		}
	}
	for _, tc := range []struct{ q, want, not string }{
		{"1980", "/patients/jose", "/patients/rahim"},
		{"Mar-1980", "/patients/jose", "/patients/rahim"},
		{"4 March 1980", "/patients/jose", "/patients/rahim"},
		{"March 1980", "/patients/jose", "/patients/rahim"},
		{"garcia 1980", "/patients/jose", "/patients/rahim"},
		{"2025", "/patients/rahim", "/patients/jose"},
	} {
		a := b.get("/?q=" + url.QueryEscape(tc.q))
		if !strings.Contains(a.body, tc.want) || strings.Contains(a.body, tc.not) {
			t.Errorf("finder %q: want %s and not %s in\n%.1500s", tc.q, tc.want, tc.not, a.body)
		}
	}
	a := b.get("/?q=garcia")
	// Keyboard: a table of links with roving focus, the hint says how.
	for _, want := range []string{`data-roving`, `class="open" href="/patients/jose"`, `aria-describedby="q-hint keys-hint"`, "arrow keys",
		// The row: last visit is the latest encounter's date.
		"Last visit", "02-Oct-2026", "MRN-0042", "12 Oak Street"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("finder row lacks %q:\n%.3000s", want, a.body)
		}
	}
	if a := b.get("/?q=uddin"); !strings.Contains(a.body, "No visit recorded") {
		t.Errorf("a patient without encounters: %.2000s", a.body)
	}
}

func TestFinderRecentPatients(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rahim)
	b := s.signedIn("dr2", "physician")
	if a := b.get("/"); !strings.Contains(a.body, "No patient opened yet") {
		t.Errorf("empty finder before any chart: %.2000s", a.body)
	}
	b.get("/patients/jose")
	b.get("/patients/rahim")
	a := b.get("/")
	i, j := strings.Index(a.body, "/patients/rahim"), strings.Index(a.body, "/patients/jose")
	if i < 0 || j < 0 || i > j {
		t.Errorf("recent patients, newest first: rahim at %d, jose at %d:\n%.3000s", i, j, a.body)
	}
	// Another user has their own list.
	other := s.signedIn("dr3", "physician")
	if a := other.get("/"); strings.Contains(a.body, "/patients/jose") {
		t.Errorf("dr3 sees dr2's recent patients")
	}
	// Reading the list is audited as the patients shown.
	if n := s.audited("rahim"); n < 2 {
		t.Errorf("audit records about Rahim: %d, want the chart and the recent list", n)
	}
	// A patient the user can no longer see drops out of the list.
	if err := s.store.Write(context.Background(), func(tx store.Tx) error { _, err := tx.Delete("Patient", "rahim", 0); return err }); err != nil {
		t.Fatal(err)
	}
	if a := b.get("/"); strings.Contains(a.body, "/patients/rahim") || !strings.Contains(a.body, "/patients/jose") {
		t.Errorf("recent patients after Rahim's record was deleted:\n%.3000s", a.body)
	}
}

func FuzzParseWrittenDate(f *testing.F) {
	for _, s := range []string{"1984-03-09", "09-Mar-1984", "9 March 1984", "9/3/1984", "9.3.1984", "31/2/1984",
		"Mar-1984", "March 1984", "3/1984", "1984-03", "1984", "1849", "0000", "9-Marx-1984", "+44 20", "٣/٣/١٩٨٤"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseWrittenDate(s)
		if d == "" {
			return
		}
		layout := map[int]string{4: "2006", 7: "2006-01", 10: "2006-01-02"}[len(d)]
		if layout == "" {
			t.Fatalf("parseWrittenDate(%q) = %q: not a FHIR date", s, d)
		}
		tm, err := time.Parse(layout, d)
		if err != nil || tm.Format(layout) != d || tm.Year() < 1850 {
			t.Fatalf("parseWrittenDate(%q) = %q: %v", s, d, err)
		}
		if again := parseWrittenDate(d); again != d {
			t.Fatalf("parseWrittenDate(%q) = %q, but that reads back as %q", s, d, again)
		}
	})
}

// BenchmarkFinderPage measures a full finder page of 25 rows, each with
// its last-visit search (3 encounters per patient).
func BenchmarkFinderPage(b *testing.B) {
	t := &testing.T{}
	s := newWorkspaceSite(t)
	var docs []string
	for i := range 30 {
		id := "p" + strconv.Itoa(i)
		docs = append(docs, `{"resourceType":"Patient","id":"`+id+`","name":[{"family":"Benchley","given":["Ann"]}],"gender":"female","birthDate":"1970-01-01"}`)
		for j := range 3 {
			docs = append(docs, `{"resourceType":"Encounter","id":"`+id+`e`+strconv.Itoa(j)+`","status":"completed","class":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}]}],
				"subject":{"reference":"Patient/`+id+`"},"actualPeriod":{"start":"202`+strconv.Itoa(j)+`-01-15T09:30:00Z"}}`)
		}
	}
	s.put(docs...)
	br := s.signedIn("bench", "physician")
	b.ResetTimer()
	for b.Loop() {
		if a := br.get("/?q=benchley"); !strings.Contains(a.body, "15-Jan-2022") {
			i := strings.Index(a.body, "<tbody>")
			b.Fatalf("%.1500s", a.body[i:])
		}
	}
}
