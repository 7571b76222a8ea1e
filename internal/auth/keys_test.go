package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

var keyTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustKey(t *testing.T) *Key {
	t.Helper()
	k, err := GenerateKey(keyTime)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestThumbprintRFC7638(t *testing.T) {
	// RFC 7638 section 3.1.
	const jwk = `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`
	var k jose.JSONWebKey
	if err := json.Unmarshal([]byte(jwk), &k); err != nil {
		t.Fatal(err)
	}
	got, err := thumbprint(k)
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want || err != nil {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := mustKey(t)
	if len(k.ID()) != 43 || !k.Created().Equal(keyTime) {
		t.Fatalf("got kid %q created %v", k.ID(), k.Created())
	}
	data, err := k.PrivateJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"d":`) || !strings.Contains(string(data), k.ID()) {
		t.Errorf("PrivateJSON %s lacks the private key or kid", data)
	}
	back, err := ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != k.ID() || !back.Created().Equal(k.Created()) || !back.private.Equal(k.private) {
		t.Errorf("round trip changed the key")
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
		if s != "auth.Key("+k.ID()+")" {
			t.Errorf("printing a key gives %q", s)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	k := mustKey(t)
	good, _ := k.PrivateJSON()
	other, _ := mustKey(t).PrivateJSON()
	otherKid := strings.Replace(string(good), k.ID(), "some-other-kid", 1)

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	wrongCurve, _ := json.Marshal(storedKey{JWK: &jose.JSONWebKey{Key: p384, KeyID: "x"}})
	public, _ := json.Marshal(storedKey{JWK: &jose.JSONWebKey{Key: k.private.Public(), KeyID: k.ID()}})
	tests := map[string]string{
		"kid is not the thumbprint": otherKid,
		"P-384":                     string(wrongCurve),
		"public key only":           string(public),
		"no jwk":                    `{"created":"2026-01-01T00:00:00Z"}`,
		"not JSON":                  `{`,
	}
	for name, data := range tests {
		if _, err := ParseKey([]byte(data)); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
	if _, err := ParseKey(other); err != nil {
		t.Errorf("valid key rejected: %v", err)
	}
}

func TestKeySetJWKS(t *testing.T) {
	cur, old := mustKey(t), mustKey(t)
	ks, err := NewKeySet(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ks.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("got %d keys, want 2", len(set.Keys))
	}
	for i, k := range set.Keys {
		if _, ok := k["d"]; ok {
			t.Errorf("JWKS key %d contains the private part", i)
		}
		if k["kid"] != []string{cur.ID(), old.ID()}[i] || k["alg"] != "ES256" || k["use"] != "sig" || k["crv"] != "P-256" {
			t.Errorf("JWKS key %d = %v", i, k)
		}
	}
	if _, err := NewKeySet(nil); err == nil {
		t.Error("NewKeySet(nil): got nil error")
	}
	if _, err := NewKeySet(cur, cur); err == nil {
		t.Error("duplicate key: got nil error")
	}
}

const (
	testIssuer   = "https://emr.example.org"
	testAudience = "https://emr.example.org/fhir"
)

func accessClaims(now time.Time) *Claims {
	return &Claims{
		Issuer: testIssuer, Subject: "user-1", Audience: Audience{testAudience},
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix(), ID: "jti-1",
		Scope: "launch/patient patient/Observation.rs", ClientID: "app", Patient: "p1",
		Encounter: "e1", FHIRUser: "Practitioner/9",
	}
}

func TestSignVerify(t *testing.T) {
	now := keyTime
	old, cur, stranger := mustKey(t), mustKey(t), mustKey(t)
	before, _ := NewKeySet(old)
	ks, _ := NewKeySet(cur, old)
	foreign, _ := NewKeySet(stranger)
	want := VerifyOptions{Issuer: testIssuer, Audience: testAudience, Now: now.Add(time.Minute)}

	tok, err := ks.Sign(accessClaims(now))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ks.Verify(tok, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(accessClaims(now), got); diff != "" {
		t.Errorf("claims changed in transit (-sent +verified):\n%s", diff)
	}
	h, _ := peekHeader(tok)
	if h.Kid != cur.ID() || h.Alg != "ES256" || h.Typ != "JWT" {
		t.Errorf("header %+v, want kid of the current key", h)
	}
	// A token signed before the rotation still verifies.
	oldTok, _ := before.Sign(accessClaims(now))
	if _, err := ks.Verify(oldTok, want); err != nil {
		t.Errorf("token of the previous key: %v", err)
	}

	sign := func(ks *KeySet, edit func(*Claims)) string {
		c := accessClaims(now)
		edit(c)
		s, err := ks.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	foreignTok := sign(foreign, func(*Claims) {})
	parts := strings.Split(tok, ".")
	fh, _ := base64.RawURLEncoding.DecodeString(strings.Split(foreignTok, ".")[0])
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(fh), stranger.ID(), cur.ID(), 1))) + "." + strings.Split(foreignTok, ".")[1] + "." + strings.Split(foreignTok, ".")[2]
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+testIssuer+`","aud":"`+testAudience+`","exp":9999999999,"sub":"admin"}`)) + "." + parts[2]
	noneTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+cur.ID()+`"}`)) + "." + parts[1] + "."
	hsTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"`+cur.ID()+`"}`)) + "." + parts[1] + "." + parts[2]

	tests := []struct {
		name  string
		token string
		opts  VerifyOptions
		want  error
	}{
		{"expired", tok, VerifyOptions{testIssuer, testAudience, now.Add(time.Hour), 0}, ErrTokenExpired},
		{"expired beyond leeway", tok, VerifyOptions{testIssuer, testAudience, now.Add(time.Hour + time.Minute), time.Minute}, ErrTokenExpired},
		{"wrong audience", tok, VerifyOptions{testIssuer, "https://other.example/fhir", now, 0}, ErrTokenAudience},
		{"wrong issuer", tok, VerifyOptions{"https://other.example", testAudience, now, 0}, ErrTokenIssuer},
		{"not yet valid", tok, VerifyOptions{testIssuer, testAudience, now.Add(-time.Minute), 0}, ErrTokenNotYet},
		{"unknown key", foreignTok, want, ErrTokenUnknownKey},
		{"forged kid", forged, want, ErrTokenSignature},
		{"tampered payload", tampered, want, ErrTokenSignature},
		{"alg none", noneTok, want, ErrTokenAlgorithm},
		{"alg HS256", hsTok, want, ErrTokenAlgorithm},
		{"garbage", "not.a.jwt", want, ErrTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], want, ErrTokenMalformed},
		{"no exp", jwtFor(t, jose.ES256, cur.private, cur.ID(), map[string]any{"iss": testIssuer, "aud": testAudience}), want, ErrTokenClaims},
		{"audience list", sign(ks, func(c *Claims) { c.Audience = Audience{"x", "y"} }), want, ErrTokenAudience},
	}
	for _, tt := range tests {
		_, err := ks.Verify(tt.token, tt.opts)
		if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	// Within leeway is accepted.
	if _, err := ks.Verify(tok, VerifyOptions{testIssuer, testAudience, now.Add(time.Hour + 30*time.Second), time.Minute}); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	for _, bad := range []VerifyOptions{{Audience: testAudience, Now: now}, {Issuer: testIssuer, Now: now}, {Issuer: testIssuer, Audience: testAudience}, {testIssuer, testAudience, now, time.Hour}} {
		if _, err := ks.Verify(tok, bad); err == nil {
			t.Errorf("VerifyOptions %+v: got nil error", bad)
		}
	}
}

func TestSignRequiresClaims(t *testing.T) {
	ks, _ := NewKeySet(mustKey(t))
	for name, claims := range map[string]any{
		"no exp":     map[string]any{"iss": "a", "aud": "b"},
		"no iss":     map[string]any{"aud": "b", "exp": 1},
		"no aud":     &Claims{Issuer: "a", Expiry: 1},
		"empty aud":  &Claims{Issuer: "a", Audience: Audience{}, Expiry: 1},
		"not object": "x",
	} {
		if _, err := ks.Sign(claims); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
}

func TestAudienceJSON(t *testing.T) {
	var c Claims
	if err := json.Unmarshal([]byte(`{"aud":["a","b"]}`), &c); err != nil || len(c.Audience) != 2 {
		t.Errorf("array aud: %v %v", c.Audience, err)
	}
	if err := json.Unmarshal([]byte(`{"aud":"a"}`), &c); err != nil || len(c.Audience) != 1 {
		t.Errorf("string aud: %v %v", c.Audience, err)
	}
	if err := json.Unmarshal([]byte(`{"aud":1}`), &c); err == nil {
		t.Error("numeric aud accepted")
	}
	b, _ := json.Marshal(Audience{"a"})
	if string(b) != `"a"` {
		t.Errorf("single aud marshals as %s", b)
	}
}

// jwtFor signs claims with a raw go-jose key, for client assertion tests.
func jwtFor(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzVerify checks that the token parser never panics and that whatever
// it accepts carries exactly the claims that were signed.
func FuzzVerify(f *testing.F) {
	now := keyTime
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, err := newKey(priv, now)
	if err != nil {
		f.Fatal(err)
	}
	ks, _ := NewKeySet(key)
	signed := accessClaims(now)
	tok, err := ks.Sign(signed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(strings.Replace(tok, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	opts := VerifyOptions{Issuer: testIssuer, Audience: testAudience, Now: now.Add(time.Minute)}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := ks.Verify(token, opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if diff := cmp.Diff(signed, c); diff != "" {
			t.Fatalf("accepted %q with other claims (-signed +got):\n%s", token, diff)
		}
	})
}
