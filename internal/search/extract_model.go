package search

import (
	"sync"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// cachedModel remembers the answers of the specification's FHIRPath model.
// Looking an element up there walks the parent's children and builds
// names; extraction asks the same few hundred questions for every resource
// written, and the cache takes a third off Extract's time.
type cachedModel struct {
	model *spec.Model

	mu       sync.RWMutex
	children map[childKey]childAnswer
	bases    map[string]string
}

type childKey struct{ parent, name string }

type childAnswer struct {
	typ            string
	isChoice, isOK bool
}

// maxCached bounds the cache: element names come from the resources
// written, and unknown ones (answered ok false) must not grow it without
// end.
const maxCached = 20000

func newCachedModel(m *spec.Model) *cachedModel {
	return &cachedModel{model: m, children: make(map[childKey]childAnswer), bases: make(map[string]string)}
}

func (c *cachedModel) ChildType(parentType, name string) (typ string, isChoice bool, ok bool) {
	k := childKey{parentType, name}
	c.mu.RLock()
	a, hit := c.children[k]
	c.mu.RUnlock()
	if hit {
		return a.typ, a.isChoice, a.isOK
	}
	typ, isChoice, ok = c.model.ChildType(parentType, name)
	c.mu.Lock()
	if len(c.children) < maxCached {
		c.children[k] = childAnswer{typ, isChoice, ok}
	}
	c.mu.Unlock()
	return typ, isChoice, ok
}

func (c *cachedModel) BaseType(t string) string {
	c.mu.RLock()
	b, hit := c.bases[t]
	c.mu.RUnlock()
	if hit {
		return b
	}
	b = c.model.BaseType(t)
	c.mu.Lock()
	if len(c.bases) < maxCached {
		c.bases[t] = b
	}
	c.mu.Unlock()
	return b
}
