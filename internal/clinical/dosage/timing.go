package dosage

import (
	"fmt"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
)

// timingCodes are the Timing.code abbreviations (HL7
// v3-GTSAbbreviation) read as the repeat they stand for, for a Timing
// that has a code and no repeat.
var timingCodes = map[string]map[string]any{
	"QD":  {"frequency": 1, "period": 1, "periodUnit": "d"},
	"BID": {"frequency": 2, "period": 1, "periodUnit": "d"},
	"TID": {"frequency": 3, "period": 1, "periodUnit": "d"},
	"QID": {"frequency": 4, "period": 1, "periodUnit": "d"},
	"QOD": {"frequency": 1, "period": 2, "periodUnit": "d"},
	"AM":  {"frequency": 1, "period": 1, "periodUnit": "d", "when": []any{"MORN"}},
	"PM":  {"frequency": 1, "period": 1, "periodUnit": "d", "when": []any{"AFT"}},
	"BED": {"frequency": 1, "period": 1, "periodUnit": "d", "when": []any{"HS"}},
	"Q1H": {"frequency": 1, "period": 1, "periodUnit": "h"},
	"Q2H": {"frequency": 1, "period": 2, "periodUnit": "h"},
	"Q3H": {"frequency": 1, "period": 3, "periodUnit": "h"},
	"Q4H": {"frequency": 1, "period": 4, "periodUnit": "h"},
	"Q6H": {"frequency": 1, "period": 6, "periodUnit": "h"},
	"Q8H": {"frequency": 1, "period": 8, "periodUnit": "h"},
	"WK":  {"frequency": 1, "period": 1, "periodUnit": "wk"},
	"MO":  {"frequency": 1, "period": 1, "periodUnit": "mo"},
}

