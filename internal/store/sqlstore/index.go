package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"slices"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

// indexTables are the tables holding a resource's index rows; a write
// clears them by rid before inserting the new version's rows.
var indexTables = []string{"idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_quantity", "idx_uri", "idx_compartment"}

// indexStmts are prepared on the writer connection.
type indexStmts struct {
	upsertKey *sql.Stmt
	insertKey *sql.Stmt   // a new resource: a plain insert is cheaper than the upsert
	clear     []*sql.Stmt // one per indexTables entry, then idx_fts
	conn      *sql.Conn
	insert    map[insertKey]*sql.Stmt // multi-row inserts (compartments too), prepared on first use
	fts       map[int]*sql.Stmt       // multi-row full-text inserts, by rows
	d         *dialect
	// buf holds the index rows written in the current write function but
	// not yet sent (flushIndex): a transaction's rows go in a few large
	// statements instead of several small ones per resource, which on
	// PostgreSQL is a round trip each.
	buf indexBuffer
}

// indexBuffer is the rows of each kind (and of idx_compartment, kind
// "") waiting to be inserted: their arguments, row after row.
type indexBuffer struct {
	args map[search.Kind][]any
	rows map[search.Kind]int
	n    int // rows in all
}

func (b *indexBuffer) add(kind search.Kind, row []any) {
	if b.args == nil {
		b.args, b.rows = map[search.Kind][]any{}, map[search.Kind]int{}
	}
	b.args[kind] = append(b.args[kind], row...)
	b.rows[kind]++
	b.n++
}

func (b *indexBuffer) reset() {
	for k := range b.args {
		clear(b.args[k])
		b.args[k] = b.args[k][:0]
		b.rows[k] = 0
	}
	b.n = 0
}

// flushRows is how many buffered rows make writeIndex flush on its own
// (a transaction's end flushes the rest). A variable for tests only.
var flushRows = 2048

// chunkRows is the most rows one INSERT sends; smaller remainders go as
// power-of-two chunks, so each kind needs few prepared statements. More
// rows of a kind than this go in one bulk copy where the dialect has one
// (PostgreSQL: a COPY is two round trips, an INSERT one).
const chunkRows = 128

func (s *indexStmts) prepare(ctx context.Context, conn *sql.Conn, d *dialect) error {
	s.d = d
	prep := func(q string) (*sql.Stmt, error) { return conn.PrepareContext(ctx, q) }
	var err error
	keyCols, keyVals := d.pk("type, id, seq, last_updated, deleted", "?, ?, ?, ?, ?")
	keySet := "seq = excluded.seq, last_updated = excluded.last_updated, deleted = excluded.deleted"
	if d.patientKey {
		keySet += ", pkey = excluded.pkey"
	}
	if s.upsertKey, err = prep(`INSERT INTO resource_key (` + keyCols + `) VALUES (` + keyVals + `)
		ON CONFLICT (type, id) DO UPDATE SET ` + keySet + ` RETURNING rid`); err != nil {
		return err
	}
	if s.insertKey, err = prep(`INSERT INTO resource_key (` + keyCols + `) VALUES (` + keyVals + `)` + d.returning("rid")); err != nil {
		return err
	}
	for _, t := range indexTables {
		st, err := prep("DELETE FROM " + t + " WHERE rid = ?")
		if err != nil {
			return err
		}
		s.clear = append(s.clear, st)
	}
	st, err := prep(d.ftsClear)
	if err != nil {
		return err
	}
	s.clear = append(s.clear, st)
	s.conn = conn
	s.insert = make(map[insertKey]*sql.Stmt)
	s.fts = make(map[int]*sql.Stmt)
	return nil
}

func (s *indexStmts) close() {
	all := append([]*sql.Stmt{s.upsertKey, s.insertKey}, s.clear...)
	for _, st := range s.fts {
		all = append(all, st)
	}
	for _, st := range s.insert {
		all = append(all, st)
	}
	for _, st := range all {
		if st != nil {
			st.Close()
		}
	}
}

// insertColumns are the columns of each kind's table after
// (rid, pid, n, grp, comp).
var insertColumns = map[search.Kind]string{
	search.KindString:    "text, exact",
	search.KindToken:     "system, code, display, type_system, type_code",
	search.KindReference: "ref_type, ref_id, ref_version, ref_url, system, code",
	search.KindDate:      "low, high",
	search.KindNumber:    "low, high",
	search.KindQuantity:  "system, code, canonical, low, high",
	search.KindURI:       "uri",
}

type insertKey struct {
	kind search.Kind
	rows int
}

