package sqlstore

import (
	"slices"

	"github.com/emr-project/emr/internal/fhir"
	"strconv"
	"strings"
)

// PostgreSQL's full-text rows. to_tsvector('simple', words) parses the
// words ftsWords made, runs each through the simple dictionary and
// collects each lexeme's positions: a quarter of the server's work in an
// import. For words of ASCII letters and digits, what nearly all are, the
// parser and the dictionary change nothing, so the store writes the
// vector itself (tsvectorLiteral), which the server only reads; a text
// with any other word still goes to to_tsvector. TestTSVectorLiteral
// holds the two equal on a real server.

// ftsText is a resource's full text as its idx_fts row takes it: the words
// of its narrative and of its content, folded by ftsWords, and on
// PostgreSQL their vectors where the store can write them itself.
type ftsText struct {
	words [2]string
	vec   [2]string // tsvector literals, where lit says
	lit   [2]bool
	// pg: the row takes (vector or NULL, text for to_tsvector) pairs.
	pg bool
}

// fullText is res's ftsText, for the dialect's idx_fts row.
func (d *dialect) fullText(res fhir.Resource) *ftsText {
	narrative, content := fullText(res)
	t := &ftsText{words: [2]string{ftsWords(narrative), ftsWords(content)}, pg: d.ftsVectors}
	if t.pg {
		for k, w := range t.words {
			t.vec[k], t.lit[k] = tsvectorLiteral(w)
		}
	}
	return t
}

// args are the idx_fts row's arguments but the patient key: rid and the
// texts (SQLite), or rid and, for each text, its vector or NULL and the
// words for to_tsvector when NULL (PostgreSQL).
func (t *ftsText) args(rid int64) []any {
	if !t.pg {
		return []any{rid, t.words[0], t.words[1]}
	}
	args := []any{rid}
	for k, w := range t.words {
		if t.lit[k] {
			args = append(args, t.vec[k], "")
		} else {
			args = append(args, nil, w)
		}
	}
	return args
}

// The limits to_tsvector applies (PostgreSQL's ts_type.h): a position is
// at most maxEntryPos, and a lexeme keeps at most maxNumPos-1 positions.
const (
	maxEntryPos = 1<<14 - 1
	maxNumPos   = 256
)

// tokens returns the tokens the parser makes of w, lower-case ASCII
// letters and digits, or false when w has anything else. A word is one
// token, but for digits followed by an e and digits and then more: the
// parser takes the number ("6e55tnrm" is 6e55 and tnrm).
func tokens(w string) ([]string, bool) {
	for i := 0; i < len(w); i++ {
		if c := w[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return nil, false
		}
	}
	isDigit := func(i int) bool { return i < len(w) && '0' <= w[i] && w[i] <= '9' }
	d := 0
	for isDigit(d) {
		d++
	}
	if d == 0 || d >= len(w)-1 || w[d] != 'e' || !isDigit(d+1) {
		return []string{w}, true
	}
	e := d + 1
	for isDigit(e) {
		e++
	}
	if e == len(w) {
		return []string{w}, true
	}
	return []string{w[:e], w[e:]}, true
}

// tsvectorLiteral returns words (ftsWords's output) as a tsvector literal
// equal to to_tsvector('simple', words), or false when a word is not
// plain lower-case ASCII letters and digits.
func tsvectorLiteral(words string) (string, bool) {
	if words == "" {
		return "", true
	}
	positions := map[string][]int{}
	var order []string
	pos := 0
	for w := range strings.FieldsSeq(words) {
		toks, ok := tokens(w)
		if !ok {
			return "", false
		}
		for _, tok := range toks {
			pos++
			p := min(pos, maxEntryPos)
			list, seen := positions[tok]
			if !seen {
				order = append(order, tok)
			}
			if len(list) < maxNumPos-1 && (len(list) == 0 || list[len(list)-1] != p) {
				positions[tok] = append(list, p)
			}
		}
	}
	slices.Sort(order)
	var b strings.Builder
	for i, w := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		for j, p := range positions[w] {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String(), true
}
