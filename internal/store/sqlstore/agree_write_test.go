package sqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Writes in TestBackendsAgree: the edges of what a store accepts. They run
// last, since they add to the data the other comparisons read.

// agreeWriteCase is one write, given the same way to each store.
type agreeWriteCase struct {
	name  string
	write func(tx store.Tx) (*store.Version, error)
	read  string // Type/id read back afterwards
	// search, when set, is a query on the type of read run afterwards,
	// whose matches are compared too.
	search string
	known  string // why the stores are known to disagree, if they do
}

// agreeNoise is n bytes of lowercase words that do not compress, the same
// every run: PostgreSQL compresses a long index entry before it measures
// it, so a repeated pattern would pass where real text does not.
func agreeNoise(n int) string {
	r := rand.New(rand.NewPCG(5, 7))
	var b strings.Builder
	for b.Len() < n {
		b.WriteByte(byte('a' + r.IntN(26)))
		if r.IntN(8) == 0 {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func agreeWriteCases() []agreeWriteCase {
	put := func(js string) func(tx store.Tx) (*store.Version, error) {
		return func(tx store.Tx) (*store.Version, error) {
			res, err := fhir.ParseResource([]byte(js))
			if err != nil {
				return nil, err
			}
			v, _, err := tx.Update(res, 0)
			return v, err
		}
	}
	// PostgreSQL's btree indexes take entries of at most 2704 bytes;
	// Index keys are cut at maxKeyBytes and NULs dropped (indexKey), on
	// both stores; full text leaves out words over maxWordBytes.
	noise := agreeNoise(4000)
	word := strings.ReplaceAll(noise[:3000], " ", "")
	return []agreeWriteCase{
		{name: "same content again", read: "Patient/ag-p7", write: put(agreeResource("Patient/ag-p7"))},
		{name: "update if-match stale", read: "Patient/ag-p15", write: func(tx store.Tx) (*store.Version, error) {
			v, _, err := tx.Update(fhir.Resource{"resourceType": "Patient", "id": "ag-p15"}, 1)
			return v, err
		}},
		{name: "delete deleted", read: "Patient/ag-p13", write: func(tx store.Tx) (*store.Version, error) {
			return tx.Delete("Patient", "ag-p13", 0)
		}},
		{name: "delete if-match", read: "Patient/ag-p8", write: func(tx store.Tx) (*store.Version, error) {
			return tx.Delete("Patient", "ag-p8", 1)
		}},
		{name: "control character", read: "Patient/ag-w1", write: put(`{"resourceType":"Patient","id":"ag-w1","name":[{"family":"Tab\tBell\u0007"}]}`)},
		{name: "NUL in a string", read: "Patient/ag-w2", write: put(`{"resourceType":"Patient","id":"ag-w2","name":[{"family":"A\u0000B"}]}`)},
		{name: "long string", read: "ValueSet/ag-w3", write: put(`{"resourceType":"ValueSet","id":"ag-w3","status":"active","description":"` + noise + `"}`)},
		{name: "long token", read: "Patient/ag-w4", write: put(`{"resourceType":"Patient","id":"ag-w4","identifier":[{"system":"http://x","value":"` + word + `"}]}`)},
		{name: "long uri", read: "ValueSet/ag-w5", write: put(`{"resourceType":"ValueSet","id":"ag-w5","status":"active","url":"http://x/` + word + `"}`)},
		{name: "long reference", read: "Observation/ag-w6", write: put(`{"resourceType":"Observation","id":"ag-w6","status":"final","code":{"text":"x"},"subject":{"reference":"http://x/` + word + `"}}`)},
		{name: "long word in the narrative", read: "Patient/ag-w7", write: put(`{"resourceType":"Patient","id":"ag-w7",` + agNarrative(word) + `}`)},
		{name: "word in the narrative", read: "Patient/ag-w8", write: put(`{"resourceType":"Patient","id":"ag-w8",` + agNarrative(word[:2000]) + `}`),
			search: "_text=" + word[:2000]},
	}
}

// agreeResource is the JSON of a resource of the population.
func agreeResource(ref string) string {
	typ, id, _ := strings.Cut(ref, "/")
	for _, ph := range agreePopulation {
		for _, js := range ph.puts {
			if strings.Contains(js, `"resourceType":"`+typ+`","id":"`+id+`"`) {
				return js
			}
		}
	}
	panic("no " + ref + " in agreePopulation")
}

// agreeFind is the ids a search of typ finds on its first page.
func agreeFind(ctx context.Context, s *agreeStore, typ, query string) ([]string, error) {
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	q, err := search.Parse(spec.R5(), typ, params, search.ParseOptions{})
	if err != nil {
		return nil, err
	}
	res, err := s.db.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	return agreePageShape(res).Matches, nil
}

func agreeWrites(t *testing.T, stores []*agreeStore) {
	ctx := context.Background()
	type answer struct {
		Err     string
		Version int64
		Deleted bool
		Read    string // kind of the read's error, version of what it read
		Found   []string
	}
	for _, c := range agreeWriteCases() {
		var answers []answer
		var texts []string
		for _, s := range stores {
			var a answer
			err := s.db.Write(ctx, func(tx store.Tx) error {
				v, err := c.write(tx)
				if v != nil {
					a.Version, a.Deleted = v.VersionID, v.Deleted
				}
				return err
			})
			if err != nil {
				a.Err = fmt.Sprintf("kind %d", fhir.KindOf(err))
			}
			texts = append(texts, fmt.Sprint(err))
			typ, id, _ := strings.Cut(c.read, "/")
			v, err := s.db.Read(ctx, typ, id)
			a.Read = fmt.Sprintf("kind %d", fhir.KindOf(err))
			if err == nil {
				a.Read = "ok"
			}
			if v != nil {
				a.Read += fmt.Sprintf(", version %d", v.VersionID)
			}
			if c.search != "" {
				found, err := agreeFind(ctx, s, typ, c.search)
				if err != nil {
					t.Fatalf("write %s: %s: %v", c.name, s.name, err)
				}
				a.Found = found
			}
			answers = append(answers, a)
		}
		for i, a := range answers[1:] {
			diff := cmp.Diff(answers[0], a)
			switch {
			case c.known != "" && diff == "":
				t.Errorf("write %s: known to disagree (%s), but %s and %s agree: take it out", c.name, c.known, stores[0].name, stores[i+1].name)
			case c.known != "":
				t.Logf("write %s: known disagreement: %s", c.name, c.known)
			case diff != "":
				t.Errorf("write %s: %s and %s disagree (-%s +%s):\n%s\n%s: %.300s\n%s: %.300s", c.name, stores[0].name, stores[i+1].name,
					stores[0].name, stores[i+1].name, diff, stores[0].name, texts[0], stores[i+1].name, texts[i+1])
			}
		}
	}
}
