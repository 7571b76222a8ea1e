package fhirapi

import (
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// _elements names R4 elements (Encounter.period, not actualPeriod), so the
// R4 face applies it itself to the R4 answer instead of passing it to the
// R5 path. Unlike the R5 path it does not add the mandatory elements left
// out: the R4 definitions are the converter's, not the API's.

type r4ElementsKey struct{}

// parseR4Elements reads an _elements value into the set of element names,
// "Type.element" taken as "element".
func parseR4Elements(v string) map[string]bool {
	want := map[string]bool{}
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if i := strings.IndexByte(e, '.'); i >= 0 {
			e = e[i+1:]
		}
		if e != "" {
			want[e] = true
		}
	}
	return want
}

// applyR4Elements subsets a resource, or the matches of a searchset and the
// entries of a history, to the wanted elements.
func applyR4Elements(res fhir.Resource, want map[string]bool) fhir.Resource {
	switch res.Type() {
	case "OperationOutcome":
		return res
	case "Bundle":
		bundleType, _ := res["type"].(string)
		if bundleType != "searchset" && bundleType != "history" {
			return res
		}
		entries, _ := res["entry"].([]any)
		for _, e := range entries {
			entry, _ := e.(map[string]any)
			inner, ok := entry["resource"].(map[string]any)
			if !ok {
				continue
			}
			if search, _ := entry["search"].(map[string]any); bundleType == "searchset" && (search == nil || search["mode"] != "match") {
				continue
			}
			entry["resource"] = map[string]any(applyR4Elements(fhir.Resource(inner), want))
		}
		return res
	}
	out := fhir.Resource{}
	for k, v := range res {
		name := strings.TrimPrefix(k, "_")
		if k == "resourceType" || k == "id" || k == "meta" || want[name] || want[choiceBase(name)] {
			out[k] = v
		}
	}
	return markSubsetted(out)
}

// addToLinks adds a parameter the R5 path did not see to a Bundle's paging
// links, so that the next page is subsetted too.
func addToLinks(res fhir.Resource, name, value string) {
	links, _ := res["link"].([]any)
	for _, l := range links {
		link, _ := l.(map[string]any)
		u, ok := link["url"].(string)
		if !ok {
			continue
		}
		parsed, err := url.Parse(u)
		if err != nil {
			continue
		}
		q := parsed.Query()
		q.Set(name, value)
		parsed.RawQuery = q.Encode()
		link["url"] = parsed.String()
	}
}
