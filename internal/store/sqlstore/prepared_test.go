package sqlstore

import (
	"slices"
	"testing"

	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// A resource prepared ahead (its entries extracted off the writer) is
// indexed exactly as one written plainly; entries from another extractor
// version are not trusted but extracted again.
func TestUpdatePrepared(t *testing.T) {
	db := openTest(t)
	defer db.Close()

	plain := benchPatient(1)
	plain.SetID("plain")
	ahead := benchPatient(1)
	ahead.SetID("ahead")
	ready, err := db.Prepare(ahead)
	if err != nil {
		t.Fatal(err)
	}
	if len(ready.Entries) == 0 || ready.Extractor == "" {
		t.Fatalf("Prepare: %d entries, extractor %q", len(ready.Entries), ready.Extractor)
	}
	stale := benchPatient(2)
	stale.SetID("stale")
	// Entries of another resource, as an older extractor might have made:
	// the write must not use them.
	other, err := db.Prepare(benchPatient(3))
	if err != nil {
		t.Fatal(err)
	}
	other.Resource, other.Extractor = stale, "some older version"

	err = db.Write(ctx, func(tx store.Tx) error {
		if _, _, err := tx.Update(plain, 0); err != nil {
			return err
		}
		pu, ok := tx.(store.PreparedUpdater)
		if !ok {
			t.Fatal("the SQL store's Tx is not a store.PreparedUpdater")
		}
		if _, created, err := pu.UpdatePrepared(ready, 0); err != nil || !created {
			t.Fatalf("UpdatePrepared: created %v, %v", created, err)
		}
		_, _, err := pu.UpdatePrepared(other, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	rows := func(id string) int { return indexRows(t, db, "Patient", id) }
	if p, a := rows("plain"), rows("ahead"); p == 0 || p != a {
		t.Errorf("index rows: %d written plainly, %d prepared ahead", p, a)
	}
	// The prepared JSON was stored, with the write's time in place of the
	// placeholder: byte for byte what the resource serialises to.
	got, err := db.Read(ctx, "Patient", "ahead")
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := db.readers.QueryRowContext(ctx, "SELECT resource FROM resource_version WHERE type = 'Patient' AND id = 'ahead'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) != string(got.Resource.JSON()) || got.Resource.Meta()["lastUpdated"] != formatInstant(got.LastUpdated) ||
		got.Resource.VersionID() != "1" {
		t.Errorf("stored %s\nread back %s (lastUpdated %v)", stored, got.Resource.JSON(), got.LastUpdated)
	}
	// Its full-text row, made in Prepare, finds it like the plain one.
	text, err := db.Search(ctx, &search.Query{Type: "Patient", Filters: []*search.Filter{
		{Name: "_content", Kind: search.KindSpecial, Special: "_content", Values: []search.Value{{Raw: "Springfield"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, m := range text.Matches {
		found = append(found, m.ID)
	}
	slices.Sort(found)
	if !slices.Contains(found, "ahead") || !slices.Contains(found, "plain") {
		t.Errorf("_content=Springfield finds %v, want ahead and plain among them", found)
	}
	for family, want := range map[string]string{"Family1": "ahead,plain", "Family2": "stale", "Family3": ""} {
		res, err := db.Search(ctx, &search.Query{Type: "Patient", Filters: []*search.Filter{
			testFilter("Patient", "family", "exact", search.Value{Exact: family})}})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for i, m := range res.Matches {
			if i > 0 {
				got += ","
			}
			got += m.ID
		}
		if got != want && !(want == "ahead,plain" && got == "plain,ahead") {
			t.Errorf("family=%s: got [%s], want [%s]", family, got, want)
		}
	}
}

// indexRows counts the rows of typ/id in the index tables.
func indexRows(t *testing.T, db *DB, typ, id string) int {
	t.Helper()
	var n, total int
	for _, table := range tableOf {
		if err := db.readers.QueryRowContext(ctx, `SELECT count(*) FROM `+table+
			` WHERE rid = (SELECT rid FROM resource_key WHERE type = ? AND id = ?)`, typ, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}
