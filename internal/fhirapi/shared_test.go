package fhirapi_test

import (
	"testing"

	"github.com/emr-project/emr/internal/sharedtest"
)

func sharedExamples(t testing.TB) string {
	return sharedtest.Path(t, "fhir", "hl7.fhir.r5.examples-5.0.0.tgz")
}
