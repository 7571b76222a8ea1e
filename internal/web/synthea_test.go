package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/importer"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// syntheaLongest is the Synthea bundle with the most observations: 296
// over the 26 years of Catina Sawayn's record (450 resources).
const syntheaLongest = "Catina_Sawayn_282fcdae-b200-44cc-b740-186f7660ecba.json"

// importSynthea imports one Synthea R4 bundle through the R4→R5
// converter, as `emr import` does, and returns its patient's id.
func importSynthea(tb testing.TB, st store.Store, name string) string {
	tb.Helper()
	file := sharedtest.Path(tb, "testdata", "synthea-r4", name)
	sum, err := importer.Import(context.Background(), importer.Options{Store: st, Validator: validate.New(spec.R5()), ConvertR4: importer.ConvertR4}, file)
	if err != nil || !sum.OK() {
		tb.Fatalf("import %s: %v %v", name, err, sum.Problems)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var bundle struct {
		Entry []struct {
			Resource struct{ ResourceType, ID string }
		}
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		tb.Fatal(err)
	}
	for _, e := range bundle.Entry {
		if e.Resource.ResourceType == "Patient" {
			return e.Resource.ID
		}
	}
	tb.Fatalf("%s has no patient", name)
	return ""
}

// TestSyntheaChart shows every chart page of the longest Synthea record.
func TestSyntheaChart(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a Synthea bundle")
	}
	s := newWorkspaceSite(t)
	id := importSynthea(t, s.store, syntheaLongest)
	b := s.signedIn("dr1", "physician")
	base := "/patients/" + id
	wantAll(t, "Synthea summary", b.get(base), http.StatusOK, "SAWAYN", "Blood pressure", "mmHg", "kg/m²", "Immunizations")
	// eGFR, whichever LOINC code the laboratory used, is one trend.
	wantAll(t, "Synthea results", b.get(base+"/results"), http.StatusOK, "Glomerular filtration rate", "/trend?code=egfr")
	if a := b.get(base + "/trend?code=egfr"); !strings.Contains(a.body, "<circle") {
		t.Errorf("eGFR trend without points: %.2000s", a.body)
	}
	for _, path := range []string{"/timeline", "/timeline?page=2", "/results", "/results?page=2", "/documents",
		"/trend?code=bp", "/trend?code=hba1c", "/trend?code=" + url.QueryEscape(loinc+"|39156-5"), "/trend?code=" + url.QueryEscape(loinc+"|29463-7")} {
		a := b.get(base + path)
		if a.status != http.StatusOK {
			t.Errorf("%s: %d %.2000s", path, a.status, a.body)
		}
		if strings.Contains(path, "trend") && !strings.Contains(a.body, "<circle") && !strings.Contains(a.body, "No value recorded") {
			t.Errorf("%s: neither points nor 'no value'", path)
		}
	}
}

// BenchmarkChartPage renders the chart summary of the longest Synthea
// record over HTTP, signed in, audited: the time and bytes of one page.
func BenchmarkChartPage(b *testing.B) {
	srvURL, client, st := newBenchWorkspace(b)
	id := importSynthea(b, st, syntheaLongest)
	var size int64
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(srvURL + "/patients/" + id)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		size = n
	}
	b.ReportMetric(float64(size), "page-bytes")
}

// newBenchWorkspace is newWorkspaceSite for benchmarks: the workspace on
// SQLite and a client signed in as a physician.
func newBenchWorkspace(tb testing.TB) (string, *http.Client, *sqlstore.DB) {
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "emr.db"),
		sqlstore.Options{Extractor: mpi.WithKeys(search.NewExtractor(defs))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	roles := access.DefaultRoles(defs)
	accounts := auth.NewAccounts(st, roles, auth.AccountOptions{RelaxMFA: true})
	sessions := auth.NewSessions(st, auth.SessionOptions{})
	gate := access.NewGate(st, access.NewRolePolicy(defs, roles), "emr")
	bg := &access.BreakGlass{Store: st, Gate: gate}
	a := &Auth{Accounts: accounts, Sessions: sessions, BreakGlass: bg}
	ws := &Workspace{Auth: a, Store: st, Gate: gate, Definitions: defs, BreakGlass: bg, IdleTimeout: 15 * time.Minute}
	mux := http.NewServeMux()
	a.Register(mux)
	ws.Register(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	if _, err := accounts.Add(context.Background(), "dr1", "physician", auth.AddOptions{Password: pw, FHIRUser: "Practitioner/dr1"}); err != nil {
		tb.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/login")
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindStringSubmatch(string(body))
	if m == nil {
		tb.Fatal("no CSRF field on the sign-in page")
	}
	resp, err = client.PostForm(srv.URL+"/login", url.Values{"csrf": {m[1]}, "name": {"dr1"}, "password": {pw}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		tb.Fatalf("sign in: %v %v", err, resp)
	}
	resp.Body.Close()
	return srv.URL, client, st
}
