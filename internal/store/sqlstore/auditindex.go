package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
)

// audit_index (migration 0006) keeps each audit record's search terms
// (audit.Index), written by sealAudit in the transaction that appends the
// record, so a search never sees a record without its terms.

// indexedTerm is a search term of the record seq.
type indexedTerm struct {
	audit.Term
	seq int64
}

// termInsertChunk is the most audit_index rows one INSERT appends.
const termInsertChunk = 64

// insertAuditTerms appends terms to audit_index on the writer connection.
func (db *DB) insertAuditTerms(ctx context.Context, terms []indexedTerm) error {
	for len(terms) > 0 {
		n := min(len(terms), termInsertChunk)
		stmt := db.termInserts[n]
		if stmt == nil {
			var b strings.Builder
			b.WriteString("INSERT INTO audit_index (name, value, seq) VALUES ")
			for i := range n {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?)")
			}
			var err error
			if stmt, err = db.wconn.PrepareContext(ctx, b.String()); err != nil {
				return err
			}
			if db.termInserts == nil {
				db.termInserts = map[int]*sql.Stmt{}
			}
			db.termInserts[n] = stmt
		}
		args := make([]any, 0, 3*n)
		for _, t := range terms[:n] {
			args = append(args, t.Name, t.Value, t.seq)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
		terms = terms[n:]
	}
	return nil
}

// backfillAuditIndex indexes the records written before migration 0006,
// 10,000 per transaction under the audit lock, resuming where an earlier
// opening stopped (audit_index_backfill.done).
func (db *DB) backfillAuditIndex(ctx context.Context) error {
	indexed := 0
	for {
		n := 0
		err := db.auditTx(ctx, false, func(int64, []byte) error {
			var done, through int64
			if err := db.wconn.QueryRowContext(ctx, "SELECT done, through FROM audit_index_backfill").Scan(&done, &through); err != nil {
				return err
			}
			if done >= through {
				return nil
			}
			rows, err := db.wconn.QueryContext(ctx, "SELECT seq, event FROM audit_event WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 10000", done, through)
			if err != nil {
				return err
			}
			var terms []indexedTerm
			last := through
			for rows.Next() {
				var (
					seq  int64
					body []byte
				)
				if err := rows.Scan(&seq, &body); err != nil {
					rows.Close()
					return err
				}
				// A record that does not parse was tampered with (the
				// server wrote JSON): verify reports it; it is left out
				// of search rather than keeping the server from starting.
				if ev, err := fhir.ParseResource(body); err == nil {
					for _, t := range audit.Index(ev) {
						terms = append(terms, indexedTerm{t, seq})
					}
				} else {
					slog.Warn(db.d.name+": audit record does not parse; not indexed", "seq", seq, "error", err)
				}
				n++
				last = seq
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if n < 10000 {
				last = through
			}
			if err := db.insertAuditTerms(ctx, terms); err != nil {
				return err
			}
			_, err = db.wconn.ExecContext(ctx, "UPDATE audit_index_backfill SET done = ?", last)
			return err
		})
		if err != nil {
			return fmt.Errorf("audit index: %w", err)
		}
		if n == 0 {
			break
		}
		indexed += n
	}
	if indexed > 0 {
		slog.Info(db.d.name+": audit log indexed for search", "database", db.where, "records", indexed)
	}
	return nil
}
