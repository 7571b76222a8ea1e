// Package dosage turns an R5 Dosage into instructions in words ("Take 1
// tablet by mouth twice a day for 7 days"), builds a Dosage from the
// fields of a prescribing form, and computes the quantity to dispense.
//
// The words come from a catalog keyed by message id (English), so a
// translation supplies another catalog rather than new code. Wording
// follows the medicine rules of the UI guide: "mcg", never "µg"; "units",
// never "U" or "IU"; "daily" and "every other day", never QD or QOD; a
// leading zero always and a trailing zero never.
package dosage

import (
	"fmt"
	"strings"
)

// Message is one phrase of an instruction: a catalog id and its
// arguments. An argument that is itself a Message is formatted with the
// same catalog first, so units, weekdays and event names translate too.
type Message struct {
	ID   string
	Args []any
}

func msg(id string, args ...any) Message { return Message{ID: id, Args: args} }

// stop ends a sentence; it attaches to the phrase before it.
var stop = msg("punct.stop")

// English is the catalog of the phrases, in English. A catalog for another
// language has the same ids. Units, periods, weekdays and events have an
// ".one" and an ".other" form where English needs a plural.
var English = map[string]string{
	"verb.take":   "Take",
	"verb.apply":  "Apply",
	"verb.inhale": "Inhale",
	"verb.inject": "Inject",
	"verb.give":   "Give",
	"verb.insert": "Insert",
	"verb.instil": "Put",
	"verb.use":    "Use",

	"dose":       "%v %v",
	"dose.range": "%v to %v %v",
	"rate":       "at a rate of %v",
	"route.text": "by the %v route",

	"route.oral":          "by mouth",
	"route.sublingual":    "under the tongue",
	"route.topical":       "to the skin",
	"route.transdermal":   "to the skin",
	"route.inhaled":       "by inhalation",
	"route.nasal":         "into the nose",
	"route.ophthalmic":    "into the eye",
	"route.otic":          "into the ear",
	"route.rectal":        "rectally",
	"route.vaginal":       "vaginally",
	"route.subcutaneous":  "under the skin",
	"route.intramuscular": "into a muscle",
	"route.intravenous":   "into a vein",

	"freq.once":        "once",
	"freq.daily":       "once a day",
	"freq.twice":       "twice a day",
	"freq.three":       "three times a day",
	"freq.four":        "four times a day",
	"freq.n.day":       "%v times a day",
	"freq.range.day":   "%v to %v times a day",
	"freq.every.other": "every other day",
	"freq.every":       "every %v %v",
	"freq.every.one":   "every %v",
	"freq.every.range": "every %v to %v %v",
	"freq.once.per":    "once a %v",
	"freq.twice.per":   "twice a %v",
	"freq.n.per":       "%v times a %v",
	"freq.n.per.n":     "%v times every %v %v",
	"count":            "for %v doses",
	"count.one":        "as a single dose",

	"when":          "%v",
	"when.offset":   "%v minutes %v",
	"list.2":        "%v and %v",
	"list.more":     "%v, %v",
	"days":          "on %v",
	"times":         "at %v",
	"as.needed":     "as needed",
	"as.needed.for": "as needed for %v",
	"duration":      "for %v %v",
	"bounds.until":  "until %v",
	"max.per":       "Do not take more than %v %v in %v %v",
	"max.per.one":   "Do not take more than %v %v a %v",
	"max.admin":     "Do not take more than %v %v at a time",
	"text":          "%v",
	"punct.stop":    ".",

	"unit.h.one": "hour", "unit.h.other": "hours",
	"unit.min.one": "minute", "unit.min.other": "minutes",
	"unit.s.one": "second", "unit.s.other": "seconds",
	"unit.d.one": "day", "unit.d.other": "days",
	"unit.wk.one": "week", "unit.wk.other": "weeks",
	"unit.mo.one": "month", "unit.mo.other": "months",
	"unit.a.one": "year", "unit.a.other": "years",

	"day.mon": "Monday", "day.tue": "Tuesday", "day.wed": "Wednesday", "day.thu": "Thursday",
	"day.fri": "Friday", "day.sat": "Saturday", "day.sun": "Sunday",

	"event.MORN": "in the morning", "event.MORN.early": "early in the morning", "event.MORN.late": "late in the morning",
	"event.NOON": "at noon", "event.AFT": "in the afternoon", "event.AFT.early": "early in the afternoon",
	"event.AFT.late": "late in the afternoon", "event.EVE": "in the evening", "event.EVE.early": "early in the evening",
	"event.EVE.late": "late in the evening", "event.NIGHT": "at night", "event.PHS": "after sleep",
	"event.IMD": "immediately", "event.HS": "at bedtime", "event.WAKE": "on waking",
	"event.C": "with a meal", "event.CM": "with breakfast", "event.CD": "with lunch", "event.CV": "with dinner",
	"event.AC": "before a meal", "event.ACM": "before breakfast", "event.ACD": "before lunch", "event.ACV": "before dinner",
	"event.PC": "after a meal", "event.PCM": "after breakfast", "event.PCD": "after lunch", "event.PCV": "after dinner",
	"offset.AC": "before a meal", "offset.ACM": "before breakfast", "offset.ACD": "before lunch", "offset.ACV": "before dinner",
	"offset.PC": "after a meal", "offset.PCM": "after breakfast", "offset.PCD": "after lunch", "offset.PCV": "after dinner",
	"offset.HS": "before bedtime", "offset.WAKE": "after waking",
}

// Format renders messages with catalog, joined by spaces; punctuation
// attaches to the phrase before it. An id missing from catalog falls back
// to English, then to the id itself, so a partial translation still reads.
func Format(catalog map[string]string, msgs []Message) string {
	var b strings.Builder
	for i, m := range msgs {
		s := formatOne(catalog, m)
		if i > 0 && !strings.HasPrefix(m.ID, "punct.") {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}

func formatOne(catalog map[string]string, m Message) string {
	format, ok := catalog[m.ID]
	if !ok {
		format, ok = English[m.ID]
	}
	if !ok {
		format = m.ID
	}
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		if sub, ok := a.(Message); ok {
			args[i] = formatOne(catalog, sub)
		} else {
			args[i] = a
		}
	}
	return fmt.Sprintf(format, args...)
}
