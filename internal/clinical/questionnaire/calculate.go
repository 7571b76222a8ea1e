package questionnaire

import (
	"fmt"
	"strings"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir/fhirpath"
)

// calculate computes the calculated items that are enabled. An expression
// that sums answer weights (weight(), ordinal() or itemWeight, as the SDC
// examples of PHQ-9 write it) is the sum of the weights of the chosen
// options of the enabled items beside and below the calculated item's
// parent; any other expression is FHIRPath on the response so far. An
// expression that cannot be evaluated is an issue, never a silent zero.
func (q *Questionnaire) calculate(enabled map[string]bool, answers Answers) (map[string]float64, []Issue) {
	out := map[string]float64{}
	var issues []Issue
	walk(q.Items, func(it *Item) {
		if it.Calculated == "" || !enabled[it.LinkID] {
			return
		}
		if isWeightSum(it.Calculated) {
			scope := q.Items
			if it.Parent != nil {
				scope = it.Parent.Items
			}
			sum, answered := 0.0, 0
			walk(scope, func(other *Item) {
				if other == it || other.Calculated != "" || !enabled[other.LinkID] {
					return
				}
				for _, v := range answers[other.LinkID] {
					for _, o := range other.Options {
						if o.HasWeight && equal(o.Value, v) {
							sum += o.Weight
							answered++
						}
					}
				}
			})
			if answered > 0 {
				out[it.LinkID] = sum
			}
			return
		}
		v, err := evalFHIRPath(q, it.Calculated, enabled, answers)
		if err != nil {
			issues = append(issues, Issue{it.LinkID, itemName(it) + ": the calculation cannot be done: " + err.Error()})
			return
		}
		if v != nil {
			out[it.LinkID] = *v
		}
	})
	return out, issues
}

func isWeightSum(expr string) bool {
	return strings.Contains(expr, "weight()") || strings.Contains(expr, "ordinal()") || strings.Contains(expr, "itemWeight")
}

// evalFHIRPath evaluates expr with %resource the response built from the
// answers; an empty result is no value, a single number is the value.
func evalFHIRPath(q *Questionnaire, expr string, enabled map[string]bool, answers Answers) (*float64, error) {
	x, err := fhirpath.Compile(expr)
	if err != nil {
		return nil, err
	}
	resp := map[string]any(buildResponse(q, &Result{Enabled: enabled, Answers: answers}, ResponseInfo{}))
	nodes, err := x.Evaluate(&fhirpath.Context{Resource: resp}, resp)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	if len(nodes) > 1 {
		return nil, fmt.Errorf("%d values where one number was expected", len(nodes))
	}
	f, ok := datatype.Number(nodes[0].Value)
	if d, isDec := nodes[0].Value.(fhirpath.Decimal); isDec {
		f, ok = d.Float64(), true
	}
	if !ok {
		return nil, fmt.Errorf("the result %v is not a number", nodes[0].Value)
	}
	return &f, nil
}

func sameNumbers(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
