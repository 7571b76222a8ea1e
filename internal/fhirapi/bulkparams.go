package fhirapi

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

// Bulk Data export levels (https://hl7.org/fhir/uv/bulkdata/export.html).
const (
	exportSystem  = "system"  // [base]/$export
	exportPatient = "patient" // [base]/Patient/$export
	exportGroup   = "group"   // [base]/Group/[id]/$export
)

// exportSpec is what a kick-off asks for, checked: the durable part of a
// job (exportJob), free of patient data but for the ids named.
type exportSpec struct {
	Level string `json:"level"`
	Group string `json:"group,omitempty"` // the Group's id, for exportGroup
	// Types are the resource types to export, in order; Referenced are
	// those of them outside the Patient compartment that a patient or
	// group export writes only as the exported resources refer to them.
	Types      []string `json:"types"`
	Referenced []string `json:"referenced,omitempty"`
	// TypesGiven tells a _type the client gave from the default list.
	TypesGiven bool `json:"typesGiven,omitempty"`
	// Since is _since: only resources changed after it.
	Since time.Time `json:"since,omitzero"`
	// Patients narrows a patient or group export (the patient parameter).
	Patients []string `json:"patients,omitempty"`
	// TypeFilters are the _typeFilter queries by type ("category=…"): a
	// resource of a type with filters is exported when any of them matches.
	TypeFilters map[string][]string `json:"typeFilters,omitempty"`
	// Elements are _elements as given ("id,Patient.name").
	Elements string `json:"elements,omitempty"`
	// Ignored lists the parameters left out under Prefer: handling=lenient.
	Ignored []string `json:"ignored,omitempty"`
}

// exportParam is one kick-off parameter as given: from the query of a GET,
// or a parameter of a POST's Parameters resource.
type exportParam struct {
	name, value string
}

// exportFormats are the _outputFormat values meaning NDJSON, the only
// format written.
var exportFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// typeFilterRefused are the search parameters a _typeFilter may not hold:
// they shape or page results rather than select resources.
var typeFilterRefused = []string{"_include", "_revinclude", "_sort", "_count", "_cursor", "_summary", "_elements", "_total", "_contained", "_containedType", "_format", "_pretty"}

// parseExport checks a kick-off's parameters for an export at level.
// exportable are the types the export may cover at all, in order (those
// with an R4 form on the R4 API). An unknown or unsupported parameter is an error unless lenient,
// which lists it in Ignored instead.
func parseExport(defs *spec.Definitions, level, group string, params []exportParam, exportable []string, lenient bool) (*exportSpec, error) {
	sp := &exportSpec{Level: level, Group: group}
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return fhir.Errorf(fhir.KindInvalid, "$export: %s is given more than once", name)
		}
		seen[name] = true
		return nil
	}
	var typeList []string
	for _, p := range params {
		switch p.name {
		case "_outputFormat":
			if err := once(p.name); err != nil {
				return nil, err
			}
			if !slices.Contains(exportFormats, p.value) {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: _outputFormat %q is not supported; this server writes application/fhir+ndjson", p.value)
			}
		case "_since":
			if err := once(p.name); err != nil {
				return nil, err
			}
			t, err := parseInstant(p.value)
			if err != nil {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: _since: %v", err)
			}
			sp.Since = t
		case "_type":
			// Repeated _type parameters add up, as a comma does.
			for _, t := range strings.Split(p.value, ",") {
				t = strings.TrimSpace(t)
				if !defs.IsResource(t) {
					return nil, fhir.Errorf(fhir.KindInvalid, "$export: _type: %q is not a resource type", t)
				}
				if !slices.Contains(exportable, t) {
					return nil, fhir.Errorf(fhir.KindInvalid, "$export: _type: %s cannot be exported here (it has no R4 form; use the R5 API)", t)
				}
				if !slices.Contains(typeList, t) {
					typeList = append(typeList, t)
				}
			}
			sp.TypesGiven = true
		case "_typeFilter":
			typ, query, ok := strings.Cut(p.value, "?")
			if !ok || !defs.IsResource(typ) {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter %q is not of the form Type?query", p.value)
			}
			values, err := url.ParseQuery(query)
			if err != nil || len(values) == 0 {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter %q has no valid query", p.value)
			}
			for name := range values {
				if slices.Contains(typeFilterRefused, strings.SplitN(name, ":", 2)[0]) {
					return nil, fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter %q: %s selects no resources and is not allowed in a filter", p.value, name)
				}
			}
			if _, err := search.Parse(defs, typ, values, search.ParseOptions{}); err != nil {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter %q: %v", p.value, err)
			}
			if sp.TypeFilters == nil {
				sp.TypeFilters = map[string][]string{}
			}
			sp.TypeFilters[typ] = append(sp.TypeFilters[typ], values.Encode())
		case "_elements":
			if err := once(p.name); err != nil {
				return nil, err
			}
			for _, e := range strings.Split(p.value, ",") {
				e = strings.TrimSpace(e)
				typ, elem, dotted := strings.Cut(e, ".")
				if !dotted {
					typ, elem = "", typ
				}
				if elem == "" || strings.ContainsAny(elem, ".[]()") || (dotted && !defs.IsResource(typ)) {
					return nil, fhir.Errorf(fhir.KindInvalid, "$export: _elements: %q is not an element name or Type.element", e)
				}
			}
			sp.Elements = p.value
		case "patient":
			if level == exportSystem {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: patient applies to a Patient or Group export, not a system export")
			}
			id, ok := strings.CutPrefix(p.value, "Patient/")
			if !ok || !fhir.ValidID(id) {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: patient %q is not a reference of the form Patient/id", p.value)
			}
			if !slices.Contains(sp.Patients, id) {
				sp.Patients = append(sp.Patients, id)
			}
		default:
			// includeAssociatedData, organizeOutputBy, _until, …: not
			// supported, and an error unless the client said it would
			// rather have them ignored.
			if !lenient {
				return nil, fhir.Errorf(fhir.KindInvalid, "$export: parameter %q is not supported (supported: _outputFormat, _since, _type, _typeFilter, _elements, patient); send Prefer: handling=lenient to have it ignored", p.name)
			}
			if !slices.Contains(sp.Ignored, p.name) {
				sp.Ignored = append(sp.Ignored, p.name)
			}
		}
	}
	compartment := exportCompartment(defs)
	if len(typeList) == 0 {
		for _, t := range exportable {
			if level != exportSystem && !compartment[t] {
				continue
			}
			typeList = append(typeList, t)
		}
	}
	for typ := range sp.TypeFilters {
		if !slices.Contains(typeList, typ) {
			return nil, fhir.Errorf(fhir.KindInvalid, "$export: _typeFilter names %s, which is not among the types exported", typ)
		}
	}
	if level != exportSystem {
		for _, t := range typeList {
			if !compartment[t] {
				sp.Referenced = append(sp.Referenced, t)
			}
		}
		if len(sp.Referenced) == len(typeList) {
			return nil, fhir.Errorf(fhir.KindInvalid, "$export: a %s export needs a _type of the Patient compartment; %s are exported only as its resources refer to them", level, strings.Join(sp.Referenced, ", "))
		}
	}
	sp.Types = typeList
	return sp, nil
}

