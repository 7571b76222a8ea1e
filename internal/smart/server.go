package smart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/store"
)

// User is an account as the authorisation server needs it.
type User struct {
	Name     string
	Role     string // an access role, e.g. "physician" or "patient"
	FHIRUser string // "Practitioner/123", "Patient/456" or ""
	Patient  string // for a patient user: the id of the Patient they are
	// MFARequired says the account must sign in with a one-time code;
	// Login enforces it, the login page always asks for one.
	MFARequired bool
	Disabled    bool
}

// Users authenticates and looks up accounts; the accounts package
// implements it.
type Users interface {
	// Login checks name, password and one-time code (empty when the
	// account needs none) from the client at addr, applying lockout, and
	// returns the account. Any error means the login failed; it is shown
	// to nobody but the log.
	Login(ctx context.Context, name, password, otp, addr string) (User, error)
	// Get returns the account name, or an error when there is none.
	Get(ctx context.Context, name string) (User, error)
}

// Options configure a Server. Records, Users and FHIRBase are required.
type Options struct {
	Records store.Records
	Users   Users
	// PatientExists reports whether Patient/id exists, for the patient
	// picker and EHR launches; nil accepts any id.
	PatientExists func(ctx context.Context, id string) bool
	// FHIRBase is the public URL of the FHIR API, e.g.
	// https://emr.example.org/fhir: the aud every token must name.
	FHIRBase string
	// Issuer is the URL the OAuth endpoints live under and the iss of
	// tokens; by default FHIRBase without its last path element (the
	// origin for …/fhir).
	Issuer string

	AccessTokenTTL  time.Duration // user tokens; default 1 h
	BackendTokenTTL time.Duration // client_credentials tokens; default and at most 5 min
	OfflineTTL      time.Duration // offline_access refresh tokens, from each use; default 30 days
	OnlineTTL       time.Duration // online_access refresh tokens, from sign-in; default 8 h
	KeyRotation     time.Duration // age at which the signing key is replaced; default 30 days
	KeyRefresh      time.Duration // how often Run reloads the keys; default 1 min

	// Audit records the server's grants, refusals, revocations and
	// launches (see audit.go); by default Records, when it is a store that
	// can (store.Store is).
	Audit AuditLog
	// Observer names this server in AuditEvent.source; default "emr".
	Observer string

	Logger *slog.Logger
	Now    func() time.Time // the clock; tests set it
}

// Paths of the endpoints under Issuer.
const (
	PathAuthorize  = "/oauth/authorize"
	PathToken      = "/oauth/token"
	PathRevoke     = "/oauth/revoke"
	PathIntrospect = "/oauth/introspect"
	PathJWKS       = "/oauth/jwks"
	PathLaunch     = "/oauth/launch"
)

// Lifetimes that are not configurable.
const (
	codeTTL        = 60 * time.Second
	launchTTL      = 5 * time.Minute
	authRequestTTL = 10 * time.Minute
	maxBackendTTL  = 5 * time.Minute
	leeway         = time.Minute
)

// Server is the SMART authorisation server.
type Server struct {
	opts    Options
	clients *Clients
	keys    *signingKeys
	fhirURL *url.URL // FHIRBase parsed: its path is where the API is mounted
	issuer  string
	logger  *slog.Logger
	now     func() time.Time
}

// New returns a server, loading the signing keys (and making the first
// one if the store has none).
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Records == nil || opts.Users == nil {
		return nil, errors.New("smart: Records and Users are required")
	}
	if opts.Audit == nil {
		a, ok := opts.Records.(AuditLog)
		if !ok {
			return nil, errors.New("smart: Audit is required when Records cannot record audit events")
		}
		opts.Audit = a
	}
	if opts.Observer == "" {
		opts.Observer = "emr"
	}
	fu, err := url.Parse(opts.FHIRBase)
	if err != nil || !fu.IsAbs() || fu.Host == "" || fu.RawQuery != "" || fu.Fragment != "" {
		return nil, fmt.Errorf("smart: FHIRBase %q is not an absolute URL", opts.FHIRBase)
	}
	opts.FHIRBase = strings.TrimSuffix(opts.FHIRBase, "/")
	fu.Path = strings.TrimSuffix(fu.Path, "/")
	if opts.Issuer == "" {
		i := *fu
		i.Path = i.Path[:max(strings.LastIndex(i.Path, "/"), 0)]
		opts.Issuer = i.String()
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.AccessTokenTTL, time.Hour)
	def(&opts.BackendTokenTTL, maxBackendTTL)
	opts.BackendTokenTTL = min(opts.BackendTokenTTL, maxBackendTTL)
	def(&opts.OfflineTTL, 30*24*time.Hour)
	def(&opts.OnlineTTL, 8*time.Hour)
	def(&opts.KeyRotation, 30*24*time.Hour)
	def(&opts.KeyRefresh, time.Minute)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, fhirURL: fu, issuer: opts.Issuer, logger: opts.Logger, now: opts.Now}
	s.clients = &Clients{records: opts.Records, audit: opts.Audit, observer: opts.Observer, now: opts.Now}
	s.keys = &signingKeys{
		records:     opts.Records,
		rotateAfter: opts.KeyRotation,
		// A replaced key may still sign on other servers until they
		// reload, and what it signed lives one token lifetime more.
		retain: max(opts.AccessTokenTTL, opts.BackendTokenTTL) + 2*opts.KeyRefresh + 2*leeway,
		now:    opts.Now,
		logger: opts.Logger,
	}
	if err := s.keys.reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Clients returns the client registry.
