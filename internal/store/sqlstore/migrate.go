package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrations holds each database's schema as numbered files
// migrations/<dialect>/NNNN_name.sql. A shipped migration is never edited;
// a change is a new file (in both directories, so that the databases keep
// one logical schema).
//
//go:embed migrations/sqlite/*.sql migrations/sqlite-audit/*.sql migrations/postgres/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(dir string) ([]migration, error) {
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	var list []migration
	for _, path := range names {
		name := strings.TrimPrefix(path, dir+"/")
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		body, err := migrations.ReadFile(path)
		if err != nil {
			return nil, err
		}
		list = append(list, migration{version: version, name: name, sql: string(body)})
	}
	slices.SortFunc(list, func(a, b migration) int { return a.version - b.version })
	for i, m := range list {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (no gaps or duplicates)", m.name, i+1)
		}
	}
	return list, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction together with its schema_migrations row, under the dialect's
// migration lock. before, when not nil, runs ahead of each migration's
// transaction with the version it is about to apply; it must be safe to
// run twice (another process may apply that version meanwhile).
func migrate(ctx context.Context, conn *sql.Conn, d *dialect, before func(ctx context.Context, version int) error) (err error) {
	list, err := loadMigrations(d.migrationsDir)
	if err != nil {
		return err
	}
	if err := d.lockMigrations(ctx, conn); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		if uerr := d.unlockMigrations(context.WithoutCancel(ctx), conn); uerr != nil && err == nil {
			err = fmt.Errorf("migrate: unlock: %w", uerr)
		}
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for {
		if before != nil {
			var current int
			if err := conn.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			if current < len(list) {
				if err := before(ctx, current+1); err != nil {
					return fmt.Errorf("migrate %s: %w", list[current].name, err)
				}
			}
		}
		done, err := migrateStep(ctx, conn, list)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the first missing migration in a transaction that
// also reads the schema version, so that two processes opening one new
// database cannot both apply it (the writer's transactions are IMMEDIATE).
func migrateStep(ctx context.Context, conn *sql.Conn, list []migration) (done bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	if current > len(list) {
		return false, fmt.Errorf("database schema version %d is newer than this binary supports (%d): run a newer emr", current, len(list))
	}
	if current == len(list) {
		return true, nil
	}
	m := list[current]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.name, err)
	}
	return false, nil
}
