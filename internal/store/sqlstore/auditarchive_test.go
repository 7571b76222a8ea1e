package sqlstore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/auditchain"
)

// archiveAndPurge writes the archive of the records before cutoff and
// purges them, as emr audit archive does.
func archiveAndPurge(t *testing.T, db *DB, cutoff time.Time) (auditchain.ArchiveHeader, []byte) {
	t.Helper()
	var file bytes.Buffer
	h, last, err := db.WriteAuditArchive(ctx, cutoff, &file)
	if err != nil {
		t.Fatal(err)
	}
	if h.Records == 0 {
		t.Fatal("nothing archived")
	}
	sum := sha256.Sum256(file.Bytes())
	p, err := db.PurgeAudit(ctx, h, last, "archive.ndjson.gz", sum[:], "tester")
	if err != nil {
		t.Fatal(err)
	}
	if p.Seq != h.Through || !bytes.Equal(p.Hash, last) {
		t.Fatalf("marker %d %x, archive through %d %x", p.Seq, p.Hash, h.Through, last)
	}
	return h, file.Bytes()
}

func verifyArchive(t *testing.T, file []byte, key ed25519.PrivateKey) ([]auditchain.Problem, auditchain.ArchiveResult) {
	t.Helper()
	var problems []auditchain.Problem
	res, err := auditchain.VerifyArchive(bytes.NewReader(file), []ed25519.PublicKey{key.Public().(ed25519.PublicKey)},
		func(p auditchain.Problem) { problems = append(problems, p) })
	if err != nil {
		t.Fatal(err)
	}
	return problems, res
}

