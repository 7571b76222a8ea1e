package fhirpath

import (
	"slices"
	"strings"
)

// Hoisting. An invariant such as dom-3 compares each contained resource
// with every reference in the whole resource:
//
//	contained.where(('#'+id in %resource.descendants().reference) …)
//
// %resource.descendants().reference does not depend on the contained
// resource the where() is looking at, yet a plain evaluator walks the whole
// resource again for each one: a Claim with twenty contained resources is
// walked eighty times. Compile finds the largest subexpressions inside an
// iterated argument (where, select, all, …) whose value depends only on
// the evaluation's %variables, and evaluates each of them once per
// Evaluate call.

// Within a hoisted subexpression the focus-free calls are cached too, and
// equal ones share their slot: dom-3's union walks %resource.descendants()
// four times, which becomes once.

// iteratedArgs says, for each function that evaluates arguments once per
// item of its focus, which of its arguments it iterates; -1 means all.
var iteratedArgs = map[string]int{
	"where": 0, "exists": 0, "all": 0, "select": 0, "repeat": 0, "repeatAll": 0, "aggregate": 0, "sort": -1,
}

// cachedNode evaluates inner once per Evaluate call; inner depends on
// nothing an iteration changes.
type cachedNode struct {
	inner node
	slot  int
}

type cacheSlot struct {
	done  bool
	value []Node
}

func (c *cachedNode) eval(e *env, in []Node) ([]Node, error) {
	s := &e.cache[c.slot]
	if s.done {
		return s.value, nil
	}
	v, err := c.inner.eval(e, in)
	if err != nil {
		return nil, err
	}
	// Clipped, so that a caller appending to the shared result copies it.
	s.value, s.done = slices.Clip(v), true
	return s.value, nil
}

// hoist rewrites root, wrapping its hoistable subexpressions in
// cachedNodes, and returns the number of cache slots an evaluation needs.
func hoist(root node) (node, int) {
	if definesVariables(root) {
		// A variable's value depends on where on the chain it was
		// defined: leave such expressions alone.
		return root, 0
	}
	h := &hoister{}
	return h.rewrite(root, false), h.slots
}

type hoister struct {
	slots  int
	byText map[string]int // slot of each cached subexpression, by its text
}

// rewrite returns n with the hoistable subexpressions below it wrapped;
// looped says that n is evaluated once per item of some iteration.
func (h *hoister) rewrite(n node, looped bool) node {
	if looped && !dependsOnFocus(n) {
		switch n.(type) {
		case *literalNode, *varNode:
			return n // nothing to save
		}
		return h.cache(n)
	}
	switch x := n.(type) {
	case *memberNode:
		if x.target != nil {
			x.target = h.rewrite(x.target, looped)
		}
	case *callNode:
		if x.target != nil {
			x.target = h.rewrite(x.target, looped)
		}
		if x.typeArg != "" {
			break // the argument is a type name, not evaluated
		}
		for i, a := range x.args {
			x.args[i] = h.rewrite(a, looped || iterated(x, i))
		}
	case *binaryNode:
		x.left = h.rewrite(x.left, looped)
		x.right = h.rewrite(x.right, looped)
	case *indexNode:
		x.target = h.rewrite(x.target, looped)
		x.index = h.rewrite(x.index, looped)
	case *negateNode:
		x.operand = h.rewrite(x.operand, looped)
	case *typeOpNode:
		x.left = h.rewrite(x.left, looped)
	}
	return n
}

// cache wraps the focus-free n, and the calls inside it, in cachedNodes.
func (h *hoister) cache(n node) node {
	text, ok := nodeText(n)
	if slot, seen := h.byText[text]; ok && seen {
		return &cachedNode{inner: n, slot: slot}
	}
	switch x := n.(type) {
	case *memberNode:
		x.target = h.cacheCalls(x.target)
	case *callNode:
		x.target = h.cacheCalls(x.target)
	case *binaryNode:
		x.left, x.right = h.cacheCalls(x.left), h.cacheCalls(x.right)
	case *indexNode:
		x.target = h.cacheCalls(x.target)
	case *negateNode:
		x.operand = h.cacheCalls(x.operand)
	case *typeOpNode:
		x.left = h.cacheCalls(x.left)
	}
	h.slots++
	if ok {
		if h.byText == nil {
			h.byText = map[string]int{}
		}
		h.byText[text] = h.slots - 1
	}
	return &cachedNode{inner: n, slot: h.slots - 1}
}

