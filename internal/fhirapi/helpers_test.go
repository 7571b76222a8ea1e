package fhirapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpatch"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// testServer is the API on a fresh SQLite database in a temp directory,
// or a fresh PostgreSQL database while TestOnPostgres runs.
type testServer struct {
	t       testing.TB
	store   store.Store
	handler http.Handler
	dbPath  string
	api     *fhirapi.Server
}

func newTestServer(t testing.TB, opts ...func(*fhirapi.Options)) *testServer {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "emr.db")
	defs := spec.R5()
	var st *sqlstore.DB
	var err error
	// As cmd/emr opens it: patients' blocking keys indexed for the matcher.
	extractor := mpi.WithKeys(search.NewExtractor(defs))
	if onPostgres {
		st, err = sqlstore.OpenPostgres(context.Background(), postgresDSN(t), sqlstore.Options{Extractor: extractor})
	} else {
		st, err = sqlstore.OpenSQLite(context.Background(), dbPath, sqlstore.Options{Extractor: extractor})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o := fhirapi.Options{
		Store:       st,
		Gate:        access.NewGate(st, access.AllowAll{}, "test"),
		Validator:   validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs))),
		Model:       defs.APIModel(),
		Definitions: defs,
		Patch:       (&fhirpatch.Patcher{Model: defs.FHIRPathModel()}).Apply,
		PatchR4:     (&fhirpatch.Patcher{Model: r4.FHIRPathModel()}).Apply,
		BaseURL:     "http://emr.test/fhir",
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	api := fhirapi.New(o)
	r5, r4 := api.Mount("/fhir"), api.MountR4("/fhir/R4")
	// As cmd/emr mounts them: /fhir/R4 first.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fhir/R4" || strings.HasPrefix(r.URL.Path, "/fhir/R4/") {
			r4.ServeHTTP(w, r)
			return
		}
		r5.ServeHTTP(w, r)
	})
	return &testServer{t: t, store: st, handler: handler, dbPath: dbPath, api: api}
}

// result is a recorded HTTP answer.
type result struct {
	status int
	header http.Header
	body   []byte
}

// json parses the body as a resource, failing the test if it is not one.
func (r result) resource(t testing.TB) fhir.Resource {
	t.Helper()
	res, err := fhir.ParseResource(r.body)
	if err != nil {
		t.Fatalf("body is not a resource (%v): %s", err, r.body)
	}
	return res
}

// do sends one request; headers are "Name: value" strings.
func (s *testServer) do(method, path, body string, headers ...string) result {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://emr.test"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return result{status: rec.Code, header: rec.Header(), body: bytes.Clone(rec.Body.Bytes())}
}

// mustCreate creates a resource and returns its id.
func (s *testServer) mustCreate(body string) string {
	s.t.Helper()
	r := s.do("POST", "/fhir/"+typeOf(s.t, body), body)
	if r.status != http.StatusCreated {
		s.t.Fatalf("create: status %d: %s", r.status, r.body)
	}
	return r.resource(s.t).ID()
}

func typeOf(t testing.TB, body string) string {
	res, err := fhir.ParseResource([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return res.Type()
}
