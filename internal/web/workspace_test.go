package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
	"github.com/emr-project/emr/internal/store/storetest"
	"github.com/emr-project/emr/internal/terminology"
)

// workspaceSite is the workspace and sign-in on a real SQLite store, with
// users of every role signing in by password (second factors relaxed: the
// sign-in tests cover them).
type workspaceSite struct {
	*site
	store *sqlstore.DB
}

func newWorkspaceSite(t testing.TB) *workspaceSite {
	t.Helper()
	defs := spec.R5()
	c := &clock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	// The store expires sessions by the same settable clock.
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"),
		sqlstore.Options{Extractor: mpi.WithKeys(search.NewExtractor(defs)), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	roles := access.DefaultRoles(defs)
	accounts := auth.NewAccounts(st, roles, auth.AccountOptions{Now: c.Now, RelaxMFA: true})
	sessions := auth.NewSessions(st, auth.SessionOptions{Now: c.Now})
	gate := access.NewGate(st, access.NewRolePolicy(defs, roles), "emr")
	bg := &access.BreakGlass{Store: st, Gate: gate}
	a := &Auth{Accounts: accounts, Sessions: sessions, BreakGlass: bg}
	ws := &Workspace{Auth: a, Store: st, Gate: gate, Definitions: defs, Now: c.Now, IdleTimeout: sessions.IdleTimeout(), BreakGlass: bg,
		Matcher:     &mpi.Matcher{Model: mpi.DefaultModel(), Keys: st, Definitions: defs},
		Terminology: &terminology.Index{Store: st, Definitions: defs, Recheck: time.Nanosecond}}
	mux := http.NewServeMux()
	a.Register(mux)
	ws.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &workspaceSite{site: &site{t: t, srv: srv, accounts: accounts, clock: c}, store: st}
	return s
}

// put stores resources as they are, with their ids.
func (s *workspaceSite) put(resources ...string) {
	s.t.Helper()
	storetest.PutJSON(s.t, s.store, resources...)
}

// signedIn returns a browser signed in as a new user of role.
func (s *workspaceSite) signedIn(name, role string) *browser {
	s.t.Helper()
	s.add(name, role, pw)
	b := s.browser()
	if a := b.signIn(name, pw, ""); a.status != http.StatusSeeOther {
		s.t.Fatalf("sign in %s: %d %s", name, a.status, a.body)
	}
	return b
}

// practitioner returns a browser signed in as a new physician who is
// Practitioner/name (a user the consent tests name, or leave out).
func (s *workspaceSite) practitioner(name string) *browser {
	s.t.Helper()
	if _, err := s.accounts.Add(context.Background(), name, "physician", auth.AddOptions{Password: pw, FHIRUser: "Practitioner/" + name}); err != nil {
		s.t.Fatal(err)
	}
	b := s.browser()
	if a := b.signIn(name, pw, ""); a.status != http.StatusSeeOther {
		s.t.Fatalf("sign in %s: %d %s", name, a.status, a.body)
	}
	return b
}

// optOut is jose's consent that keeps his record from everyone but his
// family doctor.
const optOut = `{"resourceType":"Consent","id":"optout","status":"active","subject":{"reference":"Patient/jose"},"decision":"deny",
	"provision":[{"actor":[{"reference":{"reference":"Practitioner/family-doctor"}}]}]}`

// audited counts the audit records about a patient (the tests write
// their data straight to the store, unaudited: every record is a page's).
func (s *workspaceSite) audited(patient string) int {
	s.t.Helper()
	page, err := s.store.SearchAudit(context.Background(), store.AuditQuery{Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/" + patient}}}, Count: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(page.Records)
}

const (
	jose = `{"resourceType":"Patient","id":"jose","name":[{"family":"García","given":["José","Luis"],"prefix":["Mr"]}],"gender":"male","birthDate":"1980-03-04",
		"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:mrn","value":"MRN-0042"}],
		"telecom":[{"system":"phone","value":"555-201-3344"}],"address":[{"line":["12 Oak Street"],"city":"Dhaka","postalCode":"1205"}]}`
	rahim = `{"resourceType":"Patient","id":"rahim","name":[{"family":"Uddin","given":["Rahim"]}],"gender":"male","birthDate":"2025-06-01"}`
	nka   = `{"resourceType":"AllergyIntolerance","id":"nka","patient":{"reference":"Patient/rahim"},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"716186003","display":"No known allergy"}]}}`
	peanut = `{"resourceType":"AllergyIntolerance","id":"peanut","patient":{"reference":"Patient/jose"},
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
		"code":{"text":"Peanut"},"criticality":"high"}`
)

func TestFinder(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rahim)
	b := s.signedIn("nurse1", "nurse")
	for _, tc := range []struct{ q, want string }{
		{"garc", "GARCÍA, José Luis (Mr)"},   // part of a name, accents ignored
		{"GARCIA jose", "GARCÍA, José Luis"}, // several words, case ignored
		{"04/03/1980", "GARCÍA"},             // day-first written date
		{"4-Mar-1980", "GARCÍA"},
		{"MRN-0042", "GARCÍA"}, // identifier
		{"uddin", "UDDIN, Rahim"},
	} {
		a := b.get("/?q=" + strings.ReplaceAll(tc.q, " ", "+"))
		if a.status != http.StatusOK || !strings.Contains(a.body, tc.want) {
			t.Errorf("finder %q: %d, want %q in\n%.2000s", tc.q, a.status, tc.want, a.body)
		}
	}
	if a := b.get("/?q=zzyzx"); !strings.Contains(a.body, "No patient found") {
		t.Errorf("no match: %.1000s", a.body)
	}
	// The partial answer of the as-you-type script is the list alone.
	if a := b.get("/?partial=1&q=garc"); strings.Contains(a.body, "<html") || !strings.Contains(a.body, "/patients/jose") {
		t.Errorf("partial: %.500s", a.body)
	}
	// Dates as the clinical screen wants them: 04-Mar-1980, age in years.
	if a := b.get("/?q=garcia"); !strings.Contains(a.body, "04-Mar-1980 (46y)") {
		t.Errorf("row date: %.2000s", a.body)
	}
}

func TestChartBanner(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, rahim, nka, peanut)
	b := s.signedIn("dr1", "physician")
	a := b.get("/patients/jose")
	if a.status != http.StatusOK || !strings.Contains(a.body, `class="allergy">Peanut`) || !strings.Contains(a.body, "MRN-0042") {
		t.Fatalf("chart of José: %d %.3000s", a.status, a.body)
	}
	if a := b.get("/patients/rahim"); !strings.Contains(a.body, "No known allergies") || !strings.Contains(a.body, "1y 5m") {
		t.Errorf("chart of Rahim: %.3000s", a.body)
	}
	s.put(`{"resourceType":"Patient","id":"nobody-asked","name":[{"family":"Roy"}]}`)
	if a := b.get("/patients/nobody-asked"); !strings.Contains(a.body, "Allergies not recorded") || !strings.Contains(a.body, "Not known") {
		t.Errorf("chart without allergies recorded: %.3000s", a.body)
	}
	if a := b.get("/patients/missing"); a.status != http.StatusNotFound {
		t.Errorf("unknown patient: %d", a.status)
	}
	if n := s.audited("jose"); n == 0 {
		t.Error("viewing the chart left no audit record")
	}
	// Bengali: the words and digits change, not the order.
	b.get("/language?lang=bn&next=/")
	if a := b.get("/patients/jose"); !strings.Contains(a.body, "০৪-মার্চ-১৯৮০") || !strings.Contains(a.body, `lang="bn"`) {
		t.Errorf("Bengali chart: %.3000s", a.body)
	}
}

func TestWorkspaceNeedsSignIn(t *testing.T) {
	s := newWorkspaceSite(t)
	b := s.browser()
	for _, path := range []string{"/", "/patients/jose", "/?q=garcia"} {
		if a := b.get(path); a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/login") {
			t.Errorf("%s without signing in: %d %s", path, a.status, a.location)
		}
	}
}

func TestCatalogsComplete(t *testing.T) {
	en := Locales[0]
	for _, l := range Locales[1:] {
		for key := range en.messages {
			if !l.Has(key) && key != "app.name" {
				t.Errorf("%s lacks %q", l.Tag, key)
			}
		}
	}
}
