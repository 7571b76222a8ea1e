package tofhir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/sharedtest"
)

// FuzzBundle maps whatever parses: never a panic; a refusal is an *Error
// with a reason; a request's Bundle holds only valid R5 resources (and an
// A40's Parameters are valid).
//
//	go test ./internal/hl7v2/tofhir -run '^$' -fuzz FuzzBundle -fuzztime 60s
func FuzzBundle(f *testing.F) {
	f.Add([]byte(strings.Join([]string{oruR01, "PID|1||555^^^LAB^MR||DOE^JANE||19620320|F",
		"OBR|1||1045813|24323-8^CMP^LN|||202611240730", "OBX|1|SN|2345-7^Glucose^LN||>^5|mg/dL^^UCUM|70-105|H|||F", "NTE|1||note"}, "\r")))
	f.Add([]byte(strings.Join([]string{adtA01, "PID|1||PATID1234^^^GHH&2.16.840.1.113883.19.5&ISO^MR||EVERYMAN^ADAM||19610615|M",
		seg("PV1", map[int]string{1: "1", 2: "I", 19: "V1^^^GHH", 44: "20261124080000"})}, "\r")))
	if dir := sharedtest.Find(); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "testdata", "hl7v2", "microsoft-fhir-converter", "messages", "*.hl7"))
		for _, file := range files {
			if base := filepath.Base(file); strings.HasPrefix(base, "ADT") || strings.Contains(base, "ORU") || strings.Contains(base, "VXU") || strings.HasPrefix(base, "IZ") || strings.HasPrefix(base, "SIU") || strings.Contains(base, "ORM") || strings.Contains(base, "OML") {
				if data, err := os.ReadFile(file); err == nil {
					f.Add(data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := hl7v2.Parse(data)
		if err != nil {
			return
		}
		req, err := Map(m, Options{})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Problem.Text == "" || (e.Code != hl7v2.AE && e.Code != hl7v2.AR) {
				t.Fatalf("Bundle error %v (%T)", err, err)
			}
			return
		}
		if req.Path != "" {
			if issues := validator.Validate(req.Body.Clone()); validate.HasErrors(issues) {
				t.Fatalf("%s is not valid: %v\n%s", req.Path, issues, req.Body.JSON())
			}
			return
		}
		for _, e := range req.Body["entry"].([]any) {
			res := fhir.Resource(e.(map[string]any)["resource"].(map[string]any))
			if issues := validator.Validate(res.Clone()); validate.HasErrors(issues) {
				t.Fatalf("%s is not valid: %v\n%s", res.Type(), issues, res.JSON())
			}
		}
	})
}
