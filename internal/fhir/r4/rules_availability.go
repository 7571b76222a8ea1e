package r4

import "github.com/emr-project/emr/internal/fhir"

// R5 gathers times of availability into the Availability datatype:
// PractitionerRole.availableTime and notAvailable become one
// availability's availableTime and notAvailableTime, and each
// Location.hoursOfOperation becomes an Availability with one availableTime
// (openingTime and closingTime renamed availableStartTime and
// availableEndTime).
func init() {
	addToR5("PractitionerRole.availableTime", intoAvailability("availableTime"))
	addToR5("PractitionerRole.notAvailable", intoAvailability("notAvailableTime"))
	addToR4("PractitionerRole.availability", fromAvailability)

	addToR5("Location.hoursOfOperation", mapAll("hoursOfOperation", func(v any) (any, bool) {
		h, _ := v.(map[string]any)
		if h == nil || h["modifierExtension"] != nil {
			return nil, false
		}
		return map[string]any{"availableTime": []any{renameKeys(h, openingHoursR5)}}, true
	}))
	addToR4("Location.hoursOfOperation", mapAll("hoursOfOperation", func(v any) (any, bool) {
		a, _ := v.(map[string]any)
		times, _ := a["availableTime"].([]any)
		if !onlyKeys(a, "availableTime") || len(times) != 1 {
			return nil, false
		}
		at, _ := times[0].(map[string]any)
		if at == nil {
			return nil, false
		}
		return renameKeys(at, invertNames(openingHoursR5)), true
	}))
}

var openingHoursR5 = map[string]string{"openingTime": "availableStartTime", "closingTime": "availableEndTime"}

func invertNames(m map[string]string) map[string]string {
	r := make(map[string]string, len(m))
	for k, v := range m {
		r[v] = k
	}
	return r
}

// renameKeys copies obj with the properties (and their _ siblings) named in
// names renamed.
func renameKeys(obj map[string]any, names map[string]string) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		base, prefix := k, ""
		if len(k) > 1 && k[0] == '_' {
			base, prefix = k[1:], "_"
		}
		if to, ok := names[base]; ok {
			k = prefix + to
		}
		out[k] = fhir.CloneValue(v)
	}
	return out
}

// intoAvailability puts a PractitionerRole list into the role's single
// availability. Items with modifier extensions (which R5's Element-based
// parts cannot carry) keep the whole element as an extension.
func intoAvailability(field string) rule {
	return func(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
		for _, v := range asList(src[key]) {
			if m, _ := v.(map[string]any); m == nil || m["modifierExtension"] != nil {
				return c.keep(out, src, key, e, ty)
			}
		}
		list, _ := out["availability"].([]any)
		if len(list) == 0 {
			list = []any{map[string]any{}}
			out["availability"] = list
		}
		list[0].(map[string]any)[field] = fhir.CloneValue(asList(src[key]))
		return nil
	}
}

func fromAvailability(c *converter, out, src map[string]any, key string, e *elem, ty, at string) error {
	list, _ := src[key].([]any)
	if len(list) != 1 {
		return c.keep(out, src, key, e, ty)
	}
	a, _ := list[0].(map[string]any)
	if !onlyKeys(a, "availableTime", "notAvailableTime") {
		return c.keep(out, src, key, e, ty)
	}
	if v, ok := a["availableTime"]; ok {
		out["availableTime"] = fhir.CloneValue(v)
	}
	if v, ok := a["notAvailableTime"]; ok {
		out["notAvailable"] = fhir.CloneValue(v)
	}
	return nil
}
