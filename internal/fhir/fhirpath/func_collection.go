package fhirpath

import (
	"slices"
)

type fnMap map[string]*funcDef

func (m fnMap) add(name string, min, max int, impl func(e *env, c *callNode, focus, in []Node) ([]Node, error)) {
	m[name] = &funcDef{min: min, max: max, impl: impl}
}

func builtinFunctions() map[string]*funcDef {
	m := fnMap{}
	addCollectionFunctions(m)
	addStringFunctions(m)
	addConversionFunctions(m)
	addMathFunctions(m)
	addFHIRFunctions(m)
	return m
}

// where evaluates criteria on each item and keeps those where it is true.
func where(e *env, c *callNode, focus []Node) ([]Node, error) {
	var out []Node
	e = iterating(e, focus)
	for i, n := range focus {
		r, err := c.argFor(e, 0, n, i, nil)
		if err != nil {
			return nil, err
		}
		v, ok, err := singletonBool(r)
		if err != nil {
			return nil, err
		}
		if ok && v {
			out = append(out, n)
		}
	}
	return out, nil
}

func addCollectionFunctions(m fnMap) {
	m.add("empty", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return boolResult(len(focus) == 0)
	})
	m.add("exists", 0, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(c.args) == 1 {
			f, err := where(e, c, focus)
			if err != nil {
				return nil, err
			}
			focus = f
		}
		return boolResult(len(focus) > 0)
	})
	m.add("all", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		e = iterating(e, focus)
		for i, n := range focus {
			r, err := c.argFor(e, 0, n, i, nil)
			if err != nil {
				return nil, err
			}
			v, ok, err := singletonBool(r)
			if err != nil {
				return nil, err
			}
			if !ok || !v {
				return boolResult(false)
			}
		}
		return boolResult(true)
	})
	boolAgg := func(want bool, any bool) func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
			for _, n := range focus {
				b, ok := system(n).(bool)
				if !ok {
					return nil, evalErr("expects booleans, got %s", typeName(n))
				}
				if any && b == want {
					return boolResult(true)
				}
				if !any && b != want {
					return boolResult(false)
				}
			}
			return boolResult(!any)
		}
	}
	m.add("allTrue", 0, 0, boolAgg(true, false))
	m.add("anyTrue", 0, 0, boolAgg(true, true))
	m.add("allFalse", 0, 0, boolAgg(false, false))
	m.add("anyFalse", 0, 0, boolAgg(false, true))
	subset := func(sub bool) func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
			other, err := c.arg(e, 0, in)
			if err != nil {
				return nil, err
			}
			a, b := focus, other
			if !sub {
				a, b = other, focus
			}
			for _, n := range a {
				if !containsItem(b, n) {
					return boolResult(false)
				}
			}
			return boolResult(true)
		}
	}
	m.add("subsetOf", 1, 1, subset(true))
	m.add("supersetOf", 1, 1, subset(false))
	m.add("count", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return []Node{intNode(int64(len(focus)))}, nil
	})
	m.add("distinct", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return union(focus, nil), nil
	})
	m.add("isDistinct", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return boolResult(len(union(focus, nil)) == len(focus))
	})
	m.add("where", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return where(e, c, focus)
	})
	m.add("select", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		var out []Node
		e = iterating(e, focus)
		for i, n := range focus {
			r, err := c.argFor(e, 0, n, i, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
		return out, nil
	})
	m.add("repeat", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		var out []Node
		queue := focus
		// The projection's input is, statically, every type the repeat
		// reaches: qrs-2's repeat(answer | item) asks an answer for its
		// answer too. Once a second type is reached, a name any of them
		// declares is no error.
		mixed := false
		for len(queue) > 0 {
			var next []Node
			qe := iterating(e, queue)
			if mixed && qe.strict {
				lenient := *e
				lenient.strict = false
				qe = &lenient
			}
			for i, n := range queue {
				r, err := c.argFor(qe, 0, n, i, nil)
				if err != nil {
					return nil, err
				}
				for _, x := range r {
					if !containsItem(out, x) {
						out = append(out, x)
						next = append(next, x)
						mixed = mixed || len(focus) > 0 && x.Type != focus[0].Type
					}
				}
			}
			if err := e.step(len(next)); err != nil {
				return nil, err
			}
			queue = next
		}
		return out, nil
	})
	m.add("ofType", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if err := e.checkTypeName(c.typeArg); err != nil {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			if e.typeMatch(n, c.typeArg, true) {
				out = append(out, n)
			}
		}
		return out, nil
	})
	m.add("is", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if err := e.checkTypeName(c.typeArg); err != nil {
			return nil, err
		}
		n, ok, err := single(focus, "is")
		if !ok || err != nil {
			return nil, err
		}
		return boolResult(e.isTypeOf(n, c.typeArg))
	})
	m.add("as", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if err := e.checkTypeName(c.typeArg); err != nil {
			return nil, err
		}
		if len(focus) > 1 {
			return nil, evalErr("as() expects a single item, got %d", len(focus))
		}
		var out []Node
		for _, n := range focus {
			if e.typeMatch(n, c.typeArg, true) {
				out = append(out, n)
			}
		}
		return out, nil
	})
	m.add("type", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		out := make([]Node, 0, len(focus))
		for _, n := range focus {
			ns, name := typeInfo(n)
			out = append(out, Node{Value: map[string]any{"namespace": ns, "name": name}, Type: "", Index: -1})
		}
		return out, nil
	})
	m.add("single", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(focus) > 1 {
			return nil, evalErr("expected a single item, got %d", len(focus))
		}
		return focus, nil
	})
	m.add("first", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[:1], nil
	})
	m.add("last", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[len(focus)-1:], nil
	})
	m.add("tail", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if len(focus) == 0 {
			return nil, nil
		}
		return focus[1:], nil
	})
	m.add("skip", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		n, ok, err := c.intArg(e, 0, in)
		if err != nil || !ok {
			return nil, err
		}
		if n <= 0 {
			return focus, nil
		}
		if n >= int64(len(focus)) {
			return nil, nil
		}
		return focus[n:], nil
	})
	m.add("take", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		n, ok, err := c.intArg(e, 0, in)
		if err != nil || !ok {
			return nil, err
		}
		if n <= 0 {
			return nil, nil
		}
		if n >= int64(len(focus)) {
			return focus, nil
		}
		return focus[:n], nil
	})
	m.add("intersect", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		other, err := c.arg(e, 0, in)
		if err != nil {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			if containsItem(other, n) && !containsItem(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	})
	m.add("exclude", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		other, err := c.arg(e, 0, in)
		if err != nil {
			return nil, err
		}
		var out []Node
		for _, n := range focus {
			if !containsItem(other, n) {
				out = append(out, n)
			}
		}
		return out, nil
	})
	m.add("union", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		other, err := c.arg(e, 0, in)
		if err != nil {
			return nil, err
		}
		return union(focus, other), nil
	})
	m.add("combine", 1, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		other, err := c.arg(e, 0, in)
		if err != nil {
			return nil, err
		}
		return append(slices.Clip(focus), other...), nil
	})
	m.add("iif", 2, 3, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		if c.target != nil {
			if len(focus) > 1 {
				return nil, evalErr("iif() expects a single item, got %d", len(focus))
			}
			in = focus
		}
		sub := *e
		if c.target != nil {
			sub.this = focus
		}
		cond, err := c.args[0].eval(&sub, in)
		if err != nil {
			return nil, err
		}
		if len(cond) > 1 {
			return nil, evalErr("iif() criterion must be a single boolean")
		}
		v, ok := false, len(cond) == 1
		if ok {
			b, isBool := system(cond[0]).(bool)
			if !isBool {
				return nil, evalErr("iif() criterion must be a boolean, got %s", typeName(cond[0]))
			}
			v = b
		}
		switch {
		case ok && v:
			return c.args[1].eval(&sub, in)
		case len(c.args) == 3:
			return c.args[2].eval(&sub, in)
		}
		return nil, nil
	})
	m.add("not", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		v, ok, err := singletonBool(focus)
		if err != nil || !ok {
			return nil, err
		}
		return boolResult(!v)
	})
	m.add("children", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		var out []Node
		for _, n := range focus {
			out = e.allChildren(n, out)
		}
		return out, nil
	})
	m.add("descendants", 0, 0, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		var out []Node
		queue := focus
		for len(queue) > 0 {
			var next []Node
			for _, n := range queue {
				next = e.allChildren(n, next)
			}
			if err := e.step(len(next)); err != nil {
				return nil, err
			}
			out = append(out, next...)
			queue = next
		}
		return out, nil
	})
	m.add("trace", 1, 2, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		name, _, err := c.stringArg(e, 0, in)
		if err != nil {
			return nil, err
		}
		shown := focus
		if len(c.args) == 2 {
			shown = nil
			ie := iterating(e, focus)
			for i, n := range focus {
				r, err := c.argFor(ie, 1, n, i, nil)
				if err != nil {
					return nil, err
				}
				shown = append(shown, r...)
			}
		}
		if e.ctx.Trace != nil {
			e.ctx.Trace(name, shown)
		}
		return focus, nil
	})
	m.add("aggregate", 1, 2, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		total, err := c.arg(e, 1, in)
		if err != nil {
			return nil, err
		}
		ie := iterating(e, focus)
		for i, n := range focus {
			if total, err = c.argFor(ie, 0, n, i, total); err != nil {
				return nil, err
			}
		}
		return total, nil
	})
	m.add("sort", 0, 10, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		return sortNodes(e, c, focus)
	})
	m.add("defineVariable", 1, 2, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		name, ok, err := c.stringArg(e, 0, in)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, evalErr("variable name must be a string")
		}
		switch name {
		case "context", "resource", "rootResource", "ucum", "sct", "loinc", "this", "index", "total":
			return nil, evalErr("cannot redefine %%%s", name)
		}
		for b := e.vars; b != nil; b = b.next {
			if b.name == name {
				return nil, evalErr("variable %%%s is already defined", name)
			}
		}
		value := focus
		if len(c.args) == 2 {
			sub := *e
			sub.this = focus
			if value, err = c.args[1].eval(&sub, focus); err != nil {
				return nil, err
			}
		}
		e.vars = &binding{name: name, value: value, next: e.vars}
		return focus, nil
	})
}

