package web

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// A trend is a server-rendered SVG line chart: time on the x axis to
// scale (a gap of three years looks like one), the reference range as a
// band, each point labelled (an SVG title, shown on hover and read by
// screen readers), and the same values in a table beside it for screen
// readers and print. No script draws it.

// trendSeries are the named series a code parameter may ask for besides
// any system|code: blood pressure is two series from the panels'
// components; eGFR is whichever of its LOINC codes the laboratory used.
var trendSeries = map[string][]seriesSpec{
	"bp": {{key: "vital.systolic", panel: []string{loinc + "|85354-9", loinc + "|55284-4"}, component: "8480-6"},
		{key: "vital.diastolic", panel: []string{loinc + "|85354-9", loinc + "|55284-4"}, component: "8462-4"}},
	"egfr":  {{key: "trend.egfr", codes: []string{loinc + "|33914-3", loinc + "|62238-1", loinc + "|98979-8", loinc + "|48642-3", loinc + "|48643-1", loinc + "|50044-7", loinc + "|88293-6", loinc + "|88294-4"}}},
	"hba1c": {{key: "trend.hba1c", codes: []string{loinc + "|4548-4", loinc + "|17856-6"}}},
}

// seriesSpec is one series: observations with one of codes, or the
// component coded component of panels.
type seriesSpec struct {
	key       string
	codes     []string
	panel     []string
	component string
}

type trendPoint struct {
	at    time.Time
	value float64
	Date  string // 09-Mar-2020 14:05
	Value string // 120 mmHg
	Flag  string
}

type trendSeriesData struct {
	Name   string
	Points []trendPoint
}

type trendData struct {
	Hidden bool // the user's role may not see observations
	Name   string
	Code   string
	Series []trendSeriesData
	Range  string
	SVG    template.HTML
	// Rows are the table beside the chart: one per time, a value per series.
	Rows []trendRow
}

type trendRow struct {
	Date   string
	Values []string
}

// trend is GET /patients/{id}/trend?code=system|code (or bp, egfr,
// hba1c; several codes separated by commas are one analyte).
func (ws *Workspace) trend(w http.ResponseWriter, r *http.Request) error {
	code := strings.TrimSpace(r.URL.Query().Get("code"))
	if code == "" {
		return fhir.Errorf(fhir.KindInvalid, "%s", LocaleFor(r).T("trend.error-code"))
	}
	specs := trendSeries[code]
	if specs == nil {
		specs = []seriesSpec{{codes: strings.Split(code, ",")}}
	}
	return ws.patientPage(w, r, "trend", "trend.title", func(p *patientRead, v *view) error {
		l := v.Locale
		data := &trendData{Code: code, Hidden: p.hidden("Observation")}
		var low, high *float64
		unit := ""
		// Series from the same observations (blood pressure's two) read
		// them once.
		read := map[string][]*store.Version{}
		for _, sp := range specs {
			codes := sp.codes
			if sp.panel != nil {
				codes = sp.panel
			}
			key := strings.Join(codes, ",")
			found, ok := read[key]
			if !ok {
				var err error
				if found, err = p.search("Observation", url.Values{"code": {key}, "_sort": {"date"}, "_count": {"1000"}}); err != nil {
					return err
				}
				read[key] = found
			}
			s := trendSeriesData{Name: l.T(sp.key)}
			for _, o := range found {
				res := o.Resource
				q, _ := res["valueQuantity"].(map[string]any)
				if sp.component != "" {
					q = componentQuantity(res, sp.component)
				}
				value, ok := numberOf(q["value"])
				at, okt := fhirTime(effectiveOf(res))
				if !ok || !okt {
					continue
				}
				if sp.key == "" && data.Name == "" {
					data.Name = conceptText(res["code"])
				}
				unit = unitOf(q)
				pt := trendPoint{at: at, value: value, Date: l.dateTimeText(effectiveOf(res)), Value: l.quantityText(q)}
				if sp.component == "" {
					lo, hi, _ := referenceRange(res)
					pt.Flag = flagOf(res, lo, hi)
					if x, ok := numberOf(lo["value"]); ok && lo != nil {
						low = &x
					}
					if x, ok := numberOf(hi["value"]); ok && hi != nil {
						high = &x
					}
				}
				s.Points = append(s.Points, pt)
			}
			if s.Name == "" {
				s.Name = data.Name
			}
			data.Series = append(data.Series, s)
		}
		if data.Name == "" {
			data.Name = data.Series[0].Name
			if code == "bp" {
				data.Name = l.T("vital.bp")
			}
		}
		if data.Name == "" {
			data.Name = code
		}
		if low != nil && high != nil {
			data.Range = fmt.Sprintf("%s–%s %s", l.Decimal(trimFloat(*low)), l.Decimal(trimFloat(*high)), unit)
		}
		data.SVG = trendSVG(l, data, low, high, unit)
		data.Rows = trendTable(data.Series)
		v.Title = data.Name + " · " + v.Banner.Name
		v.Data = data
		return nil
	})
}

