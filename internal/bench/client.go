package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/emr-project/emr/internal/inproc"
)

// Client sends one request to the EMR and returns the status and body.
// Paths start at the server root ("/fhir/Patient/…").
type Client interface {
	Do(ctx context.Context, method, path string, body []byte) (status int, respBody []byte, err error)
}

// InProcess calls h directly, without a network: latencies are the
// server's own (routing, access, store, encoding), not the TCP stack's.
func InProcess(h http.Handler) Client { return handlerClient{h} }

type handlerClient struct{ h http.Handler }

func (c handlerClient) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://bench.invalid"+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	w := inproc.Serve(c.h, req)
	return w.Status, w.Body.Bytes(), nil
}

// OverHTTP sends requests to base (e.g. http://127.0.0.1:8080) with hc:
// the whole path a remote client's request takes.
func OverHTTP(base string, hc *http.Client) Client { return httpClient{base, hc} }

type httpClient struct {
	base string
	hc   *http.Client
}

func (c httpClient) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, data, nil
}
