package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Critical results: the review Tasks package critical writes for each
// critical result, still open, across the patients the user may see
// (the gate's rules apply inside the search, consent included), oldest
// first, since the oldest has waited longest. Each row names the patient
// (name, date of birth, MRN) and the result (value, unit, range and the
// flag in words); acknowledging one completes its Task with who, when
// and what was done.

func (ws *Workspace) registerCritical(page pageFunc) {
	page("GET /results/critical", ws.criticalResults)
	page("POST /results/critical/{task}", ws.acknowledgeCritical)
}

// criticalLimit bounds the list; the page says when there are more.
const criticalLimit = 50

type criticalRow struct {
	Task, Version string
	// Focus is the result version the review asks about, as shown.
	Focus        string
	Patient      finderRow
	Result       resultRow
	Owner, Since string
	// Overdue: nobody acknowledged it in time (critical.Escalate);
	// PassedTo is who it was passed to then.
	Overdue  bool
	PassedTo string
}

type criticalData struct {
	Rows  []criticalRow
	More  bool
	Done  string
	Error string
	// Mine lists only the reviews the user owns (the tests they
	// ordered); CanFilter says the user is a practitioner who may own some.
	Mine, CanFilter bool
	// Hidden says how many overdue reviews are of patients the user may
	// not see ("" when none is).
	Hidden string
}

func (ws *Workspace) criticalResults(w http.ResponseWriter, r *http.Request) error {
	return ws.criticalPage(w, r, http.StatusOK, &criticalData{Done: r.URL.Query().Get("acknowledged"), Mine: r.URL.Query().Get("mine") == "1"})
}

