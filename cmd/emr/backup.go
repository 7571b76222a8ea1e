package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// `emr backup DEST` copies a SQLite data directory into DEST while the
// server may be running: the database first, then the audit file (the
// order docs/audit.md requires, so that every record the database's copy
// misses is in the audit file's), each as one consistent snapshot
// (sqlstore.CopySQLite), then the other files of the directory (the audit
// key). Every copy is synced and checked before the command says it is
// done, and the backup is recorded in the audit log.

// sqliteFiles are the databases of a data directory, in the order a
// backup copies them.
var sqliteFiles = []string{"emr.db", "emr-audit.db"}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	describe(fs, stderr, `emr backup [--data DIR] DEST: copy the SQLite data directory into DEST, a new or empty
directory, while the server may be running: a consistent copy of the database and then
of its audit file, and the keys beside them. Restore with emr restore (docs/backup.md).`)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database to back up")
	dbFlags(fs, &cfg, false)
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if cfg.dbURL != "" {
		return usageError{errors.New("--db: PostgreSQL is backed up with its own tools (pg_basebackup, pg_dump); see docs/backup.md")}
	}
	if len(pos) != 1 {
		return usageError{errors.New("give the backup's directory: emr backup [--data DIR] DEST")}
	}
	dest := pos[0]
	if _, err := os.Stat(filepath.Join(cfg.dataDir, "emr.db")); err != nil {
		return fmt.Errorf("no database in %s: %w", cfg.dataDir, err)
	}
	if inside(dest, cfg.dataDir) {
		return usageError{fmt.Errorf("%s is inside the data directory %s: a backup goes elsewhere", dest, cfg.dataDir)}
	}
	made, err := emptyDir(dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backing up %s to %s\n", cfg.dataDir, dest)
	start := time.Now()
	written, err := backupFiles(ctx, cfg.dataDir, dest, stdout)
	if err != nil {
		for _, f := range written {
			os.Remove(f)
		}
		if made {
			os.Remove(dest)
		}
	}
	if aerr := recordBackup(ctx, cfg, dest, written, err); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup complete in %s: %s\n", time.Since(start).Round(time.Millisecond), dest)
	return nil
}

// backupFiles copies the data directory's databases and then its other
// files into dest, syncs them, checks the databases' copies, and returns
// the files it wrote.
func backupFiles(ctx context.Context, dataDir, dest string, stdout io.Writer) ([]string, error) {
	var written []string
	for _, name := range sqliteFiles {
		src, dst := filepath.Join(dataDir, name), filepath.Join(dest, name)
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) && name != sqliteFiles[0] {
			continue // a database from before the audit file (docs/audit.md)
		}
		start := time.Now()
		if err := sqlstore.CopySQLite(ctx, src, dst); err != nil {
			return written, err
		}
		written = append(written, dst)
		if err := sqlstore.CheckSQLite(ctx, dst); err != nil {
			return written, err
		}
		fmt.Fprintf(stdout, "  %-14s %9s  copied and checked in %s\n", name, fileSize(dst), time.Since(start).Round(time.Millisecond))
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return written, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || isSQLiteFile(e.Name()) {
			continue
		}
		dst := filepath.Join(dest, e.Name())
		if err := copyFile(filepath.Join(dataDir, e.Name()), dst); err != nil {
			return written, err
		}
		written = append(written, dst)
		fmt.Fprintf(stdout, "  %-14s %9s  copied\n", e.Name(), fileSize(dst))
	}
	return written, sqlstore.SyncPath(dest)
}

// isSQLiteFile reports whether name is one of the databases or a file
// SQLite or the store keeps beside one (log, shared memory, journal, the
// bulk load's lock).
func isSQLiteFile(name string) bool {
	for _, db := range sqliteFiles {
		if rest, ok := strings.CutPrefix(name, db); ok && (rest == "" || strings.HasPrefix(rest, "-")) {
			return true
		}
	}
	return false
}

// copyFile copies the regular file src to dst, a new file with src's
// permissions, and syncs it.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Sync()
}

