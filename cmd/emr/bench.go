package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/bench"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/smart"
	"github.com/emr-project/emr/internal/store"
)

// benchConfig is what `emr bench` is told.
type benchConfig struct {
	patients    int
	clinical    int
	dataDir     string
	dbURL       string
	duration    time.Duration
	iterations  int
	concurrency int
	seed        uint64
	jsonFile    string
	overHTTP    bool
	queries     string
	batch       int
	poolSize    int
	logLevel    string
}

// benchReport is the --json output.
type benchReport struct {
	Version     string         `json:"version"`
	Backend     string         `json:"backend"`
	Patients    int            `json:"patients"`
	Resources   int64          `json:"resources"`
	Seed        uint64         `json:"seed"`
	Transport   string         `json:"transport"`
	Concurrency int            `json:"concurrency"`
	GOMAXPROCS  int            `json:"gomaxprocs"`
	Load        *benchLoad     `json:"load,omitempty"`
	Results     []bench.Result `json:"results"`
}

type benchLoad struct {
	From               int     `json:"from"`
	To                 int     `json:"to"`
	Resources          int64   `json:"resources"`
	Seconds            float64 `json:"seconds"`
	ResourcesPerSecond float64 `json:"resources_per_second"`
}

// runBench loads generated patients up to --patients (keeping those already
// in --data) and then measures each kind of query against the same app
// `emr serve` runs. By default requests go straight to the HTTP handler, so
// the figures are the server's own work; --http sends them over loopback
// TCP, adding what a real client pays (connection handling, the kernel).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg benchConfig
	fs := newFlagSet("bench", stderr)
	fs.IntVar(&cfg.patients, "patients", 10000, "load patients until the data directory holds this many (with ~35 resources each)")
	fs.IntVar(&cfg.clinical, "clinical", 0, "give clinical data only to the first N patients, the rest being registered patients only (0: every patient)")
	fs.StringVar(&cfg.dataDir, "data", "./emr-bench", "data directory for the benchmark database; loaded patients are kept between runs")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to measure each kind of query")
	fs.IntVar(&cfg.iterations, "iterations", 0, "queries per kind; when above 0 it replaces --duration")
	fs.IntVar(&cfg.concurrency, "concurrency", 4, "clients sending queries at once")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the generated population (a data directory holds one seed)")
	fs.StringVar(&cfg.dbURL, "db", "", "PostgreSQL database URL to load and query instead of the SQLite database in --data (which then holds only the load state)")
	fs.StringVar(&cfg.jsonFile, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&cfg.overHTTP, "http", false, "send queries over loopback HTTP instead of calling the handler in process")
	fs.StringVar(&cfg.queries, "queries", "all", "comma-separated kinds of query to run: "+kindNames()+" (or all, or none to only load)")
	fs.IntVar(&cfg.batch, "batch", 50, "patients per write transaction while loading")
	fs.IntVar(&cfg.poolSize, "pool", 1000, "patients sampled to draw query parameters from")
	fs.StringVar(&cfg.logLevel, "log-level", "warn", "server log level: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.patients < 1 || cfg.concurrency < 1 || cfg.batch < 1 || cfg.poolSize < 1 {
		return usageError{errors.New("--patients, --concurrency, --batch and --pool must be at least 1")}
	}
	if cfg.iterations <= 0 && cfg.duration <= 0 {
		return usageError{errors.New("give a positive --duration or --iterations")}
	}
	kinds, err := selectKinds(cfg.queries)
	if err != nil {
		return usageError{err}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %v", err)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// EMR_DATA also configures `emr serve`: never fill a real database
	// with generated patients.
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	_, stateErr := os.Stat(filepath.Join(cfg.dataDir, bench.StateFile))
	if _, err := os.Stat(filepath.Join(cfg.dataDir, "emr.db")); err == nil && cfg.dbURL == "" && stateErr != nil {
		return fmt.Errorf("%s holds a database that emr bench did not create; give --data an empty directory or one emr bench loaded", cfg.dataDir)
	}
	a, err := openApp(ctx, config{dataDir: cfg.dataDir, dbURL: cfg.dbURL, maxBody: fhirapi.DefaultMaxBodyBytes, invariants: true, relaxMFA: true}, logger)
	if err != nil {
		return err
	}
	defer a.close()
	if cfg.dbURL != "" && stateErr != nil {
		// The same rule for PostgreSQL: an empty database, or the one
		// whose load state --data records.
		page, err := a.store.History(ctx, store.HistoryQuery{Count: 1})
		if err != nil {
			return err
		}
		if len(page.Versions) > 0 {
			return fmt.Errorf("%s is not empty and %s records no bench load of it; give an empty database", a.dbPath, cfg.dataDir)
		}
	}

	gen := bench.NewGenerator(bench.Options{Seed: cfg.seed, ClinicalPatients: cfg.clinical})
	loaded, err := bench.Load(ctx, a.store, gen, bench.LoadOptions{
		Dir: cfg.dataDir, Patients: cfg.patients, BatchSize: cfg.batch, Progress: stderr,
	})
	if err != nil {
		return err
	}
	report := benchReport{
		Version: versionString(), Backend: a.backend, Patients: loaded.State.Patients, Resources: loaded.State.Resources,
		Seed: cfg.seed, Transport: "in-process", Concurrency: cfg.concurrency, GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if loaded.Resources > 0 {
		report.Load = &benchLoad{loaded.From, loaded.To, loaded.Resources, loaded.Elapsed.Seconds(), loaded.ResourcesPerSecond()}
	}

	// In process, the queries carry their caller (an administrator) as
	// the bearer middleware would put it; over HTTP they carry a real
	// token of a backend service registered for the run, so that token
	// checking is measured too.
	client := bench.InProcess(asCaller(a.api, &access.Principal{User: "emr bench", Role: "admin"}))
	// The workspace's pages are asked for by a signed-in physician.
	cookie, err := benchSession(ctx, a)
	if err != nil {
		return err
	}
	pages := bench.InProcess(withCookie(a.handler, cookie))
	if cfg.overHTTP {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen on loopback: %w", err)
		}
		srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		go srv.Serve(ln)
		defer srv.Close()
		base := "http://" + ln.Addr().String()
		transport := &http.Transport{MaxIdleConnsPerHost: cfg.concurrency, DisableCompression: true}
		tokens, unregister, err := benchTokens(ctx, a, base, transport)
		if err != nil {
			return err
		}
		defer unregister()
		hc := &http.Client{Transport: &oauth2.Transport{Source: tokens, Base: transport}}
		client = bench.OverHTTP(base, hc)
		pages = bench.OverHTTP(base, &http.Client{Transport: cookieTransport{cookie, transport}})
		report.Transport = "http"
	}

	per := cfg.duration.String() + " per query"
	if cfg.iterations > 0 {
		per = fmt.Sprintf("%d queries each", cfg.iterations)
	}
	fmt.Fprintf(stdout, "emr bench: %d patients, %d resources in %s; %s, concurrency %d, %s\n",
		report.Patients, report.Resources, a.dbPath, report.Transport, cfg.concurrency, per)
	if report.Load != nil {
		fmt.Fprintf(stdout, "load: patients %d–%d, %d resources in %s, %.0f resources/s\n",
			loaded.From, loaded.To, loaded.Resources, loaded.Elapsed.Round(time.Millisecond), loaded.ResourcesPerSecond())
	}
	pool := bench.NewPool(gen, report.Patients, cfg.poolSize)
	opt := bench.RunOptions{Iterations: cfg.iterations, Duration: cfg.duration, Concurrency: cfg.concurrency}
	for _, k := range kinds {
		if ctx.Err() != nil {
			break
		}
		c := client
		if k.Page {
			c = pages
		}
		report.Results = append(report.Results, bench.Measure(ctx, c, pool, k, opt))
	}
	if len(kinds) > 0 {
		fmt.Fprintln(stdout)
		bench.WriteTable(stdout, report.Results)
	}
	if cfg.jsonFile != "" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep the & of query strings readable
		enc.SetIndent("", "  ")
		_ = enc.Encode(report)
		if err := os.WriteFile(cfg.jsonFile, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write --json: %w", err)
		}
	}
	return ctx.Err()
}

