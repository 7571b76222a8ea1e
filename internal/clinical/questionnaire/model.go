// Package questionnaire evaluates an R5 Questionnaire against answers:
// which items are enabled (enableWhen, enableBehavior), which required
// items are missing, whether each answer fits its item (type, repeats,
// answer options and contained answer value sets), the calculated scores
// (the SDC calculatedExpression extension, or a sum of the answer
// options' itemWeight/ordinalValue), and the QuestionnaireResponse that
// records them. It ships PHQ-9, GAD-7 and an intake form as R5
// Questionnaires (see forms/README.md), with the severity bands of the
// two scores.
//
// Answers are keyed by linkId, so a repeating group is answered once:
// its instances would need keys of their own, which no form here asks for
// yet. Answer value sets are read when contained; a value set held
// elsewhere needs a terminology service and is refused by Parse.
package questionnaire

import (
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// Questionnaire is a parsed R5 Questionnaire.
type Questionnaire struct {
	URL, Version, Title string
	Items               []*Item
	// byLinkID indexes every item, nested ones too.
	byLinkID map[string]*Item
	Resource fhir.Resource
}

// Item is one Questionnaire.item.
type Item struct {
	LinkID, Text, Type string
	Required, Repeats  bool
	ReadOnly           bool
	MaxLength          int
	Code               []datatype.Coding
	EnableWhen         []EnableWhen
	// EnableBehavior is "all" or "any" ("all" when not given).
	EnableBehavior string
	// Options are the allowed answers: the answerOptions, or the concepts
	// of a contained answerValueSet.
	Options []Option
	// AnswerConstraint is optionsOnly, optionsOrType or optionsOrString.
	AnswerConstraint string
	// Calculated is the SDC calculatedExpression, or "".
	Calculated string
	Items      []*Item
	Parent     *Item
}

// EnableWhen is one Questionnaire.item.enableWhen.
type EnableWhen struct {
	Question, Operator string
	Answer             Value
}

// Option is an allowed answer, with its weight when it has one.
type Option struct {
	Value     Value
	Weight    float64
	HasWeight bool
}

// Item types of R5 (and R4's choice and open-choice, read as coding).
var itemTypes = map[string]bool{
	"group": true, "display": true, "question": true, "boolean": true, "decimal": true, "integer": true,
	"date": true, "dateTime": true, "time": true, "string": true, "text": true, "url": true,
	"coding": true, "attachment": true, "reference": true, "quantity": true,
}

var operators = map[string]bool{"exists": true, "=": true, "!=": true, ">": true, "<": true, ">=": true, "<=": true}

// Extension URLs read by this package.
const (
	CalculatedExpression = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
	ItemWeight           = "http://hl7.org/fhir/StructureDefinition/itemWeight"
	OrdinalValue         = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
)

// Parse reads a Questionnaire resource. It returns an error of kind
// fhir.KindInvalid, with the FHIRPath of the element, for what evaluation
// cannot work with: an item without linkId or with a duplicate one, an
// unknown item type, an enableWhen on a question that does not exist or
// with an unknown operator or no answer, and an answerValueSet that is not
// a contained ValueSet.
func Parse(r fhir.Resource) (*Questionnaire, error) {
	if r.Type() != "Questionnaire" {
		return nil, fhir.Errorf(fhir.KindInvalid, "questionnaire: a %q is not a Questionnaire", r.Type())
	}
	q := &Questionnaire{URL: datatype.Str(r, "url"), Version: datatype.Str(r, "version"), Title: datatype.Str(r, "title"),
		byLinkID: map[string]*Item{}, Resource: r}
	items, err := q.parseItems(r, datatype.List(r["item"]), "Questionnaire", nil)
	if err != nil {
		return nil, err
	}
	q.Items = items
	var check func([]*Item, string) error
	check = func(items []*Item, path string) error {
		for i, it := range items {
			p := fmt.Sprintf("%s.item[%d]", path, i)
			for j, ew := range it.EnableWhen {
				if _, ok := q.byLinkID[ew.Question]; !ok {
					return invalid(fmt.Sprintf("%s.enableWhen[%d].question", p, j), "enableWhen of %q refers to %q, which is not an item", it.LinkID, ew.Question)
				}
			}
			if err := check(it.Items, p); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(q.Items, "Questionnaire"); err != nil {
		return nil, err
	}
	return q, nil
}

func invalid(path, format string, args ...any) error {
	return fhir.At(fhir.KindInvalid, "invalid", path, "questionnaire: "+format, args...)
}

func (q *Questionnaire) parseItems(res fhir.Resource, list []any, path string, parent *Item) ([]*Item, error) {
	var out []*Item
	for i, v := range list {
		p := fmt.Sprintf("%s.item[%d]", path, i)
		m := datatype.Obj(v)
		it := &Item{LinkID: datatype.Str(m, "linkId"), Text: datatype.Str(m, "text"), Type: datatype.Str(m, "type"),
			EnableBehavior: datatype.Str(m, "enableBehavior"), AnswerConstraint: datatype.Str(m, "answerConstraint"), Parent: parent}
		if it.LinkID == "" {
			return nil, invalid(p+".linkId", "an item has no linkId")
		}
		if _, dup := q.byLinkID[it.LinkID]; dup {
			return nil, invalid(p+".linkId", "linkId %q is used twice", it.LinkID)
		}
		switch it.Type {
		case "choice", "open-choice": // R4 names, still common
			if it.Type == "open-choice" && it.AnswerConstraint == "" {
				it.AnswerConstraint = "optionsOrString"
			}
			it.Type = "coding"
		}
		if !itemTypes[it.Type] {
			return nil, invalid(p+".type", "item %q has the unknown type %q", it.LinkID, it.Type)
		}
		if it.EnableBehavior == "" {
			it.EnableBehavior = "all"
		} else if it.EnableBehavior != "all" && it.EnableBehavior != "any" {
			return nil, invalid(p+".enableBehavior", "item %q: enableBehavior must be all or any", it.LinkID)
		}
		if it.AnswerConstraint == "" {
			it.AnswerConstraint = "optionsOnly"
		}
		q.byLinkID[it.LinkID] = it
		it.Required, _ = m["required"].(bool)
		it.Repeats, _ = m["repeats"].(bool)
		it.ReadOnly, _ = m["readOnly"].(bool)
		if n, ok := datatype.Number(m["maxLength"]); ok {
			it.MaxLength = int(n)
		}
		for _, c := range datatype.List(m["code"]) {
			if cd := datatype.CodingOf(c); cd.Code != "" {
				it.Code = append(it.Code, cd)
			}
		}
		for j, e := range datatype.List(m["enableWhen"]) {
			ew, err := parseEnableWhen(datatype.Obj(e), fmt.Sprintf("%s.enableWhen[%d]", p, j))
			if err != nil {
				return nil, err
			}
			it.EnableWhen = append(it.EnableWhen, ew)
		}
		for _, o := range datatype.List(m["answerOption"]) {
			om := datatype.Obj(o)
			val, ok := valueOf(om)
			if !ok {
				continue
			}
			opt := Option{Value: val}
			opt.Weight, opt.HasWeight = weightOf(om)
			if !opt.HasWeight {
				opt.Weight, opt.HasWeight = weightOf(datatype.Obj(om["valueCoding"]))
			}
			it.Options = append(it.Options, opt)
		}
		if vs := datatype.Str(m, "answerValueSet"); vs != "" {
			opts, err := containedOptions(res, vs)
			if err != nil {
				return nil, invalid(p+".answerValueSet", "item %q: %v", it.LinkID, err)
			}
			it.Options = append(it.Options, opts...)
		}
		for _, e := range datatype.List(m["extension"]) {
			em := datatype.Obj(e)
			if datatype.Str(em, "url") == CalculatedExpression {
				it.Calculated = datatype.Str(datatype.Obj(em["valueExpression"]), "expression")
			}
		}
		children, err := q.parseItems(res, datatype.List(m["item"]), p, it)
		if err != nil {
			return nil, err
		}
		it.Items = children
		out = append(out, it)
	}
	return out, nil
}

func parseEnableWhen(m map[string]any, path string) (EnableWhen, error) {
	ew := EnableWhen{Question: datatype.Str(m, "question"), Operator: datatype.Str(m, "operator")}
	if !operators[ew.Operator] {
		return ew, invalid(path+".operator", "enableWhen operator %q is not one of exists, =, !=, >, <, >=, <=", ew.Operator)
	}
	answer := map[string]any{}
	for k, v := range m {
		if strings.HasPrefix(k, "answer") {
			answer["value"+strings.TrimPrefix(k, "answer")] = v
		}
	}
	val, ok := valueOf(answer)
	if !ok {
		return ew, invalid(path, "enableWhen on %q has no answer[x]", ew.Question)
	}
	if ew.Operator == "exists" && val.Kind != "boolean" {
		return ew, invalid(path, "enableWhen exists needs answerBoolean")
	}
	ew.Answer = val
	return ew, nil
}

// weightOf reads the itemWeight (R5) or ordinalValue (R4) extension of an
// element.
func weightOf(m map[string]any) (float64, bool) {
	for _, e := range datatype.List(m["extension"]) {
		em := datatype.Obj(e)
		if u := datatype.Str(em, "url"); u == ItemWeight || u == OrdinalValue {
			if w, ok := datatype.Number(em["valueDecimal"]); ok {
				return w, true
			}
			if w, ok := datatype.Number(em["valueInteger"]); ok {
				return w, true
			}
		}
	}
	return 0, false
}

// containedOptions reads the concepts of a contained ValueSet ("#id"):
// its expansion when it has one, else the concepts its compose lists.
// Value sets held elsewhere need a terminology service, which this
// package does not call.
func containedOptions(res fhir.Resource, ref string) ([]Option, error) {
	id, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("answerValueSet %q is not a contained value set (#id)", ref)
	}
	for _, c := range datatype.List(res["contained"]) {
		vs := datatype.Obj(c)
		if datatype.Str(vs, "resourceType") != "ValueSet" || datatype.Str(vs, "id") != id {
			continue
		}
		var out []Option
		add := func(system string, concept map[string]any) {
			o := Option{Value: Value{Kind: "coding", Coding: datatype.Coding{System: system, Code: datatype.Str(concept, "code"), Display: datatype.Str(concept, "display")}}}
			o.Weight, o.HasWeight = weightOf(concept)
			if o.Value.Coding.Code != "" {
				out = append(out, o)
			}
		}
		if exp := datatype.Obj(vs["expansion"]); exp != nil {
			for _, cn := range datatype.List(exp["contains"]) {
				add(datatype.Str(datatype.Obj(cn), "system"), datatype.Obj(cn))
			}
			return out, nil
		}
		for _, inc := range datatype.List(datatype.Obj(vs["compose"])["include"]) {
			im := datatype.Obj(inc)
			for _, cn := range datatype.List(im["concept"]) {
				add(datatype.Str(im, "system"), datatype.Obj(cn))
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("contained value set %q lists no concepts", ref)
		}
		return out, nil
	}
	return nil, fmt.Errorf("no contained value set %q", ref)
}

// Item returns the item with linkID, or nil.
func (q *Questionnaire) Item(linkID string) *Item { return q.byLinkID[linkID] }

// walk calls fn for every item, parents before children.
func walk(items []*Item, fn func(*Item)) {
	for _, it := range items {
		fn(it)
		walk(it.Items, fn)
	}
}
