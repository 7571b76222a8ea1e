package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/cdshooks"
	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/deid"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpatch"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/fhirapi"
	"github.com/emr-project/emr/internal/hl7v2/mllp"
	"github.com/emr-project/emr/internal/hl7v2/outbound"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/smart"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/auditchain"
	"github.com/emr-project/emr/internal/store/sqlstore"
	"github.com/emr-project/emr/internal/terminology"
	"github.com/emr-project/emr/internal/web"
)

// config is what `emr serve` is told.
type config struct {
	addr    string
	dataDir string
	// dbURL, when set, is a PostgreSQL database used instead of the
	// SQLite file in dataDir; replicaURL a read replica of it.
	dbURL, replicaURL string
	baseURL           string
	maxBody           int64
	logLevel          string
	// invariants turns on FHIRPath invariant checks on every write.
	invariants bool
	// tlsCert and tlsKey are PEM files to serve HTTPS with; tlsSelfSigned
	// serves it with a generated development certificate instead.
	tlsCert, tlsKey string
	tlsSelfSigned   bool
	// rolesFile replaces or adds roles (access.LoadRoles); relaxMFA lets
	// roles that see clinical data sign in without a second factor.
	rolesFile string
	relaxMFA  bool
	// sessionIdle ends a web session unused this long (0: the default of
	// auth.SessionOptions).
	sessionIdle time.Duration
	// deidKey is the key file of Patient/$deidentify ("" leaves the
	// operation out).
	deidKey string
	// fhirBase is the absolute public URL of the FHIR API: --base-url, or
	// derived from the listening address. SMART tokens name it as their
	// audience.
	fhirBase string
	// auditKey is the file of the key signing the audit log's checkpoints
	// ("" for audit-key in dataDir), created when missing; noAuditKey opens
	// the store without one (emr audit verify must not sign anything).
	auditKey           string
	noAuditKey         bool
	checkpointEvery    int64
	checkpointInterval time.Duration
	// mpiModel is a JSON file of matching weights and thresholds ("" for
	// the defaults); duplicates the policy of creates (warn, refuse).
	mpiModel, duplicates     string
	mpiPerKey, mpiCandidates int
	// mllpAddr is where the HL7 v2 interface listens ("" for none);
	// mllpClientCA the CAs of its senders' certificates; mllpAuthorities
	// its NAMESPACE=URI identifier systems.
	mllpAddr, mllpClientCA, mllpAuthorities string
	// mllpRole is the role the interface writes as.
	mllpRole string
	// orders configure the order sender (hl7orders.go).
	orders ordersConfig
	// metricsAddr is where Prometheus metrics are served ("" for none).
	metricsAddr string
	// exportDir holds the Bulk Data export's files ("" for
	// bulk-export in dataDir); exportRetention is how long they stay.
	exportDir       string
	exportRetention time.Duration
	// escalateAfter is how long a critical result's review may wait
	// before it is marked overdue (0: never); escalateTo who overdue
	// reviews are passed to ("" for nobody).
	escalateAfter time.Duration
	escalateTo    string
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port)")
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory; the SQLite database lives here")
	dbFlags(fs, &cfg, true)
	auditFlags(fs, &cfg)
	fs.StringVar(&cfg.baseURL, "base-url", "", "public base URL of the FHIR API, e.g. https://emr.example.org/fhir (default: taken from each request)")
	fs.Int64Var(&cfg.maxBody, "max-body", fhirapi.DefaultMaxBodyBytes, "largest accepted request body, in bytes")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&cfg.invariants, "invariants", true, "check the R5 invariants (FHIRPath constraints) on every write; a violated invariant answers 422")
	fs.StringVar(&cfg.rolesFile, "roles", "", "roles file replacing or adding to the built-in roles (see emr role list and docs/security.md)")
	fs.StringVar(&cfg.deidKey, "deid-key", "", "pseudonymisation key file (created 0600 when missing) enabling GET /fhir/Patient/[id]/$deidentify for roles with the deidentify operation; share it with emr export --key for matching pseudonyms (docs/deidentify.md)")
	fs.BoolVar(&cfg.relaxMFA, "relax-mfa", false, "let roles that see clinical data sign in without a second factor (not for production)")
	fs.DurationVar(&cfg.sessionIdle, "session-idle", 15*time.Minute, "sign a web user out after this long without a request (the page warns two minutes before)")
	tlsFlags(fs, &cfg)
	mllpFlags(fs, &cfg)
	ordersFlags(fs, &cfg.orders)
	fs.StringVar(&cfg.exportDir, "export-dir", "", "directory of the Bulk Data export's files (FHIR $export), one directory per job, mode 0700; servers sharing a --db must share it (default: bulk-export in --data)")
	fs.DurationVar(&cfg.exportRetention, "export-retention", 24*time.Hour, "how long a finished Bulk Data export's files stay for download")
	fs.DurationVar(&cfg.escalateAfter, "critical-escalate-after", 30*time.Minute, "mark a critical result's review overdue when no clinician has acknowledged it this long after the result, and pass it to --critical-escalate-to (0: never; docs/visits.md)")
	fs.StringVar(&cfg.escalateTo, "critical-escalate-to", "", "who overdue critical-result reviews are passed to: a Practitioner, PractitionerRole, CareTeam or Organization in the database, e.g. CareTeam/on-call (default: nobody; they are only marked overdue)")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address (host:port), e.g. 127.0.0.1:9464; off when empty. They hold no patient data (docs/operations.md)")
	mpiFlags(fs, &cfg)
	fs.StringVar(&cfg.duplicates, "duplicates", "warn", "what creating a Patient does about likely duplicates: warn (create, and answer with the candidates) or refuse (409 for a certain match unless the client sends "+fhirapi.ReviewedHeader+": true); docs/mpi.md")
	retentionFlag := fs.String("audit-retention", defaultAuditRetention, "how long audit records stay in the database (7y, 18m, 90d); the server says at start when older ones await emr audit archive (audit cannot be turned off)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	retention, err := parseAge(*retentionFlag)
	if err != nil {
		return usageError{fmt.Errorf("--audit-retention: %w", err)}
	}
	if err := checkTLSFlags(cfg); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %v", err)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// Before the database: a wrong certificate should not wait for it.
	https, err := loadServerTLS(cfg, time.Now())
	if err != nil {
		return err
	}
	if https == nil && !isLoopback(cfg.addr) {
		warnCleartext(cfg.addr, logger, stderr)
	}
	authorities, err := parseAuthorities(cfg.mllpAuthorities)
	if err != nil {
		return err
	}
	mllpLn, mllpAbout, err := mllpListener(cfg, https)
	if err != nil {
		return err
	}
	orders, ordersAbout, err := newOrders(cfg.orders, authorities, logger)
	if err != nil {
		if mllpLn != nil {
			mllpLn.Close()
		}
		return err
	}
	metricsLn, metricsAbout, err := metricsListener(cfg.metricsAddr)
	if err != nil {
		if mllpLn != nil {
			mllpLn.Close()
		}
		return err
	}
	var mets *metrics
	if metricsLn != nil {
		defer metricsLn.Close()
		mets = newMetrics()
		if orders != nil {
			orders.Counted, mets.ordersWaitFn = mets.orderCounted, orders.Backlog
		}
	}
	if mllpLn != nil {
		defer mllpLn.Close()
	}

	if cfg.escalateAfter < 0 {
		return usageError{errors.New("--critical-escalate-after must not be negative (0 turns escalation off)")}
	}
	if cfg.escalateTo != "" && cfg.escalateAfter == 0 {
		return usageError{errors.New("--critical-escalate-to needs --critical-escalate-after")}
	}
	if cfg.sessionIdle <= 0 {
		return usageError{errors.New("--session-idle must be positive, e.g. 15m")}
	}
	if cfg.relaxMFA {
		logger.Warn("--relax-mfa: users whose roles see clinical data may sign in with a password alone; do not use this in production")
	}
	if cfg.baseURL != "" {
		if u, err := url.Parse(cfg.baseURL); err != nil || !u.IsAbs() || u.Host == "" {
			return usageError{fmt.Errorf("--base-url %q is not an absolute URL such as https://emr.example.org/fhir", cfg.baseURL)}
		}
	}
	// Listen first: the public URL SMART tokens name may come from the
	// address, port 0 included.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	scheme := "http://"
	if https != nil {
		scheme = "https://"
	}
	cfg.fhirBase = strings.TrimRight(cfg.baseURL, "/")
	if cfg.fhirBase == "" {
		cfg.fhirBase = scheme + reachableAddr(ln.Addr()) + "/fhir"
		if !isLoopback(cfg.addr) {
			logger.Warn("no --base-url: SMART tokens are issued for " + cfg.fhirBase + "; clients that reach this server by another name need --base-url set to that public URL")
		}
	}

	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	// Before anything runs: a wrong target is a mistake to stop at.
	esc, err := escalation(ctx, a.store, cfg)
	if err != nil {
		return err
	}
	// The server never purges the log itself: the archive is a file to
	// keep safe, so an operator runs emr audit archive.
	if db, isSQL := a.store.(*sqlstore.DB); isSQL {
		oldest, ok, err := db.OldestAudit(ctx)
		if err != nil {
			return err
		}
		if limit := retention.before(time.Now()); ok && oldest.Before(limit) {
			logger.Warn("audit records older than the retention period are in the database: archive them with emr audit archive (docs/audit.md)",
				"oldest", oldest.UTC().Format(time.RFC3339), "retention", *retentionFlag)
		}
	}
	if orders != nil {
		// Before the first request: every order written from now on goes
		// in the outbox with its write.
		st, ok := a.store.(outbound.Store)
		if !ok {
			return fmt.Errorf("--hl7-orders-to: the %s store keeps no records", a.backend)
		}
		orders.Store = st
		a.gate.OnWrite(orders.Enqueue)
		// Stopped, and waited for, before the store closes.
		octx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { orders.Run(octx); close(done) }()
		defer func() { stop(); <-done }()
	}
	if err := firstAdmin(ctx, a.accounts, stdout); err != nil {
		return err
	}
	go a.smart.Run(ctx)
	{
		// Exports stop, and are waited for, before the store closes.
		ectx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { a.fhir.RunBulkExports(ectx); close(done) }()
		defer func() { stop(); <-done }()
	}
	if esc.After > 0 {
		// Stopped, and waited for, before the store closes.
		ectx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { runEscalation(ectx, a, esc, logger); close(done) }()
		defer func() { stop(); <-done }()
	}
	handler := securityHeaders(a.handler, https != nil)
	if mets != nil {
		mets.criticalFn = func(ctx context.Context) (int64, time.Time, error) { return a.reviews.Waiting(ctx, a.store) }
		mets.overdueFn = func(ctx context.Context) (int64, error) { return a.reviews.Overdue(ctx, a.store) }
		handler = mets.instrument(handler)
		go mets.serve(ctx, metricsLn, logger)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	origin := scheme + reachableAddr(ln.Addr())
	tlsLine := ""
	if https != nil {
		srv.TLSConfig = https.config
		tlsLine = "  TLS:         " + https.about + "\n"
	}
	if mllpAbout != "" {
		tlsLine += "  HL7 v2:      " + mllpAbout + "\n"
	}
	if ordersAbout != "" {
		tlsLine += "  HL7 orders:  " + ordersAbout + "\n"
	}
	if metricsAbout != "" {
		tlsLine += "  metrics:     " + metricsAbout + "\n"
	}
	auditLine := "  audit log:   hash-chained; checkpoints NOT signed (no --audit-key)\n"
	if a.auditKeyID != "" {
		auditLine = fmt.Sprintf("  audit log:   hash-chained, checkpoints signed by key %s (%s)\n", a.auditKeyID, auditKeyPath(cfg))
	}
	fmt.Fprintf(stdout, "emr %s is running\n  FHIR R5 API: %s/fhir (try %s/fhir/metadata)\n  FHIR R4 API: %s/fhir/R4\n  sign in:     %s/login\n  SMART:       %s/.well-known/smart-configuration (apps: emr client add)\n  data:        %s\n%s%sPress Ctrl+C to stop.\n",
		versionString(), origin, origin, origin, origin, cfg.fhirBase, a.dbPath, auditLine, tlsLine)
	errc := make(chan error, 2)
	var hl7 *mllp.Server
	if mllpLn != nil {
		if hl7, err = newMLLPServer(a, cfg.mllpRole, tofhir.Options{Authorities: authorities, Placer: cfg.orders.placerOf()}, logger, mets); err != nil {
			return err
		}
		go func() { errc <- hl7.Serve(mllpLn) }()
	}
	go func() {
		if https != nil {
			// The certificate is in srv.TLSConfig; ServeTLS adds HTTP/2.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if hl7 != nil {
		// Before the store closes: a message in hand is written and
		// acknowledged.
		if err := hl7.Shutdown(shutdownCtx); err != nil {
			logger.Warn("HL7 v2 interface: shutdown", "error", err)
		}
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is a wired EMR: storage, services and the HTTP handler.
type app struct {
	store    store.Store
	accounts *auth.Accounts
	sessions *auth.Sessions
	smart    *smart.Server
	gate     *access.Gate
	roles    *access.Roles
	// api is the FHIR API without authentication in front, for emr
	// bench's in-process requests, which carry their caller themselves.
	api     http.Handler
	handler http.Handler
	dbPath  string
	backend string // "sqlite" or "postgres"
	// auditKeyID names the key signing audit checkpoints ("" for none).
	auditKeyID string
	// reviews writes and counts the reviews of critical results.
	reviews *critical.Reviews
	// fhir runs the Bulk Data export's jobs.
	fhir *fhirapi.Server
}

// openApp opens the storage backend and wires every service.
func openApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	defs := spec.R5()
	st, dbPath, err := openStore(ctx, cfg, defs)
	if err != nil {
		return nil, err
	}
	roles, err := loadRoles(defs, cfg.rolesFile)
	if err != nil {
		st.Close()
		return nil, err
	}
	gate := access.NewGate(st, access.NewRolePolicy(defs, roles), "emr")
	// Every critical result written through the gate asks for a review.
	reviews := &critical.Reviews{Definitions: defs}
	gate.OnWrite(reviews.Hook)
	breakGlass := &access.BreakGlass{Store: st, Gate: gate}
	accounts := auth.NewAccounts(st, roles, auth.AccountOptions{RelaxMFA: cfg.relaxMFA})
	sessions := auth.NewSessions(st, auth.SessionOptions{Idle: cfg.sessionIdle})
	fhirBase := cfg.fhirBase
	if fhirBase == "" {
		fhirBase = "http://localhost/fhir" // commands that do not serve HTTP
	}
	smartServer, err := smart.New(ctx, smart.Options{Records: st, Users: accountUsers{accounts}, PatientExists: patientExists(st),
		FHIRBase: fhirBase, Logger: logger})
	if err != nil {
		st.Close()
		return nil, err
	}
	var deidentifier *deid.Deidentifier
	if cfg.deidKey != "" {
		key, created, err := deid.LoadOrCreateKey(cfg.deidKey)
		if err == nil {
			deidentifier, err = deid.New(defs, key)
		}
		if err != nil {
			st.Close()
			return nil, err
		}
		if created {
			logger.Info("created the pseudonymisation key for $deidentify; keep it secret", "key", cfg.deidKey, "key_id", deid.KeyID(key))
		}
	}
	duplicates, err := fhirapi.ParseDuplicatePolicy(cfg.duplicates)
	if err != nil {
		return nil, usageError{fmt.Errorf("--duplicates: %w", err)}
	}
	matcher, err := newMatcher(cfg, st, defs)
	if err != nil {
		return nil, err
	}
	exportDir := cfg.exportDir
	if exportDir == "" {
		exportDir = filepath.Join(cfg.dataDir, "bulk-export")
	}
	if cfg.exportRetention <= 0 {
		cfg.exportRetention = 24 * time.Hour
	}
	api := fhirapi.New(fhirapi.Options{
		Bulk:         &fhirapi.BulkExport{Dir: exportDir, Retention: cfg.exportRetention, Revalidate: exportRevalidator(accounts, smartServer)},
		Matcher:      matcher,
		Queue:        &mpi.Queue{Records: st},
		Duplicates:   duplicates,
		Deidentifier: deidentifier,
		Store:        st,
		Gate:         gate,
		BreakGlass:   breakGlass,
		OAuth:        oauthURIs(smartServer),
		Labeler:      access.DefaultLabeler(),
		Validator:    newValidator(defs, cfg.invariants),
		Model:        defs.APIModel(),
		Definitions:  defs,
		Patch:        (&fhirpatch.Patcher{Model: defs.FHIRPathModel()}).Apply,
		PatchR4:      (&fhirpatch.Patcher{Model: r4.FHIRPathModel()}).Apply,
		BaseURL:      cfg.baseURL,
		MaxBodyBytes: cfg.maxBody,
		Logger:       logger,
		Software:     "emr",
		Version:      version,
	})
	// The FHIR API answers only callers with a bearer token (the SMART
	// server's), apart from the capability statements and the SMART
	// configuration; each request's break-glass grants are loaded.
	apiMux := http.NewServeMux()
	r4Handler := api.MountR4("/fhir/R4")
	apiMux.Handle("/fhir/R4/", r4Handler)
	apiMux.Handle("/fhir/R4", r4Handler)
	fhirHandler := api.Mount("/fhir")
	apiMux.Handle("/fhir/", fhirHandler)
	apiMux.Handle("/fhir", fhirHandler)
	protected := smartServer.Authenticate(withEmergencies(breakGlass, apiMux))

	mux := http.NewServeMux()
	mux.Handle("/fhir/", protected)
	mux.Handle("/fhir", protected)
	mux.Handle("/oauth/", smartServer.Handler())
	// CDS Hooks: the order safety checks for other EHRs and apps; the
	// services authenticate their clients themselves (a client's JWT).
	cds := &cdshooks.Service{Store: st, Gate: gate, Definitions: defs, Clients: cdshooks.SMARTClients{Server: smartServer},
		BaseURL: strings.TrimSuffix(fhirBase, "/fhir"), FHIRBase: fhirBase, Logger: logger}
	mux.Handle(cdshooks.Path, cds)
	mux.Handle(cdshooks.Path+"/", cds)
	mux.Handle("GET "+smartServer.ConfigurationPath(), smartServer.Handler())
	mux.Handle("GET /fhir/R4/.well-known/smart-configuration", sameConfiguration(smartServer))
	webAuth := &web.Auth{Accounts: accounts, Sessions: sessions, Secure: strings.HasPrefix(fhirBase, "https://"), BreakGlass: breakGlass, Logger: logger}
	webAuth.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := st.Read(r.Context(), "Patient", "readyz-probe"); err != nil && !isNotFound(err) {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	workspace := &web.Workspace{Auth: webAuth, Store: st, Gate: gate, Definitions: defs, Matcher: matcher,
		Validator: newValidator(defs, cfg.invariants), Labeler: access.DefaultLabeler(),
		BreakGlass: breakGlass, Logger: logger, IdleTimeout: sessions.IdleTimeout(),
		Terminology: &terminology.Index{Store: st, Definitions: defs}}
	workspace.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body := fhir.OperationOutcome(fhir.Issue{Severity: "error", Code: "not-found",
			Diagnostics: "no such page; the FHIR API is at /fhir"}).JSON()
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write(body)
	})
	return &app{fhir: api, reviews: reviews, store: st, accounts: accounts, sessions: sessions, smart: smartServer, gate: gate, roles: roles, api: apiMux, handler: mux, dbPath: dbPath,
		backend: st.Backend(), auditKeyID: st.AuditKeyID()}, nil
}

// dbFlags declares the flags choosing the database; replica adds the read
// replica, for commands that serve reads.
func dbFlags(fs *flag.FlagSet, cfg *config, replica bool) {
	fs.StringVar(&cfg.dbURL, "db", "", "PostgreSQL database URL (postgres://user:password@host:5432/emr); default: the SQLite database in --data")
	if replica {
		fs.StringVar(&cfg.replicaURL, "db-replica", "", "PostgreSQL read replica URL for reads and searches (needs --db); a client still reads its own writes")
	}
}

// auditFlags declares the flags of the audit log's signed checkpoints.
func auditFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.auditKey, "audit-key", "", "file of the Ed25519 key signing audit checkpoints, created (mode 0600, public key beside it in FILE.pub) when missing; every server on one PostgreSQL database needs the same key (default: audit-key in --data with SQLite; none, so no checkpoints, with --db)")
	fs.Int64Var(&cfg.checkpointEvery, "audit-checkpoint-every", 10000, "audit records between signed checkpoints")
	fs.DurationVar(&cfg.checkpointInterval, "audit-checkpoint-interval", 10*time.Minute, "longest time between signed checkpoints while audit records are written")
}

