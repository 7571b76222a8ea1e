package r4

import (
	"maps"
	"slices"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/sharedtest"
	"github.com/google/go-cmp/cmp"
)

// TestSynthea converts every resource of the Synthea R4 data to R5,
// validates the result against the R5 definitions, and converts it back,
// which must give the input.
func TestSynthea(t *testing.T) { checkR4Corpus(t, sharedtest.SyntheaR4(t), false) }

// TestHL7v2ConverterR4 does the same with the R4 resources one public
// converter makes of HL7 v2 messages; resources of types without conversion
// are counted and left out. Some of these resources are not valid R4 either
// (codes such as "CURRENT" for HumanName.use, a DiagnosticReport without
// code, a Provenance without agent), and some lack what R5 requires and R4
// left optional (Condition.clinicalStatus), so R5 validity is reported here
// by cause rather than required.
func TestHL7v2ConverterR4(t *testing.T) { checkR4Corpus(t, sharedtest.HL7v2ConverterR4(t), true) }

// checkR4Corpus converts each resource to R5 and back; lenient (for corpora
// of uneven quality) skips types without conversion and logs R5 validation
// failures instead of failing.
func checkR4Corpus(t *testing.T, examples []sharedtest.Example, lenient bool) {
	structural := validate.New(spec.R5())
	var invariants *validate.Validator
	if !testing.Short() {
		invariants = validate.New(spec.R5(), validate.WithInvariants(validate.NewFHIRPathInvariants(spec.R5())))
	}
	var converted, valid, roundTrip, refused int
	kept := map[string]int{}
	invariantFailures := map[string]int{}
	invalid := map[string]int{}
	for _, ex := range examples {
		in, err := fhir.ParseResource(ex.Body)
		if err != nil {
			t.Errorf("%s: %v", ex.File, err)
			continue
		}
		r5, report, err := ToR5(in)
		if lenient && fhir.IsKind(err, fhir.KindNotSupported) {
			refused++
			continue
		}
		if err != nil {
			t.Errorf("%s: to R5: %v", ex.File, err)
			continue
		}
		converted++
		for p, n := range report.Kept {
			kept[p] += n
		}
		if issues := structural.Validate(r5); validate.HasErrors(issues) && lenient {
			invalid[r5.Type()+": "+issues[0].Diagnostics]++
		} else if validate.HasErrors(issues) {
			t.Errorf("%s: R5 %s invalid: %v\n%s", ex.File, r5.Type(), issues[:min(len(issues), 3)], r5.JSON())
		} else {
			valid++
		}
		if invariants != nil {
			for _, is := range invariants.Validate(r5) {
				if is.Code == "invariant" && is.Severity == "error" {
					invariantFailures[r5.Type()+": "+is.Diagnostics]++
				}
			}
		}
		back, _, err := ToR4(r5)
		if err != nil {
			t.Errorf("%s: back to R4: %v", ex.File, err)
			continue
		}
		if diff := cmp.Diff(in, back); diff != "" {
			t.Errorf("%s: R4 → R5 → R4 differs (-in +back):\n%s", ex.File, diff)
		} else {
			roundTrip++
		}
	}
	t.Logf("%d resources: %d converted to R5, %d valid R5, %d round trips equal; %d refused (type without conversion)",
		len(examples), converted, valid, roundTrip, refused)
	if invariants != nil {
		t.Logf("%d kinds of invariant failure", len(invariantFailures))
	}
	for _, p := range slices.Sorted(maps.Keys(kept)) {
		t.Logf("kept as extension: %s ×%d", p, kept[p])
	}
	for _, k := range slices.Sorted(maps.Keys(invalid)) {
		t.Logf("invalid R5 (reported, not a test failure): %s ×%d", k, invalid[k])
	}
	for _, k := range slices.Sorted(maps.Keys(invariantFailures)) {
		t.Logf("invariant failure (reported, not a test failure): %s ×%d", k, invariantFailures[k])
	}
}
