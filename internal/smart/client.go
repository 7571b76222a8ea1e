package smart

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// ClientType is how a client authenticates at the token endpoint.
type ClientType string

// The client types of SMART App Launch.
const (
	// ClientPublic cannot keep a secret (a browser or mobile app): it
	// authenticates with nothing but PKCE.
	ClientPublic ClientType = "public"
	// ClientSecret is confidential-symmetric: a client secret sent by
	// client_secret_basic or client_secret_post.
	ClientSecret ClientType = "confidential-secret"
	// ClientJWT is confidential-asymmetric: a JWT signed with a key of its
	// registered JWK Set (private_key_jwt), as SMART Backend Services need.
	ClientJWT ClientType = "confidential-jwt"
)

// Client is a registered OAuth 2.0 client (a SMART app or a backend
// service), stored as a record of kind "client" keyed by its ID.
type Client struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Type         ClientType `json:"type"`
	RedirectURIs []string   `json:"redirect_uris,omitempty"`
	// Scope is the most the client may be granted, a SMART scope string:
	// every token's scopes are the requested ones intersected with it.
	Scope string `json:"scope"`
	// SecretHash is the argon2id hash of a ClientSecret client's secret.
	SecretHash string `json:"secret_hash,omitempty"`
	// JWKS is a ClientJWT client's public JWK Set.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Role is the access role system/ tokens act with (backend services);
	// a client without one cannot use client_credentials.
	Role string `json:"role,omitempty"`
	// LaunchAllowed lets the client be launched from the EHR (the
	// "launch" scope with a launch id).
	LaunchAllowed bool `json:"launch_allowed,omitempty"`
	// CDSHooks lets a ClientJWT client call the CDS Hooks services with
	// JWTs signed by its keys.
	CDSHooks bool      `json:"cds_hooks,omitempty"`
	Created  time.Time `json:"created"`
}

// Scopes returns the client's allowed scopes.
func (c *Client) Scopes() auth.ScopeSet {
	s, _ := auth.ParseScopes(c.Scope) // checked on registration
	return s
}

func (c *Client) confidential() bool { return c.Type != ClientPublic }

// Clients registers and looks up clients in the store. Registering and
// removing a client is audited ("client-registered", "client-removed"),
// with the caller ctx carries as the agent.
type Clients struct {
	records  store.Records
	audit    AuditLog
	observer string
	now      func() time.Time
}

// NewClients returns the client registry kept in records, which records
// its audit events too (a store.Store does).
func NewClients(records store.Records) *Clients {
	a, _ := records.(AuditLog)
	return &Clients{records: records, audit: a, observer: "emr", now: time.Now}
}

// ErrInvalidClient is wrapped by the errors Add returns for a registration
// that does not make sense.
var ErrInvalidClient = errors.New("invalid client registration")

// Add registers c with a new random ID and returns it as stored. For a
// ClientSecret client it generates the secret and returns it, the only
// time it is shown; only its hash is stored. roles, when not nil, must
// know c.Role. Errors wrap ErrInvalidClient when c is not valid.
func (cs *Clients) Add(ctx context.Context, c Client, roles *access.Roles) (*Client, string, error) {
	if err := validateClient(&c, roles); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalidClient, err)
	}
	c.ID = randomID()
	c.Created = cs.now().UTC()
	var secret string
	if c.Type == ClientSecret {
		secret = auth.NewToken()
		h, err := auth.HashPassword(secret)
		if err != nil {
			return nil, "", err
		}
		c.SecretHash = h
	}
	value, err := json.Marshal(&c)
	if err != nil {
		return nil, "", fmt.Errorf("smart: add client: %w", err)
	}
	detail := fmt.Sprintf("%q, type %s, scope %q", c.Name, c.Type, c.Scope)
	if c.Role != "" {
		detail += ", role " + c.Role
	}
	if len(c.RedirectURIs) > 0 {
		detail += ", redirect " + strings.Join(c.RedirectURIs, " ")
	}
	if c.LaunchAllowed {
		detail += ", EHR launch"
	}
	ev := cs.clientEvent(ctx, "client-registered", c.ID, detail)
	if err := cs.writeWithAudit(ctx, &store.Record{Kind: KindClient, Key: c.ID, Value: value}, false, ev); err != nil {
		return nil, "", fmt.Errorf("smart: add client: %w", err)
	}
	return &c, secret, nil
}

