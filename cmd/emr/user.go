package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// userCommands are the subcommands of `emr user`.
var userCommands = []struct{ name, args, summary string }{
	{"add", "NAME --role ROLE [--fhir-user REF] [--patient ID]", "create a user (password from stdin, or generated and printed once)"},
	{"list", "", "list the users: role, status, second factor, last sign-in"},
	{"disable", "NAME", "stop a user from signing in (ends their sessions)"},
	{"enable", "NAME", "let a disabled or locked-out user sign in again"},
	{"reset-password", "NAME", "set a new password (from stdin, or generated and printed once)"},
	{"mfa-reset", "NAME", "remove a user's second factor; they enrol again at the next sign-in"},
	{"set-role", "NAME --role ROLE [--patient ID]", "change a user's role"},
}

// runUser administers user accounts: emr user SUBCOMMAND [flags] [NAME].
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		userUsage(stderr)
		if len(args) == 0 {
			return usageError{errors.New("no subcommand given")}
		}
		return flag.ErrHelp
	}
	sub := args[0]
	known := false
	for _, c := range userCommands {
		known = known || c.name == sub
	}
	if !known {
		userUsage(stderr)
		return usageError{fmt.Errorf("unknown subcommand %q", sub)}
	}

	fs := newFlagSet("user "+sub, stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database")
	dbFlags(fs, &cfg, false)
	var role, fhirUser, patient string
	if sub == "add" || sub == "set-role" {
		fs.StringVar(&role, "role", "", "the user's role (admin, physician, nurse, registrar, patient, …)")
		fs.StringVar(&patient, "patient", "", "the Patient id of a user with the patient role")
	}
	if sub == "add" {
		fs.StringVar(&fhirUser, "fhir-user", "", "the resource the user is: Practitioner/ID or Patient/ID")
	}
	// The name and the flags may come in any order (emr user add bob --role nurse).
	names, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "list" && len(names) > 0:
		return usageError{fmt.Errorf("unexpected argument %q", names[0])}
	case sub != "list" && len(names) != 1:
		return usageError{fmt.Errorf("give one user name: emr user %s %s", sub, userArgs(sub))}
	case (sub == "add" || sub == "set-role") && role == "":
		return usageError{fmt.Errorf("--role is required: emr user %s %s", sub, userArgs(sub))}
	}

	defs := spec.R5()
	st, _, err := openStore(ctx, cfg, defs)
	if err != nil {
		return err
	}
	defer st.Close()
	accounts := auth.NewAccounts(st, access.DefaultRoles(defs), auth.AccountOptions{})
	// The audit record names who ran the command.
	ctx = access.WithPrincipal(ctx, &access.Principal{User: "cli:" + osUser(), Role: "admin"})

	var name string
	if len(names) == 1 {
		name = names[0]
	}
	switch sub {
	case "add":
		given, err := readPassword(os.Stdin)
		if err != nil {
			return err
		}
		pw, err := accounts.Add(ctx, name, role, auth.AddOptions{FHIRUser: fhirUser, Patient: patient, Password: given})
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "created user %s with role %s\n", name, role)
		printPassword(stdout, given, pw)
	case "list":
		list, err := accounts.List(ctx)
		if err != nil {
			return cliError(err)
		}
		printUsers(stdout, list, time.Now())
	case "disable":
		if err := accounts.Disable(ctx, name); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "user %s is disabled; their sessions end at their next request\n", name)
	case "enable":
		if err := accounts.Enable(ctx, name); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "user %s may sign in\n", name)
	case "reset-password":
		given, err := readPassword(os.Stdin)
		if err != nil {
			return err
		}
		pw, err := accounts.ResetPassword(ctx, name, given)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "password of %s reset; their sessions have ended\n", name)
		printPassword(stdout, given, pw)
	case "set-role":
		if err := accounts.SetRole(ctx, name, role, patient); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "user %s now has role %s\n", name, role)
	case "mfa-reset":
		if err := accounts.DisableMFA(ctx, name); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "second factor of %s removed; they enrol a new one at their next sign-in\n", name)
	}
	return nil
}

// readPassword returns the first line of stdin when it is not a terminal,
// or "" (generate one) when it is a terminal or empty. Passwords are never
// taken as arguments, which other users can read in the process list.
func readPassword(stdin *os.File) (string, error) {
	if stdin == nil {
		return "", nil
	}
	if fi, err := stdin.Stat(); err != nil || fi.Mode()&os.ModeCharDevice != 0 {
		return "", nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// printPassword shows a generated password, once.
func printPassword(stdout io.Writer, given, pw string) {
	if given != "" {
		fmt.Fprintln(stdout, "password: as given on stdin")
		return
	}
	fmt.Fprintf(stdout, "password: %s\n", pw)
	fmt.Fprintln(stdout, "Store it now and give it to the user safely: it is not shown again and cannot be recovered.")
}

// printUsers writes the table of `emr user list`.
func printUsers(w io.Writer, list []*auth.Account, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tMFA\tLAST SIGN-IN")
	for _, a := range list {
		status := "active"
		switch {
		case a.Disabled:
			status = "disabled"
		case a.LockedUntil.After(now):
			status = "locked until " + a.LockedUntil.Local().Format("2006-01-02 15:04:05")
		}
		mfa := "no"
		if a.MFAEnabled {
			mfa = fmt.Sprintf("yes (%d recovery codes)", a.RecoveryCodes)
		}
		last := "never"
		if !a.LastLogin.IsZero() {
			last = a.LastLogin.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Role, status, mfa, last)
	}
	tw.Flush()
}

// cliError turns an account error into the message to print: what the
// user can act on, without the package prefixes.
func cliError(err error) error {
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Kind != fhir.KindInternal {
		return errors.New(fe.Error())
	}
	if errors.Is(err, auth.ErrMFAEnrolled) {
		return auth.ErrMFAEnrolled
	}
	return err
}

// osUser names who runs the command, for the audit record.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func userArgs(sub string) string {
	for _, c := range userCommands {
		if c.name == sub {
			return c.args
		}
	}
	return ""
}

func userUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: emr user SUBCOMMAND [flags]: administer the users who sign in to the EMR.")
	fmt.Fprintln(w, "\nSubcommands:")
	for _, c := range userCommands {
		fmt.Fprintf(w, "  %-15s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nEvery subcommand takes --data DIR or --db URL (EMR_DATA, EMR_DB) like `emr serve`.")
	fmt.Fprintln(w, "A password is read from the first line of stdin when it is not a terminal")
	fmt.Fprintln(w, "(emr user add bob --role nurse < file); otherwise one is generated and printed once.")
	fmt.Fprintln(w, "Run 'emr user SUBCOMMAND -h' for its flags.")
}
