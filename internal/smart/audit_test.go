package smart

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// auditLine summarises a security event: its EMR code, outcome, agents
// (user name and client id), the account acted on, the patient, the
// detail.
type auditLine struct {
	code, outcome, user, client, subject, subjectClient, patient, detail string
}

func readAudit(t *testing.T, e *env) []auditLine {
	t.Helper()
	var out []auditLine
	err := e.store.(*sqlstore.DB).ScanAudit(context.Background(), 0, func(_ int64, ev fhir.Resource) error {
		var l auditLine
		for _, c := range ev["code"].(map[string]any)["coding"].([]any) {
			if c := c.(map[string]any); c["system"] == audit.InteractionSystem {
				l.code = c["code"].(string)
			}
		}
		outcome := ev["outcome"].(map[string]any)
		l.outcome = outcome["code"].(map[string]any)["code"].(string)
		if d, ok := outcome["detail"].([]any); ok {
			l.detail = d[0].(map[string]any)["text"].(string)
		}
		for _, a := range ev["agent"].([]any) {
			id, _ := a.(map[string]any)["who"].(map[string]any)["identifier"].(map[string]any)
			switch id["system"] {
			case audit.UserSystem:
				l.user = id["value"].(string)
			case audit.ClientSystem:
				l.client = id["value"].(string)
			}
		}
		ents, _ := ev["entity"].([]any)
		for _, en := range ents {
			id, _ := en.(map[string]any)["what"].(map[string]any)["identifier"].(map[string]any)
			switch id["system"] {
			case audit.UserSystem:
				l.subject = id["value"].(string)
			case audit.ClientSystem:
				l.subjectClient = id["value"].(string)
			}
		}
		if p, ok := ev["patient"].(map[string]any); ok {
			l.patient = p["reference"].(string)
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTokenGrantsAudited reads back the AuditEvent of each kind of grant,
// refusal, revocation, launch and client registration: the user and the
// client as agents, the launch patient, and what was granted or why not.
func TestTokenGrantsAudited(t *testing.T) {
	e := newEnv(t)
	ctx := access.WithPrincipal(context.Background(), &access.Principal{User: "cli:ops", Role: "admin"})
	app, _, err := e.srv.Clients().Add(ctx, Client{Name: "Chart app", Type: ClientPublic, RedirectURIs: []string{appRedirect},
		Scope: "launch launch/patient offline_access patient/*.rs user/*.rs", LaunchAllowed: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, secret, err := e.srv.Clients().Add(ctx, Client{Name: "Feed", Type: ClientSecret, Scope: "system/Observation.rs", Role: "service"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := len(readAudit(t, e))

	// authorization_code for a clinician with a patient picked, then refresh.
	tok := e.userToken(app.ID, "launch/patient offline_access patient/*.rs", "drsmith", "123456", "p2")
	status, _, refreshed := e.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok["refresh_token"])}, "client_id": {app.ID}})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, refreshed)
	}
	// client_credentials, and a wrong secret.
	if status, _, body := e.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Observation.rs"},
		"client_id": {svc.ID}, "client_secret": {secret}}); status != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	if status, _, _ := e.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {svc.ID}, "client_secret": {"wrong"}}); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", status)
	}
	// A refresh token used twice: refused, and its family revoked.
	e.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(tok["refresh_token"])}, "client_id": {app.ID}})
	// Revocation of the access token.
	if status, _, _ := e.post(PathRevoke, url.Values{"token": {str(refreshed["access_token"])}, "client_id": {app.ID}}); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	// An EHR launch by drsmith through the app's user token.
	ehr := e.userToken(app.ID, "user/*.rs", "drsmith", "123456", "")
	if status, _, body := e.post(PathLaunch, url.Values{"patient": {"p1"}}, "Authorization", "Bearer "+str(ehr["access_token"])); status != http.StatusOK {
		t.Fatalf("launch: %d %v", status, body)
	}
	if err := e.srv.Clients().Remove(ctx, svc.ID); err != nil {
		t.Fatal(err)
	}

	got := readAudit(t, e)
	want := []auditLine{
		{code: "token-issued", outcome: "0", user: "drsmith", client: app.ID, subject: "drsmith", patient: "Patient/p2",
			detail: "grant_type authorization_code; scope launch/patient offline_access patient/*.rs; with a refresh token"},
		{code: "token-issued", outcome: "0", user: "drsmith", client: app.ID, subject: "drsmith", patient: "Patient/p2",
			detail: "grant_type refresh_token; scope launch/patient offline_access patient/*.rs; with a refresh token"},
		{code: "token-issued", outcome: "0", client: svc.ID, detail: "grant_type client_credentials; scope system/Observation.rs"},
		{code: "token-refused", outcome: "4", detail: "grant_type client_credentials, client_id " + svc.ID + " (not authenticated); invalid_client: unknown client or wrong secret"},
		{code: "token-revoked", outcome: "0", client: app.ID, subject: "drsmith", patient: "Patient/p2",
			detail: "a used refresh token was presented again (stolen?): its family and the access tokens it gave are revoked"},
		{code: "token-refused", outcome: "4", client: app.ID, detail: "grant_type refresh_token; invalid_grant: the refresh token has been used; sign in again"},
		{code: "token-revoked", outcome: "0", user: "drsmith", client: app.ID, subject: "drsmith", patient: "Patient/p2"},
		{code: "token-issued", outcome: "0", user: "drsmith", client: app.ID, subject: "drsmith", detail: "grant_type authorization_code; scope user/*.rs"},
		{code: "launch-created", outcome: "0", user: "drsmith", client: app.ID, subject: "drsmith", patient: "Patient/p1"},
		{code: "client-removed", outcome: "0", user: "cli:ops", subjectClient: svc.ID, detail: `"Feed"`},
	}
	got = got[start:]
	// The access token's jti is random: check the revocation's detail by prefix.
	if len(got) > 6 && strings.HasPrefix(got[6].detail, "access token ") {
		got[6].detail = ""
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n%+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// The registrations before.
	all := readAudit(t, e)
	if reg := all[start-2]; reg.code != "client-registered" || reg.user != "cli:ops" || reg.subjectClient != app.ID || !strings.Contains(reg.detail, "EHR launch") {
		t.Errorf("registration: %+v", reg)
	}
}

// TestTokenNotGivenUnaudited: when the audit record of a grant cannot be
// written, the token endpoint answers server_error and gives no token.
func TestTokenNotGivenUnaudited(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Audit = failingAudit{} })
	c, secret := e.addClient(Client{Name: "Feed", Type: ClientSecret, Scope: "system/Observation.rs", Role: "service"})
	status, _, body := e.post(PathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Observation.rs"},
		"client_id": {c.ID}, "client_secret": {secret}})
	if status != http.StatusInternalServerError || body["access_token"] != nil {
		t.Errorf("grant without audit: %d %v, want 500 without a token", status, body)
	}
}

type failingAudit struct{}

func (failingAudit) AppendAudit(context.Context, ...fhir.Resource) error {
	return fhir.Errorf(fhir.KindInternal, "audit log unavailable")
}