// TestAuditArchivePurge archives the older part of a log, purges it, and
// checks that the rest verifies from the purge marker, that the archive
// verifies on its own and continues into the log, that a second archive
// follows the first, that appends during an archive are not disturbed,
// and that tampering with the archive or with the log after the purge is
// found.
func TestAuditArchivePurge(t *testing.T) {
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			key := newAuditKey(t)
			where := b.new(t)
			db, err := b.open(where, Options{ReadConns: 2, AuditKey: key, CheckpointEvery: 10})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			appendN := func(from, n int) {
				for i := range n {
					// All by one agent: its postings hold records on both
					// sides of the purge.
					ev := chainEvent(from + i)
					ev["agent"] = []any{map[string]any{"who": map[string]any{"display": "dana"}}}
					if err := db.AppendAudit(ctx, ev); err != nil {
						t.Error(err)
						return
					}
				}
			}
			appendN(0, 45)
			time.Sleep(5 * time.Millisecond)
			cutoff := time.Now()
			time.Sleep(5 * time.Millisecond)
			appendN(45, 20)

			// Appends go on while the archive is written and purged.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); appendN(1000, 40) }()
			h, file := archiveAndPurge(t, db, cutoff)
			wg.Wait()
			if h.From != 1 || h.Through != 45 || h.Records != 45 || h.Anchor != nil {
				t.Errorf("archive header %+v", h)
			}
			// No posting lists a purged record; those after it are kept.
			if _, err := db.SearchAudit(ctx, store.AuditQuery{Count: 1}); err != nil {
				t.Fatal(err)
			}
			checkPostings(t, db)
			dana, err := db.SearchAudit(ctx, store.AuditQuery{Terms: [][]audit.Term{{{Name: audit.ParamAgent, Value: "dana"}}}, Count: 1, Total: true})
			if err != nil || dana.Total != 60 {
				t.Errorf("agent dana after the purge: %d records (%v), want the 60 kept", dana.Total, err)
			}

			problems, sum := verify(t, b, where, key)
			if len(problems) > 0 || sum.FirstSeq != 46 {
				t.Fatalf("after the purge: %v, first seq %d", problems, sum.FirstSeq)
			}
			problems, res := verifyArchive(t, file, key)
			if len(problems) > 0 || res.Summary.Records != 45 || res.Summary.PassedCheckpoints == 0 {
				t.Fatalf("archive: %v, %+v", problems, res.Summary)
			}
			purges, err := db.AuditPurges(ctx)
			if err != nil || len(purges) != 1 || !bytes.Equal(purges[0].Hash, res.LastHash) {
				t.Fatalf("purges %+v, %v", purges, err)
			}
			// The purge left its record.
			var found bool
			if err := db.ScanAudit(ctx, 0, func(_ int64, ev fhir.Resource) error {
				found = found || strings.Contains(string(ev.JSON()), "archived 45 audit records, seq 1 to 45")
				return nil
			}); err != nil || !found {
				t.Errorf("no AuditEvent of the purge (%v)", err)
			}
			// The triggers still refuse any other delete.
			raw, err := b.raw(where)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.ExecContext(ctx, "DELETE FROM audit_event WHERE seq = 46"); err == nil {
				t.Error("a record after the purge could be deleted")
			}
			if _, err := raw.ExecContext(ctx, "DELETE FROM audit_purge"); err == nil {
				t.Error("a purge marker could be deleted")
			}
			// Nor can the tip be archived.
			if h, _, err := db.WriteAuditArchive(ctx, time.Now().Add(time.Hour), &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			} else if _, last, _ := db.auditTipForTest(); h.Through >= last {
				t.Errorf("an archive reached the last record")
			}

			// A second archive starts at the first one's marker.
			time.Sleep(5 * time.Millisecond)
			cutoff2 := time.Now()
			appendN(2000, 5)
			h2, file2 := archiveAndPurge(t, db, cutoff2)
			if h2.From != 46 || h2.Anchor == nil || h2.Anchor.Seq != 45 {
				t.Errorf("second archive header %+v", h2)
			}
			if problems, _ := verifyArchive(t, file2, key); len(problems) > 0 {
				t.Errorf("second archive: %v", problems)
			}
			if problems, _ := verify(t, b, where, key); len(problems) > 0 {
				t.Fatalf("after the second purge: %v", problems)
			}

			// Tampering with the archive: an event edited.
			if problems, _ := verifyArchive(t, tamperArchive(t, file, "ev7", "ev8"), key); len(problems) == 0 || problems[0].Kind != auditchain.Altered || problems[0].Seq != 8 {
				t.Errorf("edited archive: %v", problems)
			}
			// Tampering with the log after the purge: its first record removed.
			db.Close()
			evil := attacker(t, b, where)
			mustExec(t, evil, "DELETE FROM audit_event WHERE seq = ?", h2.Through+1)
			problems, _ = verify(t, b, where, key)
			if len(problems) == 0 || problems[0].Kind != auditchain.Missing {
				t.Errorf("first record after the purge removed: %v", problems)
			}
		})
	}
}

// tamperArchive replaces old by new in the first record line holding it
// (the event is base64: the test edits the decoded event).
func tamperArchive(t *testing.T, file []byte, old, new string) []byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<20)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if !done {
			var edited bool
			line, edited = editRecordLine(t, line, old, new)
			done = edited
		}
		w.Write([]byte(line + "\n"))
	}
	w.Close()
	return out.Bytes()
}

// editRecordLine replaces old by new in the event of an archive's record
// line, if it holds old, keeping its hashes.
func editRecordLine(t *testing.T, line, old, new string) (string, bool) {
	t.Helper()
	var l struct {
		Record *auditchain.Record `json:"record"`
	}
	if err := json.Unmarshal([]byte(line), &l); err != nil || l.Record == nil || !bytes.Contains(l.Record.Event, []byte(`"`+old+`"`)) {
		return line, false
	}
	l.Record.Event = bytes.Replace(l.Record.Event, []byte(`"`+old+`"`), []byte(`"`+new+`"`), 1)
	out, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), true
}

// auditTipForTest returns the log's first and last seq.
func (db *DB) auditTipForTest() (first, last int64, err error) {
	err = db.readers.QueryRowContext(ctx, "SELECT min(seq), max(seq) FROM audit_event").Scan(&first, &last)
	return first, last, err
}