func (ws *Workspace) criticalPage(w http.ResponseWriter, r *http.Request, status int, data *criticalData) error {
	v := ws.view(r, "critical.title")
	v.Data = data
	ctx := r.Context()
	now := ws.now()
	open := func() url.Values {
		return url.Values{"code": {critical.TaskSystem + "|" + critical.TaskCode},
			"status": {critical.OpenStatuses}, "_sort": {"authored-on"}, "_count": {strconv.Itoa(criticalLimit + 1)}}
	}
	me := ""
	if p := access.PrincipalFrom(ctx); p != nil && strings.HasPrefix(p.FHIRUser, "Practitioner/") {
		data.CanFilter = true
		me = p.FHIRUser
	}
	data.Mine = data.Mine && me != ""
	err := ws.read(r, access.Request{Interaction: "search-type", Type: "Task"}, func(st store.Store) ([]access.Touched, error) {
		var touched []access.Touched
		searches := []url.Values{open()}
		if data.Mine {
			// The tests they ordered, and the reviews passed to them,
			// their roles or their teams when others did not acknowledge
			// theirs in time.
			searches[0].Set("owner", me)
			passed := open()
			as, seen, err := ws.performerRefs(ctx, st, me)
			if err != nil {
				return nil, err
			}
			touched = append(touched, seen...)
			passed.Set("requestedperformer-reference", strings.Join(as, ","))
			searches = append(searches, passed)
		}
		var matches []*store.Version
		for _, params := range searches {
			q, err := search.Parse(ws.Definitions, "Task", params, search.ParseOptions{})
			if err != nil {
				return nil, err
			}
			res, err := st.Search(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, m := range res.Matches {
				if !slices.ContainsFunc(matches, func(v *store.Version) bool { return v.ID == m.ID }) {
					matches = append(matches, m)
				}
			}
		}
		// The longest waiting first, across the searches, by the instant
		// each was asked for (a client may write another zone).
		asked := func(v *store.Version) time.Time {
			t, _, _ := fhir.ParseDateRange(str(v.Resource, "authoredOn"))
			return t
		}
		slices.SortStableFunc(matches, func(a, b *store.Version) int { return asked(a).Compare(asked(b)) })
		hidden, err := ws.hiddenOverdue(ctx, st)
		if err != nil {
			return nil, err
		}
		if hidden > 0 {
			data.Hidden = v.Locale.Plural("critical.hidden-overdue", strconv.FormatInt(hidden, 10))
		}
		for i, t := range matches {
			if i == criticalLimit {
				data.More = true
				break
			}
			row := criticalRow{Task: t.ID, Version: strconv.FormatInt(t.VersionID, 10), Owner: str(asMap(t.Resource["owner"]), "display"),
				Since: v.dateTimeText(str(t.Resource, "authoredOn")), Overdue: critical.IsOverdue(t.Resource)}
			for _, p := range asList(t.Resource["requestedPerformer"]) {
				row.PassedTo = str(asMap(asMap(p)["reference"]), "display")
			}
			touched = append(touched, access.TouchedVersion(t))
			obs, err := ws.focusOf(ctx, st, t.Resource)
			if err != nil {
				return nil, err
			}
			if obs == nil {
				continue // a result the user may not see, or gone
			}
			touched = append(touched, access.TouchedVersion(obs))
			row.Result = v.resultRowOf(obs)
			pid, _ := strings.CutPrefix(str(asMap(obs.Resource["subject"]), "reference"), "Patient/")
			if pid != "" {
				if p, err := st.Read(ctx, "Patient", pid); err == nil {
					row.Patient = finderRowOf(v.Locale, ws.Gate.Mask(ctx, p.Resource), p.ID, now)
					touched = append(touched, access.TouchedVersion(p))
				} else if !fhir.IsKind(err, fhir.KindNotFound) && !fhir.IsKind(err, fhir.KindForbidden) {
					return nil, err
				}
			}
			data.Rows = append(data.Rows, row)
		}
		return touched, nil
	})
	if err != nil {
		return err
	}
	ws.render(w, status, "critical", v)
	return nil
}

// hiddenOverdue counts the overdue reviews the user may not act on: of
// patients they may not see (a Consent, a role limited to some patients),
// or whose result they may not see (a Consent about Observations). The
// EMR passed them on, and a covering clinician must know that some wait
// where they cannot look. Only the number is told, never whose they are,
// and only to staff (a patient is told nothing of others).
func (ws *Workspace) hiddenOverdue(ctx context.Context, st store.Store) (int64, error) {
	if p := access.PrincipalFrom(ctx); p == nil || p.Patient != "" {
		return 0, nil
	}
	reviews := &critical.Reviews{Definitions: ws.Definitions}
	all, err := reviews.Overdue(ctx, ws.Store)
	if err != nil || all == 0 {
		return 0, err
	}
	q, err := search.Parse(ws.Definitions, "Task", url.Values{"code": {critical.TaskSystem + "|" + critical.TaskCode},
		"status": {critical.OpenStatuses}, "business-status": {critical.BusinessStatusSystem + "|" + critical.OverdueCode},
		"_count": {strconv.Itoa(hiddenCheckLimit)}, "_total": {"accurate"}}, search.ParseOptions{})
	if err != nil {
		return 0, err
	}
	res, err := st.Search(ctx, q)
	if err != nil {
		return 0, err
	}
	// Tasks the user may not see, by count; of those they may, the
	// first hiddenCheckLimit are looked at for a result withheld.
	hidden := all - res.Total
	for _, t := range res.Matches {
		obs, err := ws.focusOf(ctx, st, t.Resource)
		if err != nil {
			return 0, err
		}
		if obs == nil && !ws.gone(ctx, t.Resource) {
			hidden++
		}
	}
	return max(hidden, 0), nil
}

// hiddenCheckLimit bounds the overdue reviews whose result hiddenOverdue
// reads: the count never says more are hidden than are.
const hiddenCheckLimit = 100

// gone reports whether the result review task asks about no longer
// exists for anyone (deleted): such a review is not hidden from the user.
func (ws *Workspace) gone(ctx context.Context, task fhir.Resource) bool {
	id, _, _ := strings.Cut(strings.TrimPrefix(str(asMap(task["focus"]), "reference"), "Observation/"), "/")
	_, err := ws.Store.Read(ctx, "Observation", id)
	return fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone)
}

