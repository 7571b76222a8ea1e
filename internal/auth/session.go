package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// SessionKind is the store record kind of web sessions: the key is
// HashToken of the session token (the token itself is never stored), the
// owner the user key, and the record expires at the absolute timeout.
const SessionKind = "session"

// ErrNoSession is returned by Sessions.Check for a token that is unknown,
// expired (idle or absolute timeout), revoked, or whose user can no
// longer sign in (disabled, password changed since). Send the user to
// the sign-in page.
var ErrNoSession = errors.New("no valid session; please sign in")

// Sessions are the web UI's sign-ins, kept in the store so that any copy
// of the server can check them.
type Sessions struct {
	store    store.Store
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration
	touch    time.Duration
}

// SessionOptions configures Sessions; the zero value is the default.
type SessionOptions struct {
	Now func() time.Time // the clock; nil means time.Now
	// Idle ends a session not used for this long (default 15 minutes).
	Idle time.Duration
	// Absolute ends a session this long after sign-in, used or not
	// (default 12 hours).
	Absolute time.Duration
}

// NewSessions returns the sessions kept in st.
func NewSessions(st store.Store, opts SessionOptions) *Sessions {
	s := &Sessions{store: st, now: opts.Now, idle: opts.Idle, absolute: opts.Absolute, touch: time.Minute}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idle <= 0 {
		s.idle = 15 * time.Minute
	}
	if s.absolute <= 0 {
		s.absolute = 12 * time.Hour
	}
	// Recording every request would be a write per request: lastSeen is
	// updated at most once a minute (or a tenth of the idle timeout, if
	// shorter), so a session may end up to that much later than idle.
	s.touch = min(s.touch, s.idle/10)
	return s
}

// Session is one sign-in to the web UI.
type Session struct {
	ID        string // the record key: HashToken of the token, safe to show and to Revoke by
	User      string // the user key (lower-case name)
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time // the absolute timeout
	Addr      string    // where the sign-in came from
	UserAgent string
	// MFA says a second factor was checked at sign-in; MFARequired that
	// the role needs one the user has not enrolled, so the session may
	// only enrol. Both are fixed at Create: after ConfirmMFA, revoke the
	// session and have the user sign in again with a code.
	MFA         bool
	MFARequired bool
	csrfKey     []byte
}

// sessionRecord is the stored JSON of a session.
type sessionRecord struct {
	User        string    `json:"user"`
	Created     time.Time `json:"created"`
	LastSeen    time.Time `json:"lastSeen"`
	Addr        string    `json:"addr,omitempty"`
	UserAgent   string    `json:"userAgent,omitempty"`
	MFA         bool      `json:"mfa,omitempty"`
	MFARequired bool      `json:"mfaRequired,omitempty"`
	CSRFKey     []byte    `json:"csrfKey"` // random, base64 in JSON
}

func (r *sessionRecord) session(rec *store.Record) *Session {
	return &Session{ID: rec.Key, User: r.User, Created: r.Created, LastSeen: r.LastSeen, Expires: rec.Expires,
		Addr: r.Addr, UserAgent: r.UserAgent, MFA: r.MFA, MFARequired: r.MFARequired, csrfKey: r.CSRFKey}
}

// Create starts a session for an account Login returned and gives its
// token, for the cookie (SessionCookie). The token is shown only here.
func (s *Sessions) Create(ctx context.Context, acc *Account, addr, userAgent string) (string, *Session, error) {
	now := s.now()
	token := NewToken()
	r := &sessionRecord{User: UserKey(acc.Name), Created: now, LastSeen: now, Addr: addr, UserAgent: truncate(userAgent, 256),
		MFA: acc.MFAVerified, MFARequired: acc.MFARequired, CSRFKey: []byte(NewToken())}
	body, err := json.Marshal(r)
	if err != nil {
		return "", nil, err
	}
	rec := &store.Record{Kind: SessionKind, Key: HashToken(token), Owner: r.User, Expires: now.Add(s.absolute), Value: body}
	if rec.Version, err = s.store.PutRecord(ctx, rec, 0); err != nil {
		return "", nil, fmt.Errorf("auth: create session for %s: %w", acc.Name, err)
	}
	return token, r.session(rec), nil
}

// IdleTimeout is how long an unused session lasts.
func (s *Sessions) IdleTimeout() time.Duration { return s.idle }