// Get returns the client id, or an error of kind fhir.KindNotFound.
func (cs *Clients) Get(ctx context.Context, id string) (*Client, error) {
	if id == "" {
		return nil, fhir.Errorf(fhir.KindNotFound, "no client_id")
	}
	var c Client
	if _, err := getJSON(ctx, cs.records, KindClient, id, cs.now(), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// List returns every registered client, ordered by ID.
func (cs *Clients) List(ctx context.Context) ([]*Client, error) {
	recs, err := cs.records.ListRecords(ctx, KindClient, "")
	if err != nil {
		return nil, err
	}
	out := make([]*Client, 0, len(recs))
	for _, r := range recs {
		var c Client
		if err := json.Unmarshal(r.Value, &c); err != nil {
			return nil, fmt.Errorf("smart: client %s: %w", r.Key, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

// Remove deletes the client id. Its tokens stop working at once: the
// middleware and the token endpoint look the client up. It returns an
// error of kind fhir.KindNotFound when there is no such client.
func (cs *Clients) Remove(ctx context.Context, id string) error {
	c, err := cs.Get(ctx, id)
	if err != nil {
		return err
	}
	ev := cs.clientEvent(ctx, "client-removed", id, fmt.Sprintf("%q", c.Name))
	return cs.writeWithAudit(ctx, &store.Record{Kind: KindClient, Key: id}, true, ev)
}

// randomID returns 128 random bits in base64url whose first character is
// a letter or digit, so that an id never reads as a command-line flag.
func randomID() string {
	b := make([]byte, 16)
	for {
		rand.Read(b)
		if b[0]>>2 < 62 { // 62 and 63 encode as '-' and '_'
			return base64.RawURLEncoding.EncodeToString(b)
		}
	}
}

func validateClient(c *Client, roles *access.Roles) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" {
		return errors.New("a client needs a name")
	}
	switch c.Type {
	case ClientPublic, ClientSecret, ClientJWT:
	default:
		return fmt.Errorf("type %q: want %s, %s or %s", c.Type, ClientPublic, ClientSecret, ClientJWT)
	}
	if c.CDSHooks && c.Type != ClientJWT {
		return errors.New("a CDS Hooks client authenticates with its keys: --type jwt")
	}
	scopes, err := auth.ParseScopes(c.Scope)
	if err != nil {
		return err
	}
	if len(scopes) == 0 {
		return errors.New("a client needs at least one scope")
	}
	c.Scope = scopes.String()
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	system := slices.ContainsFunc(scopes, func(s auth.Scope) bool { return s.Context == "system" })
	user := slices.ContainsFunc(scopes, func(s auth.Scope) bool { return s.Context != "system" })
	if user && len(c.RedirectURIs) == 0 {
		return errors.New("patient/ and user/ scopes need a redirect URI (the authorisation code grant)")
	}
	if c.JWKS != nil && c.Type != ClientJWT {
		return errors.New("only a confidential-jwt client has a JWK Set")
	}
	if c.Type == ClientJWT {
		if err := checkClientJWKS(c.JWKS); err != nil {
			return err
		}
	}
	if system {
		if c.Type == ClientPublic {
			return errors.New("system/ scopes need a confidential client")
		}
		if c.Role == "" {
			return errors.New("system/ scopes need a role for the service to act with")
		}
	}
	if c.Role != "" {
		if !system {
			return errors.New("a role is only for clients with system/ scopes")
		}
		if roles != nil {
			if _, ok := roles.Role(c.Role); !ok {
				return fmt.Errorf("unknown role %q (known: %s)", c.Role, strings.Join(roles.Names(), ", "))
			}
		}
	}
	if c.LaunchAllowed && len(c.RedirectURIs) == 0 {
		return errors.New("an EHR-launched client needs a redirect URI")
	}
	return nil
}

// checkRedirectURI accepts an absolute URI without a fragment (RFC 6749
// 3.1.2): https, http only for a loopback host (native apps, RFC 8252),
// or a private-use scheme such as com.example.app.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("redirect URI %q must be an absolute URI without a fragment", s)
	}
	if u.Scheme == "http" {
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return fmt.Errorf("redirect URI %q: http is allowed only for localhost; use https", s)
		}
	}
	return nil
}

// checkClientJWKS requires a JWK Set of public signing keys only.
func checkClientJWKS(raw []byte) error {
	if len(raw) == 0 {
		return errors.New("a confidential-jwt client needs a JWK Set")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("JWK Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return errors.New("the JWK Set has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return fmt.Errorf("JWK %q holds private key material: register the public key only", k.KeyID)
		}
		if k.KeyID == "" {
			return errors.New("every JWK needs a kid: the client assertion names its key by kid")
		}
	}
	return nil
}
