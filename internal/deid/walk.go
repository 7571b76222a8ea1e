package deid

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// PseudedLabel is the meta.security coding every de-identified resource
// carries (v3 ObservationValue PSEUDED: pseudonymized).
var PseudedLabel = map[string]any{
	"system":  "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
	"code":    "PSEUDED",
	"display": "pseudonymized",
}

// AgeCategoryURL is the extension a Patient (Person, RelatedPerson) over
// 89 carries instead of its birth date: valueString "90 or older".
const AgeCategoryURL = "https://github.com/emr-project/emr/fhir/StructureDefinition/deid-age-category"

const dataAbsentReasonURL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

// keptStrings are the string elements that hold coded labels rather than
// free text: everything else of type string, markdown or xhtml goes.
var keptStrings = map[string]bool{
	"Coding.display": true, "Coding.version": true, "CodeableConcept.text": true,
	"Quantity.unit": true, "Age.unit": true, "Count.unit": true, "Distance.unit": true,
	"Duration.unit": true, "SimpleQuantity.unit": true, "MoneyQuantity.unit": true,
}

// keptPrimitives are the primitive types that identify nobody: numbers,
// booleans, codes, times of day, canonical URLs of definitions.
var keptPrimitives = map[string]bool{
	"boolean": true, "integer": true, "integer64": true, "decimal": true, "positiveInt": true,
	"unsignedInt": true, "code": true, "time": true, "canonical": true,
}

// dropped are the datatypes removed whole: names, telecoms, free-text
// notes and narratives, signatures.
var dropped = map[string]bool{
	"HumanName": true, "ContactPoint": true, "Annotation": true, "Narrative": true, "Signature": true,
	"Meta": true, "xhtml": true,
}

// walker de-identifies one resource (and those it contains) with one date
// offset.
type walker struct {
	d     *Deidentifier
	shift int
	now   time.Time
}

// resource de-identifies a resource object; pseudonymID is false for a
// contained resource, whose id is local to its container ("#id").
func (w *walker) resource(obj map[string]any, pseudonymID bool) map[string]any {
	typ, _ := obj["resourceType"].(string)
	pos := w.d.defs.Position(typ, typ)
	if pos == nil || !w.d.defs.IsResource(typ) {
		return nil
	}
	out := map[string]any{"resourceType": typ}
	for key, v := range obj {
		switch key {
		case "resourceType", "meta":
			continue
		case "id":
			if id, ok := v.(string); ok {
				if pseudonymID {
					id = w.d.Pseudonym(typ, id)
				}
				out["id"] = id
			}
			continue
		}
		c, ok := pos.Child(key)
		if !ok || c.Extension {
			continue // unknown to R5, or a primitive's extension sibling
		}
		if nv := w.element(c, v); nv != nil {
			out[key] = nv
		}
	}
	if _, ok := obj["birthDate"]; ok && (typ == "Patient" || typ == "Person" || typ == "RelatedPerson") {
		w.birthDate(obj, out)
	}
	meta := map[string]any{"security": []any{PseudedLabel}}
	if m, ok := obj["meta"].(map[string]any); ok {
		if p, ok := m["profile"]; ok {
			meta["profile"] = p
		}
	}
	out["meta"] = meta
	return out
}