// Check returns the session of token, or ErrNoSession. It enforces the
// idle and absolute timeouts and ends the session of a user who was
// disabled or whose password changed after it began.
func (s *Sessions) Check(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, ErrNoSession
	}
	key := HashToken(token)
	rec, err := s.store.GetRecord(ctx, SessionKind, key)
	if fhir.IsKind(err, fhir.KindNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("auth: check session: %w", err)
	}
	var r sessionRecord
	if err := json.Unmarshal(rec.Value, &r); err != nil {
		return nil, fmt.Errorf("auth: session record: %w", err)
	}
	now := s.now()
	if !now.Before(rec.Expires) || now.Sub(r.LastSeen) >= s.idle || !s.userValid(ctx, &r) {
		_ = s.store.DeleteRecord(ctx, SessionKind, key)
		return nil, ErrNoSession
	}
	if now.Sub(r.LastSeen) >= s.touch {
		r.LastSeen = now
		if body, err := json.Marshal(&r); err == nil {
			next := *rec
			next.Value = body
			// A concurrent request may have touched it first: either is fine.
			if v, err := s.store.PutRecord(ctx, &next, rec.Version); err == nil {
				rec = &next
				rec.Version = v
			}
		}
	}
	return r.session(rec), nil
}

// userValid reports whether the session's user may still be signed in.
func (s *Sessions) userValid(ctx context.Context, r *sessionRecord) bool {
	rec, err := s.store.GetRecord(ctx, UserKind, r.User)
	if err != nil {
		return false
	}
	u, err := decodeUser(rec)
	return err == nil && !u.Disabled && !u.PasswordChanged.After(r.Created)
}

// List returns the current sessions of user.
func (s *Sessions) List(ctx context.Context, user string) ([]*Session, error) {
	recs, err := s.store.ListRecords(ctx, SessionKind, UserKey(user))
	if err != nil {
		return nil, fmt.Errorf("auth: list sessions of %s: %w", user, err)
	}
	now := s.now()
	var out []*Session
	for _, rec := range recs {
		var r sessionRecord
		if err := json.Unmarshal(rec.Value, &r); err != nil {
			return nil, fmt.Errorf("auth: session record: %w", err)
		}
		if now.Sub(r.LastSeen) < s.idle && now.Before(rec.Expires) {
			out = append(out, r.session(rec))
		}
	}
	return out, nil
}

// Revoke ends the session id (Session.ID); an unknown id is not an error.
func (s *Sessions) Revoke(ctx context.Context, id string) error {
	if err := s.store.DeleteRecord(ctx, SessionKind, id); err != nil {
		return fmt.Errorf("auth: revoke session: %w", err)
	}
	return nil
}

// RevokeAll ends every session of user and says how many there were.
func (s *Sessions) RevokeAll(ctx context.Context, user string) (int, error) {
	recs, err := s.store.ListRecords(ctx, SessionKind, UserKey(user))
	if err != nil {
		return 0, fmt.Errorf("auth: revoke sessions of %s: %w", user, err)
	}
	for _, rec := range recs {
		if err := s.Revoke(ctx, rec.Key); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}

// CSRFToken returns the token forms of s must carry: an HMAC of the
// session id under the session's random key, so it is stable for the
// session and useless for any other.
func CSRFToken(s *Session) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("csrf\x00" + s.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the CSRF token of s, in constant time.
func CheckCSRF(s *Session, token string) bool {
	if s == nil || len(s.csrfKey) == 0 || token == "" {
		return false
	}
	return hmac.Equal([]byte(CSRFToken(s)), []byte(token))
}

// SessionCookie returns the cookie carrying token: HttpOnly, SameSite=Lax,
// Path=/, and when secure (HTTPS) Secure with the __Host- prefix, which
// browsers bind to this host. It lasts as long as the browser (the server
// enforces the timeouts).
func SessionCookie(token string, secure bool) *http.Cookie {
	c := &http.Cookie{Name: SessionCookieName(secure), Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: secure}
	if token == "" { // clearing it, at sign-out
		c.MaxAge = -1
	}
	return c
}

// SessionCookieName is the name SessionCookie gives the cookie.
func SessionCookieName(secure bool) string {
	if secure {
		return "__Host-emr_session"
	}
	return "emr_session"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
