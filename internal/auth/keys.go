package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key is an ES256 (ECDSA P-256) key for signing access tokens. Its ID is
// the RFC 7638 thumbprint of the public key, so the ID cannot disagree
// with the key. A Key holds private material: store it with PrivateJSON,
// load it with ParseKey. Printing a Key shows only its ID.
type Key struct {
	id      string
	created time.Time
	private *ecdsa.PrivateKey
}

// GenerateKey returns a new random signing key created at the given time.
func GenerateKey(created time.Time) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key: %w", err)
	}
	return newKey(priv, created)
}

func newKey(priv *ecdsa.PrivateKey, created time.Time) (*Key, error) {
	kid, err := thumbprint(jose.JSONWebKey{Key: priv.Public()})
	if err != nil {
		return nil, err
	}
	return &Key{id: kid, created: created.UTC(), private: priv}, nil
}

// thumbprint is the RFC 7638 SHA-256 JWK thumbprint in unpadded base64url.
func thumbprint(k jose.JSONWebKey) (string, error) {
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("auth: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// ID returns the key id ("kid"), the RFC 7638 thumbprint.
func (k *Key) ID() string { return k.id }

// Created returns when the key was generated, for rotation decisions.
func (k *Key) Created() time.Time { return k.created }

// String returns the key id only, so logging a Key cannot leak it.
func (k *Key) String() string { return "auth.Key(" + k.id + ")" }

// GoString is String, for %#v.
func (k *Key) GoString() string { return k.String() }

// storedKey is the JSON form of a Key: the private JWK and its creation time.
type storedKey struct {
	Created time.Time        `json:"created"`
	JWK     *jose.JSONWebKey `json:"jwk"`
}

// PrivateJSON returns the key, private part included, as JSON
// ({"created": …, "jwk": {…private JWK…}}) for the caller to store.
// Treat the result as a secret.
func (k *Key) PrivateJSON() ([]byte, error) {
	jwk := &jose.JSONWebKey{Key: k.private, KeyID: k.id, Algorithm: string(jose.ES256), Use: "sig"}
	return json.Marshal(storedKey{Created: k.created, JWK: jwk})
}

// ParseKey reads a key written by PrivateJSON. It fails unless the JSON
// holds a P-256 private key whose kid is its thumbprint.
func ParseKey(data []byte) (*Key, error) {
	var s storedKey
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("auth: parse key: %w", err)
	}
	if s.JWK == nil {
		return nil, errors.New("auth: parse key: no jwk")
	}
	priv, ok := s.JWK.Key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, errors.New("auth: parse key: not an ECDSA P-256 private key")
	}
	k, err := newKey(priv, s.Created)
	if err != nil {
		return nil, err
	}
	if s.JWK.KeyID != k.id {
		return nil, fmt.Errorf("auth: parse key: kid %q is not the key's thumbprint %q", s.JWK.KeyID, k.id)
	}
	return k, nil
}

// KeySet holds the key that signs new tokens and older keys that still
// verify tokens signed before a rotation. A KeySet is immutable and safe
// for concurrent use; to rotate, build a new one and swap it in (for
// example through an atomic.Pointer).
//
// A rotation that no client notices: generate a key and publish it as a
// verify-only key for at least one JWKS cache lifetime; then make it the
// signing key and keep the old one verify-only until the longest access
// token signed with it has expired; then drop the old key.
type KeySet struct {
	signing *Key
	keys    map[string]*Key // signing and verify-only, by kid
	jwks    []byte
}

// NewKeySet returns a KeySet that signs with signing and verifies with
// signing and verifyOnly. It fails if signing is nil or two keys share an id.
func NewKeySet(signing *Key, verifyOnly ...*Key) (*KeySet, error) {
	if signing == nil || signing.private == nil {
		return nil, errors.New("auth: new key set: no signing key")
	}
	s := &KeySet{signing: signing, keys: map[string]*Key{}}
	var set jose.JSONWebKeySet
	for _, k := range append([]*Key{signing}, verifyOnly...) {
		if k == nil || k.private == nil {
			return nil, errors.New("auth: new key set: nil key")
		}
		if s.keys[k.id] != nil {
			return nil, fmt.Errorf("auth: new key set: key %s given twice", k.id)
		}
		s.keys[k.id] = k
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key: k.private.Public(), KeyID: k.id, Algorithm: string(jose.ES256), Use: "sig",
		})
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("auth: new key set: %w", err)
	}
	s.jwks = jwks
	return s, nil
}

// JWKS returns the public keys as a JSON Web Key Set, to serve at the
// jwks_uri. It never contains private material.
func (s *KeySet) JWKS() []byte { return append([]byte(nil), s.jwks...) }

// Sign returns a compact JWS (a JWT) of claims, signed with ES256 by the
// signing key, with its kid and typ "JWT" in the header. claims is usually
// a *Claims; it must marshal to a JSON object with iss, aud and exp, or
// Sign fails, so a token that never expires cannot be issued by mistake.
func (s *KeySet) Sign(claims any) (string, error) {
	raw, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", fmt.Errorf("auth: sign: claims are not a JSON object: %w", err)
	}
	for _, name := range []string{"iss", "aud", "exp"} {
		if v, ok := fields[name]; !ok || string(v) == "null" || string(v) == `""` || string(v) == "0" || string(v) == "[]" {
			return "", fmt.Errorf("auth: sign: claim %q is required", name)
		}
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: s.signing.private, KeyID: s.signing.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	// Sign the bytes as marshalled: the claims reach the client exactly as
	// the caller's type encodes them.
	jws, err := signer.Sign(raw)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return jws.CompactSerialize()
}
