package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store/auditchain"
)

// defaultAuditRetention is how long audit records stay in the database:
// seven years, the longest the usual rules ask (HIPAA documentation six,
// many record-keeping rules seven or more).
const defaultAuditRetention = "7y"

// age is a duration in calendar terms: "7y", "18m" (months), "90d", or a
// Go duration ("36h").
type age struct {
	years, months, days int
	d                   time.Duration
}

func parseAge(s string) (age, error) {
	if n, err := strconv.Atoi(strings.TrimRight(s, "ymd")); err == nil && n >= 0 && len(s) > 1 {
		switch s[len(s)-1] {
		case 'y':
			return age{years: n}, nil
		case 'm':
			return age{months: n}, nil
		case 'd':
			return age{days: n}, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return age{}, fmt.Errorf("%q: want a number of years, months or days (7y, 18m, 90d) or a duration (36h)", s)
	}
	return age{d: d}, nil
}

// before is the moment an age before now.
func (a age) before(now time.Time) time.Time {
	return now.AddDate(-a.years, -a.months, -a.days).Add(-a.d)
}

// runAuditArchive moves the audit records older than the cut-off to an
// archive file, then purges them from the database (docs/audit.md,
// "Retention and archive").
func runAuditArchive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit archive", stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database (and, by default, the audit key)")
	dbFlags(fs, &cfg, false)
	fs.StringVar(&cfg.auditKey, "audit-key", "", "the servers' audit key file: it signs the purge marker (default with SQLite: audit-key in --data)")
	beforeFlag := fs.String("before", "", "archive the records recorded before this date or instant (2019-01-01, 2019-01-01T00:00:00Z)")
	olderThan := fs.String("older-than", "", "archive the records older than this: 7y, 18m, 90d or a duration (default: --audit-retention)")
	retentionFlag := fs.String("audit-retention", defaultAuditRetention, "how long audit records must stay in the database; a cut-off inside it is refused without --force")
	force := fs.Bool("force", false, "allow a cut-off inside the retention period (the purge's own audit record says what was archived)")
	out := fs.String("out", "", "the archive file to write (gzip NDJSON; must not exist)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out FILE is required")}
	}
	if *beforeFlag != "" && *olderThan != "" {
		return usageError{errors.New("give --before or --older-than, not both")}
	}
	retention, err := parseAge(*retentionFlag)
	if err != nil {
		return usageError{fmt.Errorf("--audit-retention: %w", err)}
	}
	now := time.Now()
	cutoff := retention.before(now)
	switch {
	case *beforeFlag != "":
		if cutoff, err = parseInstant(*beforeFlag); err != nil {
			return usageError{fmt.Errorf("--before: %w", err)}
		}
	case *olderThan != "":
		a, err := parseAge(*olderThan)
		if err != nil {
			return usageError{fmt.Errorf("--older-than: %w", err)}
		}
		cutoff = a.before(now)
	}
	if limit := retention.before(now); cutoff.After(limit) && !*force {
		return usageError{fmt.Errorf("the cut-off %s is inside the retention period (%s: records since %s must stay); use --force to archive them anyway",
			cutoff.UTC().Format(time.RFC3339), *retentionFlag, limit.UTC().Format(time.RFC3339))}
	}
	if cfg.dbURL == "" {
		if _, err := os.Stat(filepath.Join(cfg.dataDir, "emr.db")); err != nil {
			return fmt.Errorf("no database in %s: %w", cfg.dataDir, err)
		}
	}
	st, where, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()

	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("archive file: %w", err)
	}
	h, lastHash, err := st.WriteAuditArchive(ctx, cutoff, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || h.Records == 0 {
		os.Remove(*out)
		if err == nil {
			fmt.Fprintf(stdout, "nothing to archive in %s: no audit record before %s\n", where, cutoff.UTC().Format(time.RFC3339))
		}
		return err
	}
	// Read the file back before deleting anything: what is on disk must
	// verify, and its hash is what the purge marker names.
	keys, _, err := trustedKeys(cfg, "")
	if err != nil {
		return err
	}
	sum, res, err := hashAndVerifyArchive(*out, keys, func(p auditchain.Problem) { fmt.Fprintln(stdout, p) })
	if err != nil {
		return err
	}
	if !res.Summary.Intact() || res.Summary.Records != h.Records {
		return fmt.Errorf("the archive %s does not verify: nothing purged", *out)
	}
	agent := "emr audit archive"
	if u, err := user.Current(); err == nil {
		agent += " (" + u.Username + ")"
	}
	abs, _ := filepath.Abs(*out)
	p, err := st.PurgeAudit(ctx, h, lastHash, abs, sum, agent)
	if err != nil {
		return fmt.Errorf("the archive %s is written but nothing was purged: %w", *out, err)
	}
	fmt.Fprintf(stdout, "archived %d audit records of %s, seq %d to %d (recorded before %s), to %s\nsha256:  %x\npurged:  marker seq %d, hash %x, signed by key %s\n",
		h.Records, where, h.From, h.Through, cutoff.UTC().Format(time.RFC3339), *out, sum, p.Seq, p.Hash, p.KeyID)
	return nil
}

// hashAndVerifyArchive reads an archive file once, computing its SHA-256
// and verifying it.
func hashAndVerifyArchive(path string, keys []ed25519.PublicKey, report func(auditchain.Problem)) ([]byte, auditchain.ArchiveResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, auditchain.ArchiveResult{}, err
	}
	defer f.Close()
	h := sha256.New()
	res, err := auditchain.VerifyArchive(io.TeeReader(f, h), keys, report)
	if err != nil {
		return nil, res, err
	}
	// The gzip reader may stop before trailing bytes: hash them too.
	if _, err := io.Copy(h, f); err != nil {
		return nil, res, err
	}
	return h.Sum(nil), res, nil
}

// parseInstant reads a date or dateTime (UTC when it has no zone).
func parseInstant(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2019-01-01) or instant (2019-01-01T00:00:00Z)", s)
}

// runAuditShow prints the records of an archive file as AuditEvent JSON,
// one per line, in the order recorded: the archive keeps each record's
// stored form (audit.Render makes a compact one JSON again). It verifies
// nothing: emr audit verify --archive does.
func runAuditShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit show", stderr)
	archive := fs.String("archive", "", "the archive file (emr audit archive) whose AuditEvents to print")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *archive == "" {
		return usageError{errors.New("--archive is required")}
	}
	f, err := os.Open(*archive)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(stdout)
	_, err = auditchain.ArchiveRecords(f, func(r auditchain.Record) error {
		json, err := audit.Render(r.Event)
		if err != nil {
			return fmt.Errorf("record %d: %w", r.Seq, err)
		}
		w.Write(json)
		return w.WriteByte('\n')
	})
	if err != nil {
		return fmt.Errorf("%s: %w", *archive, err)
	}
	return w.Flush()
}