func sortNodes(e *env, c *callNode, focus []Node) ([]Node, error) {
	type keyed struct {
		n    Node
		keys [][]Node
	}
	items := make([]keyed, len(focus))
	desc := make([]bool, len(c.args))
	for i, a := range c.args {
		// sort(-key) sorts descending: the minus is read as a direction,
		// not applied, so that strings sort descending too.
		_, desc[i] = a.(*negateNode)
	}
	for i, n := range focus {
		items[i].n = n
		for j, a := range c.args {
			if desc[j] {
				a = a.(*negateNode).operand
			}
			sub := *e
			sub.this, sub.index = []Node{n}, i
			k, err := a.eval(&sub, sub.this)
			if err != nil {
				return nil, err
			}
			items[i].keys = append(items[i].keys, k)
		}
	}
	var sortErr error
	cmp := func(a, b []Node) int {
		if len(a) == 0 || len(b) == 0 {
			// An empty key sorts after every value (before them descending).
			return min(len(b), 1) - min(len(a), 1)
		}
		r, _, err := compareItems(a[0], b[0])
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return r
	}
	slices.SortStableFunc(items, func(x, y keyed) int {
		if len(c.args) == 0 {
			return cmp([]Node{x.n}, []Node{y.n})
		}
		for j := range c.args {
			r := cmp(x.keys[j], y.keys[j])
			if desc[j] {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return 0
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make([]Node, len(items))
	for i, it := range items {
		out[i] = it.n
	}
	return out, nil
}
