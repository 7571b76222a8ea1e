package smart

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// TestConcurrentCodeExchange: of several simultaneous exchanges of one
// code, exactly one gets tokens.
func TestConcurrentCodeExchange(t *testing.T) {
	e := newEnv(t)
	app := e.publicApp("patient/*.rs")
	verifier := oauth2.GenerateVerifier()
	code := e.code(e.authParams(app.ID, "patient/*.rs", verifier), "alice", "", "")
	const n = 4
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i], _ = e.exchange(app.ID, code, verifier) })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else if s != http.StatusBadRequest {
			t.Errorf("status %d, want 200 or 400", s)
		}
	}
	if ok != 1 {
		t.Errorf("%d exchanges of one code succeeded, want 1 (%v)", ok, statuses)
	}
}

// FuzzTokenEndpoint: whatever the body, the token endpoint answers a 4xx
// OAuth error, never a server error.
func FuzzTokenEndpoint(f *testing.F) {
	for _, seed := range []string{
		"", "grant_type=authorization_code&code=x&client_id=y", "grant_type=client_credentials&client_assertion_type=" +
			url.QueryEscape(jwtBearer) + "&client_assertion=a.b.c", "grant_type=refresh_token&refresh_token=%zz",
		"grant_type=client_credentials&scope=system/*.rs%20patient/Observation.rs?x", strings.Repeat("a=b&", 1000),
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 400 || w.Code >= 500 {
			t.Errorf("body %q: status %d, want 4xx", body, w.Code)
		}
	})
}
