package web

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/store"
)

// resultRow is one result as every list shows it: value, unit, reference
// range and flag side by side, and the link to its trend.
type resultRow struct {
	Name, Value, Range, When string
	// Flag is H, L, HH, LL, critical, A or "" (normal or not known);
	// FlagText says it in words (for the title and screen readers);
	// FlagClass colours it (high, low, critical).
	Flag, FlagText, FlagClass string
	Trend                     string
}

// resultRowOf reads an Observation as a result row.
func (l *Locale) resultRowOf(v *store.Version) resultRow {
	o := v.Resource
	row := resultRow{Name: conceptText(o["code"]), Value: l.observationValue(o), When: l.dateTimeText(effectiveOf(o))}
	if row.Value == "" {
		row.Value = l.T("value.unknown")
	}
	low, high, text := referenceRange(o)
	switch {
	case text != "":
		row.Range = text
	case low != nil && high != nil:
		row.Range = l.rangeNumber(low) + "–" + l.quantityText(high)
	case low != nil:
		row.Range = "≥ " + l.quantityText(low)
	case high != nil:
		row.Range = "≤ " + l.quantityText(high)
	}
	row.Flag = flagOf(o, low, high)
	if row.Flag != "" {
		row.FlagText = l.T("flag." + row.Flag)
		switch row.Flag {
		case "H":
			row.FlagClass = "high"
		case "L":
			row.FlagClass = "low"
		default:
			row.FlagClass = "critical"
		}
	}
	if c := firstCoding(o["code"]); c != "" {
		row.Trend = trendCode(c)
	}
	return row
}

// trendCode is the trend of an analyte: a named series (egfr, hba1c)
// when the code is one of its codes, so that a change of laboratory
// method stays on one chart.
func trendCode(code string) string {
	for name, specs := range trendSeries {
		for _, sp := range specs {
			for _, c := range sp.codes {
				if c == code {
					return name
				}
			}
		}
	}
	return code
}

func (l *Locale) rangeNumber(q map[string]any) string {
	n, _ := numberText(q["value"])
	return l.Decimal(n)
}

// referenceRange is an observation's first reference range: its low and
// high quantities, or its text.
func referenceRange(o map[string]any) (low, high map[string]any, text string) {
	ranges, _ := o["referenceRange"].([]any)
	if len(ranges) == 0 {
		return nil, nil, ""
	}
	rr, _ := ranges[0].(map[string]any)
	low, _ = rr["low"].(map[string]any)
	high, _ = rr["high"].(map[string]any)
	if low == nil && high == nil {
		text = str(rr, "text")
	}
	return low, high, text
}

// interpretationFlags are the v3 ObservationInterpretation codes the
// chart flags, as shown.
var interpretationFlags = map[string]string{
	"H": "H", "HU": "H", "L": "L", "LU": "L", "HH": "HH", "LL": "LL",
	"AA": "critical", "A": "A", "POS": "A", "DET": "A", "R": "A",
}

// flagOf is the flag of an observation: its interpretation where it has
// one, else computed from the value and the reference range.
func flagOf(o map[string]any, low, high map[string]any) string {
	interps, _ := o["interpretation"].([]any)
	for _, x := range interps {
		cc, _ := x.(map[string]any)
		codings, _ := cc["coding"].([]any)
		for _, c := range codings {
			if f, ok := interpretationFlags[str(c.(map[string]any), "code")]; ok {
				return f
			}
		}
		if len(codings) > 0 {
			return "" // N, or a code the chart does not flag
		}
	}
	q, _ := o["valueQuantity"].(map[string]any)
	value, ok := numberOf(q["value"])
	if !ok {
		return ""
	}
	if h, ok := numberOf(high["value"]); ok && high != nil && value > h {
		return "H"
	}
	if lo, ok := numberOf(low["value"]); ok && low != nil && value < lo {
		return "L"
	}
	return ""
}

// firstCoding is "system|code" of a CodeableConcept's first coding.
func firstCoding(v any) string {
	cc, _ := v.(map[string]any)
	codings, _ := cc["coding"].([]any)
	for _, x := range codings {
		c, _ := x.(map[string]any)
		if code := str(c, "code"); code != "" {
			if sys := str(c, "system"); sys != "" {
				return sys + "|" + code
			}
			return code
		}
	}
	return ""
}