// auditKeyPath is the file of the checkpoint signing key cfg names: with
// PostgreSQL only --audit-key (several servers must share one key, which a
// default place in each one's --data would not give them), with SQLite
// audit-key in --data by default.
func auditKeyPath(cfg config) string {
	if cfg.auditKey != "" || cfg.dbURL != "" {
		return cfg.auditKey
	}
	return filepath.Join(cfg.dataDir, "audit-key")
}

// openStore opens the PostgreSQL database of cfg.dbURL or, by default, the
// SQLite database in cfg.dataDir (creating both when needed), with the
// audit checkpoint key of cfg (created when needed). It returns where the
// data is, for messages.
func openStore(ctx context.Context, cfg config, defs *spec.Definitions) (*sqlstore.DB, string, error) {
	if cfg.checkpointEvery < 0 || cfg.checkpointInterval < 0 {
		return nil, "", usageError{errors.New("--audit-checkpoint-every and --audit-checkpoint-interval must not be negative")}
	}
	opts := sqlstore.Options{Extractor: mpi.WithKeys(search.NewExtractor(defs)), ReplicaURL: cfg.replicaURL,
		CheckpointEvery: cfg.checkpointEvery, CheckpointInterval: cfg.checkpointInterval}
	if cfg.dbURL != "" {
		if scheme, _, ok := strings.Cut(cfg.dbURL, "://"); ok && scheme != "postgres" && scheme != "postgresql" {
			return nil, "", usageError{fmt.Errorf("--db: %s databases are not supported; give a postgres:// URL (SQLite needs no --db)", scheme)}
		}
	} else {
		if cfg.replicaURL != "" {
			return nil, "", usageError{errors.New("--db-replica needs --db: SQLite has no replicas")}
		}
		if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("create data directory: %w", err)
		}
	}
	switch path := auditKeyPath(cfg); {
	case cfg.noAuditKey:
	case path == "":
		slog.Warn("audit checkpoints are not signed: give every server the same --audit-key file (docs/audit.md)")
	default:
		// The key lives outside the database, so that whoever can rewrite
		// the database cannot re-sign a rewritten audit log (docs/audit.md).
		key, created, err := auditchain.LoadOrCreateKey(path)
		if err != nil {
			return nil, "", err
		}
		if created {
			slog.Info("created the audit checkpoint key; keep a copy of its public key away from the database",
				"key", path, "public_key", auditchain.PublicKeyPath(path), "key_id", auditchain.KeyID(key.Public().(ed25519.PublicKey)))
		}
		opts.AuditKey = key
	}
	if cfg.dbURL != "" {
		st, err := sqlstore.OpenPostgres(ctx, cfg.dbURL, opts)
		if err != nil {
			return nil, "", fmt.Errorf("open database: %w", err)
		}
		return st, st.Where(), nil
	}
	dbPath := filepath.Join(cfg.dataDir, "emr.db")
	st, err := sqlstore.OpenSQLite(ctx, dbPath, opts)
	if err != nil {
		return nil, "", fmt.Errorf("open database %s: %w", dbPath, err)
	}
	return st, dbPath, nil
}

