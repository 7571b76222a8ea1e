package sqlstore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/auditchain"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/storetest"
)

// chainBackend is a database the audit chain tests run on: how to open the
// store on it, how an attacker connects to it directly, and the statements
// with which the attacker first drops the append-only triggers.
type chainBackend struct {
	name         string
	new          func(t *testing.T) string // a fresh database: a path or a DSN
	open         func(where string, opts Options) (*DB, error)
	raw          func(where string) (*sql.DB, error)
	dropTriggers []string
}

// rawSQLite connects to the SQLite database at path as an attacker with
// file access could: the audit file attached, as the store has it, so
// that statements naming audit tables find them wherever they live.
func rawSQLite(path string) (*sql.DB, error) {
	var opts Options
	opts.defaults()
	return openAttached(path, opts, false)
}

var chainBackends = []chainBackend{
	{
		name: "sqlite",
		new:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "emr.db") },
		open: func(path string, opts Options) (*DB, error) { return OpenSQLite(ctx, path, opts) },
		raw:  rawSQLite,
		dropTriggers: []string{
			"DROP TRIGGER audit_event_seal", "DROP TRIGGER audit_event_no_delete",
			"DROP TRIGGER audit_checkpoint_no_update", "DROP TRIGGER audit_checkpoint_no_delete",
		},
	},
	{
		name: "postgres",
		new:  func(t *testing.T) string { return pgtest.DSN(t) },
		open: func(dsn string, opts Options) (*DB, error) { return OpenPostgres(ctx, dsn, opts) },
		raw:  openPostgresPool,
		dropTriggers: []string{
			"DROP TRIGGER audit_event_seal ON audit_event", "DROP TRIGGER audit_event_no_delete ON audit_event",
			"DROP TRIGGER audit_event_no_truncate ON audit_event",
			"DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint",
		},
	},
}

func newAuditKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func chainEvent(i int) fhir.Resource {
	return fhir.Resource{"resourceType": "AuditEvent", "id": fmt.Sprintf("ev%d", i), "code": map[string]any{"text": fmt.Sprint("read ", i)}}
}

// verify opens the store on where and verifies its audit log with key's
// public half.
func verify(t *testing.T, b chainBackend, where string, key ed25519.PrivateKey) ([]auditchain.Problem, auditchain.Summary) {
	t.Helper()
	db, err := b.open(where, Options{ReadConns: 2})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	var problems []auditchain.Problem
	sum, err := db.VerifyAudit(ctx, auditchain.Config{Keys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, Report: func(p auditchain.Problem) {
		problems = append(problems, p)
	}})
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return problems, sum
}