// insertStmt returns the statement inserting rows entries of kind (of
// idx_compartment for compartmentKind).
func (s *indexStmts) insertStmt(ctx context.Context, kind search.Kind, rows int) (*sql.Stmt, error) {
	key := insertKey{kind, rows}
	if st := s.insert[key]; st != nil {
		return st, nil
	}
	cols := s.columns(kind)
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	q := s.d.indexInsert + " " + s.table(kind) + " (" + strings.Join(cols, ", ") + ") VALUES " +
		strings.Repeat(row+", ", rows-1) + row
	st, err := s.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.insert[key] = st
	return st, nil
}

// table and columns name where rows of kind go, in their arguments'
// order: for the INSERTs and for a dialect's bulk copy alike.
func (s *indexStmts) table(kind search.Kind) string {
	if kind == compartmentKind {
		return "idx_compartment"
	}
	return tableOf[kind]
}

func (s *indexStmts) columns(kind search.Kind) []string {
	var cols string
	if kind == compartmentKind {
		cols, _ = s.d.pk("comp_type, comp_id, rid", "")
	} else {
		cols, _ = s.d.pk(insertColumns[kind], "")
		cols = "rid, pid, n, grp, comp, " + cols
	}
	return strings.Split(cols, ", ")
}

// ftsStmt returns the statement inserting rows full-text rows: the
// dialect's insert with its VALUES tuple repeated.
func (s *indexStmts) ftsStmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	if st := s.fts[rows]; st != nil {
		return st, nil
	}
	head, row, ok := strings.Cut(s.d.ftsInsert, "VALUES ")
	if !ok {
		return nil, fmt.Errorf("the full-text insert has no VALUES: %s", s.d.ftsInsert)
	}
	st, err := s.conn.PrepareContext(ctx, head+"VALUES "+strings.Repeat(row+", ", rows-1)+row)
	if err != nil {
		return nil, err
	}
	s.fts[rows] = st
	return st, nil
}

// flushIndex sends the buffered index rows. The writer calls it when a
// write function returns, before a search inside one, and before rows
// are cleared; a function that fails drops the buffer (dropIndex) with
// its savepoint.
func (db *DB) flushIndex(ctx context.Context) error {
	s := &db.istmt
	if s.buf.n == 0 {
		return nil
	}
	defer s.buf.reset()
	for _, kind := range bufferedKinds {
		rows := s.buf.rows[kind]
		if rows == 0 {
			continue
		}
		args := s.buf.args[kind]
		per := len(args) / rows
		if s.d.copyRows != nil && kind != ftsKind && rows > chunkRows {
			if err := s.d.copyRows(ctx, s.conn, s.table(kind), s.columns(kind), rows, args); err != nil {
				return fmt.Errorf("index %s rows: %w", orCompartments(kind), err)
			}
			continue
		}
		for done := 0; done < rows; {
			k := chunkRows
			for k > rows-done {
				k /= 2
			}
			var st *sql.Stmt
			var err error
			switch kind {
			case ftsKind:
				st, err = s.ftsStmt(ctx, k)
			default:
				st, err = s.insertStmt(ctx, kind, k)
			}
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, args[done*per:(done+k)*per]...); err != nil {
				return fmt.Errorf("index %s rows: %w", orCompartments(kind), err)
			}
			done += k
		}
	}
	return nil
}

// dropIndex forgets the buffered rows of a write function that failed.
func (db *DB) dropIndex() { db.istmt.buf.reset() }

// compartmentKind and ftsKind are the buffer's keys for idx_compartment
// and full-text rows.
const (
	compartmentKind search.Kind = ""
	ftsKind         search.Kind = "fts"
)

// bufferedKinds orders the flush: the kinds' tables, then compartments.
var bufferedKinds = []search.Kind{search.KindString, search.KindToken, search.KindReference, search.KindDate,
	search.KindNumber, search.KindQuantity, search.KindURI, compartmentKind, ftsKind}

func orCompartments(kind search.Kind) string {
	if kind == compartmentKind {
		return "compartment"
	}
	return string(kind)
}

