package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/search"
)

// dialect is what differs between the SQL databases the store runs on.
// Everything else — the schema's shape, every query, the writer, search
// planning and paging — is one piece of code, so both backends behave the
// same. Shared SQL is written with SQLite's placeholders (? and ?N); a
// dialect whose driver wants others rewrites them in its connector (see
// rebindDollar), so no call site knows which database it talks to.
type dialect struct {
	name string // "sqlite" or "postgres": error prefixes and logs

	// copyRows, when set, sends rows index rows (args, row after row) to
	// table's cols in one bulk copy on conn, inside its transaction.
	copyRows func(ctx context.Context, conn *sql.Conn, table string, cols []string, rows int, args []any) error

	// begin starts the writer's transaction. It must take whatever lock
	// serialises writers across every process using the database, so that
	// seq order is commit order (history and cursors rely on it).
	begin []string
	// beginAudit starts a transaction that only appends audit events:
	// they are not versions, so they need not wait for the write lock (a
	// read, audited, must not wait for another server's long write).
	beginAudit []string
	// auditTip takes the lock that orders audit appends across processes
	// until the transaction ends (where begin and beginAudit do not hold
	// one already) and returns the last audit record's seq and hash, in
	// one statement; see auditchain.go.
	auditTip string
	// auditAppend, where the database has it, appends a batch's audit
	// events in one statement: lock, tip, chain and insert (arguments:
	// the events' recorded times and stored forms; results: the first and
	// last seq and the last hash). See appendAuditAtOnce.
	auditAppend string

	// lastInsertID says that the driver reports the key of an inserted
	// row (SQLite's rowid) without RETURNING, which costs SQLite a third of
	// an indexed write; otherwise inserts say RETURNING (see insertID).
	lastInsertID bool

	// insertIgnore starts an INSERT whose conflicts are ignored, and
	// ignoreSuffix ends it.
	insertIgnore, ignoreSuffix string

	// indexInsert starts the INSERTs of index rows, which never conflict
	// (rid, pid and n are unique, no value is NULL): on SQLite with OR
	// IGNORE, as a statement that cannot abort needs no statement journal,
	// which SQLite would otherwise truncate after every statement at a
	// cost growing with the savepoint (half of the write time); on
	// PostgreSQL plainly, where ON CONFLICT makes every row a speculative
	// insertion (a third more of the server's time for index rows).
	indexInsert string

	// like is the LIKE operator that folds ASCII case only (SQLite's LIKE;
	// PostgreSQL's ILIKE on the C collation the schema uses).
	like string

	// crossJoin joins a table whose conditions follow in ON while telling
	// the planner to keep the join order as written ("CROSS JOIN" in
	// SQLite; PostgreSQL plans joins itself).
	crossJoin string

	// ridSet is a subquery listing the rids in a JSON array bound as arg.
	ridSet func(arg string) string

	// maxText is an expression sorting after every indexed string: the
	// value of a resource without one when sorting ascending.
	maxText string

	// versionIndexHint follows "FROM resource_version v" in an instance
	// history query, naming the index to use ("" when the planner needs no
	// help).
	versionIndexHint string

	// indexDefs lists the name and the CREATE statement of each index of
	// the table bound to it, but not its primary key: what a bulk load
	// drops is chosen among them (bulk.go). "" when the database does
	// not load in bulk.
	indexDefs string
	// foreignKeyDefs lists the name, the DROP and the ADD statement of
	// each foreign key of the table bound to it, which a bulk load drops
	// and adds again at its end, checking every row once instead of one
	// at a time ("" when it keeps them: on SQLite a foreign key is a
	// rowid seek, and cannot be dropped).
	foreignKeyDefs string
	// bulkLock is the lock of a running bulk load (bulk.go); nil when
	// none can be had, and then no load begins.
	bulkLock *bulkLock
	// bulkFTS are statements a bulk load runs when it begins ([0]) and
	// when it ends ([1], recorded with the dropped indexes): SQLite's
	// full-text index stops merging its segments during the load, and
	// merges them once at the end.
	bulkFTS [2]string
	// buildsAside is how many of a bulk load's indexes are built at once
	// on connections beside the writer's before its transaction records
	// them built (buildAside); 0 builds them all in that transaction.
	buildsAside int

	// historyTx are the options of the read transaction of a history page:
	// both of its queries must see one snapshot.
	historyTx *sql.TxOptions

	// Full text (_text, _content): clearing and writing a resource's row
	// (ftsInsert is given the texts as ftsWords folds them), and the
	// condition that k matches words folded the same way (textQuery).
	ftsClear, ftsInsert string
	// ftsVectors: ftsInsert takes, for each text, its vector or NULL and
	// the words for to_tsvector (tsvector.go).
	ftsVectors bool
	ftsMatch   func(b *sqlBuilder, k, column string, groups [][]string) string

	// patientKey says that every row of a resource's versions and index
	// carries its patient-compartment key (column pkey; see patientKey),
	// so that a distributed database can place a patient's rows together.
	patientKey bool

	// analyze refreshes the planner's statistics after large loads (see
	// maybeAnalyze); "" when the database needs none.
	analyze string

	// migrationsDir is the directory of the embedded migrations, and
	// lockMigrations/unlockMigrations bracket applying them so that several
	// processes starting at once apply each migration once.
	migrationsDir                    string
	lockMigrations, unlockMigrations func(ctx context.Context, conn *sql.Conn) error
}

