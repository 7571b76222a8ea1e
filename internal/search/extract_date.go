package search

import (
	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// addDate indexes a date, dateTime or instant as the range its precision
// covers, a Period as [start, end) with open ends at MinDate/MaxDate, and a
// Timing as the span of its events and repeat bounds.
func (ex *extraction) addDate(param string, n fhirpath.Node) {
	m, ok := n.Value.(map[string]any)
	if !ok {
		if s, ok := primitiveString(n); ok {
			if lo, hi, err := DateRange(s); err == nil {
				ex.putDate(param, lo, hi)
			}
		}
		return
	}
	switch n.Type {
	case "Period":
		if lo, hi, ok := periodRange(m); ok {
			ex.putDate(param, lo, hi)
		}
	case "Timing":
		if lo, hi, ok := timingRange(m); ok {
			ex.putDate(param, lo, hi)
		}
	}
}

func (ex *extraction) putDate(param string, lo, hi int64) {
	ex.out = append(ex.out, Entry{Param: param, Kind: KindDate, DateLow: lo, DateHigh: hi})
}

// periodRange returns [start's low, end's high); an absent end is open.
// A Period with neither is not indexed.
func periodRange(p map[string]any) (lo, hi int64, ok bool) {
	lo, hi = MinDate, MaxDate
	if s := str(p, "start"); s != "" {
		if l, _, err := DateRange(s); err == nil {
			lo, ok = l, true
		}
	}
	if s := str(p, "end"); s != "" {
		if _, h, err := DateRange(s); err == nil {
			hi, ok = h, true
		}
	}
	return lo, hi, ok
}

// timingRange spans the events of a Timing and its repeat.boundsPeriod.
func timingRange(t map[string]any) (lo, hi int64, ok bool) {
	lo, hi = MaxDate, MinDate
	widen := func(l, h int64) {
		lo, hi, ok = min(lo, l), max(hi, h), true
	}
	for _, e := range list(t, "event") {
		if s, isStr := e.(string); isStr {
			if l, h, err := DateRange(s); err == nil {
				widen(l, h)
			}
		}
	}
	if b := obj(obj(t, "repeat"), "boundsPeriod"); b != nil {
		if l, h, okb := periodRange(b); okb {
			widen(l, h)
		}
	}
	return lo, hi, ok
}
