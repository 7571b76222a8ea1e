package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Each user's recently opened patients are an infrastructure record
// (kind recentKind, key the user name): a list of patient ids, newest
// first. It holds ids only; the names shown are read through the gate
// each time, so a patient the user may no longer see drops out.
const (
	recentKind = "ui-recent"
	recentMax  = 10
)

// rememberRecent puts patientID first in user's recently opened patients.
// The chart calls it when it is shown; a failure is logged, never shown:
// the list is a convenience, the chart is not.
func (ws *Workspace) rememberRecent(ctx context.Context, user, patientID string) {
	if user == "" || patientID == "" {
		return
	}
	// Two tabs opening charts at once race on the record: the loser reads
	// again and retries, so neither opening is lost.
	for range 3 {
		ids, version, err := ws.recentIDs(ctx, user)
		if err != nil {
			ws.log().Warn("reading the recent patients failed", "user", user, "error", err)
			return
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return id == patientID })
		ids = append([]string{patientID}, ids...)
		if len(ids) > recentMax {
			ids = ids[:recentMax]
		}
		value, _ := json.Marshal(ids)
		_, err = ws.Store.PutRecord(ctx, &store.Record{Kind: recentKind, Key: user, Owner: user, Value: value}, version)
		if fhir.IsKind(err, fhir.KindConflict) || fhir.IsKind(err, fhir.KindPreconditionFailed) {
			continue
		}
		if err != nil {
			ws.log().Warn("recording a recent patient failed", "user", user, "error", err)
		}
		return
	}
}

// recentIDs returns user's recent patient ids and the record's version (0
// when there is none yet).
func (ws *Workspace) recentIDs(ctx context.Context, user string) ([]string, int64, error) {
	rec, err := ws.Store.GetRecord(ctx, recentKind, user)
	if fhir.IsKind(err, fhir.KindNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var ids []string
	if err := json.Unmarshal(rec.Value, &ids); err != nil {
		return nil, rec.Version, nil // a damaged list starts again
	}
	return ids, rec.Version, nil
}

// recentRows fills data.Recent: the user's recent patients as finder rows,
// in the order opened, read as one audited search (by _id, so the gate
// leaves out whoever the user may no longer see).
func (ws *Workspace) recentRows(r *http.Request, l *Locale, data *finderData) error {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	if p == nil {
		return nil
	}
	ids, _, err := ws.recentIDs(ctx, p.User)
	if err != nil || len(ids) == 0 {
		return err
	}
	now := ws.now()
	return ws.read(r, access.Request{Interaction: "search-type", Type: "Patient", Query: "ui:/ (recently opened)"}, func(st store.Store) ([]access.Touched, error) {
		sq, err := search.Parse(ws.Definitions, "Patient", url.Values{"_id": {strings.Join(ids, ",")},
			"_count": {strconv.Itoa(len(ids))}, "_total": {"none"}}, search.ParseOptions{})
		if err != nil {
			return nil, err
		}
		res, err := st.Search(ctx, sq)
		if err != nil {
			return nil, err
		}
		byID := map[string]*store.Version{}
		for _, v := range res.Matches {
			byID[v.ID] = v
		}
		var touched []access.Touched
		for _, id := range ids {
			if v := byID[id]; v != nil {
				data.Recent = append(data.Recent, finderRowOf(l, ws.Gate.Mask(ctx, v.Resource), v.ID, now))
				touched = append(touched, access.TouchedVersion(v))
			}
		}
		visits, err := ws.lastVisits(ctx, st, l, data.Recent)
		return append(touched, visits...), err
	})
}

// lastVisits sets each row's LastVisit: the start of the patient's latest
// Encounter, one indexed search per row (the page lists at most
// finderLimit). A user who may not search encounters sees "Not known".
func (ws *Workspace) lastVisits(ctx context.Context, st store.Store, l *Locale, rows []finderRow) ([]access.Touched, error) {
	var touched []access.Touched
	for i := range rows {
		sq, err := search.Parse(ws.Definitions, "Encounter", url.Values{"patient": {"Patient/" + rows[i].ID},
			"_sort": {"-date-start"}, "_count": {"1"}, "_total": {"none"}}, search.ParseOptions{})
		if err != nil {
			return nil, err
		}
		res, err := st.Search(ctx, sq)
		if fhir.IsKind(err, fhir.KindForbidden) {
			return touched, nil
		}
		if err != nil {
			return nil, err
		}
		rows[i].LastVisitKnown = true
		if len(res.Matches) > 0 {
			e := res.Matches[0]
			rows[i].LastVisit = l.Date(encounterDate(e.Resource))
			touched = append(touched, access.TouchedVersion(e))
		}
	}
	return touched, nil
}

// encounterDate is when an encounter took place: the start of its actual
// period, else its end, else its planned start ("" when none is known).
func encounterDate(e fhir.Resource) string {
	for _, k := range []string{"actualPeriod", "plannedStartDate"} {
		switch v := e[k].(type) {
		case map[string]any:
			if s := str(v, "start"); s != "" {
				return s
			}
			if s := str(v, "end"); s != "" {
				return s
			}
		case string:
			return v
		}
	}
	return ""
}

func (ws *Workspace) log() *slog.Logger {
	if ws.Logger != nil {
		return ws.Logger
	}
	return slog.Default()
}