// rebindDollar rewrites SQLite's ? and ?N placeholders as PostgreSQL's $N,
// outside quoted strings and identifiers.
func rebindDollar(q string) string {
	if !strings.ContainsRune(q, '?') {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	next := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '\'', '"':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
			} else {
				next++
				b.WriteString(strconv.Itoa(next))
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// pk returns cols with the pkey column appended when the dialect keeps
// one, and values with its placeholder.
func (d *dialect) pk(cols, values string) (string, string) {
	if !d.patientKey {
		return cols, values
	}
	return cols + ", pkey", values + ", ?"
}

// pkArg appends the patient key to args when the dialect keeps one.
func (d *dialect) pkArg(args []any, pkey string) []any {
	if !d.patientKey {
		return args
	}
	return append(args, pkey)
}

// ftsWords is a text as the full-text index reads it, on both databases:
// folded by search.Normalize, as string search folds (accents of every
// script dropped; ß, æ, ø, ł … spelled out), and cut into words at every
// character that is not a letter, a digit or private use, where SQLite's
// unicode61 tokenizer cuts. Left whole, PostgreSQL's parser takes a URL,
// host name, file path, e-mail address or decimal number for one token,
// so that _text=loinc would miss "see http://loinc.org". Words longer than
// maxWordBytes are left out (PostgreSQL cannot index them), on both.
func ftsWords(text string) string {
	// Plain ASCII words, most of any resource, take a fast path; a word
	// with anything else in it is folded by the full rule (foldWords).
	var b strings.Builder
	b.Grow(len(text))
	// put writes a word; an ASCII one lower-cased as it goes, which
	// strings.ToLower would have copied first.
	put := func(w string, ascii bool) {
		if len(w) == 0 || len(w) > maxWordBytes {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if !ascii {
			b.WriteString(w)
			return
		}
		for i := range len(w) {
			c := w[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
	}
	start, ascii := -1, true
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := text[start:end]
		if ascii {
			put(w, true)
		} else {
			for _, f := range foldWords(w) {
				put(f, false)
			}
		}
		start, ascii = -1, true
	}
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c >= utf8.RuneSelf:
			// Part of the word; foldWords decides whether it separates.
			if start < 0 {
				start = i
			}
			ascii = false
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
			if start < 0 {
				start = i
			}
		default:
			flush(i)
		}
		i++
	}
	flush(len(text))
	return b.String()
}

// foldWords is ftsWords' rule in full: the text folded by search.Normalize
// and cut at every character that is not a letter, a digit or private use.
func foldWords(text string) []string {
	return strings.FieldsFunc(search.Normalize(text), func(r rune) bool {
		return !unicode.In(r, unicode.L, unicode.N, unicode.Co)
	})
}

// maxWordBytes is the longest word full text indexes: PostgreSQL's
// tsvector takes words up to 2047 bytes.
const maxWordBytes = 2000

// maxKeyBytes bounds an indexed value (a string's folded text, a code, a
// system, a URI, a reference): a PostgreSQL btree entry must fit in about
// 2.7 kB, and a composite index holds two such values. Longer values are
// indexed by their first maxKeyBytes (cut at a character boundary) and
// searched the same way; :exact still compares the whole string.
const maxKeyBytes = 1000

// indexKey is a value as an index key column holds it: cut to maxKeyBytes
// and without NUL characters, which PostgreSQL text cannot hold.
func indexKey(s string) string {
	s = noNUL(s)
	if len(s) <= maxKeyBytes {
		return s
	}
	cut := maxKeyBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// noNUL drops NUL characters.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// returning is the clause that makes an INSERT return column col, where
// the driver does not report it anyway.
func (d *dialect) returning(col string) string {
	if d.lastInsertID {
		return ""
	}
	return " RETURNING " + col
}

// insertID runs an INSERT prepared with returning and gives the new row's
// key.
func (d *dialect) insertID(ctx context.Context, stmt *sql.Stmt, args ...any) (int64, error) {
	if d.lastInsertID {
		r, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		return r.LastInsertId()
	}
	var id int64
	err := stmt.QueryRowContext(ctx, args...).Scan(&id)
	return id, err
}

// b2i stores a flag as 0 or 1: the schema keeps flags in integer columns,
// which both databases index and compare alike.
func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}
