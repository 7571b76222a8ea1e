package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestSecurityHeaders checks the middleware on handlers that answer in
// different ways; a handler's own Content-Security-Policy is kept.
func TestSecurityHeaders(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		wantCSP string
	}{
		{"body", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) }, defaultCSP},
		{"status only", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, defaultCSP},
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, defaultCSP},
		{"early hints first", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			w.Write([]byte("x"))
		}, "default-src 'self'"},
		{"own policy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
			w.Write([]byte("x"))
		}, "default-src 'self'; frame-ancestors 'none'"},
	}
	for _, c := range cases {
		for _, hsts := range []bool{false, true} {
			// A real server, not a ResponseRecorder: the recorder keeps
			// the header of a 1xx answer as the response's.
			srv := httptest.NewServer(securityHeaders(c.handler, hsts))
			resp, err := srv.Client().Get(srv.URL)
			srv.Close()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			checkSecurityHeaders(t, h, hsts)
			if got := h.Values("Content-Security-Policy"); len(got) != 1 || got[0] != c.wantCSP {
				t.Errorf("%s: Content-Security-Policy %q, want %q", c.name, got, c.wantCSP)
			}
		}
	}
}

// checkSecurityHeaders fails t unless h has the headers every answer
// carries, and HSTS exactly when tls.
func checkSecurityHeaders(t *testing.T, h http.Header, tls bool) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "frame-ancestors 'none'",
	}
	if tls {
		want["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
	} else if got := h.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("Strict-Transport-Security %q without TLS", got)
	}
	for name, value := range want {
		if got := h.Get(name); got != value && !(name == "Content-Security-Policy" && got != "") {
			t.Errorf("%s: %q, want %q", name, got, value)
		}
	}
}
