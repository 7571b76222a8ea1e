// Package deidtest finds the direct identifiers of source resources in
// de-identified output, for the tests of internal/deid and emr export.
package deidtest

import (
	"bytes"
	"fmt"
	"index/suffixarray"
	"regexp"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Identifiers collects the direct identifiers of source resources, for
// tests that look for them in de-identified output.
type Identifiers struct {
	// Anywhere are values that must not appear anywhere in the output.
	Anywhere map[string]string // value → where it was found
	// BirthDates are full birth and death dates, which must not appear in
	// the Patient output (other resources' shifted dates may meet them by
	// chance).
	BirthDates map[string]string
	// PatientDates are each source Patient's full birth and death dates,
	// by its id: LeaksByPatient looks for them in that patient's output
	// only, where another patient's shifted date cannot meet them.
	PatientDates map[string][]string
}

// hexOnly matches values a pseudonym (hex) could contain by chance: they
// are looked for quoted, as whole JSON strings.
var hexOnly = regexp.MustCompile(`^[0-9a-fA-F]{1,12}$`)

// Collect walks res and records its identifying values.
func (ids *Identifiers) Collect(res fhir.Resource, where string) {
	if ids.Anywhere == nil {
		ids.Anywhere, ids.BirthDates, ids.PatientDates = map[string]string{}, map[string]string{}, map[string][]string{}
	}
	add := func(v any, what string) {
		s, ok := v.(string)
		if !ok || len(strings.TrimSpace(s)) < 3 {
			return
		}
		if hexOnly.MatchString(s) {
			if len(s) < 5 {
				return // as short as the codes and numbers the output keeps
			}
			s = `"` + s + `"`
		}
		ids.Anywhere[s] = where + " " + what
	}
	if id := res.ID(); id != "" {
		add(id, "id")
	}
	for _, k := range []string{"birthDate", "deceasedDateTime"} {
		if s, ok := res[k].(string); ok && len(s) >= 10 {
			ids.BirthDates[s[:10]] = where + " " + k
			if res.Type() == "Patient" && res.ID() != "" {
				ids.PatientDates[res.ID()] = append(ids.PatientDates[res.ID()], s[:10])
			}
		}
	}
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case []any:
			for _, item := range v {
				walk(key, item)
			}
		case map[string]any:
			switch key {
			case "name":
				add(v["family"], "family name")
				add(v["text"], "name text")
				if given, ok := v["given"].([]any); ok {
					for _, g := range given {
						add(g, "given name")
					}
				}
			case "address", "valueAddress":
				if v["city"] != v["state"] { // Havana, Havana: the state stays
					add(v["city"], "city")
				}
				add(v["district"], "district")
				if lines, ok := v["line"].([]any); ok {
					for _, l := range lines {
						add(l, "address line")
					}
				}
				if pc, ok := v["postalCode"].(string); ok && len(pc) >= 5 {
					ids.Anywhere[`"`+pc+`"`] = where + " postal code"
				}
			case "telecom":
				add(v["value"], "telecom")
			case "identifier":
				add(v["value"], "identifier")
			case "photo", "attachment", "content", "presentedForm":
				add(v["url"], "url")
				if data, ok := v["data"].(string); ok && len(data) > 16 {
					add(data[:16], "attachment data")
				}
			}
			if ref, ok := v["reference"].(string); ok {
				if _, id, ok := strings.Cut(ref, "/"); ok && !strings.HasPrefix(ref, "urn:") {
					add(id, "reference")
				} else if uuid, ok := strings.CutPrefix(ref, "urn:uuid:"); ok {
					add(uuid, "reference")
				}
			}
			for k, child := range v {
				walk(k, child)
			}
		}
	}
	for k, v := range res {
		walk(k, v)
	}
}

// Leaks returns where each identifier was found in out, "" for none;
// patients is the Patient output only. A birth date found in another
// patient's output (a shifted date that meets it by chance) counts too:
// with a fixed key that is stable; LeaksByPatient is exact.
func (ids *Identifiers) Leaks(out, patients []byte) []string {
	leaks := ids.anywhere(out)
	for v, where := range ids.BirthDates {
		if bytes.Contains(patients, []byte(v)) {
			leaks = append(leaks, fmt.Sprintf("%s (%s)", v, where))
		}
	}
	sort.Strings(leaks)
	return leaks
}

// LeaksByPatient is Leaks with each source patient's birth and death
// dates looked for in that patient's own output: exported maps an output
// Patient's id to its JSON, and pseudonym a source patient id to the
// output's.
func (ids *Identifiers) LeaksByPatient(out []byte, exported map[string][]byte, pseudonym func(id string) string) []string {
	leaks := ids.anywhere(out)
	for id, dates := range ids.PatientDates {
		body, ok := exported[pseudonym(id)]
		if !ok {
			continue
		}
		for _, d := range dates {
			if bytes.Contains(body, []byte(d)) {
				leaks = append(leaks, fmt.Sprintf("%s (Patient/%s birth or death date)", d, id))
			}
		}
	}
	sort.Strings(leaks)
	return leaks
}

func (ids *Identifiers) anywhere(out []byte) []string {
	var leaks []string
	index := suffixarray.New(out) // 23,000 values in 20 MB: a scan each would take minutes
	for v, where := range ids.Anywhere {
		if len(index.Lookup([]byte(v), 1)) > 0 {
			leaks = append(leaks, fmt.Sprintf("%s (%s)", v, where))
		}
	}
	return leaks
}
