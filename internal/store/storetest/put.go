package storetest

import (
	"context"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Put writes rs to st, each as given (id included), in one write
// function, and fails tb if the write fails.
func Put(tb testing.TB, st store.Store, rs ...fhir.Resource) {
	tb.Helper()
	err := st.Write(context.Background(), func(tx store.Tx) error {
		for _, r := range rs {
			if _, _, err := tx.Update(r, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// PutJSON is Put for resources given as JSON.
func PutJSON(tb testing.TB, st store.Store, bodies ...string) {
	tb.Helper()
	rs := make([]fhir.Resource, len(bodies))
	for i, b := range bodies {
		r, err := fhir.ParseResource([]byte(b))
		if err != nil {
			tb.Fatalf("%v: %.80s", err, b)
		}
		rs[i] = r
	}
	Put(tb, st, rs...)
}