// emptyDir makes dir (mode 0700) unless it is an empty directory already,
// and says whether it made it. Anything else at dir is an error: a
// backup never overwrites or mixes with another.
func emptyDir(dir string) (bool, error) {
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("%s is not empty: give a new or empty directory", dir)
	}
	return false, nil
}

// inside reports whether path is dir or below it.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	switch n := fi.Size(); {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// recordBackup writes the backup's AuditEvent into the log of the data
// directory it copied: a copy of every record is an access to all of them.
func recordBackup(ctx context.Context, cfg config, dest string, written []string, backupErr error) error {
	st, _, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return fmt.Errorf("recording the backup in the audit log: %w", err)
	}
	defer st.Close()
	e := audit.Entry{Category: audit.CategoryExport, Interaction: "backup", Agent: audit.Agent{User: "cli:" + osUser()},
		Files: written, Detail: "backup of " + cfg.dataDir + " to " + dest, Recorded: time.Now(), Observer: "emr backup"}
	if backupErr != nil {
		e.Outcome = audit.SeriousFailure
		e.Detail += " failed: " + backupErr.Error()
	}
	if err := st.AppendAudit(context.WithoutCancel(ctx), audit.Event(e)); err != nil {
		return fmt.Errorf("recording the backup in the audit log: %w", err)
	}
	return nil
}

// `emr restore BACKUP` makes a data directory of a backup: it checks the
// backup's databases, copies its files into a new or empty --data (never
// over a database), opens the result as the server would (which checks
// that the two files belong together), verifies its audit chain, and
// records the restore in it.

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", stderr)
	describe(fs, stderr, `emr restore [--data DIR] BACKUP: make DIR, a new or empty directory, the data directory
of the backup BACKUP (emr backup): its databases are checked, copied, opened and their
audit log verified. Stop the server first, and move a damaged data directory aside.`)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory to restore into: new or empty")
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("give the backup's directory: emr restore [--data DIR] BACKUP")}
	}
	backup := pos[0]
	if _, err := os.Stat(filepath.Join(backup, "emr.db")); err != nil {
		return fmt.Errorf("no backup in %s: %w", backup, err)
	}
	entries, err := os.ReadDir(backup)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if slices.Contains(sqliteFiles, e.Name()) {
			if err := sqlstore.CheckSQLite(ctx, filepath.Join(backup, e.Name())); err != nil {
				return fmt.Errorf("the backup is damaged: %w", err)
			}
		}
	}
	made, err := emptyDir(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("%w (move the old data directory aside; restore never overwrites one)", err)
	}
	fmt.Fprintf(stdout, "restoring %s into %s\n", backup, cfg.dataDir)
	var written []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		dst := filepath.Join(cfg.dataDir, e.Name())
		if err = copyFile(filepath.Join(backup, e.Name()), dst); err != nil {
			break
		}
		written = append(written, dst)
	}
	if err == nil {
		err = sqlstore.SyncPath(cfg.dataDir)
	}
	if err == nil {
		err = openRestored(ctx, cfg, backup, stdout)
	}
	if err != nil {
		for _, f := range written {
			os.Remove(f)
		}
		if made {
			os.Remove(cfg.dataDir)
		}
		return fmt.Errorf("restore: %w (nothing is left in %s)", err, cfg.dataDir)
	}
	fmt.Fprintf(stdout, "restored: start the server with --data %s\n", cfg.dataDir)
	return nil
}

// openRestored opens the restored store, verifies its audit chain with
// the key restored beside it, and records the restore.
func openRestored(ctx context.Context, cfg config, backup string, stdout io.Writer) error {
	keys, keyFile, err := trustedKeys(cfg, "")
	if err != nil {
		return err
	}
	cfg.noAuditKey = true // verifying signs nothing; the server signs from now on
	st, where, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()
	if err := verifyLog(ctx, st, where, keys, keyFile, nil, stdout); err != nil {
		return err
	}
	e := audit.Entry{Category: audit.CategoryImport, Interaction: "restore", Agent: audit.Agent{User: "cli:" + osUser()},
		Files: []string{backup}, Detail: "restored from the backup " + backup, Recorded: time.Now(), Observer: "emr restore"}
	return st.AppendAudit(context.WithoutCancel(ctx), audit.Event(e))
}
