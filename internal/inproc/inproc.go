// Package inproc calls an http.Handler in the same process and keeps what
// it answers: for a handler whose answer another one relays (the R4 API
// converting the R5 API's), or a caller without a network between it and
// the API (the HL7 v2 interface, the bench).
package inproc

import (
	"bytes"
	"net/http"
)

// Response is an http.ResponseWriter that keeps the status, the header and
// the body.
type Response struct {
	Status int
	header http.Header
	Body   bytes.Buffer
}

// NewResponse returns an empty Response.
func NewResponse() *Response { return &Response{header: http.Header{}} }

// Header implements http.ResponseWriter.
func (r *Response) Header() http.Header { return r.header }

// WriteHeader implements http.ResponseWriter: the first status stays.
func (r *Response) WriteHeader(status int) {
	if r.Status == 0 {
		r.Status = status
	}
}

// Write implements http.ResponseWriter: a body without a status is 200's.
func (r *Response) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.Body.Write(p)
}

// Serve runs h on req and returns its answer, 200 when it set no status.
func Serve(h http.Handler, req *http.Request) *Response {
	w := NewResponse()
	h.ServeHTTP(w, req)
	w.WriteHeader(http.StatusOK)
	return w
}