// newValidator returns the write validator, with FHIRPath invariants when asked.
func newValidator(defs *spec.Definitions, invariants bool) *validate.Validator {
	if !invariants {
		return validate.New(defs)
	}
	return validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs)))
}

func (a *app) close() { _ = a.store.Close() }

// exportRevalidator says whether a Bulk Data export's requester may still
// export as it did at the kick-off: the account enabled and in the same
// role, the client still registered (and a backend service's role the
// same). A refusal is of kind forbidden; any other error is the store's.
func exportRevalidator(accounts *auth.Accounts, smartServer *smart.Server) func(context.Context, *access.Principal) error {
	return func(ctx context.Context, p *access.Principal) error {
		if p.User != "" {
			acc, err := accounts.Get(ctx, p.User)
			switch {
			case fhir.IsKind(err, fhir.KindNotFound):
				return fhir.Errorf(fhir.KindForbidden, "the account no longer exists")
			case err != nil:
				return err
			case acc.Disabled:
				return fhir.Errorf(fhir.KindForbidden, "the account is disabled")
			case acc.Role != p.Role:
				return fhir.Errorf(fhir.KindForbidden, "the account's role changed")
			}
		}
		if p.Client != "" {
			c, err := smartServer.Clients().Get(ctx, p.Client)
			switch {
			case fhir.IsKind(err, fhir.KindNotFound):
				return fhir.Errorf(fhir.KindForbidden, "the client is no longer registered")
			case err != nil:
				return err
			case p.User == "" && c.Role != p.Role:
				return fhir.Errorf(fhir.KindForbidden, "the client's role changed")
			}
		}
		return nil
	}
}