func trimFloat(f float64) string { s, _ := numberText(f); return s }

// trendTable puts the series side by side, newest first: one row per
// time at which any series has a value.
func trendTable(series []trendSeriesData) []trendRow {
	index := map[time.Time]int{}
	var rows []trendRow
	var times []time.Time
	for si, s := range series {
		for _, p := range s.Points {
			i, ok := index[p.at]
			if !ok {
				i = len(rows)
				index[p.at] = i
				rows = append(rows, trendRow{Date: p.Date, Values: make([]string, len(series))})
				times = append(times, p.at)
			}
			v := p.Value
			if p.Flag != "" {
				v += " " + p.Flag
			}
			rows[i].Values[si] = v
		}
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return times[order[a]].After(times[order[b]]) })
	out := make([]trendRow, len(rows))
	for i, o := range order {
		out[i] = rows[o]
	}
	return out
}

// The chart's geometry, in SVG user units (it scales to the page width).
const (
	svgW, svgH                           = 640, 260
	padLeft, padRight, padTop, padBottom = 56, 16, 12, 48
)

// trendSVG draws the series: x to scale in time, y from the values and
// the reference band, with a few labelled ticks on each axis.
func trendSVG(l *Locale, d *trendData, low, high *float64, unit string) template.HTML {
	var first, last time.Time
	minV, maxV := math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range d.Series {
		for _, p := range s.Points {
			if n == 0 || p.at.Before(first) {
				first = p.at
			}
			if n == 0 || p.at.After(last) {
				last = p.at
			}
			minV, maxV = math.Min(minV, p.value), math.Max(maxV, p.value)
			n++
		}
	}
	if n == 0 {
		return ""
	}
	if low != nil {
		minV = math.Min(minV, *low)
	}
	if high != nil {
		maxV = math.Max(maxV, *high)
	}
	pad := (maxV - minV) * 0.1
	if pad == 0 {
		pad = math.Max(math.Abs(maxV)*0.1, 1)
	}
	minV, maxV = minV-pad, maxV+pad
	span := last.Sub(first)
	if span == 0 {
		first, last = first.Add(-24*time.Hour), last.Add(24*time.Hour)
		span = last.Sub(first)
	}
	plotW, plotH := float64(svgW-padLeft-padRight), float64(svgH-padTop-padBottom)
	x := func(t time.Time) float64 { return padLeft + plotW*float64(t.Sub(first))/float64(span) }
	y := func(v float64) float64 { return padTop + plotH*(maxV-v)/(maxV-minV) }

	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="trend" viewBox="0 0 %d %d" role="img" aria-labelledby="trend-title" xmlns="http://www.w3.org/2000/svg">`, svgW, svgH)
	fmt.Fprintf(&b, `<title id="trend-title">%s</title>`, esc(l.T("trend.svg-title", d.Name)))
	if low != nil && high != nil {
		fmt.Fprintf(&b, `<rect class="band" x="%d" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
			padLeft, y(*high), plotW, y(*low)-y(*high), esc(l.T("trend.range", d.Range)))
	}
	// Axes and ticks: the values at the bottom, middle and top; the times
	// at the start, the end and each year (or month) between.
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, padTop, padLeft, svgH-padBottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padLeft, svgH-padBottom, svgW-padRight, svgH-padBottom)
	for _, v := range valueTicks(minV+pad, maxV-pad, low, high) {
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y(v)+4, esc(l.Decimal(trimFloat(roundTo(v)))))
	}
	if unit != "" {
		fmt.Fprintf(&b, `<text class="tick" x="4" y="%d">%s</text>`, padTop+4, esc(unit))
	}
	for _, t := range timeTicks(first, last) {
		label := l.Date(t.Format("2006-01-02"))
		if span > 3*365*24*time.Hour {
			label = l.Date(t.Format("2006"))
		} else if span > 60*24*time.Hour {
			label = l.Date(t.Format("2006-01"))
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x(t), padTop, x(t), svgH-padBottom)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(t), svgH-padBottom+16, esc(label))
	}
	if len(d.Series) > 1 { // a legend says which line is which, besides colour: solid and dashed
		for si, s := range d.Series {
			lx := padLeft + 12 + si*140
			fmt.Fprintf(&b, `<line class="series s%d" x1="%d" y1="%d" x2="%d" y2="%d"/><text class="legend" x="%d" y="%d">%s</text>`,
				si, lx, svgH-8, lx+24, svgH-8, lx+30, svgH-4, esc(s.Name))
		}
	}
	for si, s := range d.Series {
		if len(s.Points) == 0 {
			continue
		}
		pts := make([]string, len(s.Points))
		for i, p := range s.Points {
			pts[i] = fmt.Sprintf("%.1f,%.1f", x(p.at), y(p.value))
		}
		fmt.Fprintf(&b, `<polyline class="series s%d" points="%s"/>`, si, strings.Join(pts, " "))
		for _, p := range s.Points {
			label := s.Name + ": " + p.Date + " " + p.Value
			if p.Flag != "" {
				label += " " + p.Flag
			}
			fmt.Fprintf(&b, `<circle class="point s%d" cx="%.1f" cy="%.1f" r="4"><title>%s</title></circle>`, si, x(p.at), y(p.value), esc(label))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it is escaped above
}

// valueTicks are the values labelled on the y axis: the lowest and
// highest values and the reference range's limits, leaving out those too
// close to another to be read.
func valueTicks(lowest, highest float64, low, high *float64) []float64 {
	ticks := []float64{lowest, highest}
	if low != nil {
		ticks = append(ticks, *low)
	}
	if high != nil {
		ticks = append(ticks, *high)
	}
	sort.Float64s(ticks)
	minGap := (highest - lowest) * 0.08
	var out []float64
	for _, t := range ticks {
		if len(out) > 0 && t-out[len(out)-1] <= minGap {
			continue
		}
		out = append(out, t)
	}
	return out
}

func roundTo(v float64) float64 {
	switch a := math.Abs(v); {
	case a >= 100:
		return math.Round(v)
	case a >= 10:
		return math.Round(v*10) / 10
	}
	return math.Round(v*100) / 100
}

// timeTicks are the first and last times and, between them, the starts
// of the years (or months, or days) the span crosses, at most about ten.
func timeTicks(first, last time.Time) []time.Time {
	span := last.Sub(first)
	var step func(time.Time) time.Time
	var start time.Time
	switch {
	case span > 3*365*24*time.Hour:
		years := int(span.Hours()/(24*365))/8 + 1
		start = time.Date(first.Year()+1, 1, 1, 0, 0, 0, 0, first.Location())
		step = func(t time.Time) time.Time { return t.AddDate(years, 0, 0) }
	case span > 60*24*time.Hour:
		months := int(span.Hours()/(24*30))/8 + 1
		start = time.Date(first.Year(), first.Month()+1, 1, 0, 0, 0, 0, first.Location())
		step = func(t time.Time) time.Time { return t.AddDate(0, months, 0) }
	default:
		days := int(span.Hours()/24)/8 + 1
		start = time.Date(first.Year(), first.Month(), first.Day()+1, 0, 0, 0, 0, first.Location())
		step = func(t time.Time) time.Time { return t.AddDate(0, 0, days) }
	}
	var ticks []time.Time
	for t := start; t.Before(last) && len(ticks) < 12; t = step(t) {
		ticks = append(ticks, t)
	}
	return ticks
}
