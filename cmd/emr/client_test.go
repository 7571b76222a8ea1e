package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestClientCommand registers, lists and removes clients as an
// administrator would.
func TestClientCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	jwks := filepath.Join(dir, "jwks.json")
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES384"}}})
	os.WriteFile(jwks, set, 0o600)

	idLine := regexp.MustCompile(`client_id: (\S+)`)
	// emrProcess splits arguments at spaces: a scope list comes from the
	// environment, as any flag can.
	t.Setenv("EMR_SCOPE", "launch/patient patient/*.rs")
	code, stdout, stderr := emrProcess(t, "client", "add", "GrowthChart", "--type", "public", "--data", data,
		"--redirect-uri", "https://app.example.org/cb", "--redirect-uri", "http://localhost:9000/cb", "--launch")
	m := idLine.FindStringSubmatch(stdout)
	if code != 0 || m == nil || strings.Contains(stdout, "client_secret") {
		t.Fatalf("add public: exit %d\n%s%s", code, stdout, stderr)
	}
	appID := m[1]
	os.Unsetenv("EMR_SCOPE")
	code, stdout, stderr = emrProcess(t, "client", "add", "Lab", "--type", "jwt", "--jwks", jwks, "--scope", "system/Observation.cruds", "--role", "service", "--data", data)
	if code != 0 || !idLine.MatchString(stdout) {
		t.Fatalf("add jwt: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = emrProcess(t, "client", "add", "Portal", "--type", "secret", "--redirect-uri", "https://portal.example.org/cb", "--scope", "user/*.rs", "--data", data)
	if code != 0 || !regexp.MustCompile(`client_secret: \S{43}`).MatchString(stdout) {
		t.Fatalf("add secret: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = emrProcess(t, "client", "list", "--data", data)
	for _, want := range []string{appID, "GrowthChart", "launch/patient patient/*.rs", "public", "Lab", "confidential-jwt", "service", "Portal", "confidential-secret"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("list: exit %d, lacks %q:\n%s", code, want, stdout)
		}
	}
	if code, stdout, stderr = emrProcess(t, "client", "remove", appID, "--data", data); code != 0 {
		t.Errorf("remove: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stdout, _ = emrProcess(t, "client", "list", "--data", data); strings.Contains(stdout, appID) {
		t.Errorf("removed client still listed:\n%s", stdout)
	}
	if code, _, stderr = emrProcess(t, "client", "remove", appID, "--data", data); code != 1 || !strings.Contains(stderr, "no client") {
		t.Errorf("remove twice: exit %d, %s", code, stderr)
	}
	for _, args := range [][]string{
		{"client"},
		{"client", "frobnicate"},
		{"client", "add", "--type", "public", "--scope", "patient/*.rs", "--data", data},
		{"client", "add", "X", "--type", "open", "--scope", "patient/*.rs", "--data", data},
		{"client", "add", "X", "--type", "public", "--scope", "system/*.rs", "--data", data},
		{"client", "add", "X", "--type", "jwt", "--scope", "system/*.rs", "--role", "wizard", "--jwks", jwks, "--data", data},
		{"client", "remove", "--data", data},
	} {
		if code, _, stderr := emrProcess(t, args...); code != 2 {
			t.Errorf("emr %v: exit %d, want 2; stderr %s", args, code, stderr)
		}
	}
}
