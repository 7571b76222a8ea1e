package importer

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// result is what a worker makes of a job: units ready to write, and the
// resources that failed on the way.
type result struct {
	bytes    int64
	units    []*unit
	failed   map[string]int64 // resource type → resources that failed before writing
	problems []Problem
	skipped  []Problem
}

// unit is what the writer keeps together. An atomic unit (a transaction
// Bundle) is written in one Store.Write or not at all; the items of any
// other unit may be written separately.
type unit struct {
	file   string
	where  string
	atomic bool
	items  []item
}

// item is one resource ready to store: parsed, converted and validated.
type item struct {
	res   fhir.Resource
	where string
	kept  int // elements kept as cross-version extensions by conversion
	// ready is res prepared for writing (its index entries extracted),
	// when the store is a store.Preparer; nil otherwise.
	ready *store.Prepared
}

// unknownType counts what failed before its resource type was known.
const unknownType = "(unparsed)"

func (r *result) fail(typ string, p *Problem) {
	if typ == "" {
		typ = unknownType
	}
	if r.failed == nil {
		r.failed = map[string]int64{}
	}
	r.failed[typ]++
	if p != nil {
		p.Type = typ
		if typ == unknownType {
			p.Type = ""
		}
		r.problems = append(r.problems, *p)
	}
}

// process parses, converts and validates one job.
func process(opts Options, j *job) *result {
	r := &result{bytes: j.bytes}
	if j.fileProblem != nil {
		r.problems = append(r.problems, *j.fileProblem)
	}
	if j.skipped != nil {
		r.skipped = append(r.skipped, *j.skipped)
	}
	if j.json != nil {
		processJSON(opts, j, r)
		return r
	}
	var good []item
	for _, l := range j.lines {
		if len(bytes.TrimSpace(l.data)) == 0 {
			continue
		}
		where := fmt.Sprintf("line %d", l.no)
		res, err := fhir.ParseResource(l.data)
		if err != nil {
			r.fail("", &Problem{File: j.file, Where: where, Message: "invalid JSON resource: " + err.Error()})
			continue
		}
		if j.refused {
			r.fail(res.Type(), nil)
			continue
		}
		if res.ID() == "" {
			res.SetID(contentID(res))
		}
		kept, err := prepare(opts, j.version, &res)
		if err != nil {
			r.fail(res.Type(), &Problem{File: j.file, Where: where, Message: err.Error()})
			continue
		}
		good = append(good, item{res: res, where: where, kept: kept})
	}
	if len(good) > 0 {
		r.units = append(r.units, &unit{file: j.file, items: good})
	}
	return r
}

// processJSON handles a JSON file: a Bundle to unpack or one resource.
func processJSON(opts Options, j *job, r *result) {
	v, err := fhir.ParseJSON(j.json)
	if err != nil {
		r.fail("", &Problem{File: j.file, Message: "invalid JSON: " + err.Error()})
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		r.fail("", &Problem{File: j.file, Message: "not a FHIR resource: the JSON value is not an object"})
		return
	}
	if _, ok := obj["resourceType"].(string); !ok {
		r.skipped = append(r.skipped, Problem{File: j.file, Message: "not FHIR (no resourceType)"})
		return
	}
	res := fhir.Resource(obj)
	if res.Type() == "Bundle" {
		switch t, _ := res["type"].(string); t {
		case "transaction", "batch", "collection", "searchset":
			processBundle(opts, j, res, t, r)
			return
		}
	}
	version := j.version
	if version == VersionAuto {
		version = VersionR5
		if r4Sign(res) != "" {
			version = VersionR4
		}
	}
	if version == VersionR4 && opts.ConvertR4 == nil {
		r.fail(res.Type(), &Problem{File: j.file, Message: errNoConverter.Error()})
		return
	}
	if res.ID() == "" {
		res.SetID(contentID(res))
	}
	kept, err := prepare(opts, version, &res)
	if err != nil {
		r.fail(res.Type(), &Problem{File: j.file, Message: err.Error()})
		return
	}
	r.units = append(r.units, &unit{file: j.file, items: []item{{res: res, kept: kept}}})
}

// prepare converts an R4 resource and validates the result. kept is the
// number of elements conversion kept as cross-version extensions.
func prepare(opts Options, version Version, res *fhir.Resource) (kept int, err error) {
	if version == VersionR4 {
		typ, id := res.Type(), res.ID()
		converted, n, err := opts.ConvertR4(*res)
		if err != nil {
			return 0, fmt.Errorf("R4→R5 conversion: %w", err)
		}
		if converted.Type() != typ || converted.ID() != id {
			return 0, fmt.Errorf("R4→R5 conversion made %s/%s into %s/%s", typ, id, converted.Type(), converted.ID())
		}
		*res, kept = converted, n
	}
	if !fhir.ValidID(res.ID()) {
		return 0, fmt.Errorf("id %q is not a valid FHIR id", res.ID())
	}
	if opts.Label != nil {
		opts.Label(*res)
	}
	issues := opts.Validator.Validate(*res)
	var msgs []string
	errors := 0
	for _, is := range issues {
		if is.Severity != "error" && is.Severity != "fatal" {
			continue
		}
		errors++
		if len(msgs) < 3 {
			m := is.Diagnostics
			if len(is.Expression) > 0 {
				m = is.Expression[0] + ": " + m
			}
			msgs = append(msgs, m)
		}
	}
	if errors == 0 {
		return kept, nil
	}
	msg := "invalid: " + strings.Join(msgs, "; ")
	if errors > len(msgs) {
		msg += fmt.Sprintf(" (and %d more)", errors-len(msgs))
	}
	if version != VersionR4 {
		if sign := r4Sign(*res); sign != "" {
			msg += "; it looks like R4: " + sign
		}
	}
	return 0, fmt.Errorf("%s", msg)
}
