package main

import "net/http"

// securityHeaders sets the response headers that every answer of the
// server carries: no content sniffing, no referrer, no framing, and, when
// hsts (the server speaks only TLS), Strict-Transport-Security. Cache-Control
// is not among them: the API sets it where patient data is answered.
func securityHeaders(next http.Handler, hsts bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		cw := &cspWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		// A handler that wrote nothing is answered by the server, with
		// these headers.
		cw.addDefault()
	})
}

// defaultCSP forbids framing only. A page that sets its own, fuller
// Content-Security-Policy keeps it: the header is added at WriteHeader
// when the handler has not set one.
const defaultCSP = "frame-ancestors 'none'"

// cspWriter adds defaultCSP to a response whose handler set no policy.
type cspWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

// addDefault sets defaultCSP unless the handler set a policy, once,
// before the response's header is written.
func (w *cspWriter) addDefault() {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if h := w.Header(); h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", defaultCSP)
	}
}

func (w *cspWriter) WriteHeader(code int) {
	// A 1xx answer is not the response: its header comes later.
	if code >= 200 {
		w.addDefault()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cspWriter) Write(b []byte) (int, error) {
	w.addDefault()
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming answers streaming.
func (w *cspWriter) Flush() {
	w.addDefault()
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *cspWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
