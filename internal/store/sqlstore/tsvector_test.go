package sqlstore

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/store/pgtest"
)

// TestTSVectorLiteral holds tsvectorLiteral to to_tsvector('simple', …)
// on a real PostgreSQL: varied texts of ASCII words and digits, words
// repeated past the positions a lexeme keeps, texts past the last
// position, long words; and refuses anything else.
func TestTSVectorLiteral(t *testing.T) {
	pool, err := openPostgresPool(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	r := rand.New(rand.NewPCG(9, 10))
	word := func() string {
		letters := "abcdefghijklmnopqrstuvwxyz0123456789"
		if r.IntN(3) == 0 {
			letters = "0123456789e0123456789abef" // numbers with exponents, hex
		}
		n := 1 + r.IntN(12)
		if r.IntN(50) == 0 {
			n = 500 + r.IntN(1500) // long, under ftsWords's maxWordBytes
		}
		var b strings.Builder
		for range n {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		return b.String()
	}
	texts := []string{"", "a", "1", "007 7 0", "e5 5mg 10ml 2nd x1e5 1e5 6e55tnrm 8e5b 8ea1 1e 1e5e3 12e34e56",
		"8e5b2a4c 0e0 e0e0", "patient patient patient", strings.Repeat("x ", 300), strings.Repeat("y z ", 9000)}
	for range 300 {
		vocab := make([]string, 1+r.IntN(40))
		for i := range vocab {
			vocab[i] = word()
		}
		words := make([]string, r.IntN(400))
		for i := range words {
			words[i] = vocab[r.IntN(len(vocab))]
		}
		texts = append(texts, strings.Join(words, " "))
	}
	compared := 0
	for i, text := range texts {
		lit, ok := tsvectorLiteral(text)
		if !ok {
			t.Fatalf("text %d refused", i)
		}
		compared++
		var equal bool
		var got, want string
		if err := pool.QueryRowContext(ctx, "SELECT $1::tsvector = to_tsvector('simple', $2), $1::tsvector::text, to_tsvector('simple', $2)::text", lit, text).Scan(&equal, &got, &want); err != nil {
			t.Fatalf("text %d: %v", i, err)
		}
		if !equal {
			t.Fatalf("text %d (%.80q…):\nliteral     %.300s\nto_tsvector %.300s", i, text, got, want)
		}
	}
	if compared < len(texts)/2 {
		t.Errorf("only %d of %d texts compared", compared, len(texts))
	}
	for _, text := range []string{"zoë", "a-b", "Upper", "é", "x\uE000y"} {
		if _, ok := tsvectorLiteral(text); ok {
			t.Errorf("%q: a literal for a text to_tsvector must parse", text)
		}
	}
}
