package mpi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// The review queue holds the candidate pairs that the duplicate scan (or
// a registrar) found, until an authorised user resolves each: "merged"
// (the two records were merged) or "distinct" (not the same person). A
// pair is a store record (kind PairKind, key "a|b" with a < b), so it is
// proposed once, ever: a pair resolved as distinct is remembered and the
// scan never proposes it again, and a pair still open is not duplicated.

// PairKind is the kind of the review queue's store records.
const PairKind = "mpi-pair"

// Pair statuses, which are also the records' owners (ListRecords by
// status is one index range).
const (
	PairOpen     = "open"
	PairMerged   = "merged"
	PairDistinct = "distinct"
)

// Pair is a candidate pair of the review queue.
type Pair struct {
	A, B  string  // the patients' ids, A < B
	Score float64 // the matcher's log2-odds score
	Grade Grade
	// Evidence is each compared field's agreement level ("birth date":
	// "exact"), for the reviewer.
	Evidence map[string]string `json:",omitempty"`
	Rule     string            `json:",omitempty"`
	Status   string
	Found    time.Time
	// ResolvedBy, ResolvedAt and Note record the decision.
	ResolvedBy string    `json:",omitempty"`
	ResolvedAt time.Time `json:",omitzero"`
	Note       string    `json:",omitempty"`

	version int64
}

// Key is the pair's record key, the same whichever way round it is named.
func (p *Pair) Key() string { return PairKey(p.A, p.B) }

// PairKey is the record key of the pair of patients a and b.
func PairKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "|" + b
}

// Queue is the review queue on a store's records.
type Queue struct {
	Records store.Records
}

// Propose adds the pair of patients a and b with the evidence r, unless
// the pair was proposed before (whatever became of it). It reports whether
// the pair is new.
func (q *Queue) Propose(ctx context.Context, a, b string, r Result, now time.Time) (bool, error) {
	p := newPair(a, b, r, now)
	value, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	_, err = q.Records.PutRecord(ctx, &store.Record{Kind: PairKind, Key: p.Key(), Owner: PairOpen, Value: value}, 0)
	switch {
	case fhir.IsKind(err, fhir.KindConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("mpi: propose %s: %w", p.Key(), err)
	}
	return true, nil
}

// proposeIn is Propose inside a write transaction.
func (q *Queue) proposeIn(tx store.Tx, a, b string, r Result, now time.Time) (bool, error) {
	p := newPair(a, b, r, now)
	if _, err := tx.GetRecord(PairKind, p.Key()); err == nil {
		return false, nil
	} else if !fhir.IsKind(err, fhir.KindNotFound) {
		return false, err
	}
	value, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	if _, err := tx.PutRecord(&store.Record{Kind: PairKind, Key: p.Key(), Owner: PairOpen, Value: value}, 0); err != nil {
		return false, fmt.Errorf("mpi: propose %s: %w", p.Key(), err)
	}
	return true, nil
}

func newPair(a, b string, r Result, now time.Time) *Pair {
	if b < a {
		a, b = b, a
	}
	p := &Pair{A: a, B: b, Score: r.Score, Grade: r.Grade, Rule: r.Rule, Status: PairOpen, Found: now.UTC(), Evidence: map[string]string{}}
	for _, f := range r.Fields {
		p.Evidence[f.Field.String()] = f.Level.String()
	}
	return p
}

// Get returns the pair of patients a and b, or an error of kind
// fhir.KindNotFound.
func (q *Queue) Get(ctx context.Context, a, b string) (*Pair, error) {
	rec, err := q.Records.GetRecord(ctx, PairKind, PairKey(a, b))
	if err != nil {
		return nil, err
	}
	return decodePair(rec)
}

// List returns the pairs of a status at grade min or above, best first.
func (q *Queue) List(ctx context.Context, status string, min Grade) ([]*Pair, error) {
	recs, err := q.Records.ListRecords(ctx, PairKind, status)
	if err != nil {
		return nil, fmt.Errorf("mpi: list pairs: %w", err)
	}
	var out []*Pair
	for _, rec := range recs {
		p, err := decodePair(rec)
		if err != nil {
			return nil, err
		}
		if p.Grade >= min {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y *Pair) int {
		if x.Score != y.Score {
			if x.Score > y.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Key(), y.Key())
	})
	return out, nil
}

// Resolve records the decision on an open pair: status PairMerged or
// PairDistinct, by whom, with a note. A pair already resolved answers
// fhir.KindConflict; two reviewers deciding at once, one wins and the
// other gets fhir.KindConflict too.
func (q *Queue) Resolve(ctx context.Context, a, b, status, by, note string, now time.Time) (*Pair, error) {
	if status != PairMerged && status != PairDistinct {
		return nil, fhir.Errorf(fhir.KindInvalid, "a pair is resolved as %q or %q, not %q", PairMerged, PairDistinct, status)
	}
	p, err := q.Get(ctx, a, b)
	if err != nil {
		return nil, err
	}
	if p.Status != PairOpen {
		return nil, fhir.Errorf(fhir.KindConflict, "the pair %s was already resolved as %s by %s", p.Key(), p.Status, p.ResolvedBy)
	}
	p.Status, p.ResolvedBy, p.ResolvedAt, p.Note = status, by, now.UTC(), note
	value, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	_, err = q.Records.PutRecord(ctx, &store.Record{Kind: PairKind, Key: p.Key(), Owner: status, Value: value}, p.version)
	if fhir.IsKind(err, fhir.KindPreconditionFailed) {
		return nil, fhir.Errorf(fhir.KindConflict, "the pair %s was resolved by someone else meanwhile", p.Key())
	}
	if err != nil {
		return nil, fmt.Errorf("mpi: resolve %s: %w", p.Key(), err)
	}
	return p, nil
}

func decodePair(rec *store.Record) (*Pair, error) {
	var p Pair
	if err := json.Unmarshal(rec.Value, &p); err != nil {
		return nil, fmt.Errorf("mpi: pair %s: %w", rec.Key, err)
	}
	p.version = rec.Version
	return &p, nil
}

// ParseGrade reads a grade's name (certain, probable, possible, none).
func ParseGrade(s string) (Grade, error) {
	for g := None; g <= Certain; g++ {
		if g.String() == s {
			return g, nil
		}
	}
	return None, fmt.Errorf("unknown grade %q (certain, probable, possible or none)", s)
}
