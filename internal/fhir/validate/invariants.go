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
		x, err := c.compile(con.Expression)
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
