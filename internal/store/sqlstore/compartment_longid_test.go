package sqlstore

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store/storetest"
)

// References whose id is longer than indexKey keeps (1000 bytes): the
// reference rows hold the id cut, idx_compartment the whole id, so a
// compartment search of one type by such an id reads idx_compartment, and
// finds no member of another compartment that shares the first 1000
// bytes.
func TestCompartmentLongIDs(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *DB{"sqlite": openTest, "postgres": openPostgresTest} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			ctx := context.Background()
			long := strings.Repeat("a", 1000)
			storetest.PutJSON(t, db,
				`{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+long+`1"}}`,
				`{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+long+`2"}}`)
			ref := &search.CompartmentRef{Type: "Patient", ID: long + "1"}
			ids := func(q *search.Query) []string {
				res, err := db.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, v := range res.Matches {
					out = append(out, v.Type+"/"+v.ID)
				}
				slices.Sort(out)
				return out
			}
			all := ids(&search.Query{Compartment: ref, Count: 100})
			typed := ids(&search.Query{Type: "Observation", Compartment: ref, Count: 100})
			if !slices.Equal(all, typed) {
				t.Errorf("compartment of every type: %v; of Observation: %v", all, typed)
			}
		})
	}
}