// index records the version just written in resource_key (unless rid says
// it is there already) and replaces the resource's index rows: none for a tombstone, the extractor's entries
// otherwise. fresh says that the resource had no earlier version, so there
// is nothing to clear.
func (tx *txn) index(typ, id string, seq, lastUpdated, rid int64, res fhir.Resource, entries []search.Entry, pkey string, fresh bool) error {
	s := &tx.db.istmt
	args := tx.db.d.pkArg([]any{typ, id, seq, lastUpdated, b2i(res == nil)}, pkey)
	var err error
	switch {
	case rid != 0: // the resource_key row is written already (createNew)
	case fresh:
		rid, err = s.d.insertID(tx.ctx, s.insertKey, args...)
	default:
		err = s.upsertKey.QueryRowContext(tx.ctx, args...).Scan(&rid)
	}
	if err != nil {
		return err
	}
	if !fresh {
		if err := tx.db.clearIndex(tx.ctx, rid); err != nil {
			return err
		}
	}
	if typ == "Consent" {
		if err := tx.writeConsentRules(rid, res, fresh); err != nil {
			return err
		}
	}
	if res == nil || tx.db.extractor == nil {
		return nil
	}
	var fts *ftsText
	if tx.body != nil {
		fts = &tx.body.fts
	}
	return tx.db.writeIndex(tx.ctx, rid, typ, id, res, entries, pkey, fts)
}

func (db *DB) clearIndex(ctx context.Context, rid int64) error {
	// Rows of this resource may still be in the buffer (written earlier
	// in the same function): send them, so that the delete finds them.
	if err := db.flushIndex(ctx); err != nil {
		return err
	}
	for _, st := range db.istmt.clear {
		if _, err := st.ExecContext(ctx, rid); err != nil {
			return err
		}
	}
	return nil
}

// writeIndex adds the index rows of one resource to the buffer, its
// full-text row included, flushing when the buffer is large.
//
// fts are res's full-text words when they were made already (Prepare);
// nil has them made here.
func (db *DB) writeIndex(ctx context.Context, rid int64, typ, id string, res fhir.Resource, entries []search.Entry, pkey string, fts *ftsText) error {
	s := &db.istmt
	var args []any
	for n, e := range entries {
		if insertColumns[e.Kind] == "" {
			continue // composite and special carry no values of their own
		}
		if e.Param == "_id" || e.Param == "_lastUpdated" || aliasOf(typ, e.Param) != nil {
			// Search and sort answer _id and _lastUpdated from
			// resource_key, and an alias from the rows it unites.
			continue
		}
		// int64, which database/sql passes on as it is (an int it
		// converts by reflection).
		args = append(args[:0], rid, paramID(typ, e.Param), int64(n), int64(e.Group), int64(e.Component))
		switch e.Kind {
		// Key columns hold indexKey values; the others lose only NULs.
		case search.KindString:
			args = append(args, indexKey(e.Text), noNUL(e.Exact))
		case search.KindToken:
			args = append(args, indexKey(e.System), indexKey(e.Code), noNUL(e.Display), indexKey(e.TypeSystem), indexKey(e.TypeCode))
		case search.KindReference:
			args = append(args, indexKey(e.RefType), indexKey(e.RefID), indexKey(e.RefVersion), indexKey(e.RefURL), indexKey(e.System), indexKey(e.Code))
		case search.KindDate:
			args = append(args, e.DateLow, e.DateHigh)
		case search.KindNumber:
			args = append(args, e.Low, e.High)
		case search.KindQuantity:
			args = append(args, indexKey(e.System), indexKey(e.Code), b2i(e.Canonical), e.Low, e.High)
		case search.KindURI:
			uri := e.Exact
			if uri == "" {
				uri = e.Text
			}
			args = append(args, indexKey(uri))
		}
		s.buf.add(e.Kind, s.d.pkArg(args, pkey))
	}
	for _, c := range compartmentsOf(typ, id, entries) {
		s.buf.add(compartmentKind, s.d.pkArg([]any{c[0], c[1], rid}, pkey))
	}
	if fts == nil {
		fts = db.d.fullText(res)
	}
	if fts.words[0] != "" || fts.words[1] != "" {
		s.buf.add(ftsKind, s.d.pkArg(fts.args(rid), pkey))
	}
	if s.buf.n >= flushRows {
		return db.flushIndex(ctx)
	}
	return nil
}

// paramID is the pid of the index rows of parameter code of resource type
// typ: the first 48 bits of their FNV-1a hash, which SQLite stores in 6
// bytes. TestParamIDs checks that no two parameters of the specification
// share one; at a few thousand parameters a clash among custom ones is a
// chance of about 1 in 10^8.
func paramID(typ, code string) int64 {
	const offset, prime = 14695981039346656037, 1099511628211 // FNV-1a, 64 bits
	h := uint64(offset)
	for _, s := range [...]string{typ, "\x00", code} {
		for i := range len(s) {
			h = (h ^ uint64(s[i])) * prime
		}
	}
	return int64(h >> 16)
}

// compartmentParams maps a resource type to, per compartment code, the
// reference parameters that put a resource of the type in the compartment.
var compartmentParams sync.Map // string → map[string][]string

