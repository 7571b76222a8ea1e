package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/store/auditchain"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

// errAuditTampered makes `emr audit verify` exit 1: the problems are
// already printed.
var errAuditTampered = errors.New("the audit log has been tampered with (see above)")

// runAudit dispatches the audit subcommands.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "Usage: emr audit verify|archive|show [flags]\n\n  verify   check the audit log's hash chain and signed checkpoints (or, with --archive, an archive file)\n  archive  move the records older than the retention period to an archive file and purge them\n  show     print the AuditEvents of an archive file as NDJSON")
		if len(args) == 0 {
			return usageError{errors.New("no audit command given")}
		}
		return nil
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "archive":
		return runAuditArchive(ctx, args[1:], stdout, stderr)
	case "show":
		return runAuditShow(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("unknown audit command %q (try verify, archive or show)", args[0])}
}

// runAuditVerify walks the whole audit log and reports every sign of
// tampering: exit 0 when intact, 1 when not, 2 for usage errors.
func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", stderr)
	fs.Usage = auditVerifyUsage(fs.Usage, stderr)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "./emr-data", "data directory holding the SQLite database (and, by default, the audit key)")
	dbFlags(fs, &cfg, false)
	fs.StringVar(&cfg.auditKey, "audit-key", "", "the servers' checkpoint key file, whose public half (FILE.pub, or the key itself) is trusted (default with SQLite: audit-key in --data)")
	publicKey := fs.String("public-key", "", "PEM file of the trusted public key(s); better than --audit-key: keep a copy away from the database and its server")
	var known checkpointList
	fs.Var(&known, "checkpoint", "SEQ:HASH (hex) of a record as an earlier verify printed it (\"last:\"), kept outside the database: the chain must still pass through it (repeatable, or comma-separated)")
	archive := fs.String("archive", "", "verify this archive file (emr audit archive) on its own, and its continuity with the log when the database is there")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	keys, keyFile, err := trustedKeys(cfg, *publicKey)
	if err != nil {
		return err
	}
	if *archive != "" {
		return verifyArchiveFile(ctx, cfg, *archive, keys, keyFile, stdout)
	}
	if cfg.dbURL == "" {
		// A mistyped --data would otherwise be a new, empty and so
		// "intact" database.
		if _, err := os.Stat(filepath.Join(cfg.dataDir, "emr.db")); err != nil {
			return fmt.Errorf("no database in %s: %w", cfg.dataDir, err)
		}
	}
	// Opened without a signing key: verifying must never sign anything.
	cfg.noAuditKey = true
	st, where, err := openStore(ctx, cfg, spec.R5())
	if err != nil {
		return err
	}
	defer st.Close()
	return verifyLog(ctx, st, where, keys, keyFile, known, stdout)
}

// verifyLog walks the audit log of st (at where), printing each problem
// and then the summary; errAuditTampered when it is not intact.
func verifyLog(ctx context.Context, st *sqlstore.DB, where string, keys []ed25519.PublicKey, keyFile string, known []auditchain.Checkpoint, stdout io.Writer) error {
	fmt.Fprintf(stdout, "verifying the audit log of %s\ntrusting key %s from %s\n", where, keyIDs(keys), keyFile)
	start := time.Now()
	sum, err := st.VerifyAudit(ctx, auditchain.Config{Keys: keys, Known: known,
		Report: func(p auditchain.Problem) { fmt.Fprintln(stdout, p) }})
	printAuditSummary(stdout, sum, time.Since(start))
	if err != nil {
		return err
	}
	if !sum.Intact() {
		return errAuditTampered
	}
	return nil
}

// trustedKeys loads the public keys to check checkpoints with, and says
// from where.
func trustedKeys(cfg config, publicKey string) ([]ed25519.PublicKey, string, error) {
	if publicKey != "" {
		keys, err := auditchain.LoadPublicKeys(publicKey)
		if err != nil {
			return nil, "", usageError{err}
		}
		return keys, publicKey, nil
	}
	path := auditKeyPath(cfg)
	if path == "" {
		return nil, "", usageError{errors.New("no audit key: give --public-key (or --audit-key)")}
	}
	for _, p := range []string{auditchain.PublicKeyPath(path), path} {
		keys, err := auditchain.LoadPublicKeys(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", usageError{err}
		}
		return keys, p, nil
	}
	return nil, "", usageError{fmt.Errorf("no audit key at %s: give --public-key (or --audit-key)", path)}
}

func keyIDs(keys []ed25519.PublicKey) string {
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += auditchain.KeyID(k)
	}
	return s
}

func printAuditSummary(w io.Writer, sum auditchain.Summary, elapsed time.Duration) {
	if sum.Records == 0 {
		fmt.Fprintln(w, "records:     none")
	} else {
		fmt.Fprintf(w, "records:     %d, seq %d to %d\n", sum.Records, sum.FirstSeq, sum.LastSeq)
	}
	fmt.Fprintf(w, "checkpoints: %d (%d validly signed, chain passes through %d)\n", sum.Checkpoints, sum.ValidCheckpoints, sum.PassedCheckpoints)
	if c := sum.LastCheckpoint; c.Seq > 0 {
		fmt.Fprintf(w, "last:        seq %d, %s, hash %s\n", c.Seq, auditchain.FormatTime(c.Created), hex.EncodeToString(c.Hash))
	}
	if sum.Unsealed > 0 {
		fmt.Fprintf(w, "unsealed:    %d records after the last checkpoint (their removal could not be detected)\n", sum.Unsealed)
	}
	if sum.SeqGaps > 0 {
		fmt.Fprintf(w, "seq gaps:    %d numbers unused among the records from before the chain (rolled-back appends)\n", sum.SeqGaps)
	}
	rate := ""
	if s := elapsed.Seconds(); s > 0 && sum.Records > 0 {
		rate = fmt.Sprintf(", %.0f records/s", float64(sum.Records)/s)
	}
	fmt.Fprintf(w, "time:        %s%s\n", elapsed.Round(time.Millisecond), rate)
	if sum.Intact() {
		fmt.Fprintln(w, "result:      intact")
	} else {
		plural := "s"
		if sum.Problems == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "result:      TAMPERED, %d problem%s\n", sum.Problems, plural)
	}
}