// resultGroup is a panel (a DiagnosticReport and its results) or the
// loose laboratory results of one day.
type resultGroup struct {
	Title, When, Status string
	Rows                []resultRow
	Table               resultTable
	sortKey             string
}

// resultTable is what the result-table template shows: rows, and the
// page's view for its words and patient.
type resultTable struct {
	V    *view
	Rows []resultRow
}

// pager is the pager template's links to newer and older pages.
type pager struct {
	V          *view
	Prev, Next string
}

type resultsData struct {
	Hidden bool // the user's role may not see results
	Groups []resultGroup
	Page   int
	Pager  pager
}

// resultsPerPage is how many panels a page of results shows.
const resultsPerPage = 20

// results is GET /patients/{id}/results?page=n: the laboratory results,
// newest first, grouped by panel, with flags and links to trends.
func (ws *Workspace) results(w http.ResponseWriter, r *http.Request) error {
	return ws.patientPage(w, r, "results", "results.title", func(p *patientRead, v *view) error {
		l := v.Locale
		reports, err := p.find("DiagnosticReport", url.Values{"_sort": {"-date"}, "_count": {"1000"}})
		if err != nil {
			return err
		}
		observations, err := p.find("Observation", url.Values{"category": {"laboratory"}, "_sort": {"-date"}, "_count": {"1000"}})
		if err != nil {
			return err
		}
		byRef := map[string]*store.Version{}
		for _, o := range observations {
			byRef["Observation/"+o.ID] = o
		}
		type group struct {
			resultGroup
			shown []*store.Version
		}
		var groups []group
		inPanel := map[string]bool{}
		for _, rep := range reports {
			g := group{resultGroup: resultGroup{Title: conceptText(rep.Resource["code"]), When: l.dateTimeText(effectiveOf(rep.Resource)),
				Status: str(rep.Resource, "status"), sortKey: normalTime(effectiveOf(rep.Resource))}}
			g.shown = append(g.shown, rep)
			for _, x := range asList(rep.Resource["result"]) {
				ref := str(x.(map[string]any), "reference")
				o := byRef[ref]
				if o == nil {
					typ, id, _ := strings.Cut(ref, "/")
					if typ != "Observation" {
						continue
					}
					if o, err = p.st.Read(p.ctx, typ, id); err != nil {
						continue // not visible to the user, or gone
					}
				}
				inPanel[ref] = true
				g.Rows = append(g.Rows, l.resultRowOf(o))
				g.shown = append(g.shown, o)
			}
			groups = append(groups, g)
		}
		byDay := map[string]int{}
		for _, o := range observations {
			if inPanel["Observation/"+o.ID] {
				continue
			}
			when := effectiveOf(o.Resource)
			day := when
			if len(day) > 10 {
				day = day[:10]
			}
			i, ok := byDay[day]
			if !ok {
				i = len(groups)
				byDay[day] = i
				groups = append(groups, group{resultGroup: resultGroup{Title: l.T("results.loose"), When: l.Date(day), sortKey: normalTime(when)}})
			}
			groups[i].Rows = append(groups[i].Rows, l.resultRowOf(o))
			groups[i].shown = append(groups[i].shown, o)
		}
		sort.SliceStable(groups, func(i, j int) bool { return groups[i].sortKey > groups[j].sortKey })
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		data := &resultsData{Page: page, Hidden: p.hidden("Observation")}
		from := min((page-1)*resultsPerPage, len(groups))
		to := min(from+resultsPerPage, len(groups))
		for _, g := range groups[from:to] {
			g.Table = resultTable{V: v, Rows: g.Rows}
			data.Groups = append(data.Groups, g.resultGroup)
			p.touch(g.shown...)
		}
		base := "/patients/" + url.PathEscape(p.id) + "/results?page="
		data.Pager.V = v
		if page > 1 {
			data.Pager.Prev = base + strconv.Itoa(page-1)
		}
		if to < len(groups) {
			data.Pager.Next = base + strconv.Itoa(page+1)
		}
		v.Data = data
		return nil
	})
}