// criticalBadge is the layout's count of the open reviews the signed-in
// practitioner answers for: of the tests they ordered, and passed to
// them, their teams or their roles. It is a number, no patient's data,
// so reading it is not audited; the gate's limits apply as for the list.
// A failure leaves the count out, and is logged.
func (ws *Workspace) criticalBadge(r *http.Request, l *Locale) string {
	ctx := r.Context()
	p := access.PrincipalFrom(ctx)
	if p == nil || !strings.HasPrefix(p.FHIRUser, "Practitioner/") {
		return ""
	}
	st := ws.Gate.Guard(ctx, ws.Store)
	refs, _, err := ws.performerRefs(ctx, st, p.FHIRUser)
	seen := map[string]bool{}
	overdue := 0
	for _, by := range [][2]string{{"owner", p.FHIRUser}, {"requestedperformer-reference", strings.Join(refs, ",")}} {
		if err != nil {
			break
		}
		var q *search.Query
		q, err = search.Parse(ws.Definitions, "Task", url.Values{"code": {critical.TaskSystem + "|" + critical.TaskCode},
			"status": {critical.OpenStatuses}, by[0]: {by[1]}, "_count": {strconv.Itoa(badgeLimit)}}, search.ParseOptions{})
		if err != nil {
			break
		}
		var res *store.SearchResult
		if res, err = st.Search(ctx, q); err != nil {
			break
		}
		for _, t := range res.Matches {
			if !seen[t.ID] {
				seen[t.ID] = true
				if critical.IsOverdue(t.Resource) {
					overdue++
				}
			}
		}
	}
	if err != nil {
		if !fhir.IsKind(err, fhir.KindForbidden) {
			ws.Logger.Warn("counting the critical results a practitioner answers for", "user", p.User, "error", err)
		}
		return ""
	}
	if len(seen) == 0 {
		return ""
	}
	text := l.Count("critical.badge-yours", len(seen))
	if overdue > 0 {
		text += ", " + l.Count("critical.badge-overdue", overdue)
	}
	return text
}

// badgeLimit bounds what the badge counts per search ("100 for you" at
// most from each).
const badgeLimit = 100

// performerLimit bounds the teams and roles a practitioner's list looks
// in for the reviews passed to them.
const performerLimit = 100

// performerRefs lists who a review passed to practitioner me is passed
// to: me, the active CareTeams of no one patient me takes part in (on
// call, a ward) and me's active PractitionerRoles (those the user may
// see), with what was read.
func (ws *Workspace) performerRefs(ctx context.Context, st store.Store, me string) ([]string, []access.Touched, error) {
	refs := []string{me}
	var touched []access.Touched
	for _, s := range []struct {
		typ    string
		params url.Values
	}{
		// Teams of no one patient (on call, a ward): a patient's own
		// care team is not who reviews are passed to.
		{"CareTeam", url.Values{"participant": {me}, "status": {"active"}, "patient:missing": {"true"}}},
		{"PractitionerRole", url.Values{"practitioner": {me}, "active": {"true"}}},
	} {
		s.params.Set("_count", strconv.Itoa(performerLimit))
		q, err := search.Parse(ws.Definitions, s.typ, s.params, search.ParseOptions{})
		if err != nil {
			return nil, nil, err
		}
		res, err := st.Search(ctx, q)
		if fhir.IsKind(err, fhir.KindForbidden) {
			continue // a role that may not read them: no one passed to them is shown
		}
		if err != nil {
			return nil, nil, err
		}
		for _, v := range res.Matches {
			refs = append(refs, v.Type+"/"+v.ID)
			touched = append(touched, access.TouchedVersion(v))
		}
	}
	return refs, touched, nil
}