// cacheCalls caches n, part of a focus-free subexpression, if it is or
// holds a call; the arguments of the calls are left alone (an iterated one
// sees other items).
func (h *hoister) cacheCalls(n node) node {
	switch x := n.(type) {
	case *callNode:
		return h.cache(x)
	case *memberNode:
		if x.target != nil {
			x.target = h.cacheCalls(x.target)
		}
	case *binaryNode:
		x.left, x.right = h.cacheCalls(x.left), h.cacheCalls(x.right)
	case *typeOpNode:
		x.left = h.cacheCalls(x.left)
	}
	return n
}

// nodeText renders n as FHIRPath, for telling equal subexpressions; ok is
// false for a node it cannot render faithfully.
func nodeText(n node) (text string, ok bool) {
	var b strings.Builder
	ok = writeNode(&b, n)
	return b.String(), ok
}

func writeNode(b *strings.Builder, n node) bool {
	switch x := n.(type) {
	case *varNode:
		b.WriteString("%`" + x.name + "`")
	case *memberNode:
		if x.target != nil {
			if !writeNode(b, x.target) {
				return false
			}
			b.WriteByte('.')
		}
		b.WriteString("`" + x.name + "`")
	case *callNode:
		if x.target != nil {
			if !writeNode(b, x.target) {
				return false
			}
			b.WriteByte('.')
		}
		b.WriteString(x.name + "(")
		if x.typeArg != "" {
			b.WriteString(x.typeArg)
		}
		for i, a := range x.args {
			if x.typeArg != "" {
				break
			}
			if i > 0 {
				b.WriteByte(',')
			}
			if !writeNode(b, a) {
				return false
			}
		}
		b.WriteByte(')')
	case *binaryNode:
		b.WriteByte('(')
		if !writeNode(b, x.left) {
			return false
		}
		b.WriteString(" " + x.op + " ")
		if !writeNode(b, x.right) {
			return false
		}
		b.WriteByte(')')
	default:
		return false // literals, indexes and the rest: not worth sharing
	}
	return true
}

// iterated reports whether c evaluates its argument i once per focus item.
func iterated(c *callNode, i int) bool {
	a, ok := iteratedArgs[c.name]
	return ok && (a == -1 || a == i)
}

// dependsOnFocus reports whether n's value may depend on the input it is
// evaluated on or on $this, $index or $total. When in doubt it says yes.
func dependsOnFocus(n node) bool {
	switch x := n.(type) {
	case *literalNode, *varNode:
		return false
	case *memberNode:
		return x.target == nil || dependsOnFocus(x.target)
	case *callNode:
		if x.target == nil || x.name == "trace" || dependsOnFocus(x.target) {
			return true // trace has an effect that must happen each time
		}
		if x.typeArg != "" {
			return false
		}
		for i, a := range x.args {
			// An iterated argument sees only the items of the (here
			// focus-free) target; any other is evaluated on the input.
			if !iterated(x, i) && dependsOnFocus(a) {
				return true
			}
		}
		return false
	case *binaryNode:
		return dependsOnFocus(x.left) || dependsOnFocus(x.right)
	case *indexNode:
		return dependsOnFocus(x.target) || dependsOnFocus(x.index)
	case *negateNode:
		return dependsOnFocus(x.operand)
	case *typeOpNode:
		return dependsOnFocus(x.left)
	}
	return true
}

// definesVariables reports whether defineVariable is called anywhere in n.
func definesVariables(n node) bool {
	switch x := n.(type) {
	case *memberNode:
		return x.target != nil && definesVariables(x.target)
	case *callNode:
		if x.name == "defineVariable" || (x.target != nil && definesVariables(x.target)) {
			return true
		}
		return slices.ContainsFunc(x.args, definesVariables)
	case *binaryNode:
		return definesVariables(x.left) || definesVariables(x.right)
	case *indexNode:
		return definesVariables(x.target) || definesVariables(x.index)
	case *negateNode:
		return definesVariables(x.operand)
	case *typeOpNode:
		return definesVariables(x.left)
	}
	return false
}
