package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// auditSearchEvent is the i-th event of a varied log: five patients, four
// users (one through a client app), every action and outcome, purposes,
// break-glass, security events.
func auditSearchEvent(r *rand.Rand, i int) fhir.Resource {
	interactions := []string{"read", "search-type", "create", "update", "delete", "operation"}
	users := []string{"alice", "bob", "carol", "dave"}
	e := audit.Entry{
		Interaction: interactions[r.IntN(len(interactions))],
		Type:        "Observation", ID: fmt.Sprintf("obs%d", r.IntN(20)),
		Agent:    audit.Agent{User: users[r.IntN(len(users))], Address: "10.0.0.1"},
		Outcome:  []audit.Outcome{audit.Success, audit.Success, audit.MinorFailure, audit.SeriousFailure}[r.IntN(4)],
		Recorded: time.Now(), Observer: "test",
	}
	if r.IntN(5) > 0 {
		e.Patient = fmt.Sprintf("Patient/p%d", r.IntN(5))
	}
	if e.Agent.User == "dave" {
		e.Agent.Client = "app-1"
	}
	if r.IntN(3) == 0 {
		e.Purpose = "TREAT"
	}
	if i%17 == 0 {
		e = audit.Entry{Interaction: "login-failed", Category: audit.CategoryUserAuthentication, Agent: e.Agent, Outcome: audit.MinorFailure, Subject: e.Agent.User, Recorded: time.Now()}
	}
	ev := audit.Event(e)
	ev.SetID(fmt.Sprintf("ev%d", i))
	if i%23 == 0 {
		ev["meta"] = map[string]any{"security": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}}}
	}
	return ev
}

