package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/store/pgtest"
)

// When EMR_TEST_MAIN is set, the test binary runs the real main with the
// remaining arguments: the end-to-end tests start the server as a separate
// process this way, so they can kill it with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("EMR_TEST_MAIN") == "1" {
		os.Args = append([]string{"emr"}, strings.Fields(os.Getenv("EMR_TEST_ARGS"))...)
		main()
		return
	}
	// pgtest.Run stops the PostgreSQL cluster that the tests' pgtest.DSN
	// calls started, if any.
	os.Exit(pgtest.Run(m))
}

var urlPattern = regexp.MustCompile(`FHIR R5 API: (https?://\S+)/fhir`)

// server is `emr serve` running in a child process.
type server struct {
	cmd  *exec.Cmd
	base string
	out  *bytes.Buffer
	// banner is what the server printed on stdout up to "Press Ctrl+C".
	banner string
	// listening gets the base URL once the server prints it, and is closed
	// without one if its output ends first.
	listening chan string
	// dataDir and env are how it was started, for `emr client add` on its
	// database; token is the harness's bearer token, fetched when first
	// needed.
	dataDir   string
	env       []string
	tokenOnce sync.Once
	token     string
	tokenErr  error
}

// servers maps each running server's origin to it, so that request can
// give its calls a bearer token.
var servers sync.Map // origin → *server

// bearer returns an access token of a backend service with system/*.cruds
// acting as admin, registered on the server's database with
// `emr client add` and obtained from its token endpoint, as an
// integrator's service would.
func (s *server) bearer() (string, error) {
	s.tokenOnce.Do(func() { s.token, s.tokenErr = s.fetchToken() })
	return s.token, s.tokenErr
}

func (s *server) fetchToken() (string, error) {
	args := []string{"client", "add", "test harness", "--type", "secret", "--scope", "system/*.cruds", "--role", "admin"}
	db := ""
	for _, kv := range s.env {
		if v, ok := strings.CutPrefix(kv, "EMR_DB="); ok {
			db = v
		}
		if v, ok := strings.CutPrefix(kv, "EMR_TEST_ARGS="); ok {
			if _, after, ok := strings.Cut(v, "--db "); ok {
				db = strings.Fields(after)[0]
			}
		}
	}
	if db != "" {
		args = append(args, "--db", db)
	} else {
		args = append(args, "--data", s.dataDir)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		return "", fmt.Errorf("emr client add: exit %d: %s", code, errOut.String())
	}
	id := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out.String())
	secret := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(out.String())
	if id == nil || secret == nil {
		return "", fmt.Errorf("emr client add printed %q", out.String())
	}
	origin := strings.TrimSuffix(s.base, "/fhir")
	req, err := http.NewRequest("POST", origin+"/oauth/token", strings.NewReader("grant_type=client_credentials&scope=system%2F*.cruds"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id[1]), url.QueryEscape(secret[1]))
	resp, err := testClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken, nil
}

// startServer starts `emr serve` on the SQLite database in dataDir, or as
// extraEnv says (a later variable wins: EMR_TEST_ARGS replaces the command
// line), and waits until it listens.
func startServer(t *testing.T, dataDir string, extraEnv ...string) *server {
	t.Helper()
	s := spawnServer(t, dataDir, extraEnv...)
	s.waitListening(t)
	return s
}

// spawnServer starts the server process without waiting for it, so that
// several can start at once; the test kills it when it ends.
func spawnServer(t *testing.T, dataDir string, extraEnv ...string) *server {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EMR_TEST_MAIN=1", "EMR_TEST_ARGS=serve --addr 127.0.0.1:0", "EMR_DATA="+dataDir)
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, out: &stderr, listening: make(chan string, 1), dataDir: dataDir, env: extraEnv}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	go func() {
		// The URL goes out when the whole start-up message is read, so
		// that s.banner holds it.
		var banner strings.Builder
		url := ""
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			banner.WriteString(sc.Text() + "\n")
			if m := urlPattern.FindStringSubmatch(sc.Text()); m != nil {
				url = m[1] + "/fhir"
			}
			if url != "" && strings.HasPrefix(sc.Text(), "Press Ctrl+C") {
				s.banner = banner.String()
				s.listening <- url
				url = ""
			}
		}
		close(s.listening)
	}()
	return s
}

// waitListening waits for the server to print its URL and sets s.base.
func (s *server) waitListening(t *testing.T) {
	t.Helper()
	select {
	case base, ok := <-s.listening:
		if !ok {
			t.Fatalf("server exited without printing its URL; stderr:\n%s", s.out.String())
		}
		s.base = base
		servers.Store(strings.TrimSuffix(base, "/fhir"), s)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start; stderr:\n%s", s.out.String())
	}
}

