package sqlstore

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
	"github.com/emr-project/emr/internal/store/pgtest"
	"github.com/emr-project/emr/internal/store/storetest"
)

// TestReplicaReadYourWrites runs a store on a primary with a real
// streaming standby (pg_basebackup) as its read replica: every write is
// read back and found by search at once, reads move to the standby once
// it has caught up, and a standby that goes away sends reads back to the
// primary without an error reaching the caller.
func TestReplicaReadYourWrites(t *testing.T) {
	ctx := context.Background()
	primary := pgtest.StartCluster(t, pgtest.ClusterOptions{})
	standby := primary.StartReplica(t)
	primaryURL := primary.CreateDatabase(t, "emr")
	if err := pgtest.WaitReplayed(ctx, primaryURL, standby.DSN("emr")); err != nil {
		t.Fatal(err)
	}
	db, err := OpenPostgres(ctx, primaryURL, Options{Extractor: storetest.Extractor(), ReplicaURL: standby.DSN("emr")})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	defer db.Close()
	if db.replica == nil {
		t.Fatal("no replica configured")
	}

	// Read-your-writes: each write is visible to the very next read and
	// search, whichever side serves them.
	for i := range 40 {
		family := fmt.Sprintf("Replicated%d", i)
		var v *store.Version
		err := db.Write(ctx, func(tx store.Tx) error {
			var err error
			v, err = tx.Create(fhir.Resource{"resourceType": "Patient", "name": []any{map[string]any{"family": family}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.Read(ctx, "Patient", v.ID)
		if err != nil || got.VersionID != 1 {
			t.Fatalf("read after write %d: %v, %v", i, got, err)
		}
		res, err := db.Search(ctx, parseQuery(t, "Patient", "family="+family))
		if err != nil || len(res.Matches) != 1 || res.Matches[0].ID != v.ID {
			t.Fatalf("search after write %d: %+v, %v", i, res, err)
		}
		page, err := db.History(ctx, store.HistoryQuery{Type: "Patient", ID: v.ID})
		if err != nil || len(page.Versions) != 1 {
			t.Fatalf("history after write %d: %+v, %v", i, page, err)
		}
	}

	// Once the standby has replayed everything, reads go there.
	if err := pgtest.WaitReplayed(ctx, primaryURL, standby.DSN("emr")); err != nil {
		t.Fatal(err)
	}
	if r := db.reads(ctx); r != &db.replica.side {
		t.Fatal("reads stay on the primary although the standby has caught up")
	}
	res, err := db.Search(ctx, parseQuery(t, "Patient", "_summary=count"))
	if err != nil || res.Total != 40 {
		t.Fatalf("count on the standby: %+v, %v", res, err)
	}

	// A standby that stops: reads fall back to the primary, no error.
	if err := standby.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, err := db.Search(ctx, parseQuery(t, "Patient", "family=Replicated1"))
		if err != nil || len(res.Matches) != 11 { // Replicated1, Replicated10…19
			t.Fatalf("search %d with the standby down: %d matches, %v", i, len(res.Matches), err)
		}
	}
	if r := db.reads(ctx); r != &db.rd {
		t.Fatal("reads still go to a standby that failed")
	}
}

// TestReplicaMustBeStandby refuses a "replica" that is a primary.
func TestReplicaMustBeStandby(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := OpenPostgres(ctx, dsn, Options{ReplicaURL: dsn})
	if err == nil {
		t.Fatal("a primary was accepted as a read replica")
	}
	t.Log(err)
}

func parseQuery(t testing.TB, typ, raw string) *search.Query {
	t.Helper()
	vals, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(spec.R5(), typ, vals, search.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]uint64{"0/0": 0, "0/16B3748": 0x16B3748, "1/0": 1 << 32, "FFFFFFFF/FFFFFFFF": ^uint64(0)} {
		if got, err := parseLSN(in); err != nil || got != want {
			t.Errorf("parseLSN(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "x/1", "1/", "100000000/0"} {
		if _, err := parseLSN(in); err == nil {
			t.Errorf("parseLSN(%q) accepted", in)
		}
	}
}