// exportCompartment is the Patient compartment's types, Patient among them.
func exportCompartment(defs *spec.Definitions) map[string]bool {
	in := map[string]bool{"Patient": true}
	if comp := defs.Compartments["Patient"]; comp != nil {
		for _, r := range comp.Resources {
			if len(r.Params) > 0 {
				in[r.Code] = true
			}
		}
	}
	return in
}

// parseInstant reads a FHIR instant: a date and time to at least the
// second, with a zone.
func parseInstant(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || len(s) < len("2006-01-02T15:04:05Z") {
		if strings.Contains(s, " ") {
			return time.Time{}, fhir.Errorf(fhir.KindInvalid, "%q is not an instant (a + in a query string must be sent as %%2B)", s)
		}
		return time.Time{}, fhir.Errorf(fhir.KindInvalid, "%q is not an instant such as 2024-05-01T00:00:00Z", s)
	}
	return t, nil
}

// exportParamsOf reads the kick-off parameters of a POST's Parameters
// resource (parametersBody): strings, codes and instants as their value,
// references as their reference.
func exportParamsOf(list []map[string]any) ([]exportParam, error) {
	var out []exportParam
	for i, m := range list {
		name, _ := m["name"].(string)
		where := "Parameters.parameter[" + itoa(int64(i)) + "]"
		if name == "" {
			return nil, fhir.At(fhir.KindInvalid, "required", where+".name", "$export: a parameter has no name")
		}
		var value string
		found := false
		for k, v := range m {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			found = true
			switch v := v.(type) {
			case string:
				value = v
			case map[string]any:
				value, _ = v["reference"].(string)
			}
		}
		if !found || value == "" {
			return nil, fhir.At(fhir.KindInvalid, "required", where, "$export: parameter %s has no value this server reads (a string, code, instant or Reference)", name)
		}
		out = append(out, exportParam{name: name, value: value})
	}
	return out, nil
}

// exportParamsOfQuery reads a GET kick-off's query, in a stable order.
func exportParamsOfQuery(q url.Values) []exportParam {
	var names []string
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []exportParam
	for _, name := range names {
		for _, v := range q[name] {
			out = append(out, exportParam{name: name, value: v})
		}
	}
	return out
}
