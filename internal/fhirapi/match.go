package fhirapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/mpi"
)

// matchGradeURL is the extension a $match result's entry.search carries
// (R5 StructureDefinition match-grade).
const matchGradeURL = "http://hl7.org/fhir/StructureDefinition/match-grade"

// maxMatchCount bounds $match's count.
const maxMatchCount = 100

// patientMatch answers POST Patient/$match (R5 OperationDefinition
// Patient-match): the patients that may be the person described by the
// resource parameter, best first, each with entry.search.score (0..1) and
// the match-grade extension. Only patients the caller may see are
// candidates (they are read through the gate), and the answer is audited
// like a search, with every patient shown.
func (s *Server) patientMatch(ctx context.Context, req *request) (*response, error) {
	if req.method != http.MethodPost {
		return nil, methodNotAllowed(req, "POST")
	}
	if s.opt.Matcher == nil {
		return nil, fhir.Errorf(fhir.KindNotSupported, "operation $match is not enabled on this server")
	}
	in, err := matchParameters(req)
	if err != nil {
		return nil, err
	}
	gr := gateRequest(req, "operation")
	gr.Query = "$match"
	var matches []mpi.Match
	err = s.opt.Gate.Read(ctx, gr, func() ([]access.Touched, error) {
		var err error
		matches, err = s.opt.Matcher.Match(ctx, s.opt.Gate.Guard(ctx, s.opt.Store), in.patient, mpi.Query{Count: in.count})
		if err != nil {
			return nil, err
		}
		if in.onlyCertain {
			matches = onlyCertain(matches)
		}
		touched := make([]access.Touched, len(matches))
		for i, m := range matches {
			touched[i] = access.TouchedVersion(m.Version)
		}
		return touched, nil
	})
	if err != nil {
		return nil, err
	}
	b := searchsetBundle(req.base+"/Patient/$match", "", "", "", "", int64(len(matches)))
	entries := make([]any, 0, len(matches))
	for _, m := range matches {
		entries = append(entries, map[string]any{
			"fullUrl":  req.base + "/Patient/" + m.Version.ID,
			"resource": m.Version.Resource,
			"search": map[string]any{
				"mode":      "match",
				"score":     mpi.Score(m.Score),
				"extension": []any{map[string]any{"url": matchGradeURL, "valueCode": m.Grade.String()}},
			},
		})
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return &response{status: http.StatusOK, resource: b}, nil
}

// onlyCertain keeps the certain match when there is exactly one: with
// onlyCertainMatches the operation must not answer with several
// potential matches, nor with a merely probable one.
func onlyCertain(matches []mpi.Match) []mpi.Match {
	var certain []mpi.Match
	for _, m := range matches {
		if m.Grade == mpi.Certain {
			certain = append(certain, m)
		}
	}
	if len(certain) != 1 {
		return nil
	}
	return certain
}

// matchInput is $match's parameters.
type matchInput struct {
	patient     fhir.Resource
	onlyCertain bool
	count       int
}

// matchParameters reads $match's Parameters body: resource (a Patient,
// required), onlyCertainMatches and count.
func matchParameters(req *request) (*matchInput, error) {
	params, err := parametersBody(req)
	if err != nil {
		return nil, err
	}
	in := &matchInput{}
	for i, p := range params {
		at := func(elem string) string { return "Parameters.parameter[" + itoa(int64(i)) + "]." + elem }
		switch p["name"] {
		case "resource":
			res, _ := p["resource"].(map[string]any)
			if fhir.Resource(res).Type() != "Patient" {
				return nil, fhir.At(fhir.KindInvalid, "invalid", at("resource"), "resource must be a Patient")
			}
			in.patient = res
		case "onlyCertainMatches":
			b, ok := p["valueBoolean"].(bool)
			if !ok {
				return nil, fhir.At(fhir.KindInvalid, "invalid", at("valueBoolean"), "onlyCertainMatches must be a valueBoolean")
			}
			in.onlyCertain = b
		case "count":
			num, _ := p["valueInteger"].(json.Number)
			n, err := num.Int64()
			if err != nil || n < 1 {
				return nil, fhir.At(fhir.KindInvalid, "invalid", at("valueInteger"), "count must be a positive valueInteger")
			}
			in.count = int(min(n, maxMatchCount))
		default:
			return nil, fhir.At(fhir.KindInvalid, "not-supported", at("name"), "$match has no parameter %q (it takes resource, onlyCertainMatches and count)", p["name"])
		}
	}
	if in.patient == nil {
		return nil, fhir.At(fhir.KindInvalid, "required", "Parameters.parameter", "$match needs a resource parameter holding the Patient to match")
	}
	return in, nil
}

// parametersBody parses an operation's Parameters body into its parameter
// list.
func parametersBody(req *request) ([]map[string]any, error) {
	res, err := operationBody(req)
	if err != nil {
		return nil, err
	}
	list, _ := res["parameter"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, p := range list {
		m, _ := p.(map[string]any)
		out = append(out, m)
	}
	return out, nil
}
