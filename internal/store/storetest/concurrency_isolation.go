package storetest

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// The write functions of the concurrency tests keep what they learn in
// variables they reset at the start of every run and read only after Write
// returns: a backend may run fn again after a serialisation failure, and
// only the run it committed counts.

// parseQuery is search.Parse on the R5 definitions, as the API parses a
// query; params are the test's own, so a parse error is a bug in the test.
func parseQuery(typ string, params url.Values) *search.Query {
	q, err := search.Parse(spec.R5(), typ, params, search.ParseOptions{})
	if err != nil {
		panic(fmt.Sprintf("storetest: parse %s?%s: %v", typ, params.Encode(), err))
	}
	return q
}

// byMRN is the search for the patients with one medical record number.
func byMRN(value string) *search.Query {
	return parseQuery("Patient", url.Values{"identifier": {mrn + "|" + value}})
}

func patientWithMRN(value string) fhir.Resource {
	p := patient("MRN " + value)
	p["identifier"] = []any{map[string]any{"system": mrn, "value": value}}
	return p
}

var isolationTests = []suiteTest{
	{"ConditionalCreateExactlyOne", func(t *testing.T, s store.Store) {
		// 16 racers for one identifier, and at the same time 8 racers for
		// each of 4 others.
		var racers []string
		for range 16 {
			racers = append(racers, "solo")
		}
		for i := range 4 {
			for range 8 {
				racers = append(racers, fmt.Sprint("shared-", i))
			}
		}
		type outcome struct {
			id      string // the patient created or found
			created bool
			err     error
		}
		results := make([]outcome, len(racers))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, value := range racers {
			wg.Go(func() {
				<-start
				var o outcome
				err := s.Write(ctx, func(tx store.Tx) error {
					o = outcome{}
					r, err := tx.Search(byMRN(value))
					if err != nil {
						return err
					}
					switch len(r.Matches) {
					case 0:
						v, err := tx.Create(patientWithMRN(value))
						if err != nil {
							return err
						}
						o.id, o.created = v.ID, true
					case 1:
						o.id = r.Matches[0].ID
					default:
						return fmt.Errorf("%d patients have identifier %s: %v", len(r.Matches), value, ids(r.Matches))
					}
					return nil
				})
				o.err = err
				results[i] = o
			})
		}
		close(start)
		wg.Wait()
		byValue := map[string][]outcome{}
		for i, o := range results {
			if o.err != nil {
				t.Errorf("conditional create of %s: %v", racers[i], o.err)
			}
			byValue[racers[i]] = append(byValue[racers[i]], o)
		}
		for value, outcomes := range byValue {
			created, seen := 0, map[string]bool{}
			for _, o := range outcomes {
				if o.created {
					created++
				}
				seen[o.id] = true
			}
			if created != 1 || len(seen) != 1 {
				t.Errorf("%s: %d racers created a patient and they saw %d distinct ones, want 1 and 1", value, created, len(seen))
			}
			r := runSearch(t, s, byMRN(value))
			if len(r.Matches) != 1 || !seen[r.Matches[0].ID] {
				t.Errorf("%s: search after the race found %v, want the one patient the racers saw %v", value, ids(r.Matches), seen)
			}
		}
		// Nothing else was written, not even a version that a later
		// transaction replaced.
		page := history(t, s, store.HistoryQuery{Count: store.MaxPageSize})
		if len(page.Versions) != len(byValue) {
			t.Errorf("system history: %d versions, want %d (one create per identifier)", len(page.Versions), len(byValue))
		}
	}},
	{"TransactionsIsolated", func(t *testing.T, s store.Store) {
		// Every transaction moves 1 from account a to account b and stamps
		// both with its marker; a quarter of them fail after writing. A
		// state where one write of a transaction shows and the other does
		// not, or a failed transaction shows at all, breaks the invariants
		// checkAccounts tests.
		write(t, s, func(tx store.Tx) error {
			for _, id := range accountIDs {
				if _, _, err := tx.Update(account(id, "open", openingBalance), 0); err != nil {
					return err
				}
			}
			return nil
		})
		const writers, rounds = 6, 15
		var committed atomic.Int64
		stop := make(chan struct{})
		var writing, reading sync.WaitGroup
		for w := range writers {
			writing.Go(func() {
				for i := range rounds {
					doomed := (w+i)%4 == 0
					marker := fmt.Sprintf("w%d-%d", w, i)
					if doomed {
						marker = doomedMarker + marker
					}
					err := s.Write(ctx, func(tx store.Tx) error {
						a, errA := tx.Read("Basic", "acct-a")
						b, errB := tx.Read("Basic", "acct-b")
						if err := errors.Join(errA, errB); err != nil {
							return err
						}
						if err := checkAccounts(a, b); err != nil {
							return fmt.Errorf("inside the transaction: %w", err)
						}
						balA, _ := accountState(a)
						balB, _ := accountState(b)
						next := []fhir.Resource{account("acct-a", marker, balA-1), account("acct-b", marker, balB+1)}
						if w%2 == 1 { // b then a: the order that deadlocks against a then b
							slices.Reverse(next)
						}
						for _, res := range next {
							if _, _, err := tx.Update(res, 0); err != nil {
								return err
							}
						}
						if doomed {
							return errTest
						}
						return nil
					})
					switch {
					case doomed && !errors.Is(err, errTest):
						t.Errorf("failing transaction %s: got %v, want its fn's error", marker, err)
						return // the next transactions would only repeat it
					case !doomed && err != nil:
						t.Errorf("transaction %s: %v", marker, err)
						return
					case !doomed:
						committed.Add(1)
					}
				}
			})
		}
		// One reader searches both accounts at once: one page is one
		// snapshot. The other reads them one after the other, in both
		// orders: the second read must be at least as new as the first.
		both := url.Values{"_id": {strings.Join(accountIDs, ",")}}
		reading.Go(func() {
			for !closed(stop) {
				r, err := s.Search(ctx, parseQuery("Basic", both))
				if err == nil && len(r.Matches) != 2 {
					err = fmt.Errorf("got %v, want both accounts", ids(r.Matches))
				}
				if err == nil {
					err = checkAccounts(r.Matches[0], r.Matches[1])
				}
				if err != nil {
					t.Errorf("search of both accounts: %v", err)
					return
				}
			}
		})
		reading.Go(func() {
			for i := 0; !closed(stop); i++ {
				first, second := accountIDs[i%2], accountIDs[1-i%2]
				v1, err1 := s.Read(ctx, "Basic", first)
				v2, err2 := s.Read(ctx, "Basic", second)
				err := errors.Join(err1, err2)
				if err == nil {
					err = errors.Join(checkAccount(v1), checkAccount(v2))
				}
				if err == nil && v2.VersionID < v1.VersionID {
					err = fmt.Errorf("read %s at version %d, then %s at version %d: the second read saw an older state",
						first, v1.VersionID, second, v2.VersionID)
				}
				if err != nil {
					t.Errorf("reads one after the other: %v", err)
					return
				}
			}
		})
		writing.Wait()
		close(stop)
		reading.Wait()

		n := committed.Load()
		r := runSearch(t, s, parseQuery("Basic", both))
		if len(r.Matches) != 2 {
			t.Fatalf("final search: got %v, want both accounts", ids(r.Matches))
		}
		if err := checkAccounts(r.Matches[0], r.Matches[1]); err != nil {
			t.Errorf("final state: %v", err)
		}
		if v := r.Matches[0].VersionID; v != 1+n {
			t.Errorf("final version %d, want %d (1 + the committed transactions)", v, 1+n)
		}
		for _, id := range accountIDs {
			page := history(t, s, store.HistoryQuery{Type: "Basic", ID: id, Count: store.MaxPageSize})
			if int64(len(page.Versions)) != 1+n {
				t.Errorf("history of %s: %d versions, want %d", id, len(page.Versions), 1+n)
			}
			for _, v := range page.Versions {
				if err := checkAccount(v); err != nil {
					t.Errorf("history of %s: %v", id, err)
				}
			}
		}
	}},
}

