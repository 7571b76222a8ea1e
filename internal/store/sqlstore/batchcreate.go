package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// CreatePrepared implements store.BatchCreator. On PostgreSQL the first
// versions of the resources this transaction knows to be absent (a
// Prefetch or a Read said so) go in one statement, three arrays for the
// version, current and key rows: one round trip for a batch of an import
// where each resource took one. Any other (not known absent, or twice in
// ps) is written as UpdatePrepared writes it, as is everything on SQLite,
// which has no round trips to save.
func (tx *txn) CreatePrepared(ps []*store.Prepared) ([]*store.Version, error) {
	if err := tx.usable(); err != nil {
		return nil, err
	}
	out := make([]*store.Version, len(ps))
	var batch []int
	if tx.db.wstmt.createNew != nil {
		count := map[string]int{}
		for _, p := range ps {
			if p != nil && p.Resource != nil {
				count[p.Resource.Type()+"/"+p.Resource.ID()]++
			}
		}
		for i, p := range ps {
			if p == nil || p.Resource == nil {
				continue
			}
			typ, id := p.Resource.Type(), p.Resource.ID()
			ref := typ + "/" + id
			if typ != "" && fhir.ValidID(id) && count[ref] == 1 && tx.absent[ref] {
				batch = append(batch, i)
			}
		}
	}
	if len(batch) > 1 {
		if err := tx.createBatch(ps, batch, out); err != nil {
			return nil, err
		}
	}
	for i, p := range ps {
		if out[i] != nil {
			continue // created in the batch
		}
		v, _, err := tx.UpdatePrepared(p, 0)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// newResource is a resource of a batch creation, ready to insert.
type newResource struct {
	res     fhir.Resource
	body    []byte
	entries []search.Entry
	pkey    string
	prep    *preparedBody
}

// createBatch writes version 1 of ps[i] for each i of batch in one
// statement, then their index rows (buffered, as every write's are), and
// sets out[i].
func (tx *txn) createBatch(ps []*store.Prepared, batch []int, out []*store.Version) error {
	ms := tx.now.UnixMilli()
	news := make([]newResource, len(batch))
	types, ids, pkeys := make([]string, len(batch)), make([]string, len(batch)), make([]string, len(batch))
	bodies := make([][]byte, len(batch))
	at := map[string]int{}
	for k, i := range batch {
		p := ps[i]
		n := newResource{res: p.Resource}
		n.prep, _ = p.Backend.(*preparedBody)
		if tx.db.extractor != nil {
			if p.Extractor == tx.db.extractor.Version() {
				if n.entries = p.Entries; n.entries == nil {
					n.entries = []search.Entry{}
				}
			} else {
				var err error
				if n.entries, err = tx.db.extractor.Extract(p.Resource); err != nil {
					return fmt.Errorf("store: create %s/%s: index: %w", p.Resource.Type(), p.Resource.ID(), err)
				}
			}
		}
		stamp(n.res, 1, tx.now)
		if n.prep != nil && n.prep.json != nil {
			n.body = n.prep.stamped(tx.now) // the same bytes res.JSON() gives
		} else {
			n.body = n.res.JSON()
		}
		typ, id := n.res.Type(), n.res.ID()
		n.pkey = patientKey(typ, id, n.entries)
		news[k] = n
		types[k], ids[k], pkeys[k], bodies[k] = typ, id, n.pkey, n.body
		at[typ+"/"+id] = k
	}
	stmt, err := tx.db.createBatchStmt(tx.ctx)
	if err != nil {
		return tx.dbErr("create", err)
	}
	rows, err := stmt.QueryContext(tx.ctx, types, ids, bodies, pkeys, ms)
	if err != nil {
		return tx.dbErr(fmt.Sprintf("create %d resources", len(batch)), err)
	}
	seqs, rids := make([]int64, len(batch)), make([]int64, len(batch))
	got := 0
	for rows.Next() {
		var (
			seq, rid int64
			typ, id  string
		)
		if err := rows.Scan(&seq, &rid, &typ, &id); err != nil {
			rows.Close()
			return tx.dbErr("create", err)
		}
		k, ok := at[typ+"/"+id]
		if !ok {
			rows.Close()
			return tx.dbErr("create", fmt.Errorf("created %s/%s, which was not asked for", typ, id))
		}
		seqs[k], rids[k] = seq, rid
		got++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return tx.dbErr("create", err)
	}
	if got != len(batch) {
		return tx.dbErr("create", fmt.Errorf("created %d of %d resources", got, len(batch)))
	}
	for k, i := range batch {
		n := news[k]
		typ, id := n.res.Type(), n.res.ID()
		delete(tx.absent, typ+"/"+id)
		delete(tx.fetched, typ+"/"+id)
		tx.body = n.prep
		err := tx.index(typ, id, seqs[k], ms, rids[k], n.res, n.entries, n.pkey, true)
		tx.body = nil
		if err != nil {
			return tx.dbErr(fmt.Sprintf("create %s/%s: index", typ, id), err)
		}
		tx.db.batchWrites++
		out[i] = &store.Version{Type: typ, ID: id, VersionID: 1, LastUpdated: tx.now, Resource: n.res, Seq: seqs[k]}
	}
	return nil
}

// createBatchStmt is the statement of createBatch (PostgreSQL), prepared
// on the writer connection the first time.
func (db *DB) createBatchStmt(ctx context.Context) (*sql.Stmt, error) {
	if db.createBatch != nil {
		return db.createBatch, nil
	}
	stmt, err := db.wconn.PrepareContext(ctx, `WITH input AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[]) AS t(type, id, resource, pkey)),
		v AS (INSERT INTO resource_version (type, id, version_id, last_updated, deleted, resource, pkey)
			SELECT type, id, 1, $5, 0, resource, pkey FROM input RETURNING seq, type, id, pkey),
		c AS (INSERT INTO resource_current (type, id, version_id, seq, deleted, pkey)
			SELECT type, id, 1, seq, 0, pkey FROM v),
		k AS (INSERT INTO resource_key (type, id, seq, last_updated, deleted, pkey)
			SELECT type, id, seq, $5, 0, pkey FROM v RETURNING rid, type, id)
		SELECT v.seq, k.rid, v.type, v.id FROM v JOIN k ON k.type = v.type AND k.id = v.id`)
	if err != nil {
		return nil, err
	}
	db.createBatch = stmt
	return stmt, nil
}
