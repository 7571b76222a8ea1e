package vitals

import (
	"crypto/rand"
	"fmt"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Transaction returns the entry's Observations as one FHIR transaction
// Bundle, so the readings of an entry are stored all together or not at
// all. Each entry has a urn:uuid fullUrl and a POST request; the BMI
// Observation's derivedFrom points at the weight and height entries by
// those urn:uuids, which the transaction turns into their new ids.
func (e *Entry) Transaction(c Context) (fhir.Resource, error) {
	obs, err := e.Observations(c)
	if err != nil {
		return nil, err
	}
	urls := make([]string, len(obs))
	byCode := map[string]string{}
	for i, o := range obs {
		if urls[i], err = newURN(); err != nil {
			return nil, err
		}
		for _, cd := range datatype.Codings(o["code"]) {
			byCode[cd.Code] = urls[i]
		}
	}
	entries := make([]any, len(obs))
	for i, o := range obs {
		if hasCode(o, "39156-5") { // BMI exists only with weight and height
			o["derivedFrom"] = []any{datatype.Ref(byCode["29463-7"], ""), datatype.Ref(byCode["8302-2"], "")}
		}
		entries[i] = map[string]any{
			"fullUrl":  urls[i],
			"resource": map[string]any(o),
			"request":  map[string]any{"method": "POST", "url": "Observation"},
		}
	}
	return fhir.Resource{"resourceType": "Bundle", "type": "transaction", "entry": entries}, nil
}

func hasCode(o fhir.Resource, code string) bool {
	for _, cd := range datatype.Codings(o["code"]) {
		if cd.Code == code {
			return true
		}
	}
	return false
}

// newURN returns a random (version 4) UUID as a urn:uuid.
func newURN() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("vitals: uuid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
