package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// withStdin makes os.Stdin a file holding input for the rest of the test.
func withStdin(t *testing.T, input string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(path, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = saved; f.Close() })
}

// login signs in to the SQLite store in dataDir as the server would.
func login(t *testing.T, dataDir, name, password string) (*auth.Account, error) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(dataDir, "emr.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return auth.NewAccounts(db, access.DefaultRoles(spec.R5()), auth.AccountOptions{}).Login(ctx, name, password, "", "")
}

var generatedPassword = regexp.MustCompile(`(?m)^password: (\S+)$`)

// TestUserCommands runs `emr user` as an administrator would.
func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	emr := func(stdin string, args ...string) (int, string, string) {
		withStdin(t, stdin)
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(args, "--data", data), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	// A password on stdin is taken (its first line) and not printed.
	code, out, errOut := emr("nurse's own passphrase\nignored\n", "user", "add", "Bob", "--role", "nurse", "--fhir-user", "Practitioner/7")
	if code != 0 || !strings.Contains(out, "created user Bob with role nurse") || strings.Contains(out, "passphrase") {
		t.Fatalf("add with stdin: %d %q %q", code, out, errOut)
	}
	if _, err := login(t, data, "bob", "nurse's own passphrase"); err != nil {
		t.Errorf("login with the stdin password: %v", err)
	}
	// Empty stdin: a password is generated and printed once.
	code, out, _ = emr("", "user", "add", "carol", "--role", "registrar")
	m := generatedPassword.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "not shown again") {
		t.Fatalf("add with a generated password: %d %q", code, out)
	}
	if _, err := login(t, data, "carol", m[1]); err != nil {
		t.Errorf("login with the generated password: %v", err)
	}

	cases := []struct {
		stdin    string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"", []string{"user", "add", "bob", "--role", "nurse"}, 1, "", `user "bob" already exists`},
		{"", []string{"user", "add", "dan", "--role", "surgeon"}, 1, "", `no role "surgeon"`},
		{"", []string{"user", "add", "pat", "--role", "patient"}, 1, "", "needs the id of their Patient"},
		{"", []string{"user", "add", "pat", "--role", "patient", "--patient", "p1", "--fhir-user", "Patient/p1"}, 0, "created user pat", ""},
		{"short\n", []string{"user", "add", "eve", "--role", "nurse"}, 1, "", "at least 12 characters"},
		{"", []string{"user", "add", "eve"}, 2, "", "--role is required"},
		{"", []string{"user", "add", "--role", "nurse"}, 2, "", "give one user name"},
		{"", []string{"user", "disable"}, 2, "", "give one user name"},
		{"", []string{"user", "list", "extra"}, 2, "", "unexpected argument"},
		{"", []string{"user", "frobnicate"}, 2, "", `unknown subcommand "frobnicate"`},
		{"", []string{"user", "add", "x", "--role", "nurse", "--no-such-flag"}, 2, "", "no-such-flag"},
		{"", []string{"user", "disable", "bob"}, 0, "user bob is disabled", ""},
		{"", []string{"user", "disable", "bob"}, 1, "", "already disabled"},
		{"", []string{"user", "list"}, 0, "Bob    nurse      disabled", ""},
		{"", []string{"user", "enable", "bob"}, 0, "user bob may sign in", ""},
		{"", []string{"user", "disable", "nobody"}, 1, "", `no user "nobody"`},
		{"", []string{"user", "mfa-reset", "bob"}, 1, "", "has no second factor"},
		{"a brand new passphrase\n", []string{"user", "reset-password", "bob"}, 0, "password of bob reset", ""},
		{"", []string{"user", "set-role", "bob"}, 2, "", "--role is required"},
		{"", []string{"user", "set-role", "bob", "--role", "physician"}, 0, "user bob now has role physician", ""},
		{"", []string{"user", "set-role", "bob", "--role", "physician"}, 1, "", "already has role physician"},
	}
	for _, c := range cases {
		code, out, errOut := emr(c.stdin, c.args...)
		if code != c.code || !strings.Contains(out, c.inStdout) || !strings.Contains(errOut, c.inStderr) {
			t.Errorf("emr %v: code %d, stdout %q, stderr %q; want code %d with %q / %q", c.args, code, out, errOut, c.code, c.inStdout, c.inStderr)
		}
	}
	if _, err := login(t, data, "bob", "a brand new passphrase"); err != nil {
		t.Errorf("login after reset-password: %v", err)
	}
	if _, err := login(t, data, "bob", "nurse's own passphrase"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("old password after reset-password: %v", err)
	}

	// mfa-reset of an enrolled user.
	ctx := context.Background()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(data, "emr.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	accounts := auth.NewAccounts(db, access.DefaultRoles(spec.R5()), auth.AccountOptions{})
	if _, _, err := accounts.BeginMFA(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, out, errOut := emr("", "user", "mfa-reset", "carol"); code != 0 || !strings.Contains(out, "second factor of carol removed") {
		t.Errorf("mfa-reset: %d %q %q", code, out, errOut)
	}
}

// TestServePrintsFirstAdminOnce starts a new server: it creates "admin"
// and prints the password on stdout, never in the log; the next start
// prints nothing about it.
func TestServePrintsFirstAdminOnce(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	m := generatedPassword.FindStringSubmatch(strings.ReplaceAll(s.banner, "  password:", "password:"))
	if m == nil || !strings.Contains(s.banner, "user:     admin") || !strings.Contains(s.banner, "shown only this once") {
		t.Fatalf("first start banner:\n%s", s.banner)
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	if strings.Contains(s.out.String(), m[1]) {
		t.Errorf("the password is in the log:\n%s", s.out)
	}
	acc, err := login(t, data, "admin", m[1])
	if err != nil || acc.Role != "admin" || !acc.MFARequired {
		t.Fatalf("admin login: %+v %v", acc, err)
	}
	s = startServer(t, data)
	if strings.Contains(s.banner, "admin") || strings.Contains(s.banner, "password") {
		t.Errorf("second start mentions the administrator:\n%s", s.banner)
	}

	// EMR_ADMIN_PASSWORD sets it, and is checked.
	s = startServer(t, t.TempDir(), "EMR_ADMIN_PASSWORD=chosen by the operator")
	if !strings.Contains(s.banner, "with the password in EMR_ADMIN_PASSWORD") || strings.Contains(s.banner, "chosen by") {
		t.Errorf("banner with EMR_ADMIN_PASSWORD:\n%s", s.banner)
	}
	t.Setenv("EMR_ADMIN_PASSWORD", "admin")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "EMR_ADMIN_PASSWORD") {
		t.Errorf("weak EMR_ADMIN_PASSWORD: code %d, stderr %q", code, errOut.String())
	}
}

// TestUserCommandsOnPostgres manages users in a PostgreSQL database (--db).
func TestUserCommandsOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	withStdin(t, "")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"user", "add", "drx", "--role", "physician", "--db", dsn}, &out, &errOut); code != 0 || !generatedPassword.MatchString(out.String()) {
		t.Fatalf("add: %d %q %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"user", "list", "--db", dsn}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "drx   physician  active") {
		t.Errorf("list: %d %q %q", code, out.String(), errOut.String())
	}
}
