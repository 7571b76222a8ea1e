package sqlstore

import (
	"context"
	"database/sql"
)

// SQL shared by the reader pool and the writer connection.
const (
	sqlReadCurrent = `SELECT ` + versionColumns + `
		FROM resource_current c JOIN resource_version v ON v.seq = c.seq
		WHERE c.type = ? AND c.id = ?`
	sqlVRead = `SELECT ` + versionColumns + `
		FROM resource_version v
		WHERE v.type = ? AND v.id = ? AND v.version_id = ?`
)

// writeStmts are prepared once on the writer connection.
type writeStmts struct {
	readCurrent   *sql.Stmt
	currentState  *sql.Stmt
	insertVersion *sql.Stmt
	setCurrent    *sql.Stmt
	insertCurrent *sql.Stmt // version 1: a plain insert, which (unlike the upsert) needs no statement journal
	auditTip      *sql.Stmt // dialect.auditTip, run by every batch that appends audit events
	// createNew writes version 1 of a resource, its current row and its
	// resource_key row in one statement (data-modifying CTEs) and returns
	// seq and rid: one round trip instead of three. PostgreSQL only; nil
	// on SQLite, which has no such CTEs and no round trips to save.
	createNew *sql.Stmt
}

func (s *writeStmts) prepare(ctx context.Context, conn *sql.Conn, d *dialect) error {
	pkey := "''"
	if d.patientKey {
		pkey = "pkey"
	}
	versionCols, versionVals := d.pk("type, id, version_id, last_updated, deleted, resource", "?, ?, ?, ?, ?, ?")
	currentCols, currentVals := d.pk("type, id, version_id, seq, deleted", "?, ?, ?, ?, ?")
	currentSet := "version_id = excluded.version_id, seq = excluded.seq, deleted = excluded.deleted"
	if d.patientKey {
		currentSet += ", pkey = excluded.pkey"
	}
	if !d.lastInsertID {
		pkVal := ""
		if d.patientKey {
			pkVal = ", ?"
		}
		keyCols, _ := d.pk("type, id, seq, last_updated, deleted", "")
		q := `WITH v AS (INSERT INTO resource_version (` + versionCols + `) VALUES (` + versionVals + `) RETURNING seq),
			c AS (INSERT INTO resource_current (` + currentCols + `) SELECT ?, ?, ?, v.seq, ?` + pkVal + ` FROM v),
			k AS (INSERT INTO resource_key (` + keyCols + `) SELECT ?, ?, v.seq, ?, ?` + pkVal + ` FROM v RETURNING rid)
			SELECT v.seq, k.rid FROM v, k`
		stmt, err := conn.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		s.createNew = stmt
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.readCurrent, sqlReadCurrent},
		{&s.currentState, `SELECT version_id, deleted, ` + pkey + ` FROM resource_current WHERE type = ? AND id = ?`},
		{&s.insertVersion, `INSERT INTO resource_version (` + versionCols + `) VALUES (` + versionVals + `)` + d.returning("seq")},
		{&s.setCurrent, `INSERT INTO resource_current (` + currentCols + `) VALUES (` + currentVals + `)
			ON CONFLICT (type, id) DO UPDATE SET ` + currentSet},
		{&s.insertCurrent, `INSERT INTO resource_current (` + currentCols + `) VALUES (` + currentVals + `)`},
		{&s.auditTip, d.auditTip},
	} {
		stmt, err := conn.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.stmt = stmt
	}
	return nil
}

func (s *writeStmts) close() {
	for _, stmt := range []*sql.Stmt{s.readCurrent, s.currentState, s.insertVersion, s.setCurrent, s.insertCurrent, s.auditTip, s.createNew} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// readStmts are prepared on the reader pool; database/sql prepares each on a
// connection the first time it runs there, which saves SQLite's parse and
// plan (a quarter of a read's time) on every later read.
type readStmts struct {
	readCurrent *sql.Stmt
	vread       *sql.Stmt
}

func (s *readStmts) prepare(ctx context.Context, db *sql.DB) (err error) {
	if s.readCurrent, err = db.PrepareContext(ctx, sqlReadCurrent); err != nil {
		return err
	}
	s.vread, err = db.PrepareContext(ctx, sqlVRead)
	return err
}

func (s *readStmts) close() {
	for _, stmt := range []*sql.Stmt{s.readCurrent, s.vread} {
		if stmt != nil {
			stmt.Close()
		}
	}
}