// attacker connects to the database directly and drops the append-only
// triggers, as someone with the database's credentials can.
func attacker(t *testing.T, b chainBackend, where string) *sql.DB {
	t.Helper()
	raw, err := b.raw(where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	for _, stmt := range b.dropTriggers {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return raw
}

// rechain recomputes, as an attacker knowing the hash function can, the
// chain of every record from seq from on.
func rechain(t *testing.T, raw *sql.DB, from int64) {
	t.Helper()
	var prev []byte
	if err := raw.QueryRowContext(ctx, "SELECT hash FROM audit_event WHERE seq < ? ORDER BY seq DESC LIMIT 1", from).Scan(&prev); err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	type rec struct {
		seq, recorded int64
		event         []byte
	}
	rows, err := raw.QueryContext(ctx, "SELECT seq, recorded, event FROM audit_event WHERE seq >= ? ORDER BY seq", from)
	if err != nil {
		t.Fatal(err)
	}
	var recs []rec
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.seq, &r.recorded, &r.event); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	for _, r := range recs {
		h := auditchain.Hash(prev, r.seq, r.recorded, r.event)
		mustExec(t, raw, "UPDATE audit_event SET prev_hash = ?, hash = ? WHERE seq = ?", nonNil(prev), h, r.seq)
		prev = h
	}
}

func mustExec(t *testing.T, raw *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := raw.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

type problemAt struct {
	seq  int64
	kind string
}

// TestAuditChainTampering writes a log of 35 records (checkpoints at seq
// 10, 20, 30 and, on close, 35), tampers with it through a connection of
// its own, and checks that verification reports each change where it was
// made.
func TestAuditChainTampering(t *testing.T) {
	const records = 35
	cases := []struct {
		name   string
		tamper func(t *testing.T, raw *sql.DB)
		want   []problemAt // each must be reported (others may be too)
	}{
		{"intact", nil, nil},
		{"edited event", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `UPDATE audit_event SET event = ? WHERE seq = 7`, []byte(`{"resourceType":"AuditEvent","id":"ev6","code":{"text":"nothing to see"}}`))
		}, []problemAt{{7, auditchain.Altered}}},
		{"edited time", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `UPDATE audit_event SET recorded = recorded + 3600000 WHERE seq = 8`)
		}, []problemAt{{8, auditchain.Altered}}},
		{"hash removed", func(t *testing.T, raw *sql.DB) {
			// Opening the store must not chain it afresh.
			mustExec(t, raw, `UPDATE audit_event SET event = ?, hash = NULL WHERE seq = 9`, []byte(`{"resourceType":"AuditEvent"}`))
		}, []problemAt{{9, auditchain.Unchained}}},
		{"deleted record", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `DELETE FROM audit_event WHERE seq = 12`)
		}, []problemAt{{13, auditchain.Missing}}},
		{"deleted record, chain after it recomputed", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `DELETE FROM audit_event WHERE seq = 12`)
			rechain(t, raw, 13)
		}, []problemAt{{13, auditchain.Missing}, {20, auditchain.CheckpointMismatch}}},
		{"inserted record", func(t *testing.T, raw *sql.DB) {
			// Make room at seq 16 by moving the records after it up one.
			for seq := records; seq >= 16; seq-- {
				mustExec(t, raw, `UPDATE audit_event SET seq = seq + 1 WHERE seq = ?`, seq)
			}
			var prev []byte
			if err := raw.QueryRowContext(ctx, `SELECT hash FROM audit_event WHERE seq = 15`).Scan(&prev); err != nil {
				t.Fatal(err)
			}
			ev := []byte(`{"resourceType":"AuditEvent","id":"forged"}`)
			mustExec(t, raw, `INSERT INTO audit_event (seq, recorded, event, prev_hash, hash) VALUES (16, 0, ?, ?, ?)`,
				ev, prev, auditchain.Hash(prev, 16, 0, ev))
		}, []problemAt{{17, auditchain.BrokenLink}, {17, auditchain.Altered}, {20, auditchain.CheckpointMismatch}}},
		{"forged record with a made-up hash", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `INSERT INTO audit_event (seq, recorded, event, prev_hash, hash) VALUES (36, 0, ?, ?, ?)`,
				[]byte(`{}`), []byte("x"), []byte("y"))
		}, []problemAt{{36, auditchain.Altered}, {36, auditchain.BrokenLink}}},
		{"swapped records", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `UPDATE audit_event SET seq = -5 WHERE seq = 5`)
			mustExec(t, raw, `UPDATE audit_event SET seq = 5 WHERE seq = 6`)
			mustExec(t, raw, `UPDATE audit_event SET seq = 6 WHERE seq = -5`)
		}, []problemAt{{5, auditchain.Altered}, {6, auditchain.Altered}, {5, auditchain.BrokenLink}}},
		{"swapped content", func(t *testing.T, raw *sql.DB) {
			// Events and times trade places; the hashes stay.
			mustExec(t, raw, `UPDATE audit_event SET seq = -25 WHERE seq = 25`)
			mustExec(t, raw, `UPDATE audit_event SET event = (SELECT event FROM audit_event WHERE seq = 26), recorded = (SELECT recorded FROM audit_event WHERE seq = 26) WHERE seq = -25`)
			mustExec(t, raw, `UPDATE audit_event SET event = (SELECT event FROM audit_event WHERE seq = 24) WHERE seq = 26`)
			mustExec(t, raw, `UPDATE audit_event SET seq = 25 WHERE seq = -25`)
		}, []problemAt{{25, auditchain.Altered}, {26, auditchain.Altered}}},
		{"tail removed", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `DELETE FROM audit_event WHERE seq > 27`)
		}, []problemAt{{30, auditchain.CheckpointMissing}, {35, auditchain.CheckpointMissing}}},
		{"tail rewritten with recomputed hashes", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `DELETE FROM audit_event WHERE seq > 27`)
			for seq := 28; seq <= records; seq++ {
				mustExec(t, raw, `INSERT INTO audit_event (seq, recorded, event) VALUES (?, 0, ?)`, seq, []byte(`{"resourceType":"AuditEvent"}`))
			}
			rechain(t, raw, 28)
		}, []problemAt{{30, auditchain.CheckpointMismatch}, {35, auditchain.CheckpointMismatch}}},
		{"record after the last periodic checkpoint rewritten", func(t *testing.T, raw *sql.DB) {
			// Only the checkpoint made on close covers seq 31 to 35.
			mustExec(t, raw, `UPDATE audit_event SET event = ? WHERE seq = 33`, []byte(`{"resourceType":"AuditEvent"}`))
			rechain(t, raw, 33)
		}, []problemAt{{35, auditchain.CheckpointMismatch}}},
		{"forged checkpoint", func(t *testing.T, raw *sql.DB) {
			// The attacker rewrites the tail and signs it with a key of
			// their own.
			mustExec(t, raw, `UPDATE audit_event SET event = ? WHERE seq = 33`, []byte(`{"resourceType":"AuditEvent"}`))
			rechain(t, raw, 33)
			mustExec(t, raw, `DELETE FROM audit_checkpoint WHERE seq = 35`)
			var hash []byte
			if err := raw.QueryRowContext(ctx, `SELECT hash FROM audit_event WHERE seq = 35`).Scan(&hash); err != nil {
				t.Fatal(err)
			}
			cp := auditchain.Sign(newAuditKey(t), 35, hash, 1)
			mustExec(t, raw, `INSERT INTO audit_checkpoint (seq, hash, created, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
				cp.Seq, cp.Hash, cp.Created, cp.KeyID, cp.Signature)
		}, []problemAt{{35, auditchain.BadSignature}}},
		{"checkpoint signature altered", func(t *testing.T, raw *sql.DB) {
			mustExec(t, raw, `UPDATE audit_checkpoint SET created = created + 1 WHERE seq = 20`)
		}, []problemAt{{20, auditchain.BadSignature}}},
	}
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					key := newAuditKey(t)
					where := b.new(t)
					db, err := b.open(where, Options{ReadConns: 2, AuditKey: key, CheckpointEvery: 10})
					if err != nil {
						t.Fatal(err)
					}
					for i := range records {
						if err := db.AppendAudit(ctx, chainEvent(i)); err != nil {
							t.Fatal(err)
						}
					}
					if err := db.Close(); err != nil {
						t.Fatal(err)
					}
					if c.tamper != nil {
						c.tamper(t, attacker(t, b, where))
					}
					problems, sum := verify(t, b, where, key)
					if c.want == nil {
						if len(problems) > 0 || !sum.Intact() {
							t.Errorf("intact log: problems %v", problems)
						}
						if sum.Records != records || sum.FirstSeq != 1 || sum.LastSeq != records || sum.PassedCheckpoints != 4 || sum.Unsealed != 0 {
							t.Errorf("summary %+v, want 35 records, seq 1 to 35, 4 checkpoints passed, none unsealed", sum)
						}
						return
					}
					if sum.Intact() {
						t.Fatalf("tampered log verifies as intact: %+v", sum)
					}
					for _, w := range c.want {
						if !slices.ContainsFunc(problems, func(p auditchain.Problem) bool { return p.Seq == w.seq && p.Kind == w.kind }) {
							t.Errorf("no %q problem at seq %d; got:", w.kind, w.seq)
							for _, p := range problems {
								t.Logf("  %s", p)
							}
						}
					}
				})
			}
		})
	}
}

// TestAuditChainConcurrent appends from many goroutines at once, audited
// reads (AppendAudit) mixed with writes that audit themselves, some of
// which fail and must leave nothing; on PostgreSQL from two stores on one
// database, as two servers would. The chain must verify, with every
// record committed in it once.
func TestAuditChainConcurrent(t *testing.T) {
	const (
		goroutines = 8
		each       = 40
	)
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			key := newAuditKey(t)
			where := b.new(t)
			servers := 1
			if b.name == "postgres" {
				servers = 2
			}
			var dbs []*DB
			for range servers {
				db, err := b.open(where, Options{ReadConns: 2, AuditKey: key, CheckpointEvery: 25, Extractor: storetest.Extractor()})
				if err != nil {
					t.Fatal(err)
				}
				dbs = append(dbs, db)
			}
			var (
				wg        sync.WaitGroup
				committed atomic.Int64
			)
			for g := range goroutines * servers {
				db := dbs[g%servers]
				wg.Go(func() {
					for i := range each {
						var err error
						switch i % 4 {
						case 0, 1: // an audited read
							err = db.AppendAudit(ctx, chainEvent(g*each+i))
							if err == nil {
								committed.Add(1)
							}
						case 2: // a write with its audit
							err = db.Write(ctx, func(tx store.Tx) error {
								if _, err := tx.Create(fhir.Resource{"resourceType": "Patient"}); err != nil {
									return err
								}
								return tx.AppendAudit(chainEvent(g*each + i))
							})
							if err == nil {
								committed.Add(1)
							}
						case 3: // a write that fails after auditing: nothing kept
							err = db.Write(ctx, func(tx store.Tx) error {
								if err := tx.AppendAudit(chainEvent(-1)); err != nil {
									return err
								}
								return errRollback
							})
							if err == errRollback {
								err = nil
							}
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			for _, db := range dbs {
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			problems, sum := verify(t, b, where, key)
			for _, p := range problems {
				t.Errorf("problem: %s", p)
			}
			if sum.Records != committed.Load() || sum.FirstSeq != 1 || sum.LastSeq != sum.Records {
				t.Errorf("summary %+v, want %d records numbered from 1 without gaps", sum, committed.Load())
			}
			if sum.PassedCheckpoints < 2 || sum.Unsealed != 0 {
				t.Errorf("summary %+v, want several checkpoints passed and none unsealed", sum)
			}
		})
	}
}

var errRollback = errors.New("roll back")

// oldSchema readies conn, on a new database, for migrations applied one
// at a time with migrateStep, as an older emr left them, and returns a
// function that runs a statement on conn or fails the test.
func oldSchema(t *testing.T, conn *sql.Conn) func(q string, args ...any) {
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	return exec
}

// TestAuditChainOfOlderDatabase opens a database whose audit records were
// written before the chain existed (schema version 3): the store chains
// them on opening and seals them with a checkpoint, and the log verifies,
// a PostgreSQL sequence's gap among them included.
func TestAuditChainOfOlderDatabase(t *testing.T) {
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			where := b.new(t)
			raw, err := b.raw(where)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			d := sqliteDialect
			if b.name == "postgres" {
				d = postgresDialect
			}
			list, err := loadMigrations(d.migrationsDir)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := raw.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mustExecConn := oldSchema(t, conn)
			for {
				done, err := migrateStep(ctx, conn, list[:3])
				if err != nil {
					t.Fatal(err)
				}
				if done {
					break
				}
			}
			const old = 25
			for i := range old {
				mustExecConn(`INSERT INTO audit_event (recorded, event) VALUES (?, ?)`, 1000+i, fhirJSON(chainEvent(i)))
				if i == 10 && b.name == "postgres" {
					// A rolled-back append: the identity skips a number.
					mustExecConn(`BEGIN`)
					mustExecConn(`INSERT INTO audit_event (recorded, event) VALUES (0, '\x7b7d')`)
					mustExecConn(`ROLLBACK`)
				}
			}
			conn.Close()

			key := newAuditKey(t)
			db, err := b.open(where, Options{ReadConns: 2, AuditKey: key})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.AppendAudit(ctx, chainEvent(100)); err != nil {
				t.Fatal(err)
			}
			db.Close()
			problems, sum := verify(t, b, where, key)
			for _, p := range problems {
				t.Errorf("problem: %s", p)
			}
			wantGaps := int64(0)
			if b.name == "postgres" {
				wantGaps = 1
			}
			if sum.Records != old+1 || sum.SeqGaps != wantGaps || sum.PassedCheckpoints != 2 {
				t.Errorf("summary %+v, want %d records, %d seq gap, 2 checkpoints (after chaining, on close)", sum, old+1, wantGaps)
			}
		})
	}
}

func fhirJSON(r fhir.Resource) []byte { return r.JSON() }

// TestAuditCheckpointOnTimer: a checkpoint comes CheckpointInterval after
// the last even when no further append brings it, and none comes while
// nothing is appended.
func TestAuditCheckpointOnTimer(t *testing.T) {
	db, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "emr.db"), Options{AuditKey: newAuditKey(t), CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkpoints := func() (n int, last int64) {
		t.Helper()
		if err := db.readers.QueryRowContext(ctx, "SELECT count(*), coalesce(max(seq), 0) FROM audit_checkpoint").Scan(&n, &last); err != nil {
			t.Fatal(err)
		}
		return n, last
	}
	time.Sleep(250 * time.Millisecond)
	if n, _ := checkpoints(); n != 0 {
		t.Fatalf("%d checkpoints of an empty log, want none", n)
	}
	for i := range 3 {
		if err := db.AppendAudit(ctx, chainEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, last := checkpoints(); last == 3 {
			break
		}
		if time.Now().After(deadline) {
			n, last := checkpoints()
			t.Fatalf("after 5s: %d checkpoints, the last at seq %d; want one at seq 3", n, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, _ := checkpoints()
	time.Sleep(300 * time.Millisecond)
	if m, _ := checkpoints(); m != n {
		t.Errorf("%d checkpoints, then %d with nothing appended", n, m)
	}
}

// TestAuditAppendAtOnce checks PostgreSQL's one-statement append
// (audit_append): the hashes it computes in SQL are auditchain.Hash's,
// for batches of every size from an empty log on, and a tip that lost its
// hash still stops the log from growing.
func TestAuditAppendAtOnce(t *testing.T) {
	b := chainBackends[1]
	where := b.new(t)
	db, err := b.open(where, Options{ReadConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	for _, size := range []int{1, 2, 33, 300} {
		var evs []fhir.Resource
		for range size {
			evs = append(evs, chainEvent(n))
			n++
		}
		if err := db.AppendAudit(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	e := audit.Entry{Interaction: "read", Type: "Patient", ID: "p1", Patient: "Patient/p1", Agent: audit.Agent{User: "ann"}, Recorded: time.Now()}
	enc, _ := audit.Encode(e, store.NewID())
	if err := db.AppendEncodedAudit(ctx, enc); err != nil {
		t.Fatal(err)
	}
	n++
	rows, err := db.readers.QueryContext(ctx, "SELECT seq, recorded, event, prev_hash, hash FROM audit_event ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	count := 0
	for rows.Next() {
		var (
			seq, recorded     int64
			event, ph, stored []byte
		)
		if err := rows.Scan(&seq, &recorded, &event, &ph, &stored); err != nil {
			t.Fatal(err)
		}
		count++
		if want := auditchain.Hash(prev, seq, recorded, event); seq != int64(count) || !bytes.Equal(ph, nonNil(prev)) || !bytes.Equal(stored, want) {
			t.Fatalf("record %d (seq %d): prev %x hash %x, want prev %x hash %x", count, seq, ph, stored, prev, want)
		}
		prev = stored
	}
	rows.Close()
	if count != n {
		t.Fatalf("%d records, want %d", count, n)
	}

	raw, err := b.raw(where)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	mustExec(t, raw, "DROP TRIGGER audit_event_seal ON audit_event")
	mustExec(t, raw, "UPDATE audit_event SET hash = NULL WHERE seq = $1", n)
	if err := db.AppendAudit(ctx, chainEvent(n)); err == nil || !strings.Contains(err.Error(), "lost its hash") {
		t.Fatalf("append after the tip lost its hash: %v, want a refusal", err)
	}
	var last int64
	if err := raw.QueryRow("SELECT max(seq) FROM audit_event").Scan(&last); err != nil || last != int64(n) {
		t.Fatalf("the log ends at %d (%v), want %d", last, err, n)
	}
}
