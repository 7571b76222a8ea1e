package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestCopySQLite copies a database that another connection keeps writing
// to, one row per transaction: the copy passes the integrity check, is
// mode 0600 with no log beside it, and holds every row committed before
// the copy began and no partial transaction (the rows are numbered
// without gaps).
func TestCopySQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	w, err := sql.Open("sqlite", fileURI(src, "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.Exec("CREATE TABLE t (n INTEGER PRIMARY KEY, pad BLOB)"); err != nil {
		t.Fatal(err)
	}
	var committed atomic.Int64
	insert := func(n int64) {
		if _, err := w.Exec("INSERT INTO t VALUES (?, randomblob(3000))", n); err != nil {
			t.Error(err)
			return
		}
		committed.Store(n)
	}
	for n := int64(1); n <= 500; n++ {
		insert(n)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := int64(501); ; n++ {
			select {
			case <-stop:
				return
			default:
				insert(n)
			}
		}
	}()
	before := committed.Load()
	dst := filepath.Join(dir, "copy.db")
	err = CopySQLite(ctx, src, dst)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSQLite(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy: %v, mode %v", err, fi.Mode())
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(dst + side); err == nil {
			t.Errorf("%s left beside the copy", side)
		}
	}
	c, err := sql.Open("sqlite", fileURI(dst, "mode=ro&immutable=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rows, top int64
	if err := c.QueryRow("SELECT count(*), max(n) FROM t").Scan(&rows, &top); err != nil {
		t.Fatal(err)
	}
	if rows != top || rows < before || rows > committed.Load() {
		t.Errorf("copy holds %d rows up to %d; %d were committed before the copy, %d after", rows, top, before, committed.Load())
	}
	t.Logf("copied %d rows while writing (%d before, %d after)", rows, before, committed.Load())

	// An existing file is never overwritten; a failed copy leaves nothing.
	if err := CopySQLite(ctx, src, dst); err == nil {
		t.Error("copied over an existing file")
	}
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	failed := filepath.Join(dir, "failed.db")
	if err := CopySQLite(ctx, garbage, failed); err == nil {
		t.Error("copied a file that is not a database")
	}
	if _, err := os.Stat(failed); err == nil {
		t.Error("a failed copy left its file")
	}
	if err := CheckSQLite(ctx, garbage); err == nil {
		t.Error("the check passed a file that is not a database")
	}
}

// TestCheckSQLiteFindsDamage overwrites a page in the middle of a copy:
// the check reports it.
func TestCheckSQLiteFindsDamage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "d.db")
	db, err := sql.Open("sqlite", fileURI(path, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT); CREATE INDEX t_s ON t (s)"); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := db.Exec("INSERT INTO t VALUES (?, hex(randomblob(20)))", i); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if err := CheckSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	// A page of the index, near the end of the file, filled with junk.
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff\x00junk", 800)), fi.Size()-4*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := CheckSQLite(ctx, path); err == nil {
		t.Error("the check passed a damaged file")
	} else {
		t.Log(err)
	}
}
