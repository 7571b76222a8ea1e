package deid

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// SearchFunc runs one page of a search: a store's Search, or the access
// gate's guarded one.
type SearchFunc func(ctx context.Context, q *search.Query) (*store.SearchResult, error)

// CompartmentTypes are the types a patient's compartment can hold, sorted,
// Patient among them.
func CompartmentTypes(defs *spec.Definitions) []string {
	types := []string{"Patient"}
	if c := defs.Compartments["Patient"]; c != nil {
		for _, r := range c.Resources {
			if len(r.Params) > 0 && r.Code != "Patient" {
				types = append(types, r.Code)
			}
		}
	}
	sort.Strings(types)
	return types
}

// PatientRecord returns every resource of patient's compartment (of
// types; every compartment type when empty) and the resources they refer
// to (practitioners, organisations, locations, medications …), so that
// the references of an export resolve inside it; each resource once, the
// patient first.
func PatientRecord(ctx context.Context, defs *spec.Definitions, find SearchFunc, patient string, types []string) ([]*store.Version, error) {
	compartment := CompartmentTypes(defs)
	if len(types) == 0 {
		types = compartment
	} else {
		for _, t := range types {
			if !slices.Contains(compartment, t) {
				return nil, fmt.Errorf("deid: %s is not a type of the Patient compartment", t)
			}
		}
	}
	params := url.Values{"_type": {strings.Join(types, ",")}, "_count": {fmt.Sprint(store.MaxPageSize)}}
	var out []*store.Version
	seen := map[string]bool{}
	for cursor := ""; ; {
		q, err := search.Parse(defs, "", params, search.ParseOptions{Compartment: &search.CompartmentRef{Type: "Patient", ID: patient}})
		if err != nil {
			return nil, err
		}
		for _, typ := range types {
			q.Includes = append(q.Includes, search.Include{SourceType: typ, Param: "*"})
		}
		q.Cursor = cursor
		res, err := find(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("deid: search the record of Patient/%s: %w", patient, err)
		}
		for _, v := range append(res.Matches, res.Included...) {
			if key := v.Type + "/" + v.ID; !seen[key] && !v.Deleted {
				seen[key] = true
				out = append(out, v)
			}
		}
		if res.Next == "" {
			break
		}
		cursor = res.Next
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Type == "Patient" && out[i].ID == patient && !(out[j].Type == "Patient" && out[j].ID == patient)
	})
	return out, nil
}

// ShiftKey is whose date offset a resource of patient's record takes: the
// patient's for a type of the Patient compartment, none ("") for the
// others (a practitioner the record refers to), which so move alike in
// every record.
func (d *Deidentifier) ShiftKey(res fhir.Resource, patient string) string {
	if !d.inCompartment[res.Type()] {
		return ""
	}
	return patient
}