// TestSearchAudit checks every parameter, combinations, both sort orders,
// paging both ways and totals against a filter over the whole log, on
// SQLite and PostgreSQL.
func TestSearchAudit(t *testing.T) {
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			db, err := b.open(b.new(t), Options{ReadConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			r := rand.New(rand.NewPCG(1, 2))
			for batch := range 12 {
				var evs []fhir.Resource
				for i := range 25 {
					ev := auditSearchEvent(r, batch*25+i)
					if batch >= 6 {
						// Ids as the server makes them: UUIDv7, several per
						// millisecond, so that they share postings.
						ev.SetID(store.NewID())
					}
					evs = append(evs, ev)
				}
				if err := db.AppendAudit(ctx, evs...); err != nil {
					t.Fatal(err)
				}
				// Each batch indexed on its own: a term's records are in
				// several postings, and pages start inside them.
				if _, err := db.SearchAudit(ctx, store.AuditQuery{Count: 1}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(3 * time.Millisecond) // distinct recorded times
			}
			all := searchAll(t, db, store.AuditQuery{Ascending: true, Count: 1000})
			if len(all) != 300 {
				t.Fatalf("got %d records, want 300", len(all))
			}
			var scanned []int64
			if err := db.ScanAudit(ctx, 0, func(seq int64, _ fhir.Resource) error { scanned = append(scanned, seq); return nil }); err != nil {
				t.Fatal(err)
			}
			if got := seqs(all); !slices.Equal(got, scanned) {
				t.Fatalf("unfiltered search %v…, scan %v…", got[:5], scanned[:5])
			}
			mid := all[150].Recorded.UnixMilli()
			term := func(name, value string) []audit.Term { return []audit.Term{{Name: name, Value: value}} }
			cases := []struct {
				name string
				q    store.AuditQuery
			}{
				{"patient", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/p1")}}},
				{"patient or", store.AuditQuery{Terms: [][]audit.Term{{{Name: "patient", Value: "Patient/p1"}, {Name: "patient", Value: "Patient/p2"}}}}},
				{"agent", store.AuditQuery{Terms: [][]audit.Term{term("agent", "alice")}}},
				{"agent client id", store.AuditQuery{Terms: [][]audit.Term{term("agent", "app-1")}}},
				{"agent-name", store.AuditQuery{Terms: [][]audit.Term{term("agent-name", "carol")}}},
				{"action", store.AuditQuery{Terms: [][]audit.Term{term("action", "R")}}},
				{"implicit values only", store.AuditQuery{Terms: [][]audit.Term{term("action", "R"), term("outcome", "http://terminology.hl7.org/CodeSystem/audit-event-outcome|0"), term("code", "read")}}},
				{"outcome code", store.AuditQuery{Terms: [][]audit.Term{term("outcome", "4")}}},
				{"outcome system|code", store.AuditQuery{Terms: [][]audit.Term{term("outcome", "http://terminology.hl7.org/CodeSystem/audit-event-outcome|8")}}},
				{"entity", store.AuditQuery{Terms: [][]audit.Term{term("entity", "Observation/obs3")}}},
				{"category", store.AuditQuery{Terms: [][]audit.Term{term("category", "http://dicom.nema.org/resources/ontology/DCM|110114")}}},
				{"code", store.AuditQuery{Terms: [][]audit.Term{term("code", "delete")}}},
				{"purpose", store.AuditQuery{Terms: [][]audit.Term{term("purpose", "TREAT")}}},
				{"_security", store.AuditQuery{Terms: [][]audit.Term{term("_security", "BTG")}}},
				{"_id", store.AuditQuery{Terms: [][]audit.Term{term("_id", "ev42")}}},
				{"_id uuid", store.AuditQuery{Terms: [][]audit.Term{term("_id", idOf(t, all[250]))}}},
				{"_id uuids", store.AuditQuery{Terms: [][]audit.Term{{{Name: "_id", Value: idOf(t, all[251])}, {Name: "_id", Value: idOf(t, all[280])}, {Name: "_id", Value: "ev7"}}}}},
				{"agent or, same records", store.AuditQuery{Terms: [][]audit.Term{{{Name: "agent", Value: "dave"}, {Name: "agent", Value: "app-1"}, {Name: "agent", Value: "alice"}}}}},
				{"date ge", store.AuditQuery{Recorded: [][]store.TimeRange{{{From: mid}}}}},
				{"date range", store.AuditQuery{Recorded: [][]store.TimeRange{{{From: all[40].Recorded.UnixMilli()}}, {{To: mid}}}}},
				{"patient and action and outcome", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/p0"), term("action", "R"), term("outcome", "0")}}},
				{"agent and date", store.AuditQuery{Terms: [][]audit.Term{term("agent", "bob")}, Recorded: [][]store.TimeRange{{{To: mid}}}}},
				{"action or, patient", store.AuditQuery{Terms: [][]audit.Term{{{Name: "action", Value: "C"}, {Name: "action", Value: "U"}}, term("patient", "Patient/p3")}}},
				{"nothing", store.AuditQuery{Terms: [][]audit.Term{term("patient", "Patient/none")}}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					want := filterAudit(all, c.q)
					if len(want) == 0 && c.name != "nothing" {
						t.Fatalf("the log has no match: pick another case")
					}
					for _, asc := range []bool{false, true} {
						q := c.q
						q.Ascending, q.Count, q.Total = asc, 7, true
						w := slices.Clone(want)
						if !asc {
							slices.Reverse(w)
						}
						checkPaging(t, db, q, w)
					}
				})
			}
		})
	}
}

// checkPaging walks q's pages forward, checking each and the total, then
// back from the last page to the first.
func checkPaging(t *testing.T, db *DB, q store.AuditQuery, want []int64) {
	t.Helper()
	var (
		got   []int64
		pages []*store.AuditPage
	)
	for {
		page, err := db.SearchAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != int64(len(want)) {
			t.Errorf("total %d, want %d", page.Total, len(want))
		}
		if len(page.Records) > q.Count {
			t.Fatalf("page of %d, want at most %d", len(page.Records), q.Count)
		}
		if (len(pages) == 0) != (page.Prev == "") {
			t.Errorf("page %d: prev %q", len(pages), page.Prev)
		}
		got = append(got, seqsOf(page.Records)...)
		pages = append(pages, page)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("forward: got %v, want %v", got, want)
	}
	// Back: each previous page is the page before.
	for i := len(pages) - 1; i > 0; i-- {
		q.Cursor = pages[i].Prev
		page, err := db.SearchAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := seqsOf(page.Records), seqsOf(pages[i-1].Records); !slices.Equal(g, w) {
			t.Fatalf("back to page %d: got %v, want %v", i-1, g, w)
		}
		if (i-1 == 0) != (page.Prev == "") || page.Next == "" {
			t.Errorf("back to page %d: prev %q next %q", i-1, page.Prev, page.Next)
		}
	}
}

func searchAll(t *testing.T, db *DB, q store.AuditQuery) []store.AuditRecord {
	t.Helper()
	page, err := db.SearchAudit(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return page.Records
}

// filterAudit is the oracle: the seqs of the records matching q, oldest first.
func filterAudit(all []store.AuditRecord, q store.AuditQuery) []int64 {
	var out []int64
	for _, r := range all {
		ev, err := fhir.ParseResource(r.Event)
		if err != nil {
			panic(err)
		}
		terms := audit.Terms(ev) // what it matches, implicit values included
		ok := true
		for _, list := range q.Terms {
			ok = ok && slices.ContainsFunc(list, func(t audit.Term) bool { return slices.Contains(terms, t) })
		}
		ms := r.Recorded.UnixMilli()
		for _, list := range q.Recorded {
			ok = ok && slices.ContainsFunc(list, func(tr store.TimeRange) bool {
				return (tr.From == 0 || ms >= tr.From) && (tr.To == 0 || ms < tr.To)
			})
		}
		if ok {
			out = append(out, r.Seq)
		}
	}
	return out
}

func seqs(rs []store.AuditRecord) []int64 { return seqsOf(rs) }

func seqsOf(rs []store.AuditRecord) []int64 {
	out := []int64{}
	for _, r := range rs {
		out = append(out, r.Seq)
	}
	return out
}

// TestAuditIndexBackfill checks that records written before migration
// 0006 (here: their terms removed and the backfill reset, as 0006 leaves
// an older database) are searchable once the store has opened it.
// TestAuditIndexFromLog checks that the search index is rebuilt from the
// log: rows lost (as a crash loses the terms waiting in memory) are indexed
// again from the records' JSON when the store opens.
func TestAuditIndexFromLog(t *testing.T) {
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			where := b.new(t)
			db, err := b.open(where, Options{ReadConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			var evs []fhir.Resource
			for i := range 60 {
				evs = append(evs, auditSearchEvent(r, i))
			}
			if err := db.AppendAudit(ctx, evs...); err != nil {
				t.Fatal(err)
			}
			want := filterAudit(searchAll(t, db, store.AuditQuery{Ascending: true, Count: 1000}),
				store.AuditQuery{Terms: [][]audit.Term{{{Name: "agent", Value: "bob"}}}})
			db.Close()

			raw, err := b.raw(where)
			if err != nil {
				t.Fatal(err)
			}
			if b.name == "postgres" {
				mustExec(t, raw, "DROP TRIGGER audit_posting_no_delete ON audit_posting")
			}
			mustExec(t, raw, "DELETE FROM audit_posting")
			mustExec(t, raw, "UPDATE audit_indexed SET through = 0")
			raw.Close()

			db, err = b.open(where, Options{ReadConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checkPaging(t, db, store.AuditQuery{Terms: [][]audit.Term{{{Name: "agent", Value: "bob"}}}, Ascending: true, Count: 5, Total: true}, want)
		})
	}
}

// TestAuditIndexAcrossProcesses checks that a search sees every record
// committed before it, whichever process appended it: records another
// store on the same database appended wait, unindexed, in that store's
// memory (fewer than auditIndexEvery), and this store's search indexes
// them from the log. A crash that loses such terms is the same case.
func TestAuditIndexAcrossProcesses(t *testing.T) {
	for _, b := range chainBackends {
		t.Run(b.name, func(t *testing.T) {
			where := b.new(t)
			one, err := b.open(where, Options{ReadConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer one.Close()
			two, err := b.open(where, Options{ReadConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer two.Close()
			r := rand.New(rand.NewPCG(5, 6))
			var all []fhir.Resource
			for i := range 90 {
				db := []*DB{one, two}[i/10%2] // interleaved: each store's memory has gaps the other filled
				if i%3 == 0 {
					// A read's event, kept in compact form.
					e := audit.Entry{Interaction: "read", Type: "Patient", ID: fmt.Sprintf("p%d", i%5), VersionID: 2,
						Patient: fmt.Sprintf("Patient/p%d", i%5), Agent: audit.Agent{User: "carol", Address: "10.0.0.9"}, Recorded: time.Now()}
					id := fmt.Sprintf("ev%d", i)
					enc, ok := audit.Encode(e, id)
					if !ok {
						t.Fatal("Encode refused a read")
					}
					if err := db.AppendEncodedAudit(ctx, enc); err != nil {
						t.Fatal(err)
					}
					ev := audit.Event(e)
					ev.SetID(id)
					all = append(all, ev)
					continue
				}
				ev := auditSearchEvent(r, i)
				all = append(all, ev)
				if err := db.AppendAudit(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			var waiting int64
			if err := one.readers.QueryRowContext(ctx, "SELECT count(*) FROM audit_event WHERE seq > (SELECT through FROM audit_indexed)").Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting != 90 {
				t.Fatalf("%d records wait to be indexed, want all 90 (auditIndexEvery %d)", waiting, auditIndexEvery)
			}
			q := store.AuditQuery{Terms: [][]audit.Term{{{Name: "patient", Value: "Patient/p2"}}}, Ascending: true, Count: 1000, Total: true}
			page, err := two.SearchAudit(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, ev := range all {
				if p, _ := ev["patient"].(map[string]any); p != nil && p["reference"] == "Patient/p2" {
					want = append(want, ev.ID())
				}
			}
			var got []string
			for _, rec := range page.Records {
				ev, err := fhir.ParseResource(rec.Event)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.ID())
			}
			if !slices.Equal(got, want) || page.Total != int64(len(want)) {
				t.Fatalf("patient p2: got %v (total %d), want %v", got, page.Total, want)
			}
			if err := one.readers.QueryRowContext(ctx, "SELECT count(*) FROM audit_event WHERE seq > (SELECT through FROM audit_indexed)").Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting != 0 {
				t.Fatalf("%d records still wait after a search", waiting)
			}
			// The other store's memory is behind the database now; its
			// next indexing (auditIndexEvery appends bring it) must take
			// what is new, and the index must hold every term once.
			for i := range auditIndexEvery {
				ev := auditSearchEvent(r, 100+i)
				all = append(all, ev)
				if err := one.AppendAudit(ctx, ev); err != nil {
					t.Fatal(err)
				}
			}
			var log []store.AuditRecord
			rows, err := one.readers.QueryContext(ctx, "SELECT seq, recorded, event FROM audit_event ORDER BY seq")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var (
					rec      store.AuditRecord
					recorded int64
				)
				if err := rows.Scan(&rec.Seq, &recorded, &rec.Event); err != nil {
					t.Fatal(err)
				}
				if rec.Event, err = audit.Render(rec.Event); err != nil {
					t.Fatal(err)
				}
				rec.Recorded = time.UnixMilli(recorded)
				log = append(log, rec)
			}
			rows.Close()
			carol := store.AuditQuery{Terms: [][]audit.Term{{{Name: "agent", Value: "carol"}}}, Ascending: true, Count: 50, Total: true}
			checkPaging(t, one, carol, filterAudit(log, carol))
			if _, err := one.SearchAudit(ctx, store.AuditQuery{Count: 1}); err != nil {
				t.Fatal(err)
			}
			checkPostings(t, one)
		})
	}
}

// checkPostings checks that audit_posting lists each search term of each
// record in the log once, and nothing else (the log must be indexed up to
// its tip).
func checkPostings(t *testing.T, db *DB) {
	t.Helper()
	type entry struct {
		name, key string
		seq       int64
	}
	want := map[entry]bool{}
	rows, err := db.readers.QueryContext(ctx, "SELECT seq, event FROM audit_event")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			seq   int64
			event []byte
		)
		if err := rows.Scan(&seq, &event); err != nil {
			t.Fatal(err)
		}
		terms, err := audit.StoredTerms(event)
		if err != nil {
			t.Fatal(err)
		}
		for _, term := range terms {
			want[entry{term.Name, postingKey(term), seq}] = true
		}
	}
	rows.Close()
	rows, err = db.readers.QueryContext(ctx, "SELECT name, key, first, last, seqs FROM audit_posting")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[entry]bool{}
	for rows.Next() {
		var (
			name, key   string
			first, last int64
			list        []byte
		)
		if err := rows.Scan(&name, &key, &first, &last, &list); err != nil {
			t.Fatal(err)
		}
		seqs := postingSeqs(nil, first, list)
		if seqs[len(seqs)-1] != last {
			t.Errorf("posting %s=%s lists %v, last %d", name, key, seqs, last)
		}
		for _, seq := range seqs {
			e := entry{name, key, seq}
			if got[e] {
				t.Errorf("%s=%s lists record %d twice", name, key, seq)
			}
			got[e] = true
			if !want[e] {
				t.Errorf("%s=%s lists record %d, which is not in the log with that term", name, key, seq)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for e := range want {
		if !got[e] {
			t.Errorf("record %d's term %s=%s is not listed", e.seq, e.name, e.key)
		}
	}
}

// idOf returns the id of a record's AuditEvent.
func idOf(t *testing.T, r store.AuditRecord) string {
	t.Helper()
	ev, err := fhir.ParseResource(r.Event)
	if err != nil {
		t.Fatal(err)
	}
	return ev.ID()
}