// call sends one request and returns the answer, its body parsed as JSON;
// it fails t on a transport error or a body that is not JSON.
func call(t *testing.T, method, url, contentType, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	status, h, doc, err := request(method, url, contentType, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return status, h, doc
}

// request is call for goroutines other than the test's: it returns errors.
// Headers are "Name: value".
func request(method, url, contentType, body string, headers ...string) (int, http.Header, map[string]any, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	if _, given := req.Header["Authorization"]; !given && !strings.HasSuffix(req.URL.Path, "/metadata") {
		if s, ok := servers.Load(req.URL.Scheme + "://" + req.URL.Host); ok {
			token, err := s.(*server).bearer()
			if err != nil {
				return 0, nil, nil, fmt.Errorf("getting a token: %w", err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	var doc map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			return 0, nil, nil, fmt.Errorf("%s %s: body is not JSON: %s", method, url, raw)
		}
	}
	return resp.StatusCode, resp.Header, doc, nil
}

// testClient bounds every request, so that a server that hangs fails the
// test instead of stalling it until go test's timeout.
var testClient = &http.Client{Timeout: time.Minute}

const fhirJSON = "application/fhir+json"

// TestServeLikeANewUser walks what the README promises with a real server
// process and real HTTP: create, read, update, patch, vread, history,
// transaction, delete, errors.
func TestServeLikeANewUser(t *testing.T) {
	s := startServer(t, t.TempDir())
	status, _, cs := call(t, "GET", s.base+"/metadata", "", "")
	if status != 200 || cs["resourceType"] != "CapabilityStatement" || cs["fhirVersion"] != "5.0.0" {
		t.Fatalf("metadata: %d %v", status, cs["resourceType"])
	}
	status, h, p := call(t, "POST", s.base+"/Patient", fhirJSON, `{"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter"]}],"birthDate":"1974-12-25"}`)
	if status != 201 || !strings.HasPrefix(h.Get("Location"), s.base+"/Patient/") {
		t.Fatalf("create: %d Location %q", status, h.Get("Location"))
	}
	id := p["id"].(string)
	status, _, _ = call(t, "PUT", s.base+"/Patient/"+id, fhirJSON, `{"resourceType":"Patient","id":"`+id+`","gender":"male"}`, `If-Match: W/"1"`)
	if status != 200 {
		t.Fatalf("update: %d", status)
	}
	status, h, _ = call(t, "PATCH", s.base+"/Patient/"+id, "application/json-patch+json", `[{"op":"add","path":"/active","value":true}]`)
	if status != 200 || h.Get("ETag") != `W/"3"` {
		t.Fatalf("patch: %d %s", status, h.Get("ETag"))
	}
	status, _, v1 := call(t, "GET", s.base+"/Patient/"+id+"/_history/1", "", "")
	if status != 200 || v1["birthDate"] != "1974-12-25" {
		t.Fatalf("vread: %d %v", status, v1)
	}
	status, _, hist := call(t, "GET", s.base+"/Patient/"+id+"/_history?_count=2", "", "")
	if status != 200 || len(hist["entry"].([]any)) != 2 {
		t.Fatalf("history: %d %v", status, hist)
	}
	status, _, bundle := call(t, "POST", s.base, fhirJSON, `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:a6f3c1e2-0000-4000-8000-000000000001","resource":{"resourceType":"Encounter","status":"planned","subject":{"reference":"Patient/`+id+`"}},"request":{"method":"POST","url":"Encounter"}}]}`)
	if status != 200 || bundle["type"] != "transaction-response" {
		t.Fatalf("transaction: %d %v", status, bundle)
	}
	if status, _, _ = call(t, "DELETE", s.base+"/Patient/"+id, "", ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	status, _, oo := call(t, "GET", s.base+"/Patient/"+id, "", "")
	if status != 410 || oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("read deleted: %d %v", status, oo)
	}
	status, _, oo = call(t, "GET", s.base+"/NoSuchType/1", "", "")
	if status != 404 || oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("unknown type: %d", status)
	}
	// The same store in R4, below /fhir/R4.
	status, _, cs = call(t, "GET", s.base+"/R4/metadata", "", "")
	if status != 200 || cs["fhirVersion"] != "4.0.1" {
		t.Fatalf("R4 metadata: %d fhirVersion %v", status, cs["fhirVersion"])
	}
	status, h, _ = call(t, "POST", s.base+"/R4/Encounter", fhirJSON, `{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2020-01-01"}}`)
	if status != 201 || !strings.HasPrefix(h.Get("Location"), s.base+"/R4/Encounter/") {
		t.Fatalf("R4 create: %d Location %q", status, h.Get("Location"))
	}
	status, _, oo = call(t, "GET", strings.TrimSuffix(s.base, "/fhir")+"/nowhere", "", "")
	if status != 404 || oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("unknown route outside /fhir: %d", status)
	}
	// SIGTERM shuts down cleanly with exit code 0.
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, s.out)
	}
}

