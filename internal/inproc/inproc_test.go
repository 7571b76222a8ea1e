package inproc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestServe(t *testing.T) {
	for name, c := range map[string]struct {
		h      http.HandlerFunc
		status int
		body   string
	}{
		"nothing written": {func(w http.ResponseWriter, r *http.Request) {}, 200, ""},
		"body alone":      {func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }, 200, "ok"},
		"first status stays": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "x")
			w.WriteHeader(201)
			w.WriteHeader(500)
			w.Write([]byte("made"))
		}, 201, "made"},
	} {
		got := Serve(c.h, httptest.NewRequest("GET", "/", nil))
		if got.Status != c.status || got.Body.String() != c.body {
			t.Errorf("%s: %d %q, want %d %q", name, got.Status, got.Body.String(), c.status, c.body)
		}
	}
	if got := Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("ETag", `W/"1"`) }), httptest.NewRequest("GET", "/", nil)); got.Header().Get("ETag") != `W/"1"` {
		t.Errorf("header %v", got.Header())
	}
}
