package fhirapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// maxConditionalDeletes bounds a conditional delete of several resources.
const maxConditionalDeletes = store.MaxPageSize

// matchesIn runs the criteria of a conditional interaction inside tx and
// returns up to limit matches. Criteria are parsed strictly: a typo must not
// turn "update the one matching" into "update whatever matches nothing".
func (s *Server) matchesIn(tx store.Tx, base, typ string, criteria url.Values, limit int) ([]*store.Version, error) {
	if len(criteria) == 0 {
		return nil, fhir.Errorf(fhir.KindInvalid, "a conditional interaction needs search criteria")
	}
	q, err := search.Parse(s.opt.Definitions, typ, criteria, search.ParseOptions{Base: base})
	if err != nil {
		return nil, err
	}
	q.Count, q.CountGiven = limit, true
	res, err := tx.Search(q)
	if err != nil {
		return nil, err
	}
	return res.Matches, nil
}

// criteriaOf parses the query string of an If-None-Exist header or a
// conditional URL.
func criteriaOf(raw string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fhir.Errorf(fhir.KindInvalid, "malformed search criteria %q", raw)
	}
	return v, nil
}

// conditionalCreateIn implements If-None-Exist inside tx: with no match the
// resource is created; with one, nothing is written and that resource is
// the answer (created is false); with several, 412.
func (s *Server) conditionalCreateIn(tx store.Tx, base string, res fhir.Resource, ifNoneExist string, prefix string) (v *store.Version, created bool, err error) {
	criteria, err := criteriaOf(ifNoneExist)
	if err != nil {
		return nil, false, err
	}
	matches, err := s.matchesIn(tx, base, res.Type(), criteria, 2)
	if err != nil {
		return nil, false, err
	}
	switch len(matches) {
	case 0:
		if res.ID() == "" {
			res.SetID(store.NewID())
		}
		if err := s.validate(res, prefix); err != nil {
			return nil, false, err
		}
		v, _, err := tx.Update(res, 0)
		return v, true, err
	case 1:
		return matches[0], false, nil
	default:
		return nil, false, fhir.Errorf(fhir.KindPreconditionFailed, "If-None-Exist %q matches more than one %s", ifNoneExist, res.Type())
	}
}

// conditionalUpdateIn resolves the criteria as R5 says: no match creates
// (with the body's id if it has one and it is free), one match is updated
// (a different id in the body is an error), several are 412.
func (s *Server) conditionalUpdateIn(tx store.Tx, base, typ string, criteria url.Values, res fhir.Resource, ifMatch int64, prefix string) (*store.Version, bool, error) {
	matches, err := s.matchesIn(tx, base, typ, criteria, 2)
	if err != nil {
		return nil, false, err
	}
	switch len(matches) {
	case 0:
		if id := res.ID(); id != "" {
			if _, err := tx.Read(typ, id); err == nil {
				return nil, false, fhir.Errorf(fhir.KindConflict, "no %s matches the criteria, but %s/%s exists", typ, typ, id)
			}
		} else {
			res.SetID(store.NewID())
		}
		return s.updateIn(tx, res.ID(), res, ifMatch, prefix)
	case 1:
		id := matches[0].ID
		if bodyID := res.ID(); bodyID != "" && bodyID != id {
			return nil, false, fhir.At(fhir.KindInvalid, "invalid", exprIn(prefix, res.Type(), ".id"), "the resource id %q is not the id %q of the resource the criteria match", bodyID, id)
		}
		res.SetID(id)
		return s.updateIn(tx, id, res, ifMatch, prefix)
	default:
		return nil, false, fhir.Errorf(fhir.KindPreconditionFailed, "the criteria match more than one %s", typ)
	}
}

// singleMatchIn returns the id of the one resource the criteria match: 404
// for none, 412 for several.
func (s *Server) singleMatchIn(tx store.Tx, base, typ string, criteria url.Values) (string, error) {
	matches, err := s.matchesIn(tx, base, typ, criteria, 2)
	if err != nil {
		return "", err
	}
	switch len(matches) {
	case 0:
		return "", fhir.Errorf(fhir.KindNotFound, "no %s matches the criteria", typ)
	case 1:
		return matches[0].ID, nil
	default:
		return "", fhir.Errorf(fhir.KindPreconditionFailed, "the criteria match more than one %s", typ)
	}
}

// conditionalDelete answers DELETE [type]?criteria: every match is deleted
// (up to maxConditionalDeletes; more is 412), none is 204.
func (s *Server) conditionalDelete(ctx context.Context, req *request) (*response, error) {
	ifMatch, err := ifMatchOf(req)
	if err != nil {
		return nil, err
	}
	err = s.opt.Gate.Write(ctx, gateRequest(req, "delete"), func(tx store.Tx) ([]access.Touched, error) {
		return s.conditionalDeleteIn(tx, req.base, req.typ, req.query, ifMatch)
	})
	if err != nil {
		return nil, err
	}
	return &response{status: http.StatusNoContent}, nil
}

func (s *Server) conditionalDeleteIn(tx store.Tx, base, typ string, criteria url.Values, ifMatch int64) ([]access.Touched, error) {
	matches, err := s.matchesIn(tx, base, typ, criteria, maxConditionalDeletes+1)
	if err != nil {
		return nil, err
	}
	if len(matches) > maxConditionalDeletes {
		return nil, fhir.Errorf(fhir.KindPreconditionFailed, "the criteria match more than %d %s resources; narrow them", maxConditionalDeletes, typ)
	}
	if ifMatch != 0 && len(matches) > 1 {
		return nil, fhir.Errorf(fhir.KindPreconditionFailed, "If-Match cannot apply to a delete of several resources")
	}
	touched := make([]access.Touched, 0, len(matches))
	for _, m := range matches {
		v, err := tx.Delete(typ, m.ID, ifMatch)
		if err != nil {
			return nil, err
		}
		touched = append(touched, access.Touched{Type: typ, ID: m.ID, VersionID: versionOf(v), Patient: access.TouchedVersion(m).Patient})
	}
	return touched, nil
}