// TestAcknowledgedWritesSurviveKill9 writes concurrently to a server
// process, kills it with SIGKILL mid-stream, restarts it on the same data
// and reads back every write that was acknowledged.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	token, err := s.bearer()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked []string
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Kill%d","given":["N%d"]}]}`, w, i)
				req, _ := http.NewRequestWithContext(ctx, "POST", s.base+"/Patient", strings.NewReader(body))
				req.Header.Set("Content-Type", fhirJSON)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				loc := resp.Header.Get("Location")
				resp.Body.Close()
				if resp.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, loc)
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	s2 := startServer(t, dir)
	for _, loc := range acked {
		path := loc[strings.Index(loc, "/fhir/")+len("/fhir"):]
		if status, _, _ := call(t, "GET", s2.base+path, "", ""); status != 200 {
			t.Errorf("acknowledged %s lost after kill -9: %d", path, status)
		}
	}
	t.Logf("%d acknowledged writes, all present after kill -9", len(acked))
}

// TestCommandLine checks exit codes and messages of the CLI.
func TestCommandLine(t *testing.T) {
	badRoles := filepath.Join(t.TempDir(), "roles.json")
	if err := os.WriteFile(badRoles, []byte(`{"roles":[{"name":"x","permissions":[{"types":["Nope"],"perms":"r"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"version"}, 0, "emr ", ""},
		{[]string{"help"}, 0, "serve", ""},
		{[]string{}, 2, "Commands", ""},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
		{[]string{"serve", "--no-such-flag"}, 2, "", "no-such-flag"},
		{[]string{"serve", "--log-level", "loud"}, 2, "", "log-level"},
		{[]string{"serve", "--session-idle", "0s"}, 2, "", "--session-idle must be positive"},
		{[]string{"serve", "--addr", "256.0.0.1:99999", "--data", t.TempDir()}, 1, "", "listen"},
		{[]string{"reindex", "--data", t.TempDir()}, 0, "reindex complete", ""},
		{[]string{"reindex", "--data", "/dev/null/x"}, 1, "", "data directory"},
		{[]string{"serve", "--data", t.TempDir(), "--db-replica", "postgres://standby/emr"}, 2, "", "--db-replica needs --db"},
		{[]string{"serve", "--db", "mysql://nowhere/emr"}, 2, "", "give a postgres:// URL"},
		{[]string{"role", "list"}, 0, "registrar (patients: all;", ""},
		{[]string{"role", "list", "--verbose"}, 0, "    AuditEvent: rs", ""},
		{[]string{"role", "list", "--roles", badRoles}, 1, "", "Nope is not an R5 resource type"},
		{[]string{"role", "list", "--roles", "/no/such/file"}, 1, "", "--roles"},
		{[]string{"role"}, 2, "", "subcommand is list"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := run(context.Background(), c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String(), c.inStdout) || !strings.Contains(errOut.String(), c.inStderr) {
			t.Errorf("emr %v: code %d, stdout %q, stderr %q; want code %d with %q / %q", c.args, code, out.String(), errOut.String(), c.code, c.inStdout, c.inStderr)
		}
	}
}

// TestEnvironmentConfiguresFlags checks that EMR_* variables set flags and
// that flags win over them.
func TestEnvironmentConfiguresFlags(t *testing.T) {
	t.Setenv("EMR_ADDR", "127.0.0.1:1")
	t.Setenv("EMR_LOG_LEVEL", "debug")
	fs := newFlagSet("x", io.Discard)
	addr := fs.String("addr", "default", "")
	level := fs.String("log-level", "info", "")
	if err := parseFlags(fs, []string{"--addr", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if *addr != "127.0.0.1:2" || *level != "debug" {
		t.Errorf("addr %q level %q", *addr, *level)
	}
}

// TestPositionalAfterDoubleDash checks that flags and positional arguments
// mix in any order and that everything after "--" is positional, so an id
// that begins with "-" can be named.
func TestPositionalAfterDoubleDash(t *testing.T) {
	for _, c := range []struct {
		args []string
		data string
		want []string
	}{
		{[]string{"a", "--data", "d", "b"}, "d", []string{"a", "b"}},
		{[]string{"--data", "d", "--", "-x", "--data", "y"}, "d", []string{"-x", "--data", "y"}},
		{[]string{"a", "--", "-b"}, "", []string{"a", "-b"}},
		{[]string{"--"}, "", nil},
	} {
		fs := newFlagSet("x", io.Discard)
		data := fs.String("data", "", "")
		got, err := parseWithArgs(fs, c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if *data != c.data || strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%q: data %q args %q, want %q %q", c.args, *data, got, c.data, c.want)
		}
	}
	fs := newFlagSet("x", io.Discard)
	if _, err := parseWithArgs(fs, []string{"-RTO7taNDpiUG5iay1TyzA"}); err == nil {
		t.Error("an unknown flag before -- was accepted")
	}
}
