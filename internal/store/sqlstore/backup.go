package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Copies of SQLite files (emr backup).
//
// VACUUM INTO writes what one read transaction of a database sees into a
// new file: a consistent copy of a database that a server goes on writing
// meanwhile, which a reader in WAL mode neither blocks nor waits for
// (the server's checkpoints stop at the copy's snapshot until it ends).
// The copy is one compact file, with no log beside it, in rollback-journal
// mode until a server opens it and turns WAL on again.

// CopySQLite writes a consistent copy of the SQLite database at src into
// dst, which must not exist: created with mode 0600 (it holds what the
// database holds), written, and synced to disk before CopySQLite returns.
// The source is opened read-only. On failure nothing is left at dst.
func CopySQLite(ctx context.Context, src, dst string) (err error) {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	// VACUUM INTO takes an empty file as its own; creating it first keeps
	// the copy's mode ours, not the umask's.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(dst)
		}
	}()
	q := url.Values{}
	q.Set("mode", "ro")
	// A checkpoint that resets the log holds readers off for a moment.
	q.Add("_pragma", "busy_timeout(30000)")
	db, err := sql.Open("sqlite", fileURI(src, q.Encode()))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return SyncPath(dst)
}

// CheckSQLite runs SQLite's integrity check over the database file at
// path, opened read-only and as immutable, so that nothing is written or
// created beside it. It returns the problems found as an error.
func CheckSQLite(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", fileURI(path, "mode=ro&immutable=1"))
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check(20)")
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("check %s: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("check %s: %s", path, strings.Join(problems, "; "))
	}
	return nil
}

// SyncPath syncs the file or directory at path to disk: a directory, so
// that the files just created in it survive a power loss with their names.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}
