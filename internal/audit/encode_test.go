package audit_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
)

// checkEncode holds Encode to Event and Index for e.
func checkEncode(t *testing.T, e audit.Entry, id string) {
	t.Helper()
	enc, ok := audit.Encode(e, id)
	if !ok {
		t.Fatalf("Encode refused %+v", e)
	}
	ev := audit.Event(e)
	ev.SetID(id)
	json, err := audit.Render(enc.Stored)
	if err != nil {
		t.Fatalf("entry %+v: Render: %v", e, err)
	}
	if want := ev.JSON(); !bytes.Equal(json, want) {
		t.Fatalf("entry %+v:\nRender %s\nEvent  %s", e, json, want)
	}
	order := func(a, b audit.Term) int { return strings.Compare(a.Name+"\x00"+a.Value, b.Name+"\x00"+b.Value) }
	want := slices.SortedFunc(slices.Values(audit.Index(ev)), order)
	if got := slices.SortedFunc(slices.Values(enc.Terms), order); !slices.Equal(got, want) {
		t.Fatalf("entry %+v:\nEncode terms %v\nIndex terms  %v", e, got, want)
	}
	stored, err := audit.StoredTerms(enc.Stored)
	if err != nil {
		t.Fatalf("entry %+v: StoredTerms: %v", e, err)
	}
	if got := slices.SortedFunc(slices.Values(stored), order); !slices.Equal(got, want) {
		t.Fatalf("entry %+v:\nStoredTerms %v\nIndex terms %v", e, got, want)
	}
}

// TestEncode checks Encode against Event and Index over varied entries:
// every interaction, agents (user, client, both, anonymous), purposes,
// outcomes with details, patients, versions, queries and observers.
func TestEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pick := func(list ...string) string { return list[r.IntN(len(list))] }
	for i := range 5000 {
		e := audit.Entry{
			Interaction: pick("read", "vread", "update", "patch", "create", "delete", "history-instance", "history-type",
				"search-type", "search-system", "search-compartment", "capabilities", "batch", "transaction", "operation", "$everything"),
			Type:      pick("", "Patient", "Observation"),
			ID:        pick("", "p1", "0194a3b2-7c1d-7e5f-8a9b-0c1d2e3f4a5b"),
			VersionID: int64(r.IntN(3)),
			Patient:   pick("", "Patient/p1", "Patient/0194a3b2"),
			Query:     pick("", "family=Costa&_count=10", "name=Zoë <\"x\">"),
			Agent: audit.Agent{
				User:    pick("", "dr.who", "Ana Costa", "ÖZ"),
				Client:  pick("", "", "app-1"),
				Address: pick("", "10.0.0.1", "[::1]:5443"),
			},
			Purpose:  pick("", "TREAT", "ETREAT"),
			Outcome:  []audit.Outcome{audit.Success, audit.MinorFailure, audit.SeriousFailure, audit.MajorFailure, 3}[r.IntN(5)],
			Detail:   pick("", "", "not found", "bad \"value\"\n\ttab \u2028 <&>"),
			Recorded: time.Date(2026, 11, 23, 4, r.IntN(60), r.IntN(60), r.IntN(1e9), time.FixedZone("x", 3600*r.IntN(5))),
			Observer: pick("", "emr", "emr-2"),
		}
		checkEncode(t, e, fmt.Sprintf("id-%d", i))
	}
	for _, e := range []audit.Entry{
		{Category: audit.CategoryUserAuthentication, Interaction: "login"},
		{Interaction: "read", Subject: "bob"},
		{Interaction: "read", SubjectClient: "app"},
		{Interaction: "read", Files: []string{"a.ndjson"}},
	} {
		if _, ok := audit.Encode(e, "x"); ok {
			t.Errorf("Encode took %+v, which only Event builds", e)
		}
	}
}

// FuzzEncode holds Encode to Event and Index for any strings.
func FuzzEncode(f *testing.F) {
	f.Add("read", "Patient", "p1", "Patient/p1", "dr.who", "", "10.0.0.1", "TREAT", "", "q=1", "emr")
	f.Add("search-type", "Observation", "", "", "", "app", "", "", "denied", "", "")
	f.Fuzz(func(t *testing.T, interaction, typ, id, patient, user, client, addr, purpose, detail, query, observer string) {
		e := audit.Entry{Interaction: interaction, Type: typ, ID: id, Patient: patient, Query: query, Purpose: purpose, Detail: detail,
			Agent: audit.Agent{User: user, Client: client, Address: addr}, Outcome: audit.MinorFailure,
			Recorded: time.Unix(1700000000, 0), Observer: observer}
		checkEncode(t, e, "0194a3b2-7c1d-7e5f-8a9b-0c1d2e3f4a5b")
	})
}

// TestRenderJSON checks that an event stored as JSON is served as it is,
// and its terms are Index's.
func TestRenderJSON(t *testing.T) {
	ev := audit.Event(audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "login", Agent: audit.Agent{User: "bob"}, Recorded: time.Now()})
	ev.SetID("x1")
	stored := ev.JSON()
	if got, err := audit.Render(stored); err != nil || !bytes.Equal(got, stored) {
		t.Fatalf("Render = %s, %v", got, err)
	}
	if terms, err := audit.StoredTerms(stored); err != nil || !slices.Equal(terms, audit.Index(ev)) {
		t.Fatalf("StoredTerms = %v, %v; want %v", terms, err, audit.Index(ev))
	}
}

// FuzzRender feeds arbitrary stored bytes (a tampered log) to Render and
// StoredTerms: an error, never a panic, and a compact form that decodes
// renders to JSON that parses.
func FuzzRender(f *testing.F) {
	enc, _ := audit.Encode(audit.Entry{Interaction: "read", Type: "Patient", ID: "p1", Patient: "Patient/p1", Agent: audit.Agent{User: "u"}, Recorded: time.Unix(1700000000, 0)}, "id1")
	f.Add(enc.Stored)
	f.Add([]byte{1})
	f.Add([]byte(`{"resourceType":"AuditEvent"}`))
	f.Fuzz(func(t *testing.T, stored []byte) {
		json, err := audit.Render(stored)
		_, terr := audit.StoredTerms(stored)
		if len(stored) > 0 && stored[0] == 1 {
			if (err == nil) != (terr == nil) {
				t.Fatalf("Render error %v, StoredTerms error %v", err, terr)
			}
			if err == nil {
				if _, perr := fhir.ParseResource(json); perr != nil {
					t.Fatalf("rendered %q does not parse: %v", json, perr)
				}
			}
		}
	})
}