// The accounts of TransactionsIsolated: Basic resources with a balance
// extension and their last transaction's marker in code.text.
var accountIDs = []string{"acct-a", "acct-b"}

const (
	openingBalance = 100
	balanceURL     = "http://example.org/fhir/StructureDefinition/balance"
	doomedMarker   = "doomed-"
)

func account(id, marker string, balance int64) fhir.Resource {
	return fhir.Resource{
		"resourceType": "Basic",
		"id":           id,
		"code":         map[string]any{"text": marker},
		"extension":    []any{map[string]any{"url": balanceURL, "valueInteger": balance}},
	}
}

// accountState returns an account version's balance and marker.
func accountState(v *store.Version) (balance int64, marker string) {
	if v == nil || v.Resource == nil {
		return 0, ""
	}
	code, _ := v.Resource["code"].(map[string]any)
	marker, _ = code["text"].(string)
	exts, _ := v.Resource["extension"].([]any)
	for _, e := range exts {
		if e, _ := e.(map[string]any); e["url"] == balanceURL {
			// An int64 as written, a json.Number as parsed back.
			balance, _ = strconv.ParseInt(fmt.Sprint(e["valueInteger"]), 10, 64)
		}
	}
	return balance, marker
}

// checkAccount checks what one account's version says on its own: each
// committed transaction moved 1 and wrote a version, so the balance follows
// from the version, and no failed transaction's marker is visible.
func checkAccount(v *store.Version) error {
	if v == nil || v.Resource == nil {
		return fmt.Errorf("account version %+v has no resource", v)
	}
	balance, marker := accountState(v)
	moved := v.VersionID - 1
	want := openingBalance - moved
	if v.ID == "acct-b" {
		want = openingBalance + moved
	}
	if strings.HasPrefix(marker, doomedMarker) {
		return fmt.Errorf("%s version %d carries %q, written by a transaction that failed", v.ID, v.VersionID, marker)
	}
	if balance != want {
		return fmt.Errorf("%s version %d has balance %d, want %d", v.ID, v.VersionID, balance, want)
	}
	return nil
}

// checkAccounts checks a snapshot of both accounts: both written by the
// same transaction.
func checkAccounts(a, b *store.Version) error {
	if a != nil && b != nil && a.ID == "acct-b" {
		a, b = b, a
	}
	if err := errors.Join(checkAccount(a), checkAccount(b)); err != nil {
		return err
	}
	_, markerA := accountState(a)
	_, markerB := accountState(b)
	if a.VersionID != b.VersionID || markerA != markerB {
		return fmt.Errorf("half a transaction: %s is version %d by %q, %s version %d by %q",
			a.ID, a.VersionID, markerA, b.ID, b.VersionID, markerB)
	}
	return nil
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
