package web

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/store"
)

// The timeline: the patient's encounters and notes (DocumentReference,
// Composition), newest first, filtered by kind and date range with a
// plain GET form, a page at a time.

// timelineKinds are the kinds of entry, as the filter's values.
var timelineKinds = []struct{ Kind, Type string }{
	{"encounter", "Encounter"},
	{"document", "DocumentReference"},
	{"composition", "Composition"},
}

const timelinePerPage = 25

type timelineEntry struct {
	When, Kind, Title, Detail, Link string
	at                              string
}

type timelineData struct {
	Kinds []struct {
		Kind, Name string
		Checked    bool
	}
	From, To string
	Error    string
	// Hidden names the kinds the user's role may not see.
	Hidden  string
	Entries []timelineEntry
	Page    int
	Pager   pager
}

// timeline is GET /patients/{id}/timeline?kind=encounter&from=2020-01-01&to=…&page=n.
func (ws *Workspace) timeline(w http.ResponseWriter, r *http.Request) error {
	return ws.patientPage(w, r, "timeline", "timeline.title", func(p *patientRead, v *view) error {
		l := v.Locale
		q := r.URL.Query()
		data := &timelineData{From: q.Get("from"), To: q.Get("to")}
		page, _ := strconv.Atoi(q.Get("page"))
		data.Page = max(page, 1)
		chosen := map[string]bool{}
		for _, k := range q["kind"] {
			chosen[k] = true
		}
		dates := []string{}
		for _, d := range []struct{ value, prefix string }{{data.From, "ge"}, {data.To, "le"}} {
			if d.value == "" {
				continue
			}
			day := parseWrittenDate(strings.TrimSpace(d.value))
			if day == "" {
				data.Error = l.T("timeline.error-date")
				continue
			}
			dates = append(dates, d.prefix+day)
		}
		var all []timelineEntry
		var versions []*store.Version
		need := data.Page*timelinePerPage + 1
		for _, k := range timelineKinds {
			data.Kinds = append(data.Kinds, struct {
				Kind, Name string
				Checked    bool
			}{k.Kind, l.T("timeline.kind-" + k.Kind), chosen[k.Kind]})
			if len(chosen) > 0 && !chosen[k.Kind] {
				continue
			}
			if p.hidden(k.Type) {
				if data.Hidden != "" {
					data.Hidden += ", "
				}
				data.Hidden += l.T("timeline.kind-" + k.Kind)
				continue
			}
			params := url.Values{"_sort": {"-date"}, "_count": {strconv.Itoa(need)}}
			if len(dates) > 0 {
				params["date"] = dates
			}
			found, err := p.find(k.Type, params)
			if err != nil {
				return err
			}
			for _, f := range found {
				all = append(all, l.timelineEntryOf(p.id, k.Kind, f))
				versions = append(versions, f)
			}
		}
		order := make([]int, len(all))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return all[order[a]].at > all[order[b]].at })
		from := min((data.Page-1)*timelinePerPage, len(order))
		to := min(from+timelinePerPage, len(order))
		for _, i := range order[from:to] {
			data.Entries = append(data.Entries, all[i])
			p.touch(versions[i])
		}
		link := func(page int) string {
			q := r.URL.Query()
			q.Set("page", strconv.Itoa(page))
			return "/patients/" + url.PathEscape(p.id) + "/timeline?" + q.Encode()
		}
		data.Pager.V = v
		if data.Page > 1 {
			data.Pager.Prev = link(data.Page - 1)
		}
		if to < len(order) {
			data.Pager.Next = link(data.Page + 1)
		}
		v.Data = data
		return nil
	})
}

func (l *Locale) timelineEntryOf(patient, kind string, v *store.Version) timelineEntry {
	res := v.Resource
	at := effectiveOf(res)
	e := timelineEntry{When: l.dateTimeText(at), at: normalTime(at), Kind: l.T("timeline.entry-" + kind)}
	switch kind {
	case "encounter":
		types := asList(res["type"])
		if len(types) > 0 {
			e.Title = conceptText(types[0])
		}
		if e.Title == "" {
			e.Title = conceptText(res["class"])
			if cls := asList(res["class"]); len(cls) > 0 {
				e.Title = conceptText(cls[0])
			}
		}
		if reasons := asList(res["reason"]); len(reasons) > 0 {
			r, _ := reasons[0].(map[string]any)
			if uses := asList(r["value"]); len(uses) > 0 {
				e.Detail = conceptText(uses[0])
			}
		}
	case "document":
		row := l.documentRowOf(v)
		e.Title, e.Detail = row.Title, row.Author
		e.Link = "/patients/" + url.PathEscape(patient) + "/documents/" + url.PathEscape(v.ID)
	case "composition":
		e.Title = str(res, "title")
		if e.Title == "" {
			e.Title = conceptText(res["type"])
		}
		e.Detail = l.T("note.status-" + str(res, "status"))
		e.Link = notePath(patient, v.ID)
	}
	if kind == "encounter" {
		e.Link = visitPath(patient, v.ID)
	}
	if e.Title == "" {
		e.Title = l.T("value.unknown")
	}
	return e
}

// normalTime makes FHIR dateTimes of any zone and precision compare as
// strings (UTC, RFC 3339).
func normalTime(s string) string {
	if t, ok := fhirTime(s); ok {
		return t.UTC().Format(time.RFC3339)
	}
	return s
}
