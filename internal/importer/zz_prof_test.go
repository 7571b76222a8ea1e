package importer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store/sqlstore"
)

func TestZZProf(t *testing.T) {
	if os.Getenv("ZZPROF") == "" {
		t.Skip()
	}
	defs := spec.R5()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "emr.db"), sqlstore.Options{Extractor: search.NewExtractor(defs)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := validate.New(defs, validate.WithInvariants(validate.NewFHIRPathInvariants(defs)))
	start := time.Now()
	sum, err := Import(context.Background(), Options{Store: st, Validator: v, ConvertR4: ConvertR4, BatchSize: 500}, "/work/shared/testdata/synthea-r4")
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("%d in %v: %.0f res/s", sum.Total().Read, d, float64(sum.Total().Read)/d.Seconds())
}