// element de-identifies the value (or list of values) of property c.
func (w *walker) element(c spec.Child, v any) any {
	if list, ok := v.([]any); ok {
		out := make([]any, 0, len(list))
		for _, item := range list {
			if nv := w.value(c, item); nv != nil {
				out = append(out, nv)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return w.value(c, v)
}

// value de-identifies one value of property c by its type.
func (w *walker) value(c spec.Child, v any) any {
	path := c.Element.Path
	switch {
	case c.Kind == "resource" || c.Type == "Resource":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		return w.resource(obj, !strings.HasSuffix(path, ".contained"))
	case dropped[c.Type]:
		return nil
	case c.Type == "date" || c.Type == "dateTime" || c.Type == "instant":
		s, ok := v.(string)
		if !ok {
			return nil
		}
		return w.date(s)
	case keptPrimitives[c.Type]:
		return v
	case c.Type == "string" || c.Type == "markdown":
		if keptStrings[path] {
			return v
		}
		return nil
	case c.Type == "uri":
		// System URIs name namespaces and code systems, not people; other
		// URIs (implicitRules, instantiatesUri, sources) may point anywhere.
		if strings.HasSuffix(path, ".system") || path == "Extension.url" {
			return v
		}
		return nil
	case c.Kind == "primitive-type":
		return nil // url, uri, oid, uuid, id, base64Binary and any new kind
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	switch c.Type {
	case "Address":
		return w.address(obj)
	case "Identifier":
		return w.identifier(obj)
	case "Reference":
		return w.reference(obj)
	case "Attachment":
		if c.Element.Name() == "photo" {
			return nil
		}
		return w.attachment(obj)
	case "Age":
		return capAge(w.object(c.Next, obj))
	case "CodeableConcept":
		// Text beside codes labels them; text alone may be anything a
		// person typed.
		out := w.object(c.Next, obj)
		if _, coded := out["coding"]; !coded {
			delete(out, "text")
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case "Extension":
		out := w.object(c.Next, obj)
		if out == nil {
			return nil
		}
		// An extension whose value went (a mother's maiden name) goes too.
		for k := range out {
			if k == "extension" || strings.HasPrefix(k, "value") {
				return out
			}
		}
		return nil
	}
	return orNil(w.object(c.Next, obj))
}

// orNil keeps an empty result from becoming a JSON null.
func orNil(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// object de-identifies the children of a complex value at pos; nil when
// nothing is left.
func (w *walker) object(pos *spec.Position, obj map[string]any) map[string]any {
	if pos == nil {
		return nil
	}
	out := map[string]any{}
	for key, v := range obj {
		if key == "resourceType" {
			continue
		}
		c, ok := pos.Child(key)
		if !ok || c.Extension {
			continue
		}
		if nv := w.element(c, v); nv != nil {
			out[key] = nv
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (w *walker) complexAt(typ string, v any) any {
	c, ok := w.d.defs.ChildType("Identifier", "Identifier", map[string]string{"CodeableConcept": "type", "Period": "period"}[typ])
	if !ok {
		return nil
	}
	return w.value(c, v)
}

// address keeps what Safe Harbor allows of a place: state, country and a
// US ZIP code's first three digits (000 where they cover fewer than
// 20,000 people); lines, city, district, text and geolocation go.
func (w *walker) address(obj map[string]any) any {
	out := map[string]any{}
	for _, k := range []string{"use", "type", "state", "country"} {
		if s, ok := obj[k].(string); ok {
			out[k] = s
		}
	}
	if pc, ok := obj["postalCode"].(string); ok {
		if zip := generalizeZIP(pc, obj["country"]); zip != "" {
			out["postalCode"] = zip
		}
	}
	if p := w.complexAt("Period", obj["period"]); p != nil {
		out["period"] = p
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// identifier replaces an identifier's value by its keyed pseudonym,
// keeping the namespace and kind (so that an SSN is still known to be
// one) and dropping what else it says.
func (w *walker) identifier(obj map[string]any) any {
	value, _ := obj["value"].(string)
	if value == "" {
		return nil
	}
	system, _ := obj["system"].(string)
	out := map[string]any{"value": w.d.identifierPseudonym(system, value)}
	if system != "" {
		out["system"] = system
	}
	if use, ok := obj["use"].(string); ok {
		out["use"] = use
	}
	if t := w.complexAt("CodeableConcept", obj["type"]); t != nil {
		out["type"] = t
	}
	if p := w.complexAt("Period", obj["period"]); p != nil {
		out["period"] = p
	}
	return out
}

// reference points at the target's pseudonym: Type/id becomes
// Type/pseudonym, contained references (#id) stay, anything else (absolute
// URLs, urn:uuid:, display text) goes.
func (w *walker) reference(obj map[string]any) any {
	out := map[string]any{}
	if ref, ok := obj["reference"].(string); ok {
		if i := strings.Index(ref, "/_history/"); i > 0 {
			ref = ref[:i]
		}
		typ, id, ok := strings.Cut(ref, "/")
		switch {
		case strings.HasPrefix(ref, "#"):
			out["reference"] = ref
		case ok && w.d.defs.IsResource(typ) && !strings.Contains(id, "/"):
			out["reference"] = typ + "/" + w.d.Pseudonym(typ, id)
		}
	}
	if t, ok := obj["type"].(string); ok {
		out["type"] = t
	}
	if ident, ok := obj["identifier"].(map[string]any); ok {
		if id := w.identifier(ident); id != nil {
			out["identifier"] = id
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// attachment keeps the kind of content only: data, URLs, hashes and
// titles go.
func (w *walker) attachment(obj map[string]any) any {
	out := map[string]any{}
	for _, k := range []string{"contentType", "language"} {
		if s, ok := obj[k].(string); ok {
			out[k] = s
		}
	}
	if s, ok := obj["creation"].(string); ok {
		if d := w.date(s); d != nil {
			out["creation"] = d
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// capAge aggregates an Age over 89 years into ">= 90".
func capAge(obj map[string]any) any {
	if obj == nil {
		return nil
	}
	code, _ := obj["code"].(string)
	unit, _ := obj["unit"].(string)
	if code != "a" && !strings.HasPrefix(strings.ToLower(unit), "year") {
		return obj
	}
	if n, ok := datatype.Number(obj["value"]); ok && n > 89 {
		obj["value"] = json.Number("90")
		obj["comparator"] = ">="
	}
	return obj
}

// birthDate keeps the year of a birth date, or, for someone over 89 (at
// death, or now), nothing but the category "90 or older".
func (w *walker) birthDate(src, out map[string]any) {
	delete(out, "birthDate")
	bd, _ := src["birthDate"].(string)
	if len(bd) < 4 {
		return
	}
	year, err := strconv.Atoi(bd[:4])
	if err != nil {
		return
	}
	ref := w.now
	if dd, ok := src["deceasedDateTime"].(string); ok && len(dd) >= 10 {
		if t, err := time.Parse("2006-01-02", dd[:10]); err == nil {
			ref = t
		}
	}
	birth, err := time.Parse("2006-01-02", bd)
	if err != nil {
		birth = time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) // youngest-possible would need 12-31; the year's start errs towards older
	}
	age := ref.Year() - birth.Year()
	if ref.YearDay() < birth.YearDay() {
		age--
	}
	if age <= 89 {
		out["birthDate"] = bd[:4]
		return
	}
	out["_birthDate"] = map[string]any{"extension": []any{map[string]any{"url": dataAbsentReasonURL, "valueCode": "masked"}}}
	exts, _ := out["extension"].([]any)
	out["extension"] = append(exts, map[string]any{"url": AgeCategoryURL, "valueString": "90 or older"})
}
