package smart

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// testUser is an account of testUsers: a real argon2id hash, and a fixed
// one-time code when MFA is required.
type testUser struct {
	User
	hash, otp string
}

// testUsers implements Users over a map.
type testUsers struct {
	mu    sync.Mutex
	users map[string]*testUser
}

var errBadLogin = errors.New("bad login")

func (u *testUsers) Login(_ context.Context, name, password, otp, _ string) (User, error) {
	u.mu.Lock()
	tu := u.users[name]
	u.mu.Unlock()
	if tu == nil {
		return User{}, errBadLogin
	}
	ok, _, err := auth.VerifyPassword(tu.hash, password)
	if err != nil || !ok || (tu.MFARequired && otp != tu.otp) {
		return User{}, errBadLogin
	}
	return tu.User, nil
}

func (u *testUsers) Get(_ context.Context, name string) (User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	tu := u.users[name]
	if tu == nil {
		return User{}, errors.New("no such user")
	}
	return tu.User, nil
}

func (u *testUsers) setDisabled(name string, disabled bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.users[name].Disabled = disabled
}

const testPassword = "correct horse battery staple"

func newTestUsers(t testing.TB) *testUsers {
	t.Helper()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	return &testUsers{users: map[string]*testUser{
		"drsmith": {User: User{Name: "drsmith", Role: "physician", FHIRUser: "Practitioner/pr1", MFARequired: true}, hash: hash, otp: "123456"},
		"alice":   {User: User{Name: "alice", Role: "patient", FHIRUser: "Patient/p1", Patient: "p1"}, hash: hash},
	}}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an authorisation server on a real SQLite store behind an
// httptest server, with a FHIR stand-in at /fhir/ behind Authenticate
// that answers the principal as JSON.
type env struct {
	t      testing.TB
	srv    *Server
	ts     *httptest.Server
	store  store.Store
	users  *testUsers
	clock  *clock
	base   string // FHIR base URL
	mux    *http.ServeMux
	events []string
}

func newEnv(t testing.TB, tune ...func(*Options)) *env {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, tune...)
}

// newEnvOn starts another server on st: a second copy sharing the database.
func newEnvOn(t testing.TB, st store.Store, tune ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, store: st, users: newTestUsers(t), clock: &clock{t: time.Now().Truncate(time.Second)}, mux: http.NewServeMux()}
	e.ts = httptest.NewServer(e.mux)
	t.Cleanup(e.ts.Close)
	e.base = e.ts.URL + "/fhir"
	opts := Options{
		Records: st, Users: e.users, FHIRBase: e.base, Now: e.clock.Now,
		PatientExists: func(_ context.Context, id string) bool { return id == "p1" || id == "p2" },
	}
	for _, f := range tune {
		f(&opts)
	}
	var err error
	e.srv, err = New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e.mux.Handle("/", e.srv.Handler())
	e.mux.Handle("GET "+e.srv.ConfigurationPath(), e.srv.Handler())
	e.mux.Handle("/fhir/", e.srv.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(access.PrincipalFrom(r.Context()))
	})))
	return e
}

// addClient registers a client, failing the test on error.
func (e *env) addClient(c Client) (*Client, string) {
	e.t.Helper()
	got, secret, err := e.srv.Clients().Add(context.Background(), c, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return got, secret
}

const appRedirect = "https://app.example.org/callback"

func (e *env) publicApp(scope string) *Client {
	c, _ := e.addClient(Client{Name: "Patient app", Type: ClientPublic, RedirectURIs: []string{appRedirect}, Scope: scope, LaunchAllowed: true})
	return c
}

// serviceKey is a backend service's ES384 key and its public JWK Set.
type serviceKey struct {
	private *ecdsa.PrivateKey
	kid     string
	jwks    []byte
}

func newServiceKey(t testing.TB) *serviceKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &serviceKey{private: priv, kid: "svc-key-1"}
	k.jwks, _ = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: k.kid, Algorithm: "ES384", Use: "sig"}}})
	return k
}

// assertion returns a client assertion for clientID at tokenURL.
func (k *serviceKey) assertion(t testing.TB, clientID, tokenURL string, now time.Time, jti string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: k.private, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: clientID, Subject: clientID, Audience: jwt.Audience{tokenURL}, ID: jti,
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) serviceClient(scope string) (*Client, *serviceKey) {
	k := newServiceKey(e.t)
	c, _ := e.addClient(Client{Name: "Lab feed", Type: ClientJWT, JWKS: k.jwks, Scope: scope, Role: "service"})
	return c, k
}

// post sends a form and decodes a JSON answer.
func (e *env) post(path string, form url.Values, header ...string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			e.t.Fatalf("POST %s: %d, not JSON: %s", path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, resp.Header, out
}

// fhirGet calls the protected stand-in with a bearer token and returns
// the status, the WWW-Authenticate header and the principal (on 200).
func (e *env) fhirGet(token string) (int, string, *access.Principal) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.base+"/Patient", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), nil
	}
	var p access.Principal
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, "", &p
}

// browser is a user agent with a cookie jar that stops at redirects to
// the app, as the app's redirect handler would take over there.
type browser struct {
	t      testing.TB
	client *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`)

// page is a fetched page: status, Location and the form's hidden fields.
type page struct {
	status   int
	location string
	body     string
	fields   url.Values
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), fields: url.Values{}}
	for _, m := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		p.fields.Set(m[1], m[2])
	}
	return p
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) submit(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login fills the sign-in form of p.
func (b *browser) login(base string, p page, user, password, otp string) page {
	b.t.Helper()
	form := url.Values{"username": {user}, "password": {password}, "otp": {otp}}
	for k, v := range p.fields {
		form[k] = v
	}
	return b.submit(base+PathAuthorize, form)
}

// pickPatient fills the patient picker of p.
func (b *browser) pickPatient(base string, p page, patient string) page {
	form := url.Values{"patient": {patient}}
	for k, v := range p.fields {
		form[k] = v
	}
	return b.submit(base+PathAuthorize, form)
}

// redirectParams returns the query of a redirect to the app.
func redirectParams(t testing.TB, p page) url.Values {
	t.Helper()
	if p.status != http.StatusFound || !strings.HasPrefix(p.location, appRedirect) {
		t.Fatalf("got %d to %q, want a redirect to the app; body:\n%s", p.status, p.location, p.body)
	}
	u, _ := url.Parse(p.location)
	return u.Query()
}
