package smart

import (
	"context"
	"net/url"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
)

// codeRecord is an authorisation code (kind "auth-code", key its hash).
// Once used it stays, marked, until the tokens it gave have expired, so
// that a second use can revoke them.
type codeRecord struct {
	grant
	RedirectURI string `json:"redirect_uri"`
	Challenge   string `json:"code_challenge"`
	Method      string `json:"code_challenge_method"`
	Used        bool   `json:"used,omitempty"`
	AccessJTI   string `json:"access_jti,omitempty"`
	AccessExp   int64  `json:"access_exp,omitempty"`
	RefreshHash string `json:"refresh_hash,omitempty"`
}

// exchangeCode is the authorization_code grant: the code once, by the
// client it was issued to, with the same redirect_uri and the PKCE
// verifier of its challenge.
func (s *Server) exchangeCode(ctx context.Context, client *Client, form url.Values) (*tokenResponse, error) {
	code := form.Get("code")
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	key := auth.HashToken(code)
	var c codeRecord
	rec, err := getJSON(ctx, s.opts.Records, KindAuthCode, key, s.now(), &c)
	if err != nil {
		if isNotFound(err) {
			return nil, errInvalidGrant("unknown or expired code")
		}
		return nil, err
	}
	if c.ClientID != client.ID {
		return nil, errInvalidGrant("the code was issued to another client")
	}
	if c.Used {
		// RFC 6749 4.1.2 and the OAuth security BCP: a code used twice
		// was probably stolen; take back what the first use gave.
		s.logger.Warn("smart: authorisation code used twice; revoking its tokens", "client", c.ClientID, "user", c.User)
		if err := s.revokeCodeTokens(ctx, &c); err != nil {
			return nil, err
		}
		s.record(ctx, audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-revoked",
			Agent: audit.Agent{Client: c.ClientID}, Subject: c.User, Patient: patientRef(c.Patient),
			Detail: "an authorisation code was used twice (stolen?): the tokens its first use gave are revoked"})
		return nil, errInvalidGrant("the code has been used")
	}
	// Claim the code before anything else: of two concurrent exchanges
	// only one can write this version.
	c.Used = true
	expires := s.now().Add(s.opts.AccessTokenTTL + leeway)
	version, err := putJSON(ctx, s.opts.Records, KindAuthCode, key, "", expires, &c, rec.Version)
	if err != nil {
		if lostRace(err) {
			return nil, errInvalidGrant("the code has been used")
		}
		return nil, err
	}
	if form.Get("redirect_uri") != c.RedirectURI {
		return nil, errInvalidGrant("redirect_uri differs from the authorisation request's")
	}
	if err := auth.VerifyPKCE(form.Get("code_verifier"), c.Challenge, c.Method); err != nil {
		return nil, errInvalidGrant("PKCE verification failed: the code_verifier does not match the code_challenge")
	}
	resp, access, refreshHash, err := s.issueUserTokens(ctx, c.grant, "", time.Time{})
	if err != nil {
		return nil, err
	}
	c.AccessJTI, c.AccessExp, c.RefreshHash = access.ID, access.Expiry, refreshHash
	if _, err := putJSON(ctx, s.opts.Records, KindAuthCode, key, "", expires, &c, version); err != nil {
		return nil, err
	}
	return resp, nil
}

// revokeCodeTokens revokes the access token and the refresh token family
// a code gave.
func (s *Server) revokeCodeTokens(ctx context.Context, c *codeRecord) error {
	if err := s.revokeAccess(ctx, c.AccessJTI, c.AccessExp); err != nil {
		return err
	}
	if c.RefreshHash == "" {
		return nil
	}
	var rt refreshRecord
	if _, err := getJSON(ctx, s.opts.Records, KindRefresh, c.RefreshHash, s.now(), &rt); err != nil {
		if isNotFound(err) {
			return nil
		}
		return err
	}
	return s.revokeFamily(ctx, rt.User, rt.Family)
}
