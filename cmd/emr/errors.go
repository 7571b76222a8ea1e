package main

import "github.com/emr-project/emr/internal/fhir"

func isNotFound(err error) bool {
	k := fhir.KindOf(err)
	return k == fhir.KindNotFound || k == fhir.KindGone
}
