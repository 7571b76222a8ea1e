package fhirapi

import (
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// r4Convertible reports whether resources of typ cross the R4 face: the
// types with a conversion, and the ones both versions share as they are.
func r4Convertible(typ string) bool {
	switch typ {
	case "OperationOutcome", "Parameters", "Bundle":
		return true
	}
	return r4.Supported(typ)
}

// requestToR5 converts an R4 request body to R5: a resource, a Bundle entry
// by entry (the error names the entry), or the resources inside Parameters.
// A failure is the client's: 422 for a type without conversion, 400
// otherwise.
func requestToR5(res fhir.Resource) (fhir.Resource, error) {
	out, err := convertR4Face(res, r4.ToR5)
	if err != nil {
		kind, code := fhir.KindInvalid, "invalid"
		if fhir.KindOf(err) == fhir.KindNotSupported {
			kind, code = fhir.KindUnprocessable, "not-supported"
		}
		return nil, &fhir.Error{Kind: kind, Issues: []fhir.Issue{{Severity: "error", Code: code,
			Diagnostics: "cannot convert the R4 request to R5: " + err.Error()}}}
	}
	return out, nil
}

type convertFunc func(fhir.Resource) (fhir.Resource, *r4.Report, error)

// convertR4Face converts res with convert, walking the containers (Bundle,
// Parameters) itself so that each resource inside is converted on its own
// and an OperationOutcome, the same in both versions, passes through.
func convertR4Face(res fhir.Resource, convert convertFunc) (fhir.Resource, error) {
	switch res.Type() {
	case "OperationOutcome":
		return res, nil
	case "Parameters":
		out := fhir.Resource(fhir.CloneValue(map[string]any(res)).(map[string]any))
		if err := convertParameters(out["parameter"], convert, "Parameters.parameter"); err != nil {
			return nil, err
		}
		return out, nil
	case "Bundle":
		return convertBundle(res, convert, nil)
	}
	out, _, err := convert(res)
	return out, err
}

func convertParameters(params any, convert convertFunc, path string) error {
	list, _ := params.([]any)
	for i, p := range list {
		param, ok := p.(map[string]any)
		if !ok {
			continue
		}
		at := fmt.Sprintf("%s[%d]", path, i)
		if inner, ok := param["resource"].(map[string]any); ok {
			conv, err := convertR4Face(fhir.Resource(inner), convert)
			if err != nil {
				return fmt.Errorf("%s.resource: %w", at, err)
			}
			param["resource"] = map[string]any(conv)
		}
		if err := convertParameters(param["part"], convert, at+".part"); err != nil {
			return err
		}
	}
	return nil
}

// convertBundle converts a Bundle's own elements with the converter and
// each entry's resource on its own. onEntryError, when set, decides what
// becomes of an entry whose resource does not convert (answers drop it and
// say so); when nil the error ends the conversion (requests are refused).
func convertBundle(res fhir.Resource, convert convertFunc, onEntryError func(entry map[string]any, err error) bool) (fhir.Resource, error) {
	shell := make(fhir.Resource, len(res))
	for k, v := range res {
		if k != "entry" {
			shell[k] = v
		}
	}
	out, _, err := convert(shell)
	if err != nil {
		return nil, err
	}
	entries, _ := res["entry"].([]any)
	if entries == nil {
		return out, nil
	}
	converted := make([]any, 0, len(entries))
	for i, e := range entries {
		entry, ok := e.(map[string]any)
		if !ok {
			return nil, fhir.Errorf(fhir.KindInvalid, "Bundle.entry[%d] is not an object", i)
		}
		entry = fhir.CloneValue(entry).(map[string]any)
		if err := convertEntry(entry, convert); err != nil {
			if onEntryError == nil {
				return nil, fmt.Errorf("Bundle.entry[%d]: %w", i, err)
			}
			if !onEntryError(entry, err) {
				continue
			}
		}
		converted = append(converted, entry)
	}
	out["entry"] = converted
	return out, nil
}

func convertEntry(entry map[string]any, convert convertFunc) error {
	if req, _ := entry["request"].(map[string]any); req != nil && req["method"] == "PATCH" {
		// The patch (a Binary or Parameters) names R4 elements and applies
		// to the R4 form (r4Patch): its values stay R4.
		return nil
	}
	if inner, ok := entry["resource"].(map[string]any); ok {
		conv, err := convertR4Face(fhir.Resource(inner), convert)
		if err != nil {
			return err
		}
		entry["resource"] = map[string]any(conv)
	}
	// entry.response.outcome is an OperationOutcome: the same in both.
	return nil
}

// answerToR4 converts an R5 answer to R4. An entry of a Bundle that has no
// R4 form (an included resource of a type without conversion) is left out
// of a searchset or history with an OperationOutcome entry saying so, and
// loses its resource in a batch or transaction response, where entries
// match requests by position. A single resource that does not convert is a
// server error: the R4 face refuses such types before they reach the store.
func answerToR4(defs *spec.Definitions, res fhir.Resource, base string) (fhir.Resource, error) {
	if res.Type() != "Bundle" {
		return convertR4Face(res, r4.ToR4)
	}
	bundleType, _ := res["type"].(string)
	var dropped []fhir.Issue
	out, err := convertBundle(res, r4.ToR4, func(entry map[string]any, err error) bool {
		issue := fhir.Issue{Severity: "warning", Code: "not-supported",
			Diagnostics: fmt.Sprintf("%v has no R4 form and is left out: %v", entry["fullUrl"], err)}
		switch bundleType {
		case "batch-response", "transaction-response":
			delete(entry, "resource")
			resp, _ := entry["response"].(map[string]any)
			if resp != nil {
				resp["outcome"] = map[string]any(fhir.OperationOutcome(issue))
			}
			return true
		}
		dropped = append(dropped, issue)
		return false
	})
	if err != nil {
		return nil, err
	}
	if len(dropped) > 0 {
		entries, _ := out["entry"].([]any)
		out["entry"] = append(entries, map[string]any{
			"resource": map[string]any(fhir.OperationOutcome(dropped...)),
			"search":   map[string]any{"mode": "outcome"},
		})
	}
	// Paging links keep working with R4 parameter names.
	if links, ok := out["link"].([]any); ok {
		typ := bundleSearchType(res, base)
		for _, l := range links {
			if link, ok := l.(map[string]any); ok {
				if u, ok := link["url"].(string); ok {
					link["url"] = r5LinkToR4(defs, typ, u)
				}
			}
		}
	}
	return out, nil
}

// bundleSearchType is the resource type a searchset's self link searched,
// "" for any other Bundle or a system-level search.
func bundleSearchType(res fhir.Resource, base string) string {
	if res["type"] != "searchset" {
		return ""
	}
	links, _ := res["link"].([]any)
	for _, l := range links {
		link, _ := l.(map[string]any)
		if link == nil || link["relation"] != "self" {
			continue
		}
		u, _ := link["url"].(string)
		path, _, _ := strings.Cut(strings.TrimPrefix(u, base), "?")
		req := &request{}
		if req.route(path) == nil {
			return req.typ
		}
	}
	return ""
}
