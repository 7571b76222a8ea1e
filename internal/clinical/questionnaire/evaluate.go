package questionnaire

import (
	"fmt"
	"math"
	"sort"

	"github.com/emr-project/emr/internal/clinical/datatype"
)

// Answers are the answers given, by linkId. A repeating question has
// several; every other item at most one.
type Answers map[string][]Value

// Issue is a problem with the answers: a required item unanswered, an
// answer of the wrong type or not among the options, too many answers.
type Issue struct {
	LinkID, Message string
}

// Result is the outcome of Evaluate.
type Result struct {
	// Enabled says, for every item, whether it is shown.
	Enabled map[string]bool
	// Answers are the answers kept: those of enabled items, with the
	// calculated items' values.
	Answers Answers
	// Scores are the values of the calculated items.
	Scores map[string]float64
	// Issues list what stops the response from being complete.
	Issues []Issue
}

// Complete reports whether the answers can be stored as a completed
// response.
func (r *Result) Complete() bool { return len(r.Issues) == 0 }

// Evaluate applies the questionnaire's rules to answers. Answers to
// disabled items are dropped (R5: a disabled item and its descendants are
// not part of the response), calculated items are computed, and the
// issues are listed in item order. Answers to linkIds the questionnaire
// does not have are issues too. Evaluate never fails: what is wrong with
// the answers is in Issues.
func Evaluate(q *Questionnaire, given Answers) *Result {
	r := &Result{Enabled: map[string]bool{}, Scores: map[string]float64{}}
	answers := Answers{}
	links := make([]string, 0, len(given))
	for k := range given {
		links = append(links, k)
	}
	sort.Strings(links) // issues about unknown linkIds in a stable order
	for _, k := range links {
		v := given[k]
		switch it := q.Item(k); {
		case it == nil:
			r.Issues = append(r.Issues, Issue{k, fmt.Sprintf("%q is not an item of this questionnaire", k)})
		case it.Calculated != "":
			// computed here, never taken from the form
		default:
			answers[k] = withOptionText(it, v)
		}
	}
	// enableWhen may depend on a calculated score, and a score on what is
	// enabled: repeat until nothing changes (each round can only settle
	// more items, so the item count bounds it).
	var calcIssues []Issue
	for round := 0; round <= len(q.byLinkID); round++ {
		enabled := q.enabled(answers)
		var calc map[string]float64
		calc, calcIssues = q.calculate(enabled, answers)
		changed := !sameBools(enabled, r.Enabled) || !sameNumbers(calc, r.Scores)
		r.Enabled, r.Scores = enabled, calc
		for link, v := range calc {
			kind := "decimal"
			if q.Item(link).Type == "integer" {
				kind = "integer"
			}
			answers[link] = []Value{{Kind: kind, Number: v}}
		}
		if !changed {
			break
		}
	}
	r.Answers = Answers{}
	for link, vs := range answers {
		if r.Enabled[link] && len(vs) > 0 {
			r.Answers[link] = withOptionText(q.Item(link), vs)
		}
	}
	walk(q.Items, func(it *Item) {
		if r.Enabled[it.LinkID] {
			r.Issues = append(r.Issues, checkItem(it, r.Answers)...)
		}
	})
	return &Result{Enabled: r.Enabled, Answers: r.Answers, Scores: r.Scores, Issues: append(r.Issues, calcIssues...)}
}

// enabled decides every item's enableWhen against the answers of enabled
// items, in one pass per nesting: an item is enabled when its parent is
// and its conditions hold.
func (q *Questionnaire) enabled(answers Answers) map[string]bool {
	enabled := map[string]bool{}
	for link := range q.byLinkID {
		enabled[link] = true
	}
	// A condition on a disabled question sees no answer, and disabling
	// can cascade, so iterate to a fixed point.
	for range len(q.byLinkID) + 1 {
		changed := false
		walk(q.Items, func(it *Item) {
			on := (it.Parent == nil || enabled[it.Parent.LinkID]) && conditionsHold(it, answers, enabled)
			if on != enabled[it.LinkID] {
				enabled[it.LinkID], changed = on, true
			}
		})
		if !changed {
			break
		}
	}
	return enabled
}

func conditionsHold(it *Item, answers Answers, enabled map[string]bool) bool {
	if len(it.EnableWhen) == 0 {
		return true
	}
	any := it.EnableBehavior == "any"
	for _, ew := range it.EnableWhen {
		var given []Value
		if enabled[ew.Question] {
			given = answers[ew.Question]
		}
		holds := conditionHolds(ew, given)
		if any && holds {
			return true
		}
		if !any && !holds {
			return false
		}
	}
	return !any
}

