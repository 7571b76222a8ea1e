package cdshooks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/cdshooks"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/smart"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// env is a CDS service and the SMART server whose clients call it, on one
// SQLite database, behind real HTTP.
type env struct {
	t     testing.TB
	ts    *httptest.Server
	store *sqlstore.DB
	srv   *smart.Server
	key   *ecdsa.PrivateKey
	// client is the registered CDS client (type jwt, role service).
	client string
	jwks   []byte
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st}
	mux := http.NewServeMux()
	e.ts = httptest.NewServer(mux)
	t.Cleanup(e.ts.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.srv, err = smart.New(ctx, smart.Options{Records: st, Users: noUsers{}, FHIRBase: e.ts.URL + "/fhir", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	gate := access.NewGate(st, access.NewRolePolicy(defs, access.DefaultRoles(defs)), "test")
	svc := &cdshooks.Service{Store: st, Gate: gate, Definitions: defs, Clients: cdshooks.SMARTClients{Server: e.srv},
		BaseURL: e.ts.URL, FHIRBase: e.ts.URL + "/fhir", Logger: logger}
	mux.Handle("/oauth/", e.srv.Handler())
	mux.Handle(cdshooks.Path, svc)
	mux.Handle(cdshooks.Path+"/", svc)

	e.key, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: e.key.Public(), KeyID: "k1", Algorithm: "ES384", Use: "sig"}}})
	c, _, err := e.srv.Clients().Add(ctx, smart.Client{Name: "ward EHR", Type: smart.ClientJWT, JWKS: jwks, Scope: "system/*.rs", Role: "service", CDSHooks: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c.ID
	e.jwks = jwks
	// The patient's record, and the EMR's interaction knowledge.
	for _, r := range []string{
		`{"resourceType":"Patient","id":"p1","birthDate":"1970-05-01"}`,
		`{"resourceType":"Patient","id":"p2"}`,
		`{"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"Patient/p1"},"criticality":"high",
			"code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"723","display":"amoxicillin"}]}}`,
		`{"resourceType":"MedicationRequest","id":"w1","status":"active","intent":"order","subject":{"reference":"Patient/p1"},
			"medication":{"concept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"11289","display":"warfarin"}]}}}`,
		`{"resourceType":"ClinicalUseDefinition","id":"cud1","type":"interaction","interaction":{"interactant":[
			{"itemCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"11289"}]}},
			{"itemCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1191"}]}}],
			"effect":{"concept":{"text":"Increased risk of bleeding"}}}}`,
	} {
		res, err := fhir.ParseResource([]byte(r))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Write(ctx, func(tx store.Tx) error { _, _, err := tx.Update(res, 0); return err }); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// jwt is the client's bearer JWT for a service.
func (e *env) jwt(aud, jti string) string {
	e.t.Helper()
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: e.key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: e.client, Audience: jwt.Audience{aud},
		ID: jti, Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now)}).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// call posts a hook request to a service with a fresh JWT (or the given
// Authorization) and returns the status and the decoded answer.
func (e *env) call(service, body string, authorization ...string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.ts.URL+cdshooks.Path+"/"+service, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if len(authorization) > 0 {
		req.Header.Set("Authorization", authorization[0])
	} else {
		req.Header.Set("Authorization", "Bearer "+e.jwt(e.ts.URL+cdshooks.Path+"/"+service, newJTI()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func newJTI() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// R4 draft orders, as most CDS clients send them: amoxicillin (allergic)
// and aspirin (interacts with warfarin).
const draftOrders = `{"resourceType":"Bundle","type":"collection","entry":[
	{"resource":{"resourceType":"MedicationRequest","id":"d1","status":"draft","intent":"order","subject":{"reference":"Patient/p1"},
		"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"723","display":"amoxicillin"}]}}},
	{"resource":{"resourceType":"MedicationRequest","id":"d2","status":"draft","intent":"order","subject":{"reference":"Patient/p1"},
		"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"1191","display":"aspirin"}]}}}]}`

func hookBody(hook, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"hook":"` + hook + `","hookInstance":"d1bf5a4c-7b4e-4f0f-9a0b-9c5d1a1c0e11",
		"context":{"userId":"Practitioner/dr1","patientId":"p1","draftOrders":` + draftOrders + `}` + extra + `}`
}

// prefetchOf is the prefetch a client fills from its own server: the
// same allergy and warfarin order, in R4.
const prefetchOf = `"prefetch":{
	"allergies":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"AllergyIntolerance","id":"ext-a1",
		"patient":{"reference":"Patient/p1"},"criticality":"high","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"723"}]}}}]},
	"medications":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"MedicationRequest","id":"ext-w1","status":"active","intent":"order",
		"subject":{"reference":"Patient/p1"},"medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"11289"}]}}}]},
	"serviceRequests":{"resourceType":"Bundle","type":"searchset"}}`

// cardsOf lists the cards as "indicator topic-code implicated".
func cardsOf(t *testing.T, out map[string]any) []string {
	t.Helper()
	list, ok := out["cards"].([]any)
	if !ok {
		t.Fatalf("no cards: %v", out)
	}
	var got []string
	for _, c := range list {
		card := c.(map[string]any)
		if s := card["summary"].(string); len([]rune(s)) >= 140 || s == "" || card["uuid"] == "" {
			t.Errorf("card %v", card)
		}
		topicObj, _ := card["source"].(map[string]any)["topic"].(map[string]any)
		topic, _ := topicObj["code"].(string)
		if topic == "" {
			topic = "-"
		}
		target := ""
		sgs, _ := card["suggestions"].([]any)
		for _, sg := range sgs {
			for _, a := range sg.(map[string]any)["actions"].([]any) {
				target = a.(map[string]any)["resourceId"].(string)
			}
		}
		got = append(got, strings.TrimSpace(card["indicator"].(string)+" "+topic+" "+target))
	}
	slices.Sort(got)
	return got
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.ts.URL + cdshooks.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Services []struct {
			Hook, ID string
			Prefetch map[string]string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode, err)
	}
	var got []string
	for _, s := range d.Services {
		got = append(got, s.Hook+"="+s.ID)
		key, want := "allergies", "AllergyIntolerance?patient={{context.patientId}}"
		if s.Hook == "patient-view" {
			key, want = "patient", "Patient/{{context.patientId}}"
		}
		if s.Prefetch[key] != want {
			t.Errorf("%s prefetch %v", s.ID, s.Prefetch)
		}
	}
	if strings.Join(got, " ") != "order-sign=order-sign-safety order-select=order-select-safety patient-view=preventive-care" {
		t.Errorf("services %v", got)
	}
}

// TestPreventiveCare: patient-view answers a card for each reminder due,
// from the prefetch or from the EMR's record through a lent token.
func TestPreventiveCare(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	day := func(d int) string { return now.AddDate(0, 0, d).Format("2006-01-02") }
	view := func(extra string) string {
		return `{"hook":"patient-view","hookInstance":"7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d","context":{"userId":"Practitioner/dr1","patientId":"p1"},` + extra + `}`
	}
	summaries := func(out map[string]any) string {
		var got []string
		for _, c := range out["cards"].([]any) {
			card := c.(map[string]any)
			if card["indicator"] != "info" {
				t.Errorf("indicator %v", card["indicator"])
			}
			got = append(got, card["summary"].(string))
		}
		slices.Sort(got)
		return strings.Join(got, "; ")
	}
	prefetch := `"prefetch":{"patient":{"resourceType":"Patient","id":"p1","birthDate":"1960-02-01"},"conditions":null,"immunizations":null,
		"observations":null,
		"blood-pressure":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","id":"bp","status":"final",
			"subject":{"reference":"https://ehr.example.org/fhir/Patient/p1"},"effectiveDateTime":"` + day(-60) + `","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},
			"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120}}]}}]},
		"procedures":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Procedure","id":"c","status":"completed",
			"subject":{"reference":"Patient/p1"},"performedDateTime":"` + day(-3*365) + `","code":{"coding":[{"system":"http://snomed.info/sct","code":"73761001"}]}}}]}}`
	status, out := e.call("preventive-care", view(prefetch))
	if got := summaries(out); status != 200 || got != "Influenza vaccine is due (no record)" {
		t.Errorf("prefetch: %d %q", status, got)
	}
	if status, out := e.call("preventive-care", view(`"prefetch":{"patient":null}`)); status != http.StatusPreconditionFailed {
		t.Errorf("an incomplete prefetch without a token: %d %v", status, out)
	}
	other := strings.Replace(prefetch, `"subject":{"reference":"Patient/p1"}`, `"subject":{"reference":"Patient/p2"}`, 1)
	if status, _ := e.call("preventive-care", view(other)); status != http.StatusBadRequest {
		t.Errorf("another patient's record in the prefetch: %d", status)
	}
	// Through a lent token: p1 (born 1970) has nothing recorded.
	lend := `"fhirServer":"` + e.ts.URL + `/fhir","fhirAuthorization":{"access_token":"` + e.backendToken() + `","token_type":"Bearer"}`
	status, out = e.call("preventive-care", view(lend))
	if got := summaries(out); status != 200 || got != "Blood pressure check is due (no record); Colorectal cancer screening is due (no record); Influenza vaccine is due (no record)" {
		t.Errorf("lent token: %d %q", status, got)
	}
}

func TestOrderSign(t *testing.T) {
	e := newEnv(t)
	want := []string{"critical ALGY MedicationRequest/d1", "warning DRG MedicationRequest/d2"}

	t.Run("prefetch", func(t *testing.T) {
		status, out := e.call("order-sign-safety", hookBody("order-sign", prefetchOf))
		if got := cardsOf(t, out); status != 200 || !slices.Equal(got, want) {
			t.Errorf("%d %v, want %v", status, got, want)
		}
	})
	t.Run("order-select checks the selections only", func(t *testing.T) {
		body := strings.Replace(hookBody("order-select", prefetchOf), `"patientId":"p1"`, `"patientId":"p1","selections":["MedicationRequest/d2"]`, 1)
		status, out := e.call("order-select-safety", body)
		if got := cardsOf(t, out); status != 200 || !slices.Equal(got, want[1:]) {
			t.Errorf("%d %v", status, got)
		}
	})
	t.Run("no data: 412", func(t *testing.T) {
		if status, out := e.call("order-sign-safety", hookBody("order-sign", "")); status != http.StatusPreconditionFailed {
			t.Errorf("%d %v", status, out)
		}
	})
	token := e.backendToken()
	lend := `"fhirServer":"` + e.ts.URL + `/fhir","fhirAuthorization":{"access_token":"` + token + `","token_type":"Bearer","scope":"system/*.rs","subject":"x"}`
	t.Run("the EMR's own data, through a lent token", func(t *testing.T) {
		status, out := e.call("order-sign-safety", hookBody("order-sign", lend))
		if got := cardsOf(t, out); status != 200 || !slices.Equal(got, want) {
			t.Errorf("%d %v, want %v", status, got, want)
		}
		// The reads were the token's caller's, and audited.
		page, err := e.store.SearchAudit(context.Background(), store.AuditQuery{Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range page.Records {
			if strings.Contains(string(r.Event), "AllergyIntolerance/a1") && strings.Contains(string(r.Event), e.client) {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit record of the allergy read")
		}
	})
	t.Run("a lent token for another server: 412", func(t *testing.T) {
		other := strings.Replace(lend, e.ts.URL+"/fhir", "https://elsewhere.example.org/fhir", 1)
		if status, _ := e.call("order-sign-safety", hookBody("order-sign", other)); status != http.StatusPreconditionFailed {
			t.Errorf("%d", status)
		}
	})
	t.Run("a forged lent token: 412", func(t *testing.T) {
		forged := strings.Replace(lend, token, token[:len(token)-4]+"AAAA", 1)
		if status, _ := e.call("order-sign-safety", hookBody("order-sign", forged)); status != http.StatusPreconditionFailed {
			t.Errorf("%d", status)
		}
	})
	t.Run("a lent token that cannot see the patient: 412, not silence", func(t *testing.T) {
		body := strings.ReplaceAll(hookBody("order-sign", lend), "Patient/p1", "Patient/nobody")
		body = strings.Replace(body, `"patientId":"p1"`, `"patientId":"nobody"`, 1)
		if status, out := e.call("order-sign-safety", body); status != http.StatusPreconditionFailed {
			t.Errorf("%d %v", status, out)
		}
	})
}

func TestRefused(t *testing.T) {
	e := newEnv(t)
	svc := e.ts.URL + cdshooks.Path + "/order-sign-safety"
	body := hookBody("order-sign", prefetchOf)
	jti := newJTI()
	replayed := "Bearer " + e.jwt(svc, jti)
	if status, _ := e.call("order-sign-safety", body, replayed); status != 200 {
		t.Fatalf("first use: %d", status)
	}
	for _, tc := range []struct {
		name, service, body, auth string
		status                    int
	}{
		{"no JWT", "order-sign-safety", body, "", 401},
		{"replayed jti", "order-sign-safety", body, replayed, 401},
		{"aud of another service", "order-sign-safety", body, "Bearer " + e.jwt(e.ts.URL+cdshooks.Path+"/order-select-safety", newJTI()), 401},
		{"not a JWT", "order-sign-safety", body, "Bearer nonsense", 401},
		{"unknown service", "nope", body, "Bearer x", 404},
		{"wrong hook", "order-sign-safety", hookBody("patient-view", prefetchOf), "", 400},
		{"not JSON", "order-sign-safety", "{", "", 400},
		{"an order for another patient", "order-sign-safety", strings.Replace(body, `"patientId":"p1"`, `"patientId":"p2"`, 1), "", 400},
		{"no hookInstance", "order-sign-safety", strings.Replace(body, `"hookInstance"`, `"other"`, 1), "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := []string{}
			switch {
			case tc.auth != "":
				auth = append(auth, tc.auth)
			case tc.status == 401:
				auth = append(auth, "")
			}
			if status, out := e.call(tc.service, tc.body, auth...); status != tc.status || out["error"] == nil {
				t.Errorf("%d %v, want %d", status, out, tc.status)
			}
		})
	}
}

// backendToken takes an access token of the EMR for the client, as a
// backend service (client_credentials with its JWT).
func (e *env) backendToken() string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: e.key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	now := time.Now()
	assertion, _ := jwt.Signed(signer).Claims(jwt.Claims{Issuer: e.client, Subject: e.client, Audience: jwt.Audience{e.ts.URL + "/oauth/token"},
		ID: newJTI(), Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now)}).Serialize()
	form.Set("client_assertion", assertion)
	resp, err := http.PostForm(e.ts.URL+"/oauth/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		e.t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// noUsers has no accounts: these tests' callers are clients.
type noUsers struct{}

func (noUsers) Login(context.Context, string, string, string, string) (smart.User, error) {
	return smart.User{}, errors.New("no accounts")
}
func (noUsers) Get(context.Context, string) (smart.User, error) {
	return smart.User{}, errors.New("no accounts")
}

// TestNeverSilent: what the checks cannot read is said, never passed over,
// and nothing of the EMR's record reaches a client through a reference.
func TestNeverSilent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret := `{"resourceType":"Condition","id":"secret","subject":{"reference":"Patient/p2"},
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008","display":"HIV infection"}]}}`
	res, _ := fhir.ParseResource([]byte(secret))
	if err := e.store.Write(ctx, func(tx store.Tx) error { _, _, err := tx.Update(res, 0); return err }); err != nil {
		t.Fatal(err)
	}
	const rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
	emptyPrefetch := `"prefetch":{"allergies":null,"medications":null,"serviceRequests":null}`
	amoxAllergy := `"prefetch":{"allergies":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"AllergyIntolerance","id":"x1",
		"patient":{"reference":"https://ehr.example.org/fhir/Patient/p1"},"criticality":"high","code":{"coding":[{"system":"` + rx + `","code":"723"}]}}}]},
		"medications":null,"serviceRequests":null}`
	order := func(id, med string) string {
		return `{"resource":{"resourceType":"MedicationRequest","id":"` + id + `","status":"draft","intent":"order","subject":{"reference":"Patient/p1"},` + med + `}}`
	}
	body := func(hook string, entries []string, extra string) string {
		return `{"hook":"` + hook + `","hookInstance":"5c4d0e0a-1b2c-4d3e-8f9a-0b1c2d3e4f50","context":{"userId":"Practitioner/dr1","patientId":"p1",
			"draftOrders":{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(entries, ",") + `]}},` + extra + `}`
	}
	for _, tc := range []struct {
		name, service, body string
		status              int
		want                []string
		notIn               string
	}{
		{"two drafts that interact", "order-sign-safety", body("order-sign", []string{
			order("w", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"11289"}]}`),
			order("a", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"1191"}]}`)}, emptyPrefetch),
			200, []string{"warning DRG MedicationRequest/a", "warning DRG MedicationRequest/w"}, ""},
		{"a medication by reference, in the request", "order-sign-safety", body("order-sign", []string{
			order("d1", `"medicationReference":{"reference":"Medication/m1"}`),
			`{"resource":{"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"` + rx + `","code":"723"}]}}}`}, amoxAllergy),
			200, []string{"critical ALGY MedicationRequest/d1"}, ""},
		{"a medication by reference, nowhere", "order-sign-safety", body("order-sign", []string{
			order("d1", `"medicationReference":{"reference":"Medication/m1"}`)}, amoxAllergy),
			200, []string{"warning -"}, ""},
		{"an ingredient pointing at a patient's record", "order-sign-safety", body("order-sign", []string{
			`{"resource":{"resourceType":"MedicationRequest","id":"d1","status":"draft","intent":"order","subject":{"reference":"Patient/p1"},
				"contained":[{"resourceType":"Medication","id":"m","code":{"text":"x","coding":[{"system":"` + rx + `","code":"5640"}]},
					"ingredient":[{"itemReference":{"reference":"Condition/secret"}}]}],
				"medicationReference":{"reference":"#m"}}}`},
			`"prefetch":{"allergies":{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"AllergyIntolerance","id":"x1",
				"patient":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"86406008"}]}}}]},"medications":null,"serviceRequests":null}`),
			200, nil, "HIV"},
		{"order-select: an unselected draft that cannot be read is said", "order-select-safety", strings.Replace(body("order-select", []string{
			order("d1", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"1191"}]}`),
			order("d2", `"medicationReference":{"reference":"Medication/elsewhere"}`)}, emptyPrefetch),
			`"patientId":"p1"`, `"patientId":"p1","selections":["MedicationRequest/d1"]`, 1),
			200, []string{"warning -"}, ""},
		{"a prefetch page of a longer answer", "order-sign-safety", body("order-sign", []string{
			order("d1", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"723"}]}`)},
			`"prefetch":{"allergies":{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://ehr.example.org/fhir?page=2"}]},"medications":null,"serviceRequests":null}`),
			412, nil, ""},
		{"a prefetch of another patient", "order-sign-safety", body("order-sign", []string{
			order("d1", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"723"}]}`)},
			strings.Replace(amoxAllergy, "Patient/p1", "Patient/p2", 1)),
			400, nil, ""},
		{"order-select without selections", "order-select-safety", body("order-select", []string{
			order("d1", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"723"}]}`)}, amoxAllergy),
			400, nil, ""},
		{"order-select of a draft not sent", "order-select-safety", strings.Replace(body("order-select", []string{
			order("d1", `"medicationCodeableConcept":{"coding":[{"system":"`+rx+`","code":"723"}]}`)}, amoxAllergy), `"patientId":"p1"`, `"patientId":"p1","selections":["MedicationRequest/nope"]`, 1),
			400, nil, ""},
		{"order-select by fullUrl", "order-select-safety", strings.Replace(body("order-select", []string{
			`{"fullUrl":"urn:uuid:0d9e6f00-0000-4000-8000-000000000001","resource":{"resourceType":"MedicationRequest","status":"draft","intent":"order","subject":{"reference":"Patient/p1"},
				"medicationCodeableConcept":{"coding":[{"system":"` + rx + `","code":"723"}]}}}`}, amoxAllergy),
			`"patientId":"p1"`, `"patientId":"p1","selections":["urn:uuid:0d9e6f00-0000-4000-8000-000000000001"]`, 1),
			200, []string{"critical ALGY"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := e.call(tc.service, tc.body)
			if status != tc.status {
				t.Fatalf("%d %v, want %d", status, out, tc.status)
			}
			raw, _ := json.Marshal(out)
			if tc.notIn != "" && strings.Contains(string(raw), tc.notIn) {
				t.Errorf("the answer tells %q: %s", tc.notIn, raw)
			}
			if status == 200 {
				if got := cardsOf(t, out); !slices.Equal(got, tc.want) {
					t.Errorf("cards %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestClientsAndTokens: only clients registered for CDS Hooks call the
// services, and a lent token must be the calling client's own, seeing all
// the checks read.
func TestClientsAndTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A backend service with the same keys, not registered for CDS Hooks.
	other, _, err := e.srv.Clients().Add(ctx, smart.Client{Name: "bulk reader", Type: smart.ClientJWT, JWKS: e.jwks, Scope: "system/*.rs", Role: "service"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := e.ts.URL + cdshooks.Path + "/order-sign-safety"
	mine := e.client
	e.client = other.ID
	notCDS := "Bearer " + e.jwt(svc, newJTI())
	otherToken := e.backendToken()
	e.client = mine
	if status, _ := e.call("order-sign-safety", hookBody("order-sign", prefetchOf), notCDS); status != http.StatusUnauthorized {
		t.Errorf("a client not registered for CDS Hooks: %d", status)
	}
	lend := `"fhirServer":"` + e.ts.URL + `/fhir","fhirAuthorization":{"access_token":"` + otherToken + `","token_type":"Bearer"}`
	if status, out := e.call("order-sign-safety", hookBody("order-sign", lend)); status != http.StatusPreconditionFailed || !strings.Contains(out["error"].(string), "another client") {
		t.Errorf("another client's token: %d %v", status, out)
	}
	// A CDS client whose role sees no allergies lends its token.
	narrow, _, err := e.srv.Clients().Add(ctx, smart.Client{Name: "front desk", Type: smart.ClientJWT, JWKS: e.jwks, Scope: "system/*.rs", Role: "registrar", CDSHooks: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.client = narrow.ID
	lend = `"fhirServer":"` + e.ts.URL + `/fhir","fhirAuthorization":{"access_token":"` + e.backendToken() + `","token_type":"Bearer"}`
	if status, out := e.call("order-sign-safety", hookBody("order-sign", lend)); status != http.StatusPreconditionFailed || !strings.Contains(out["error"].(string), "only part") {
		t.Errorf("a token that sees part of the record: %d %v", status, out)
	}
	e.client = mine
	// A Consent of the patient may hide part of the record from the token:
	// the order checks refuse, the reminders that could be undone say so.
	consent, _ := fhir.ParseResource([]byte(`{"resourceType":"Consent","id":"cons1","status":"active","subject":{"reference":"Patient/p1"},"decision":"permit",
		"provision":[{"actor":[{"reference":{"reference":"Practitioner/other"}}]}]}`))
	if err := e.store.Write(ctx, func(tx store.Tx) error { _, _, err := tx.Update(consent, 0); return err }); err != nil {
		t.Fatal(err)
	}
	lend = `"fhirServer":"` + e.ts.URL + `/fhir","fhirAuthorization":{"access_token":"` + e.backendToken() + `","token_type":"Bearer"}`
	if status, out := e.call("order-sign-safety", hookBody("order-sign", lend)); status != http.StatusPreconditionFailed || !strings.Contains(out["error"].(string), "Consent") {
		t.Errorf("order checks with a Consent in force: %d %v", status, out)
	}
	view := `{"hook":"patient-view","hookInstance":"7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d","context":{"userId":"Practitioner/dr1","patientId":"p1"},` + lend + `}`
	if status, out := e.call("preventive-care", view); status != 200 || !strings.Contains(fmt.Sprint(out["cards"]), "Colorectal cancer screening: not worked out") {
		t.Errorf("reminders with a Consent in force: %d %v", status, out)
	}
	// Every call is recorded, with its client and patient.
	page, err := e.store.SearchAudit(ctx, store.AuditQuery{Count: 200})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, r := range page.Records {
		if ev := string(r.Event); strings.Contains(ev, "cds-services/order-sign-safety") || strings.Contains(ev, base64Of("cds-services/order-sign-safety")) {
			calls++
		}
	}
	if calls < 2 {
		t.Errorf("%d calls recorded", calls)
	}
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// BenchmarkOrderSign measures a CDS client's call, from the JWT to the
// cards: two draft orders (one allergic, one interacting) checked against
// a prefetch (calls/s reported).
// go test ./internal/cdshooks -run '^$' -bench OrderSign -benchtime 500x
func BenchmarkOrderSign(b *testing.B) {
	e := newEnv(b)
	body := hookBody("order-sign", prefetchOf)
	n := 0
	for b.Loop() {
		status, out := e.call("order-sign-safety", body)
		if status != 200 || len(out["cards"].([]any)) != 2 {
			b.Fatalf("%d %v", status, out)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "calls/s")
}

// FuzzHookRequest posts arbitrary bodies to each service with a valid
// client JWT: every answer is cards or a 4xx with an error, never a 5xx.
// `go test -fuzz` instruments the SQLite and crypto code each call runs
// and crawls; the test binary without coverage runs about 4,000 inputs/s:
//
//	go test -c -o /tmp/cds.test ./internal/cdshooks && cd internal/cdshooks &&
//	/tmp/cds.test -test.run '^$' -test.fuzz FuzzHookRequest -test.fuzztime 60s -test.fuzzcachedir /tmp/fzc
func FuzzHookRequest(f *testing.F) {
	f.Add("order-sign-safety", hookBody("order-sign", prefetchOf))
	f.Add("order-select-safety", strings.Replace(hookBody("order-select", prefetchOf), `"patientId":"p1"`, `"patientId":"p1","selections":["MedicationRequest/d2"]`, 1))
	f.Add("preventive-care", `{"hook":"patient-view","hookInstance":"x","context":{"userId":"u","patientId":"p1"},"prefetch":{"patient":{"resourceType":"Patient","id":"p1","birthDate":"1960"}}}`)
	f.Add("order-sign-safety", `{"hook":"order-sign","hookInstance":"x","context":{"userId":"u","patientId":"p1","draftOrders":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","subject":{"reference":"Patient/p1"},"medication":{"reference":{"reference":"#m"}},"contained":[{"resourceType":"Medication","id":"m","ingredient":[{"item":{"reference":{"reference":"Substance/s"}}}]}]}}]}},"prefetch":{"allergies":null,"medications":null,"serviceRequests":null}}`)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, service, body string) {
		switch service {
		case "order-sign-safety", "order-select-safety", "preventive-care":
		default:
			return
		}
		e.t = t
		status, out := e.call(service, body)
		switch {
		case status == 200:
			if _, ok := out["cards"].([]any); !ok {
				t.Fatalf("200 without cards: %v", out)
			}
		case status >= 500 || out["error"] == nil:
			t.Fatalf("%d %v for %q", status, out, body)
		}
	})
}
