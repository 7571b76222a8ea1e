package validate

import (
	"errors"
	"fmt"
	"sync"

	"github.com/emr-project/emr/internal/fhir/fhirpath"
	"github.com/emr-project/emr/internal/fhir/spec"
)

// FHIRPathInvariants evaluates constraints with package fhirpath over the
// definitions' model. Expressions are compiled once and cached. ele-1
// ("a value or children") is skipped: the walker checks it natively on
// every element, which is far cheaper, and the few in nativeInvariants
// are evaluated in Go.
type FHIRPathInvariants struct {
	model    *spec.Model
	compiled sync.Map // expression → *fhirpath.Expression or error
	// noNative evaluates every constraint through FHIRPath (tests compare
	// the native ones with it).
	noNative bool
}

// correctedInvariants are constraints of the specification whose
// expression fails to evaluate on valid data, each with the expression
// evaluated in its place, while the definition's is exactly the one
// corrected (another version of the definitions is taken as it is).
var correctedInvariants = map[string]struct{ expression, corrected string }{
	// eld-11 applies contains(), a string function, to type.code: on an
	// element of several types that is several strings, an error in
	// FHIRPath, so every choice element with a binding warned that it
	// could not be evaluated. Any type code with a ':' is what it means.
	// (Its double quotes, which the lexer accepts, Firely corrected too:
	// FirelyTeam/firely-net-sdk#2508.)
	"eld-11": {
		expression: `binding.empty() or type.code.empty() or type.code.contains(":") or type.select((code = 'code') or (code = 'Coding') or (code='CodeableConcept') or (code = 'Quantity') or (code = 'string') or (code = 'uri') or (code = 'Duration')).exists()`,
		corrected:  `binding.empty() or type.code.empty() or type.code.where($this.contains(':')).exists() or type.select((code = 'code') or (code = 'Coding') or (code='CodeableConcept') or (code = 'Quantity') or (code = 'string') or (code = 'uri') or (code = 'Duration')).exists()`,
	},
}

// NewFHIRPathInvariants returns a checker over defs.
func NewFHIRPathInvariants(defs *spec.Definitions) *FHIRPathInvariants {
	return &FHIRPathInvariants{model: defs.FHIRPathModel()}
}

// Check implements InvariantChecker.
func (c *FHIRPathInvariants) Check(at InvariantSite, constraints []spec.Constraint) ([]spec.Constraint, error) {
	var failed []spec.Constraint
	var errs []error
	ctx := &fhirpath.Context{Model: c.model, Resource: at.Resource, RootResource: map[string]any(at.Root), MaxSteps: 100_000}
	input := fhirpath.Node{Value: at.Node, Type: at.TypeName, Index: -1}
	for _, con := range constraints {
		if con.Key == "ele-1" || con.Expression == "" {
			continue
		}
		if n, ok := nativeInvariants[con.Key]; ok && n.expression == con.Expression && !c.noNative {
			if holds, decided := n.eval(at); decided {
				if !holds {
					failed = append(failed, con)
				}
				continue
			}
		}
		expr := con.Expression
		if fix, ok := correctedInvariants[con.Key]; ok && fix.expression == expr {
			expr = fix.corrected
		}
		x, err := c.compile(expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", con.Key, err))
			continue
		}
		val, ok, err := x.EvaluateBool(ctx, input)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", con.Key, err))
			continue
		}
		if ok && !val {
			failed = append(failed, con)
		}
	}
	return failed, errors.Join(errs...)
}

func (c *FHIRPathInvariants) compile(expr string) (*fhirpath.Expression, error) {
	if v, ok := c.compiled.Load(expr); ok {
		if x, ok := v.(*fhirpath.Expression); ok {
			return x, nil
		}
		return nil, v.(error)
	}
	x, err := fhirpath.Compile(expr)
	if err != nil {
		c.compiled.Store(expr, err)
		return nil, err
	}
	c.compiled.Store(expr, x)
	return x, nil
}