// focusOf reads the version of the result a review Task names (nil when
// it is gone or hidden from the user).
func (ws *Workspace) focusOf(ctx context.Context, st store.Store, task fhir.Resource) (*store.Version, error) {
	ref := str(asMap(task["focus"]), "reference")
	id, rest, _ := strings.Cut(strings.TrimPrefix(ref, "Observation/"), "/_history/")
	if id == "" || !strings.HasPrefix(ref, "Observation/") {
		return nil, nil
	}
	var v *store.Version
	var err error
	if n, perr := strconv.ParseInt(rest, 10, 64); perr == nil {
		v, err = st.VRead(ctx, "Observation", id, n)
	} else {
		v, err = st.Read(ctx, "Observation", id)
	}
	switch {
	case err == nil:
		return v, nil
	case fhir.IsKind(err, fhir.KindNotFound), fhir.IsKind(err, fhir.KindGone), fhir.IsKind(err, fhir.KindForbidden):
		return nil, nil
	}
	return nil, err
}

// escalationSteps bounds the versions an acknowledgment from an older page
// is checked across.
const escalationSteps = 20

// onlyEscalatedSince reports whether every version of review id after
// the one shown to the user, up to cur, differs from the one before only
// by an escalation: every step, not only the ends, so that a review done
// and reopened in between (its content restored) is not taken.
func (ws *Workspace) onlyEscalatedSince(ctx context.Context, id string, shown int64, cur *store.Version) (bool, error) {
	if shown < 1 || shown > cur.VersionID || cur.VersionID-shown > escalationSteps {
		return false, nil
	}
	prev, err := ws.Store.VRead(ctx, "Task", id, shown)
	for n := shown + 1; err == nil && n <= cur.VersionID; n++ {
		next := cur
		if n < cur.VersionID {
			if next, err = ws.Store.VRead(ctx, "Task", id, n); err != nil {
				break
			}
		}
		if !critical.OnlyEscalated(prev.Resource, next.Resource) {
			return false, nil
		}
		prev = next
	}
	switch {
	case fhir.IsKind(err, fhir.KindNotFound), fhir.IsKind(err, fhir.KindGone):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// acknowledgeCritical is POST /results/critical/{task}: the review is
// done, by the signed-in user, now, with what they did (optional). A
// review acknowledged meanwhile by someone else is not done twice.
func (ws *Workspace) acknowledgeCritical(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("task")
	l := LocaleFor(r)
	r.ParseForm()
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	note := strings.TrimSpace(r.PostFormValue("note"))
	if len(note) > 1000 {
		return ws.criticalPage(w, r, http.StatusBadRequest, &criticalData{Error: l.T("critical.note-too-long")})
	}
	now := ws.now().UTC()
	err := ws.write(r, "update", "Task", func(tx store.Tx) ([]access.Touched, error) {
		cur, err := tx.Read("Task", id)
		if err != nil {
			return nil, err
		}
		t := cur.Resource
		if !critical.IsReview(t) {
			return nil, fhir.Errorf(fhir.KindNotFound, "Task/%s is not the review of a critical result", id)
		}
		// A review changed since the page was shown is still
		// acknowledged when it is open and only an escalation changed
		// it (marked it overdue, passed it on); a corrected result, a
		// review someone else did or reopened, is not.
		if !critical.Open(t) {
			return nil, fhir.Errorf(fhir.KindConflict, "the review changed meanwhile")
		}
		if cur.VersionID != version {
			ok, err := ws.onlyEscalatedSince(r.Context(), id, version, cur)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fhir.Errorf(fhir.KindConflict, "the review changed meanwhile")
			}
		}
		t["status"] = "completed"
		t["lastModified"] = now.Format(time.RFC3339)
		t["executionPeriod"] = map[string]any{"end": now.Format(time.RFC3339)}
		t["performer"] = []any{map[string]any{"actor": principalActor(r)}}
		if note != "" {
			t["note"] = append(asList(t["note"]), map[string]any{"text": note, "time": now.Format(time.RFC3339)})
		}
		v, _, err := tx.Update(t, cur.VersionID)
		if err != nil {
			return nil, err
		}
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	switch {
	case fhir.IsKind(err, fhir.KindConflict), fhir.IsKind(err, fhir.KindPreconditionFailed):
		return ws.criticalPage(w, r, http.StatusConflict, &criticalData{Error: l.T("critical.changed")})
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/results/critical?acknowledged="+url.QueryEscape(id), http.StatusSeeOther)
	return nil
}
