package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/smart"
)

// runClient manages the OAuth 2.0 clients (SMART apps and backend
// services): emr client add|list|remove.
func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, clientUsage)
		if len(args) == 0 {
			return usageError{errors.New("no subcommand: add, list or remove")}
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "add":
		return runClientAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return runClientList(ctx, args[1:], stdout, stderr)
	case "remove":
		return runClientRemove(ctx, args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown subcommand %q: want add, list or remove", args[0])}
}

const clientUsage = `Usage:
  emr client add NAME --type public|secret|jwt --scope "SCOPES" [--redirect-uri URI]… [--jwks FILE] [--role ROLE] [--launch]
  emr client list
  emr client remove CLIENT_ID

add registers a SMART app or backend service and prints its client_id
(and, for --type secret, its secret, shown this once). Types: public (a
browser or mobile app, PKCE only), secret (client_secret_basic/post), jwt
(private_key_jwt with the public keys in --jwks: SMART Backend Services).
--scope is the most the client may be granted, e.g.
"launch/patient offline_access patient/*.rs"; system/ scopes need --role,
the access role a backend service acts with (e.g. service).
Each command also takes --data or --db to choose the database.
`

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func clientFlagSet(name string, stderr io.Writer, cfg *config) *flag.FlagSet {
	fs := newFlagSet("client "+name, stderr)
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, cfg, false)
	return fs
}

func runClientAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := clientFlagSet("add", stderr, &cfg)
	typ := fs.String("type", "", "client type: public, secret or jwt")
	scope := fs.String("scope", "", "the scopes the client may be granted, space-separated")
	var redirects stringList
	fs.Var(&redirects, "redirect-uri", "a redirect URI of the app (repeat for several)")
	jwksFile := fs.String("jwks", "", "file holding the client's public JWK Set (for --type jwt)")
	role := fs.String("role", "", "access role of a backend service's system/ tokens, e.g. service")
	launch := fs.Bool("launch", false, "the app may be launched from the EHR (launch scope)")
	cdsHooks := fs.Bool("cds-hooks", false, "the client may call the CDS Hooks services (/cds-services) with JWTs signed by its keys (--type jwt)")
	names, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(names) != 1 {
		return usageError{errors.New("give the client's NAME once: emr client add NAME --type … --scope …")}
	}
	types := map[string]smart.ClientType{"public": smart.ClientPublic, "secret": smart.ClientSecret, "jwt": smart.ClientJWT}
	ct, ok := types[*typ]
	if !ok {
		return usageError{fmt.Errorf("--type %q: want public, secret or jwt", *typ)}
	}
	c := smart.Client{Name: names[0], Type: ct, Scope: *scope, RedirectURIs: redirects, Role: *role, LaunchAllowed: *launch, CDSHooks: *cdsHooks}
	if *jwksFile != "" {
		if c.JWKS, err = os.ReadFile(*jwksFile); err != nil {
			return fmt.Errorf("--jwks: %w", err)
		}
	}
	defs := spec.R5()
	st, _, err := openStore(ctx, cfg, defs)
	if err != nil {
		return err
	}
	defer st.Close()
	// The audit record names who ran the command, as emr user's do.
	ctx = access.WithPrincipal(ctx, &access.Principal{User: "cli:" + osUser(), Role: "admin"})
	added, secret, err := smart.NewClients(st).Add(ctx, c, access.DefaultRoles(defs))
	if errors.Is(err, smart.ErrInvalidClient) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "client_id: %s\n", added.ID)
	if secret != "" {
		fmt.Fprintf(stdout, "client_secret: %s\n(the secret is shown only now: store it in the application's configuration)\n", secret)
	}
	return nil
}

func runClientList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := clientFlagSet("list", stderr, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, _, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()
	clients, err := smart.NewClients(st).List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT_ID\tNAME\tTYPE\tROLE\tSCOPE\tREDIRECT URIS")
	for _, c := range clients {
		role := c.Role
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Type, role, c.Scope, strings.Join(c.RedirectURIs, " "))
	}
	return tw.Flush()
}

func runClientRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config
	fs := clientFlagSet("remove", stderr, &cfg)
	ids, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageError{errors.New("give one CLIENT_ID: emr client remove CLIENT_ID")}
	}
	st, _, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()
	ctx = access.WithPrincipal(ctx, &access.Principal{User: "cli:" + osUser(), Role: "admin"})
	if err := smart.NewClients(st).Remove(ctx, ids[0]); err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) {
			return fmt.Errorf("no client %q", ids[0])
		}
		return err
	}
	fmt.Fprintf(stdout, "removed client %s; its tokens no longer work\n", ids[0])
	return nil
}