func auditVerifyUsage(flags func(), stderr io.Writer) func() {
	return func() {
		fmt.Fprintln(stderr, "emr audit verify [flags]: walk the whole audit log in seq order, recompute every record's")
		fmt.Fprintln(stderr, "hash, check each link and each checkpoint's signature, and that the chain passes through")
		fmt.Fprintln(stderr, "every checkpoint. Each problem is printed with its seq and time. Exit code 0 when the log")
		fmt.Fprintln(stderr, "is intact, 1 when it was tampered with (or cannot be read), 2 for usage errors.")
		fmt.Fprintln(stderr)
		flags()
	}
}

// checkpointList is the --checkpoint flag: SEQ:HASH pairs.
type checkpointList []auditchain.Checkpoint

func (l *checkpointList) String() string {
	parts := make([]string, len(*l))
	for i, c := range *l {
		parts[i] = fmt.Sprintf("%d:%x", c.Seq, c.Hash)
	}
	return strings.Join(parts, ",")
}

func (l *checkpointList) Set(v string) error {
	for _, pair := range strings.Split(v, ",") {
		seqText, hashText, ok := strings.Cut(strings.TrimSpace(pair), ":")
		seq, err := strconv.ParseInt(seqText, 10, 64)
		if !ok || err != nil || seq <= 0 {
			return fmt.Errorf("%q: want SEQ:HASH, e.g. 1000:15491848de…", pair)
		}
		hash, err := hex.DecodeString(hashText)
		if err != nil || len(hash) != auditchain.HashSize {
			return fmt.Errorf("%q: the hash must be %d hex digits", pair, 2*auditchain.HashSize)
		}
		*l = append(*l, auditchain.Checkpoint{Seq: seq, Hash: hash})
	}
	return nil
}

// verifyArchiveFile checks an archive on its own and, when the database
// is there, that the purge marker in the log names this very file (its
// SHA-256) and its last record: the archive and the live log then form one
// chain.
func verifyArchiveFile(ctx context.Context, cfg config, path string, keys []ed25519.PublicKey, keyFile string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "verifying the audit archive %s\ntrusting key %s from %s\n", path, keyIDs(keys), keyFile)
	start := time.Now()
	report := func(p auditchain.Problem) { fmt.Fprintln(stdout, p) }
	sum, res, err := hashAndVerifyArchive(path, keys, report)
	if err != nil {
		return err
	}
	problems := res.Summary.Problems
	fmt.Fprintf(stdout, "archive:     %d records, seq %d to %d, recorded before %s, sha256 %x\n",
		res.Header.Records, res.Header.From, res.Header.Through, auditchain.FormatTime(res.Header.Before), sum)
	hasDB := cfg.dbURL != ""
	if !hasDB {
		_, err := os.Stat(filepath.Join(cfg.dataDir, "emr.db"))
		hasDB = err == nil
	}
	if hasDB {
		cfg.noAuditKey = true
		st, where, err := openStore(ctx, cfg, spec.R5())
		if err != nil {
			return err
		}
		defer st.Close()
		purges, err := st.AuditPurges(ctx)
		if err != nil {
			return err
		}
		var marker *auditchain.Purge
		for i := range purges {
			if purges[i].Seq == res.Header.Through {
				marker = &purges[i]
			}
		}
		switch {
		case marker == nil:
			problems++
			report(auditchain.Problem{Seq: res.Header.Through, Kind: auditchain.Missing, Detail: "no purge marker in " + where + " ends where this archive ends: not this log's archive, or its records are still in the log"})
		case !bytes.Equal(marker.Hash, res.LastHash):
			problems++
			report(auditchain.Problem{Seq: marker.Seq, Recorded: marker.Created, Kind: auditchain.BrokenLink, Detail: "the purge marker's hash is not the archive's last record's: the archive was rewritten"})
		case !bytes.Equal(marker.ArchiveSHA256, sum):
			problems++
			report(auditchain.Problem{Seq: marker.Seq, Recorded: marker.Created, Kind: auditchain.Altered, Detail: fmt.Sprintf("the archive file is not the one purged (its sha256 was %x): it was changed", marker.ArchiveSHA256)})
		case !marker.VerifiedBy(keys):
			problems++
			report(auditchain.Problem{Seq: marker.Seq, Recorded: marker.Created, Kind: auditchain.BadSignature, Detail: "the purge marker is not signed by a trusted key"})
		default:
			fmt.Fprintf(stdout, "continuity:  the purge marker of %s (seq %d, made %s) names this file and its last record\n", where, marker.Seq, auditchain.FormatTime(marker.Created))
		}
	} else {
		fmt.Fprintln(stdout, "continuity:  not checked (no database given)")
	}
	res.Summary.Problems = problems
	printAuditSummary(stdout, res.Summary, time.Since(start))
	if problems > 0 {
		return errAuditTampered
	}
	return nil
}
