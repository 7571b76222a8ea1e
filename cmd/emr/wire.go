package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/smart"
	"github.com/emr-project/emr/internal/store"
)

// accountUsers gives the SMART server the accounts: its sign-in form checks
// passwords and one-time codes with Accounts.Login, and each token's user
// is looked up again at every request (a disabled user's tokens stop).
type accountUsers struct{ accounts *auth.Accounts }

var errEnrolFirst = errors.New("the role needs a second factor: sign in to the web UI and enrol one first")

func (u accountUsers) Login(ctx context.Context, name, password, otp, addr string) (smart.User, error) {
	acc, err := u.accounts.Login(ctx, name, password, otp, addr)
	if err != nil {
		return smart.User{}, err
	}
	if acc.MFARequired {
		return smart.User{}, errEnrolFirst
	}
	return smartUser(acc), nil
}

func (u accountUsers) Get(ctx context.Context, name string) (smart.User, error) {
	acc, err := u.accounts.Get(ctx, name)
	if err != nil {
		return smart.User{}, err
	}
	return smartUser(acc), nil
}

func smartUser(acc *auth.Account) smart.User {
	return smart.User{Name: acc.Name, Role: acc.Role, FHIRUser: acc.FHIRUser, Patient: acc.Patient,
		MFARequired: acc.MFAEnabled, Disabled: acc.Disabled}
}

// withEmergencies adds the caller's break-glass grants to the Principal
// the bearer middleware put on the request.
func withEmergencies(bg *access.BreakGlass, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := access.PrincipalFrom(r.Context())
		if p == nil || p.User == "" {
			next.ServeHTTP(w, r)
			return
		}
		active, err := bg.Active(r.Context(), p.User)
		if err != nil {
			http.Error(w, "the server could not load the caller's access; try again", http.StatusServiceUnavailable)
			return
		}
		if len(active) > 0 {
			withGrants := *p
			withGrants.Emergencies = active
			r = r.WithContext(access.WithPrincipal(r.Context(), &withGrants))
		}
		next.ServeHTTP(w, r)
	})
}

// patientExists is the SMART server's check of a launch's patient.
func patientExists(st store.Store) func(ctx context.Context, id string) bool {
	return func(ctx context.Context, id string) bool {
		_, err := st.Read(ctx, "Patient", id)
		return err == nil
	}
}

// sameConfiguration serves the SMART configuration of the R5 base also at
// the R4 base's well-known path.
func sameConfiguration(s *smart.Server) http.Handler {
	h := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL = &url.URL{Path: s.ConfigurationPath(), RawQuery: r.URL.RawQuery}
		h.ServeHTTP(w, r2)
	})
}

// oauthURIs are the SMART endpoints the CapabilityStatement names.
func oauthURIs(s *smart.Server) map[string]string {
	conf := s.Configuration()
	out := map[string]string{}
	for name, key := range map[string]string{"authorize": "authorization_endpoint", "token": "token_endpoint",
		"revoke": "revocation_endpoint", "introspect": "introspection_endpoint"} {
		if u, ok := conf[key].(string); ok {
			out[name] = u
		}
	}
	return out
}