func compartmentParamsOf(typ string) map[string][]string {
	if m, ok := compartmentParams.Load(typ); ok {
		return m.(map[string][]string)
	}
	m := make(map[string][]string)
	for code, c := range spec.R5().Compartments {
		if ps := c.Params(typ); len(ps) > 0 {
			m[code] = ps
		}
	}
	compartmentParams.Store(typ, m)
	return m
}

// patientKey is the patient-compartment key of a resource's rows: a
// Patient's own id; for a resource in a patient's compartment, that
// patient's id, found through the compartment's parameters for the type in
// the order the CompartmentDefinition lists them (subject before
// performer); "" for a resource in no patient's compartment (practitioners,
// organisations, medications, terminology), which a distributed database
// keeps as shared reference data.
func patientKey(typ, id string, entries []search.Entry) string {
	if typ == "Patient" {
		return id
	}
	for _, param := range compartmentParamsOf(typ)["Patient"] {
		for _, e := range entries {
			if e.Param == param && e.Kind == search.KindReference && e.RefType == "Patient" && e.RefID != "" && e.Group == 0 {
				return e.RefID
			}
		}
	}
	return ""
}

// compartmentsOf lists the compartments (code, id) a resource is in: those
// whose parameters for its type reference the compartment's focus, and its
// own compartment for a Patient, Encounter, Practitioner, RelatedPerson or
// Device.
func compartmentsOf(typ, id string, entries []search.Entry) [][2]string {
	var out [][2]string
	if _, ok := spec.R5().Compartments[typ]; ok {
		out = append(out, [2]string{typ, id})
	}
	params := compartmentParamsOf(typ)
	for _, e := range entries {
		if e.Kind != search.KindReference || e.RefID == "" || e.Group != 0 {
			continue
		}
		if slices.Contains(params[e.RefType], e.Param) {
			c := [2]string{e.RefType, e.RefID}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// fullText returns what _text searches (the narrative's text, tags
// stripped) and what _content searches: the strings of the resource a
// person would look for, each once. Left out are what other parameters
// search and no one types as words: bookkeeping (id, meta), references
// (Reference.reference), URIs (code systems, canonicals, extension urls,
// attachment urls) and dates and times. A UUID in a reference alone is
// five words no search wants, and in the Synthea sample these strings were
// two thirds of the words full text spent a write's time on. A string the
// resource holds more than once (a display repeated in each Coding) is in
// content once: its words match the same.
func fullText(res fhir.Resource) (narrative, content string) {
	if text, ok := res["text"].(map[string]any); ok {
		if div, ok := text["div"].(string); ok {
			narrative = stripTags(div)
		}
	}
	w := contentWalk{seen: make(map[string]struct{}, 32)}
	w.b.Grow(512)
	w.walk("", map[string]any(res))
	return narrative, w.b.String()
}

// contentWalk gathers a resource's content (fullText).
type contentWalk struct {
	b    strings.Builder
	seen map[string]struct{}
}

func (w *contentWalk) walk(key string, v any) {
	switch v := v.(type) {
	case string:
		switch key {
		case "div", "resourceType", "id", "versionId", "lastUpdated", "reference":
			return
		}
		if isURI(v) || isDateTime(v) {
			return
		}
		if _, dup := w.seen[v]; dup {
			return
		}
		w.seen[v] = struct{}{}
		if w.b.Len() > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(v)
	case map[string]any:
		for k, x := range v {
			w.walk(k, x)
		}
	case []any:
		for _, x := range v {
			w.walk(key, x)
		}
	}
}

// isURI reports whether s is an absolute URI of the kinds FHIR names
// things by: http(s), urn (oid, uuid) and other schemes followed by "//".
func isURI(s string) bool {
	if strings.HasPrefix(s, "urn:") {
		return true
	}
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return !strings.ContainsAny(s, " \t\n")
}

// isDateTime reports whether s is a FHIR date (to the month at least),
// dateTime or instant (fhir.DateTimeParts), or a time hh:mm:ss. A year
// alone ("2019") stays: it is also a code.
func isDateTime(s string) bool {
	// A date starts with four digits and a dash: most strings end here.
	if len(s) >= 7 && s[4] == '-' && isDigits(s[:4]) {
		if m, ok := fhir.DateTimeParts(s); ok {
			return m[2] != ""
		}
	}
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return false
	}
	return isDigits(s[:2]) && isDigits(s[3:5]) && isDigits(s[6:])
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// stripTags turns XHTML into its text: tags become spaces, entities are
// decoded.
func stripTags(div string) string {
	var b strings.Builder
	in := false
	for _, r := range div {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}