var weekdays = map[string]bool{"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true}

// repeatOf returns the Timing's repeat, or the repeat its code stands for.
func repeatOf(timing map[string]any) map[string]any {
	if r := datatype.Obj(timing["repeat"]); r != nil {
		return r
	}
	for _, c := range datatype.Codings(timing["code"]) {
		if r, ok := timingCodes[strings.ToUpper(c.Code)]; ok {
			return r
		}
	}
	return nil
}

// repeatNumbers are the numeric elements of a repeat, validated.
type repeatNumbers struct {
	frequency, frequencyMax, period, periodMax float64
	count                                      float64
}

func readRepeat(r map[string]any) (n repeatNumbers, unit string, err error) {
	get := func(key string, integer bool) (float64, error) {
		v, present := r[key]
		if !present {
			return 0, nil
		}
		f, ok := datatype.Number(v)
		if !ok || f <= 0 || (integer && !isWhole(f)) {
			kind := "a number above zero"
			if integer {
				kind = "a whole number above zero"
			}
			return 0, invalid("Dosage.timing.repeat."+key, "timing.repeat.%s must be %s", key, kind)
		}
		return f, nil
	}
	for _, f := range []struct {
		key     string
		dst     *float64
		integer bool
	}{{"frequency", &n.frequency, true}, {"frequencyMax", &n.frequencyMax, true}, {"period", &n.period, false},
		{"periodMax", &n.periodMax, false}, {"count", &n.count, true}} {
		if *f.dst, err = get(f.key, f.integer); err != nil {
			return
		}
	}
	unit = datatype.Str(r, "periodUnit")
	if n.period > 0 {
		if _, ok := periodUnits[unit]; !ok {
			return n, "", invalid("Dosage.timing.repeat.periodUnit", "timing.repeat.periodUnit %q is not one of s, min, h, d, wk, mo, a", unit)
		}
	}
	if n.frequency == 0 && n.period > 0 {
		n.frequency = 1
	}
	return n, unit, nil
}

// timingPhrases reads a Timing: how often, on which days, at which times
// and events; then, apart, for how long.
func timingPhrases(timing map[string]any) (when, bounds []Message, err error) {
	if timing == nil {
		return nil, nil, nil
	}
	r := repeatOf(timing)
	if r == nil {
		if t := datatype.Text(timing["code"]); t != "" {
			return []Message{msg("text", t)}, nil, nil
		}
		return nil, nil, nil
	}
	n, unit, err := readRepeat(r)
	if err != nil {
		return nil, nil, err
	}
	events := datatype.List(r["when"])
	var out []Message
	if f := frequencyPhrase(n, unit, len(events)); f != nil {
		out = append(out, *f)
	}
	if len(events) > 0 {
		m, err := whenPhrase(events, r["offset"])
		if err != nil {
			return nil, nil, err
		}
		out = append(out, m)
	}
	var days []any
	for _, d := range datatype.List(r["dayOfWeek"]) {
		s, _ := d.(string)
		if !weekdays[s] {
			return nil, nil, invalid("Dosage.timing.repeat.dayOfWeek", "timing.repeat.dayOfWeek %v is not mon … sun", d)
		}
		days = append(days, msg("day."+s))
	}
	if len(days) > 0 {
		out = append(out, msg("days", list(days)))
	}
	var times []any
	for _, t := range datatype.List(r["timeOfDay"]) {
		s, _ := t.(string)
		if len(s) < 5 || s[2] != ':' {
			return nil, nil, invalid("Dosage.timing.repeat.timeOfDay", "timing.repeat.timeOfDay %v is not a time hh:mm:ss", t)
		}
		times = append(times, s[:5]) // 24-hour hh:mm, as the UI guide writes times
	}
	if len(times) > 0 {
		out = append(out, msg("times", list(times)))
	}
	if n.count > 0 && r["boundsDuration"] == nil {
		if n.count == 1 {
			out = append(out, msg("count.one"))
		} else {
			out = append(out, msg("count", datatype.FormatNumber(n.count)))
		}
	}
	bounds, err = boundsPhrase(r)
	if err != nil {
		return nil, nil, err
	}
	return out, bounds, nil
}

// frequencyPhrase says how often: "twice a day", "every 8 hours", "every
// other day", "3 times a week". With events ("at bedtime") and a
// frequency of one per event per day, the events say it all and it
// returns nil.
func frequencyPhrase(n repeatNumbers, unit string, events int) *Message {
	if n.period == 0 {
		return nil
	}
	f, p := datatype.FormatNumber(n.frequency), n.period
	var m Message
	switch {
	case unit == "d" && p == 1 && n.frequencyMax == 0 && events > 0 && (n.frequency == 1 || int(n.frequency) == events):
		return nil
	case n.frequency == 1 && n.frequencyMax == 0 && n.periodMax > 0:
		m = msg("freq.every.range", datatype.FormatNumber(p), datatype.FormatNumber(n.periodMax), msg("unit."+unit+".other"))
	case unit == "d" && p == 1 && n.frequencyMax > 0:
		m = msg("freq.range.day", f, datatype.FormatNumber(n.frequencyMax))
	case unit == "d" && p == 1:
		switch n.frequency {
		case 1:
			m = msg("freq.daily")
		case 2:
			m = msg("freq.twice")
		case 3:
			m = msg("freq.three")
		case 4:
			m = msg("freq.four")
		default:
			m = msg("freq.n.day", f)
		}
	case unit == "d" && p == 2 && n.frequency == 1:
		m = msg("freq.every.other")
	case n.frequency == 1 && (p != 1 || unit == "h" || unit == "min" || unit == "s"):
		if p == 1 {
			m = msg("freq.every.one", msg("unit."+unit+".one"))
		} else {
			m = msg("freq.every", datatype.FormatNumber(p), msg("unit."+unit+".other"))
		}
	case p == 1 && n.frequency == 1:
		m = msg("freq.once.per", msg("unit."+unit+".one"))
	case p == 1 && n.frequency == 2:
		m = msg("freq.twice.per", msg("unit."+unit+".one"))
	case p == 1:
		m = msg("freq.n.per", f, msg("unit."+unit+".one"))
	default:
		m = msg("freq.n.per.n", f, datatype.FormatNumber(p), msg("unit."+unit+".other"))
	}
	return &m
}

// whenPhrase reads the events, with the offset in minutes when there is one.
func whenPhrase(events []any, offset any) (Message, error) {
	var items []any
	var minutes float64
	if offset != nil {
		f, ok := datatype.Number(offset)
		if !ok || f < 0 || !isWhole(f) {
			return Message{}, invalid("Dosage.timing.repeat.offset", "timing.repeat.offset must be a whole number of minutes")
		}
		minutes = f
	}
	for _, e := range events {
		code, _ := e.(string)
		id := "event." + code
		if minutes > 0 {
			id = "offset." + code
		}
		if _, ok := English[id]; !ok || code == "" {
			return Message{}, invalid("Dosage.timing.repeat.when", "timing.repeat.when %v is not an event this renderer knows (or takes no offset)", e)
		}
		if minutes > 0 {
			items = append(items, msg("when.offset", datatype.FormatNumber(minutes), msg(id)))
		} else {
			items = append(items, msg(id))
		}
	}
	return msg("when", list(items)), nil
}

// boundsPhrase reads boundsDuration ("for 7 days") and boundsPeriod.end
// ("until 30-Nov-2026").
func boundsPhrase(r map[string]any) ([]Message, error) {
	if v, ok := r["boundsDuration"]; ok {
		q, err := positiveQuantity(v, "Dosage.timing.repeat.boundsDuration")
		if err != nil {
			return nil, err
		}
		code := q.Code
		if _, ok := periodUnits[code]; !ok {
			return nil, invalid("Dosage.timing.repeat.boundsDuration", "timing.repeat.boundsDuration unit %q is not one of s, min, h, d, wk, mo, a", code)
		}
		return []Message{msg("duration", datatype.FormatNumber(q.Value), msg("unit."+code+plural(q.Value)))}, nil
	}
	if p := datatype.Obj(r["boundsPeriod"]); p != nil {
		end := datatype.Str(p, "end")
		if end == "" {
			return nil, nil
		}
		start, _, err := parseDate(end)
		if err != nil {
			return nil, invalid("Dosage.timing.repeat.boundsPeriod.end", "timing.repeat.boundsPeriod.end %q is not a date", end)
		}
		return []Message{msg("bounds.until", start)}, nil
	}
	return nil, nil
}

// parseDate reads a FHIR date or dateTime and writes its day unambiguously
// (30-Nov-2026), as the UI guide asks.
func parseDate(s string) (string, string, error) {
	if len(s) < 10 {
		return "", "", fmt.Errorf("not a full date")
	}
	t, err := parseDay(s[:10])
	if err != nil {
		return "", "", err
	}
	return t.Format("02-Jan-2006"), s, nil
}

func parseDay(s string) (time.Time, error) { return time.Parse("2006-01-02", s) }
