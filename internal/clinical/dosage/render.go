package dosage

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Text returns the dosage in English words, e.g. "Take 1 tablet by mouth
// twice a day for 7 days." It is Format(English, Instructions(dosage)).
func Text(dosage map[string]any) (string, error) {
	msgs, err := Instructions(dosage)
	if err != nil {
		return "", err
	}
	return Format(English, msgs), nil
}

// TextAll renders several Dosage elements (MedicationRequest.dosageInstruction),
// one after the other, in order of their sequence as given.
func TextAll(dosages []any) (string, error) {
	var parts []string
	for i, d := range dosages {
		s, err := Text(datatype.Obj(d))
		if err != nil {
			return "", fmt.Errorf("dosageInstruction[%d]: %w", i, err)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " Then: "), nil
}

// Instructions returns the phrases of an R5 Dosage in reading order: verb,
// dose, route, frequency, time of day, as needed, duration (the order of
// the UI guide's medication line); then the
// maximum doses, the additional instructions and the patient instruction,
// each a sentence. A Dosage with no structured dose or timing reads as its
// text. It returns an error of kind fhir.KindInvalid, naming the element,
// for a value of the wrong kind (a negative dose, an unknown period unit)
// and for a Dosage with nothing to say.
func Instructions(dosage map[string]any) ([]Message, error) {
	if dosage == nil {
		return nil, invalid("Dosage", "no dosage")
	}
	var main []Message
	rt, routeMsg := routeOf(dosage["route"])
	doseMsgs, doseQ, err := doses(dosage)
	if err != nil {
		return nil, err
	}
	timing, bounds, err := timingPhrases(datatype.Obj(dosage["timing"]))
	if err != nil {
		return nil, err
	}
	needed := asNeeded(dosage)
	if len(doseMsgs) == 0 && len(timing) == 0 && len(bounds) == 0 && routeMsg == nil && len(needed) == 0 {
		if t := strings.TrimSpace(datatype.Str(dosage, "text")); t != "" {
			return []Message{msg("text", t)}, nil
		}
		if len(extraSentences(dosage)) == 0 {
			return nil, invalid("Dosage", "the dosage has no dose, timing, route or text")
		}
	} else {
		main = append(main, msg(verbOf(rt, doseQ)))
		main = append(main, doseMsgs...)
		if routeMsg != nil && !(rt.key == "inhaled") {
			main = append(main, *routeMsg)
		}
		main = append(main, timing...)
		main = append(main, needed...)
		main = append(main, bounds...)
		main = append(main, stop)
	}
	maxMsgs, err := maxDoses(dosage)
	if err != nil {
		return nil, err
	}
	main = append(main, maxMsgs...)
	return append(main, extraSentences(dosage)...), nil
}

func invalid(path, format string, args ...any) error {
	return fhir.At(fhir.KindInvalid, "value", path, "dosage: "+format, args...)
}

// verbOf chooses the verb by route; without a route, by the dose unit
// (a puff is inhaled, a drop put in), else "Take".
func verbOf(rt route, q *datatype.Quantity) string {
	if rt.verb != "" {
		return rt.verb
	}
	if rt.key == "other" {
		return "verb.use"
	}
	if q != nil {
		switch u, _ := unitOf(*q); u.code {
		case "{puff}":
			return "verb.inhale"
		case "[drp]":
			return "verb.instil"
		case "{patch}", "{application}":
			return "verb.apply"
		case "{spray}":
			return "verb.use"
		}
	}
	return "verb.take"
}

// routeOf reads Dosage.route: a known SNOMED CT route gives its phrase;
// any other coded or text route reads "by the … route".
func routeOf(v any) (route, *Message) {
	if v == nil {
		return route{}, nil
	}
	for _, c := range datatype.Codings(v) {
		if c.System == datatype.SNOMED {
			if r, ok := lookupRoute(c.Code); ok {
				m := msg("route." + r.key)
				return r, &m
			}
		}
	}
	t := datatype.Text(v)
	if r, ok := lookupRoute(t); ok {
		m := msg("route." + r.key)
		return r, &m
	}
	if t == "" {
		return route{}, nil
	}
	t = strings.TrimSuffix(strings.ToLower(t), " route")
	m := msg("route.text", t)
	return route{key: "other"}, &m
}

// doses reads the first doseAndRate: dose (quantity or range) and rate.
func doses(dosage map[string]any) ([]Message, *datatype.Quantity, error) {
	list := datatype.List(dosage["doseAndRate"])
	if len(list) == 0 {
		return nil, nil, nil
	}
	dr := datatype.Obj(list[0])
	var out []Message
	var first *datatype.Quantity
	if v, ok := dr["doseQuantity"]; ok {
		q, err := positiveQuantity(v, "Dosage.doseAndRate[0].doseQuantity")
		if err != nil {
			return nil, nil, err
		}
		out, first = append(out, msg("dose", datatype.FormatNumber(q.Value), unitWord(q, q.Value))), &q
	}
	if v, ok := dr["doseRange"]; ok {
		r := datatype.Obj(v)
		low, err := positiveQuantity(r["low"], "Dosage.doseAndRate[0].doseRange.low")
		if err != nil {
			return nil, nil, err
		}
		high, err := positiveQuantity(r["high"], "Dosage.doseAndRate[0].doseRange.high")
		if err != nil {
			return nil, nil, err
		}
		if high.Value < low.Value {
			return nil, nil, invalid("Dosage.doseAndRate[0].doseRange", "the range's high %v is below its low %v", high.Value, low.Value)
		}
		out, first = append(out, msg("dose.range", datatype.FormatNumber(low.Value), datatype.FormatNumber(high.Value), unitWord(high, high.Value))), &high
	}
	if v, ok := dr["rateQuantity"]; ok {
		q, err := positiveQuantity(v, "Dosage.doseAndRate[0].rateQuantity")
		if err != nil {
			return nil, nil, err
		}
		out = append(out, msg("rate", datatype.FormatNumber(q.Value)+" "+q.UnitText()))
	}
	if v, ok := dr["rateRatio"]; ok {
		n, d, err := ratio(v, "Dosage.doseAndRate[0].rateRatio")
		if err != nil {
			return nil, nil, err
		}
		out = append(out, msg("rate", datatype.FormatNumber(n.Value)+" "+n.UnitText()+" per "+strings.TrimPrefix(datatype.FormatNumber(d.Value)+" ", "1 ")+d.UnitText()))
	}
	return out, first, nil
}

func positiveQuantity(v any, path string) (datatype.Quantity, error) {
	q, ok := datatype.QuantityOf(v)
	if !ok {
		return q, invalid(path, "%s has no numeric value", path)
	}
	if q.Value <= 0 {
		return q, invalid(path, "%s must be above zero, not %v", path, q.Value)
	}
	return q, nil
}

func ratio(v any, path string) (num, den datatype.Quantity, err error) {
	r := datatype.Obj(v)
	if num, err = positiveQuantity(r["numerator"], path+".numerator"); err != nil {
		return
	}
	den, err = positiveQuantity(r["denominator"], path+".denominator")
	return
}

// asNeeded reads asNeeded and asNeededFor.
func asNeeded(dosage map[string]any) []Message {
	var reasons []any
	for _, r := range datatype.List(dosage["asNeededFor"]) {
		if t := datatype.Text(r); t != "" {
			reasons = append(reasons, firstRune(t, unicode.ToLower))
		}
	}
	if len(reasons) > 0 {
		return []Message{msg("as.needed.for", list(reasons))}
	}
	if b, _ := dosage["asNeeded"].(bool); b {
		return []Message{msg("as.needed")}
	}
	return nil
}

// list joins items "a and b", "a, b and c" through the catalog.
func list(items []any) any {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return msg("list.2", items[0], items[1])
	default:
		return msg("list.more", items[0], list(items[1:]))
	}
}

