package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/mpi"
	"github.com/emr-project/emr/internal/store"
)

// duplicates is what the matcher found for a patient about to be
// registered, shown side by side with what was typed: the registrar opens
// the patient who is already there, or says this is someone else.
type duplicates struct {
	Typed      finderRow
	Candidates []candidate
	// Reviewed are the candidates' ids, posted back with "this is a
	// different person": the create goes ahead only if the matcher finds
	// no one else by then.
	Reviewed string
}

type candidate struct {
	finderRow
	Grade   string // in words
	Certain bool
}

// duplicatesOf asks the matcher, as the user (only patients they may see
// are candidates, read as one audited search), who res may already be;
// nil when no one, or when every candidate is among those reviewed.
func (ws *Workspace) duplicatesOf(r *http.Request, l *Locale, res fhir.Resource, reviewed string) (*duplicates, error) {
	if ws.Matcher == nil {
		return nil, nil
	}
	ctx := r.Context()
	var matches []mpi.Match
	err := ws.read(r, access.Request{Interaction: "search-type", Type: "Patient", Query: "ui:" + r.URL.Path + " (duplicate check)"},
		func(st store.Store) ([]access.Touched, error) {
			var err error
			if matches, err = ws.Matcher.Match(ctx, st, res, mpi.Query{Count: 10}); err != nil {
				return nil, err
			}
			touched := make([]access.Touched, len(matches))
			for i, m := range matches {
				touched[i] = access.TouchedVersion(m.Version)
			}
			return touched, nil
		})
	if err != nil || len(matches) == 0 {
		return nil, err
	}
	seen := strings.Split(reviewed, ",")
	now := ws.now()
	d := &duplicates{Typed: finderRowOf(l, res, "", now)}
	var ids []string
	unseen := false
	for _, m := range matches {
		ids = append(ids, m.Version.ID)
		unseen = unseen || !slices.Contains(seen, m.Version.ID)
		d.Candidates = append(d.Candidates, candidate{finderRow: finderRowOf(l, ws.Gate.Mask(ctx, m.Version.Resource), m.Version.ID, now),
			Grade: l.T("reg.grade." + m.Grade.String()), Certain: m.Grade == mpi.Certain})
	}
	if !unseen {
		return nil, nil
	}
	d.Reviewed = strings.Join(ids, ",")
	return d, nil
}
