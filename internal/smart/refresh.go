package smart

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
)

// refreshRecord is a refresh token (kind "refresh-token", key its hash,
// owner the user). Each use replaces it by a new one of the same family
// and marks it used; a used token presented again means one of the two
// copies was stolen, and the whole family is revoked.
type refreshRecord struct {
	grant
	Family string `json:"family"`
	Online bool   `json:"online,omitempty"`
	// FamilyExpires ends an online_access family however it is used.
	FamilyExpires time.Time `json:"family_expires,omitzero"`
	Used          bool      `json:"used,omitempty"`
	AccessJTI     string    `json:"access_jti,omitempty"`
	AccessExp     int64     `json:"access_exp,omitempty"`
}

// issueUserTokens signs an access token for g and, when g has
// offline_access or online_access, a refresh token of family (a new
// family when ""), returning the response and the stored refresh token's
// key.
func (s *Server) issueUserTokens(ctx context.Context, g grant, family string, familyExpires time.Time) (*tokenResponse, *auth.Claims, string, error) {
	tok, claims, err := s.issue(g, s.opts.AccessTokenTTL)
	if err != nil {
		return nil, nil, "", err
	}
	resp := &tokenResponse{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(s.opts.AccessTokenTTL / time.Second),
		Scope: g.Scope, Patient: g.Patient, Encounter: g.Encounter, user: g.User,
	}
	scopes, _ := auth.ParseScopes(g.Scope)
	offline, online := scopes.Has("offline_access"), scopes.Has("online_access")
	if !offline && !online {
		return resp, claims, "", nil
	}
	now := s.now()
	rt := refreshRecord{grant: g, Family: family, Online: !offline, AccessJTI: claims.ID, AccessExp: claims.Expiry}
	if family == "" {
		rt.Family = randomID()
	}
	expires := now.Add(s.opts.OfflineTTL)
	if rt.Online {
		// online_access lasts a working session from sign-in, not from
		// each refresh: there is no "user is still online" signal.
		rt.FamilyExpires = familyExpires
		if rt.FamilyExpires.IsZero() {
			rt.FamilyExpires = now.Add(s.opts.OnlineTTL)
		}
		expires = rt.FamilyExpires
	}
	refresh := auth.NewToken()
	key := auth.HashToken(refresh)
	if _, err := putJSON(ctx, s.opts.Records, KindRefresh, key, g.User, expires, &rt, 0); err != nil {
		return nil, nil, "", err
	}
	resp.RefreshToken = refresh
	return resp, claims, key, nil
}

// refresh is the refresh_token grant, with rotation and reuse detection.
func (s *Server) refresh(ctx context.Context, client *Client, form url.Values) (*tokenResponse, error) {
	token := form.Get("refresh_token")
	if token == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	key := auth.HashToken(token)
	var rt refreshRecord
	rec, err := getJSON(ctx, s.opts.Records, KindRefresh, key, s.now(), &rt)
	if err != nil {
		if isNotFound(err) {
			return nil, errInvalidGrant("unknown, expired or revoked refresh token")
		}
		return nil, err
	}
	if rt.ClientID != client.ID {
		return nil, errInvalidGrant("the refresh token was issued to another client")
	}
	if rt.Used {
		s.logger.Warn("smart: refresh token reused; revoking its family", "client", rt.ClientID, "user", rt.User)
		if err := s.revokeFamily(ctx, rt.User, rt.Family); err != nil {
			return nil, err
		}
		s.record(ctx, audit.Entry{Category: audit.CategoryUserAuthentication, Interaction: "token-revoked",
			Agent: audit.Agent{Client: rt.ClientID}, Subject: rt.User, Patient: patientRef(rt.Patient),
			Detail: "a used refresh token was presented again (stolen?): its family and the access tokens it gave are revoked"})
		return nil, errInvalidGrant("the refresh token has been used; sign in again")
	}
	if u, err := s.opts.Users.Get(ctx, rt.User); err != nil || u.Disabled {
		return nil, errInvalidGrant("the account is no longer active")
	}
	g := rt.grant
	if form.Has("scope") {
		requested, err := auth.ParseScopes(form.Get("scope"))
		if err != nil {
			return nil, errInvalidScope(err.Error())
		}
		original, _ := auth.ParseScopes(rt.Scope)
		narrowed := requested.Intersect(original)
		if len(narrowed) == 0 {
			return nil, errInvalidScope("the requested scopes were not granted")
		}
		g.Scope = narrowed.String()
	}
	rt.Used = true
	if _, err := putJSON(ctx, s.opts.Records, KindRefresh, key, rt.User, rec.Expires, &rt, rec.Version); err != nil {
		if lostRace(err) {
			return nil, errInvalidGrant("the refresh token has been used")
		}
		return nil, err
	}
	resp, _, _, err := s.issueUserTokens(ctx, g, rt.Family, rt.FamilyExpires)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// revokeFamily deletes every refresh token of a family and revokes the
// access tokens they gave.
func (s *Server) revokeFamily(ctx context.Context, user, family string) error {
	recs, err := s.opts.Records.ListRecords(ctx, KindRefresh, user)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		var rt refreshRecord
		if json.Unmarshal(rec.Value, &rt) != nil || rt.Family != family {
			continue
		}
		if err := s.revokeAccess(ctx, rt.AccessJTI, rt.AccessExp); err != nil {
			return err
		}
		if err := s.opts.Records.DeleteRecord(ctx, KindRefresh, rec.Key); err != nil {
			return err
		}
	}
	return nil
}
