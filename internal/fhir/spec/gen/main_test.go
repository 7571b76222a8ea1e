package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/sharedtest"
)

// TestRegenerate checks that the committed file is what the generator
// makes from the official package, byte for byte.
func TestRegenerate(t *testing.T) {
	in, err := os.ReadFile(sharedtest.Path(t, "fhir", "hl7.fhir.r5.core-5.0.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	got, stats, err := Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(stats)
	if !bytes.Equal(got, spec.Embedded()) {
		t.Fatalf("regenerated %d bytes differ from the embedded %d bytes: run go generate ./internal/fhir/spec", len(got), len(spec.Embedded()))
	}
	again, _, _ := Generate(in)
	if !bytes.Equal(got, again) {
		t.Fatal("two runs differ")
	}
}