// maxDoses reads maxDosePerPeriod (a list of Ratio in R5) and
// maxDosePerAdministration as sentences.
func maxDoses(dosage map[string]any) ([]Message, error) {
	var out []Message
	for i, r := range datatype.List(dosage["maxDosePerPeriod"]) {
		n, d, err := ratio(r, fmt.Sprintf("Dosage.maxDosePerPeriod[%d]", i))
		if err != nil {
			return nil, err
		}
		per := d.UnitText()
		if u, ok := periodUnits[d.Code]; ok && (d.System == datatype.UCUM || d.System == "") {
			per = u
		}
		unit := unitWord(n, n.Value)
		if d.Value == 1 {
			if _, ok := periodUnits[d.Code]; ok {
				out = append(out, msg("max.per.one", datatype.FormatNumber(n.Value), unit, msg("unit."+d.Code+".one")), stop)
				continue
			}
		}
		var perWord any = per
		if _, ok := periodUnits[d.Code]; ok {
			perWord = msg("unit." + d.Code + plural(d.Value))
		}
		out = append(out, msg("max.per", datatype.FormatNumber(n.Value), unit, datatype.FormatNumber(d.Value), perWord), stop)
	}
	if v, ok := dosage["maxDosePerAdministration"]; ok {
		q, err := positiveQuantity(v, "Dosage.maxDosePerAdministration")
		if err != nil {
			return nil, err
		}
		out = append(out, msg("max.admin", datatype.FormatNumber(q.Value), unitWord(q, q.Value)), stop)
	}
	return out, nil
}

// extraSentences are the additional instructions and the patient
// instruction, each its own sentence.
func extraSentences(dosage map[string]any) []Message {
	var out []Message
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t == "" {
			return
		}
		out = append(out, msg("text", firstRune(t, unicode.ToUpper)))
		if !strings.HasSuffix(t, ".") && !strings.HasSuffix(t, "!") && !strings.HasSuffix(t, "?") {
			out = append(out, stop)
		}
	}
	for _, a := range datatype.List(dosage["additionalInstruction"]) {
		add(datatype.Text(a))
	}
	add(datatype.Str(dosage, "patientInstruction"))
	return out
}

// periodUnits are the UCUM units of Timing.repeat.periodUnit and
// durationUnit, with their length where it is fixed.
var periodUnits = map[string]string{"s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week", "mo": "month", "a": "year"}

var unitLength = map[string]time.Duration{"s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "wk": 7 * 24 * time.Hour}

// firstRune changes the case of the first letter of s, whatever its
// script ("épaule", "über" keep their letters whole).
func firstRune(s string, change func(rune) rune) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(change(r)) + s[size:]
}

func isWhole(f float64) bool { return f == math.Trunc(f) }