// asCaller serves h with p as the caller of every request.
func asCaller(h http.Handler, p *access.Principal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// benchTokens registers a backend service for this run and returns a
// source of its access tokens from the server at base, renewed as they
// expire, and the function that removes the client again.
func benchTokens(ctx context.Context, a *app, base string, transport http.RoundTripper) (oauth2.TokenSource, func(), error) {
	c, secret, err := a.smart.Clients().Add(ctx, smart.Client{Name: "emr bench", Type: smart.ClientSecret,
		Scope: "system/*.cruds", Role: "service"}, access.DefaultRoles(spec.R5()))
	if err != nil {
		return nil, nil, fmt.Errorf("register the bench's client: %w", err)
	}
	unregister := func() { _ = a.smart.Clients().Remove(context.WithoutCancel(ctx), c.ID) }
	cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: base + smart.PathToken, Scopes: []string{"system/*.cruds"}}
	return cc.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: transport})), unregister, nil
}

func kindNames() string {
	names := make([]string, len(bench.Kinds))
	for i, k := range bench.Kinds {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

func selectKinds(list string) ([]bench.Kind, error) {
	switch strings.TrimSpace(list) {
	case "all", "":
		return bench.Kinds, nil
	case "none":
		return nil, nil
	}
	var kinds []bench.Kind
	for _, name := range strings.Split(list, ",") {
		k, ok := bench.KindByName(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("--queries: unknown kind %q (known: %s)", name, kindNames())
		}
		kinds = append(kinds, k)
	}
	return kinds, nil
}

// benchSession signs in the bench's physician (created on first use, with
// a random password nobody knows) and returns its session cookie.
func benchSession(ctx context.Context, a *app) (*http.Cookie, error) {
	const user = "emr-bench-physician"
	if _, err := a.accounts.Get(ctx, user); err != nil {
		if _, err := a.accounts.Add(ctx, user, "physician", auth.AddOptions{Password: auth.NewToken()}); err != nil {
			return nil, fmt.Errorf("bench user: %w", err)
		}
	}
	acc, err := a.accounts.Get(ctx, user)
	if err != nil {
		return nil, err
	}
	token, _, err := a.sessions.Create(ctx, acc, "127.0.0.1", "emr bench")
	if err != nil {
		return nil, fmt.Errorf("bench session: %w", err)
	}
	return &http.Cookie{Name: auth.SessionCookieName(false), Value: token}, nil
}

// withCookie sends every request to h with cookie.
func withCookie(h http.Handler, c *http.Cookie) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.AddCookie(c)
		h.ServeHTTP(w, r)
	})
}

// cookieTransport adds a cookie to every request.
type cookieTransport struct {
	cookie *http.Cookie
	base   http.RoundTripper
}

func (t cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(t.cookie)
	return t.base.RoundTrip(r)
}
