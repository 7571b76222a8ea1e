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
