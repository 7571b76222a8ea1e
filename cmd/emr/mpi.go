package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
)

// mpiFlags adds the matching flags shared by serve, import and mpi.
func mpiFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.mpiModel, "mpi-model", "", "JSON file of patient-matching weights and grade thresholds, changing the defaults (docs/mpi.md); emr mpi estimate writes one")
}

// newMatcher builds the matching service on st with the model of cfg.
func newMatcher(cfg config, st store.KeyMatcher, defs *spec.Definitions) (*mpi.Matcher, error) {
	model := mpi.DefaultModel()
	if cfg.mpiModel != "" {
		data, err := os.ReadFile(cfg.mpiModel)
		if err != nil {
			return nil, fmt.Errorf("--mpi-model: %w", err)
		}
		if err := model.UnmarshalJSON(data); err != nil {
			return nil, usageError{fmt.Errorf("--mpi-model %s: %w", cfg.mpiModel, err)}
		}
	}
	return &mpi.Matcher{Model: model, Keys: st, Definitions: defs}, nil
}
