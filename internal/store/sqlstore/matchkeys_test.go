package sqlstore

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/storetest"
)

// TestKeyBlocksAcrossPages: blocks come out whole and in order however
// the rows fall into pages.
func TestKeyBlocksAcrossPages(t *testing.T) {
	db := openTest(t)
	err := db.Write(ctx, func(tx store.Tx) error {
		for i := range 23 {
			given := []any{fmt.Sprintf("n%d", i%5), fmt.Sprintf("m%d", i%3)}
			if _, err := tx.Create(fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"given": given}}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := func() map[string][]string {
		out := map[string][]string{}
		err := db.KeyBlocks(ctx, "Patient", storetest.MatchKeyParam, "", func(code string, ids []string) error {
			if _, dup := out[code]; dup {
				t.Errorf("block %s came twice", code)
			}
			out[code] = append([]string(nil), ids...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	whole := blocks()
	if len(whole) != 8 {
		t.Fatalf("%d blocks, want 8", len(whole))
	}
	defer func(n int) { keyBlockPage = n }(keyBlockPage)
	for _, n := range []int{1, 2, 3, 7} {
		keyBlockPage = n
		if diff := cmp.Diff(whole, blocks()); diff != "" {
			t.Errorf("pages of %d rows (-whole +paged):\n%s", n, diff)
		}
	}
}
