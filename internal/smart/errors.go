package smart

import (
	"encoding/json"
	"net/http"
)

// oauthError is an OAuth 2.0 error response (RFC 6749 5.2): a code from
// the RFC, a description safe to show, and the HTTP status.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{Code: "invalid_request", Description: desc, status: http.StatusBadRequest}
}
func errInvalidClient(desc string) *oauthError {
	return &oauthError{Code: "invalid_client", Description: desc, status: http.StatusUnauthorized}
}
func errInvalidGrant(desc string) *oauthError {
	return &oauthError{Code: "invalid_grant", Description: desc, status: http.StatusBadRequest}
}
func errInvalidScope(desc string) *oauthError {
	return &oauthError{Code: "invalid_scope", Description: desc, status: http.StatusBadRequest}
}
func errUnauthorizedClient(desc string) *oauthError {
	return &oauthError{Code: "unauthorized_client", Description: desc, status: http.StatusBadRequest}
}
func errUnsupportedGrant(desc string) *oauthError {
	return &oauthError{Code: "unsupported_grant_type", Description: desc, status: http.StatusBadRequest}
}
func errServer() *oauthError {
	return &oauthError{Code: "server_error", Description: "the server could not complete the request", status: http.StatusInternalServerError}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeOAuthError answers e; any other error is logged and answered as
// server_error.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := err.(*oauthError)
	if !ok {
		s.logger.Error("smart: request failed", "path", r.URL.Path, "err", err)
		e = errServer()
	}
	if e.status == http.StatusUnauthorized && r.Header.Get("Authorization") != "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="emr"`)
	}
	writeJSON(w, e.status, e)
}
