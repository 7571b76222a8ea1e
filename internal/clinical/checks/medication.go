package checks

import (
	"context"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// drug is what a MedicationRequest prescribes, as the checks compare it.
type drug struct {
	name        string
	codes       []datatype.Coding // the medication's own codes
	ingredients []ingredient
}

// ingredient is one Medication.ingredient.item.
type ingredient struct {
	name  string
	codes []datatype.Coding
}

// all returns the drug's codes and its ingredients' codes.
func (d drug) all() []datatype.Coding {
	out := append([]datatype.Coding(nil), d.codes...)
	for _, in := range d.ingredients {
		out = append(out, in.codes...)
	}
	return out
}

// drugOf reads the medication of a MedicationRequest (R5: medication is a
// CodeableReference): its concept's codes, or the referenced Medication
// (contained "#id" or stored) with its code and ingredients. A stored
// Medication that cannot be found leaves the drug with the reference's
// display only; other read errors are returned.
func drugOf(ctx context.Context, src Source, req fhir.Resource) (drug, error) {
	med := datatype.Obj(req["medication"])
	d := drug{name: datatype.Text(med), codes: datatype.Codings(med["concept"])}
	refObj := datatype.Obj(med["reference"])
	reference := datatype.Str(refObj, "reference")
	if reference == "" {
		return d, nil
	}
	if d.name == "" {
		d.name = datatype.Str(refObj, "display")
	}
	m, err := resolve(ctx, src, req, reference)
	if err != nil || m == nil {
		return d, err
	}
	if m.Type() != "Medication" {
		return d, nil
	}
	d.codes = append(d.codes, datatype.Codings(m["code"])...)
	if d.name == "" {
		d.name = datatype.Text(m["code"])
	}
	for _, it := range datatype.List(m["ingredient"]) {
		item := datatype.Obj(datatype.Obj(it)["item"])
		in := ingredient{name: datatype.Text(item), codes: datatype.Codings(item["concept"])}
		if r := datatype.RefOf(item); r != "" {
			// An ingredient may be a Substance or another Medication
			// (R5 Medication.ingredient.item); its code is what matches.
			sub, err := resolve(ctx, src, m, r)
			if err != nil {
				return d, err
			}
			if sub != nil {
				in.codes = append(in.codes, datatype.Codings(sub["code"])...)
				if in.name == "" {
					in.name = datatype.Text(sub["code"])
				}
			}
		}
		if len(in.codes) > 0 {
			d.ingredients = append(d.ingredients, in)
		}
	}
	if d.name == "" {
		d.name = "the medication"
	}
	return d, nil
}

// resolve reads a reference made from inside res: "#id" is one of res's
// contained resources (or of the resource holding the proposed request),
// anything else goes to the source. Not found is (nil, nil).
func resolve(ctx context.Context, src Source, res fhir.Resource, reference string) (fhir.Resource, error) {
	if id, ok := strings.CutPrefix(reference, "#"); ok {
		for _, c := range datatype.List(res["contained"]) {
			if cm := datatype.Obj(c); cm != nil && datatype.Str(cm, "id") == id {
				return fhir.Resource(cm), nil
			}
		}
		return nil, nil
	}
	r, err := src.Resolve(ctx, reference)
	if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) {
		return nil, nil
	}
	return r, err
}