// conditionHolds applies one enableWhen to the question's answers. Per R5,
// with no answer every operator but exists is false; = holds when some
// answer equals, != when some answer differs, and the orderings when some
// answer compares so.
func conditionHolds(ew EnableWhen, given []Value) bool {
	if ew.Operator == "exists" {
		return (len(given) > 0) == ew.Answer.Bool
	}
	for _, g := range given {
		switch ew.Operator {
		case "=":
			if equal(g, ew.Answer) {
				return true
			}
		case "!=":
			if !equal(g, ew.Answer) {
				return true
			}
		default:
			c, ok := compare(g, ew.Answer)
			if !ok {
				continue
			}
			if (ew.Operator == ">" && c > 0) || (ew.Operator == "<" && c < 0) ||
				(ew.Operator == ">=" && c >= 0) || (ew.Operator == "<=" && c <= 0) {
				return true
			}
		}
	}
	return false
}

// checkItem lists the issues of one enabled item.
func checkItem(it *Item, answers Answers) []Issue {
	var issues []Issue
	add := func(format string, args ...any) {
		issues = append(issues, Issue{it.LinkID, itemName(it) + ": " + fmt.Sprintf(format, args...)})
	}
	given := answers[it.LinkID]
	switch it.Type {
	case "group":
		if len(given) > 0 {
			add("a group takes no answer")
		}
		if it.Required && !anyAnswered(it.Items, answers) {
			add("at least one answer is required")
		}
		return issues
	case "display":
		if len(given) > 0 {
			add("a display item takes no answer")
		}
		return issues
	}
	if it.Required && len(given) == 0 && it.Calculated == "" {
		add("an answer is required")
	}
	if !it.Repeats && len(given) > 1 {
		add("only one answer is allowed, %d were given", len(given))
	}
	for _, v := range given {
		if msg := fits(it, v); msg != "" {
			add("%s", msg)
		}
	}
	return issues
}

// fits says why v does not fit the item, or "".
func fits(it *Item, v Value) string {
	kindOK := false
	for _, k := range kindsFor[it.Type] {
		kindOK = kindOK || v.Kind == k
	}
	if v.Kind == "string" && it.AnswerConstraint == "optionsOrString" {
		kindOK = true
	}
	if !kindOK {
		return fmt.Sprintf("a %s answer does not fit an item of type %s", v.Kind, it.Type)
	}
	if it.Type == "integer" && v.Number != math.Trunc(v.Number) {
		return fmt.Sprintf("%s is not a whole number", datatype.FormatNumber(v.Number))
	}
	if it.MaxLength > 0 && len([]rune(v.Text)) > it.MaxLength {
		return fmt.Sprintf("the answer is longer than %d characters", it.MaxLength)
	}
	// optionsOnly: every answer is an option; optionsOrString: a free
	// string is allowed beside the options; optionsOrType: any answer of
	// the item's type.
	mustMatch := it.AnswerConstraint == "optionsOnly" || (it.AnswerConstraint == "optionsOrString" && v.Kind != "string")
	if len(it.Options) > 0 && mustMatch {
		for _, o := range it.Options {
			if equal(o.Value, v) {
				return ""
			}
		}
		return fmt.Sprintf("%s is not one of the answers offered", valueText(v))
	}
	return ""
}

func anyAnswered(items []*Item, answers Answers) bool {
	for _, it := range items {
		if len(answers[it.LinkID]) > 0 || anyAnswered(it.Items, answers) {
			return true
		}
	}
	return false
}

func valueText(v Value) string {
	switch v.Kind {
	case "boolean":
		if v.Bool {
			return "yes"
		}
		return "no"
	case "decimal", "integer":
		return datatype.FormatNumber(v.Number)
	case "coding":
		if v.Coding.Display != "" {
			return fmt.Sprintf("%q", v.Coding.Display)
		}
		return fmt.Sprintf("%q", v.Coding.Code)
	case "quantity":
		return datatype.FormatNumber(v.Quantity.Value) + " " + v.Quantity.UnitText()
	}
	return fmt.Sprintf("%q", v.Text)
}

func sameBools(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// withOptionText returns the answers as the response must hold them:
// each one that is an option replaced by the option itself, so a code
// chosen by value carries the option's display, and a whole number for a
// decimal item or a partial date for a dateTime item written as the
// item's type (a response answer has its item's type).
func withOptionText(it *Item, vs []Value) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = v
		switch {
		case it.Type == "decimal" && v.Kind == "integer":
			out[i].Kind = "decimal"
		case it.Type == "dateTime" && v.Kind == "date":
			out[i].Kind = "dateTime"
		}
		for _, o := range it.Options {
			if v.Kind == "coding" && equal(o.Value, v) {
				out[i] = o.Value
				break
			}
		}
	}
	return out
}