func (s *Server) Clients() *Clients { return s.clients }

// Run reloads the signing keys every KeyRefresh (rotating them when due)
// and removes expired records (used codes, assertion ids, revoked token
// ids…) every hour, until ctx is done.
func (s *Server) Run(ctx context.Context) {
	reload := time.NewTicker(s.opts.KeyRefresh)
	defer reload.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload.C:
			if err := s.keys.reload(ctx); err != nil {
				s.logger.Error("smart: reload signing keys", "err", err)
			}
		case <-purge.C:
			if n, err := s.opts.Records.DeleteExpiredRecords(ctx, s.now()); err != nil {
				s.logger.Error("smart: delete expired records", "err", err)
			} else if n > 0 {
				s.logger.Debug("smart: deleted expired records", "count", n)
			}
		}
	}
}

// RefreshKeys reloads the signing keys now, rotating them when due.
func (s *Server) RefreshKeys(ctx context.Context) error { return s.keys.reload(ctx) }

// endpoint returns the absolute URL of an endpoint path.
func (s *Server) endpoint(path string) string { return s.issuer + path }

// ConfigurationPath is where the SMART configuration is served: the FHIR
// base's path and /.well-known/smart-configuration. A server that mounts
// the FHIR API on the base path must route this path to Handler.
func (s *Server) ConfigurationPath() string {
	return s.fhirURL.Path + "/.well-known/smart-configuration"
}

// Handler serves the endpoints: the SMART configuration at
// ConfigurationPath and the OAuth endpoints under /oauth. Mount it at "/"
// or on those paths.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+s.ConfigurationPath(), crossOrigin(http.HandlerFunc(s.configuration)))
	mux.Handle("GET "+PathJWKS, crossOrigin(http.HandlerFunc(s.jwks)))
	mux.HandleFunc("GET "+PathAuthorize, s.authorize)
	mux.HandleFunc("POST "+PathAuthorize, s.authorizeSubmit)
	for path, h := range map[string]http.HandlerFunc{PathToken: s.token, PathRevoke: s.revoke, PathIntrospect: s.introspect} {
		mux.Handle("POST "+path, crossOrigin(h))
		mux.Handle("OPTIONS "+path, crossOrigin(nil))
	}
	mux.Handle("POST "+PathLaunch, s.Authenticate(http.HandlerFunc(s.launch)))
	return mux
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.keys.current().JWKS())
}

// Configuration is the SMART configuration document
// (.well-known/smart-configuration).
func (s *Server) Configuration() map[string]any {
	return map[string]any{
		"issuer":                                           s.issuer,
		"jwks_uri":                                         s.endpoint(PathJWKS),
		"authorization_endpoint":                           s.endpoint(PathAuthorize),
		"token_endpoint":                                   s.endpoint(PathToken),
		"revocation_endpoint":                              s.endpoint(PathRevoke),
		"introspection_endpoint":                           s.endpoint(PathIntrospect),
		"grant_types_supported":                            []string{"authorization_code", "client_credentials", "refresh_token"},
		"response_types_supported":                         []string{"code"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"token_endpoint_auth_methods_supported":            []string{"private_key_jwt", "client_secret_basic", "client_secret_post"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"scopes_supported": []string{
			"launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
			"patient/*.cruds", "patient/*.rs", "user/*.cruds", "user/*.rs", "system/*.cruds", "system/*.rs",
		},
		"capabilities": []string{
			"launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
			"client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
			"context-standalone-patient", "permission-offline", "permission-online",
			"permission-patient", "permission-user", "permission-v1", "permission-v2",
		},
	}
}

func (s *Server) configuration(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, s.Configuration())
}

// crossOrigin lets browser apps on other origins (SMART public clients)
// read the configuration and keys and call the token endpoints. It is safe
// with any origin because these endpoints use no cookies: the request
// carries all its credentials. A nil next answers the CORS preflight.
func crossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if next == nil {
			h.Set("Access-Control-Allow-Methods", "POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
