package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

var concurrencyTests = []suiteTest{
	{"IfMatchExactlyOneWinner", func(t *testing.T, s store.Store) {
		id := create(t, s, patient("Contended")).ID
		const workers, rounds = 8, 10
		var (
			mu   sync.Mutex
			wins = map[int64]int{} // If-Match version -> successful updates
			wg   sync.WaitGroup
		)
		for w := range workers {
			wg.Go(func() {
				for range rounds {
					cur, err := s.Read(ctx, "Patient", id)
					if err != nil {
						t.Errorf("Read: %v", err)
						return
					}
					err = s.Write(ctx, func(tx store.Tx) error {
						_, _, err := tx.Update(withID(patient(fmt.Sprint("w", w)), id), cur.VersionID)
						return err
					})
					switch {
					case err == nil:
						mu.Lock()
						wins[cur.VersionID]++
						mu.Unlock()
					case fhir.KindOf(err) != fhir.KindPreconditionFailed:
						t.Errorf("Update: got %v, want success or KindPreconditionFailed", err)
					}
				}
			})
		}
		wg.Wait()
		total := 0
		for version, n := range wins {
			if n != 1 {
				t.Errorf("If-Match %d succeeded %d times, want once", version, n)
			}
			total += n
		}
		cur, err := s.Read(ctx, "Patient", id)
		if err != nil || cur.VersionID != int64(1+total) {
			t.Fatalf("final version: got %+v, %v; want %d", cur, err, 1+total)
		}
	}},
	{"WritersShareCommitsButNotFailures", func(t *testing.T, s store.Store) {
		const workers, perWorker = 8, 25
		type outcome struct {
			id   string
			fail bool
			err  error
		}
		results := make(chan outcome, workers*perWorker)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					fail := (w+i)%3 == 0
					var id string
					err := s.Write(ctx, func(tx store.Tx) error {
						v, err := tx.Create(patient(fmt.Sprint(w, "-", i)))
						if err != nil {
							return err
						}
						id = v.ID
						if err := tx.AppendAudit(auditEvent(v.ID)); err != nil {
							return err
						}
						if fail {
							return errTest
						}
						return nil
					})
					results <- outcome{id, fail, err}
				}
			})
		}
		wg.Wait()
		close(results)
		kept := 0
		for r := range results {
			_, readErr := s.Read(ctx, "Patient", r.id)
			switch {
			case r.fail:
				if !errors.Is(r.err, errTest) {
					t.Errorf("failing write returned %v, want its fn's error", r.err)
				}
				if fhir.KindOf(readErr) != fhir.KindNotFound {
					t.Errorf("failed write %s is readable: %v", r.id, readErr)
				}
			case r.err != nil:
				t.Errorf("Write: %v", r.err)
			case readErr != nil:
				t.Errorf("acknowledged write %s: %v", r.id, readErr)
			default:
				kept++
			}
		}
		page, err := s.History(ctx, store.HistoryQuery{Count: store.MaxPageSize})
		if err != nil || len(page.Versions) != kept {
			t.Fatalf("system history: %d versions, %v; want %d", len(page.Versions), err, kept)
		}
		if n := auditCount(t, s); n != 0 && n != kept {
			t.Errorf("audit events: %d, want %d (one per kept write)", n, kept)
		}
	}},
}
