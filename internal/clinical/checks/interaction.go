package checks

import (
	"context"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Interaction fires when the proposed drug and an active MedicationRequest
// are two parties of a held ClinicalUseDefinition of type interaction. The
// parties are the subject (when it resolves) and each
// interaction.interactant item (itemCodeableConcept, or itemReference
// resolved to its code); the proposed drug must match one party and the
// other drug another. Ingredients count, so an interaction held for a
// substance fires for every product containing it.
//
// A definition whose status is retired is skipped.
//
// R5 ClinicalUseDefinition carries no severity, so every interaction alert
// is Moderate; the effect and management texts go into Detail.
type Interaction struct{}

// ID returns "interaction".
func (Interaction) ID() string { return "interaction" }

// Run checks a MedicationRequest; other orders give no alert.
func (Interaction) Run(ctx context.Context, c Context) ([]Alert, error) {
	if c.Proposed.Type() != "MedicationRequest" {
		return nil, nil
	}
	proposed, err := drugOf(ctx, c.Data, c.Proposed)
	if err != nil {
		return nil, err
	}
	if len(proposed.all()) == 0 {
		return nil, nil
	}
	defs, err := c.Data.Interactions(ctx)
	if err != nil || len(defs) == 0 {
		return nil, err
	}
	active, err := c.Data.ActiveMedications(ctx, c.PatientID)
	if err != nil {
		return nil, err
	}
	var others []drug
	var otherRefs []string
	for _, a := range active {
		if sameResource(a, c.Proposed) {
			continue
		}
		d, err := drugOf(ctx, c.Data, a)
		if err != nil {
			return nil, err
		}
		others, otherRefs = append(others, d), append(otherRefs, ref(a))
	}
	var alerts []Alert
	for _, def := range defs {
		if datatype.Str(def, "type") != "interaction" || retired(def) {
			continue
		}
		parties, err := interactionParties(ctx, c.Data, def)
		if err != nil {
			return nil, err
		}
		for i, p := range parties {
			m, ok := datatype.AnySame(proposed.all(), p)
			if !ok {
				continue
			}
			for k, o := range others {
				if !matchesOtherParty(o.all(), parties, i) {
					continue
				}
				alerts = append(alerts, Alert{
					Rule: "interaction", Severity: Moderate,
					Code:      datatype.Coding{System: datatype.ActCode, Code: "DRG", Display: "Drug Interaction Alert"},
					MessageID: "checks.interaction", Args: []string{proposed.name, o.name, codeText(m)},
					Matched: m, Implicated: nonEmpty(otherRefs[k], ref(def)),
					Detail: interactionDetail(def),
				})
			}
			break // one alert per definition and other drug
		}
	}
	return alerts, nil
}

// retired reports whether a definition's status (a CodeableConcept in
// R5) says it is withdrawn: retired data must not raise alerts.
func retired(def fhir.Resource) bool {
	for _, c := range datatype.Codings(def["status"]) {
		if c.Code == "retired" {
			return true
		}
	}
	return false
}

// matchesOtherParty reports whether codes match a party other than skip.
func matchesOtherParty(codes []datatype.Coding, parties [][]datatype.Coding, skip int) bool {
	for j, p := range parties {
		if j == skip {
			continue
		}
		if _, ok := datatype.AnySame(codes, p); ok {
			return true
		}
	}
	return false
}

// interactionParties returns the codes of each party of an interaction:
// the subjects that resolve, then each interactant.
func interactionParties(ctx context.Context, src Source, def fhir.Resource) ([][]datatype.Coding, error) {
	var parties [][]datatype.Coding
	for _, s := range datatype.List(def["subject"]) {
		r, err := resolve(ctx, src, def, datatype.RefOf(s))
		if err != nil {
			return nil, err
		}
		if codes := productCodes(r); len(codes) > 0 {
			parties = append(parties, codes)
		}
	}
	for _, it := range datatype.List(datatype.Obj(def["interaction"])["interactant"]) {
		item := datatype.Obj(it)
		codes := datatype.Codings(item["itemCodeableConcept"])
		if r := datatype.RefOf(item["itemReference"]); r != "" {
			res, err := resolve(ctx, src, def, r)
			if err != nil {
				return nil, err
			}
			codes = append(codes, productCodes(res)...)
		}
		if len(codes) > 0 {
			parties = append(parties, codes)
		}
	}
	return parties, nil
}

// productCodes returns the code of a Medication, Substance or
// MedicinalProductDefinition (whose code is a list of Codings).
func productCodes(r fhir.Resource) []datatype.Coding {
	if r == nil {
		return nil
	}
	if list, ok := r["code"].([]any); ok {
		var out []datatype.Coding
		for _, c := range list {
			if cd := datatype.CodingOf(c); cd.Code != "" {
				out = append(out, cd)
			}
		}
		return out
	}
	return datatype.Codings(r["code"])
}

// interactionDetail joins the effect and management texts.
func interactionDetail(def fhir.Resource) string {
	in := datatype.Obj(def["interaction"])
	var parts []string
	if t := datatype.Text(in["effect"]); t != "" {
		parts = append(parts, "Effect: "+t+".")
	}
	for _, m := range datatype.List(in["management"]) {
		if t := datatype.Text(m); t != "" {
			parts = append(parts, "Management: "+t+".")
		}
	}
	return strings.Join(parts, " ")
}
