package sqlstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// durabilityChildEnv names the database a re-executed test binary writes to
// until it is killed.
const durabilityChildEnv = "EMR_SQLITE_DURABILITY_CHILD"

// TestDurabilityKill starts a child process that creates resources from
// several goroutines (so commits are shared) and prints each id once Write
// has returned nil, kills it with SIGKILL mid-stream, and checks that every
// printed id is in the reopened database. A kill -9 loses the process but
// not the OS page cache, so this checks the commit protocol; power-loss
// safety rests on synchronous=FULL, checked in TestPragmas.
func TestDurabilityKill(t *testing.T) {
	if path := os.Getenv(durabilityChildEnv); path != "" {
		durabilityChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "emr.db")
	deadline := time.Now().Add(30 * time.Second)
	acked, killed := killChild(t, "TestDurabilityKill", durabilityChildEnv, path, func(lines []string) bool {
		return len(lines) >= 500 || time.Now().After(deadline)
	})
	if !killed {
		t.Fatalf("child exited by itself after %d writes", len(acked))
	}
	t.Logf("child acknowledged %d writes before SIGKILL", len(acked))

	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer db.Close()
	var integrity string
	if err := db.readers.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("integrity_check after SIGKILL: %q, %v", integrity, err)
	}
	for _, id := range acked {
		if _, err := db.Read(ctx, "Patient", id); err != nil {
			t.Errorf("acknowledged write Patient/%s lost: %v", id, err)
		}
	}
}

func durabilityChild(path string) {
	db, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex // one id per line
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				var id string
				err := db.Write(ctx, func(tx store.Tx) error {
					v, err := tx.Create(fhir.Resource{"resourceType": "Patient", "active": true})
					if err == nil {
						id = v.ID
					}
					return err
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Println(id) // stdout is unbuffered: the parent sees it now
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// killChild runs this test binary again as a child running test, with env
// set to value, reads the lines the child prints and kills it (SIGKILL)
// once kill, given the lines so far, says so. It returns every line the
// child printed, and whether it was killed rather than ending by itself.
func killChild(t *testing.T, test, env, value string, kill func(lines []string) bool) ([]string, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+value)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	killed := false
	for scan := bufio.NewScanner(out); scan.Scan(); {
		lines = append(lines, scan.Text())
		if !killed && kill(lines) {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	return lines, killed
}
