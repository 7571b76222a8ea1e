package spec

import "sync"

// Concept is one member of an expanded value set.
type Concept struct {
	System, Code, Display string
}

// ValueSet is a value set bound with required strength somewhere in the
// specification, expanded when the generator could do so from the package.
type ValueSet struct {
	URL string
	// Enumerable is false when the value set draws on a system the package
	// does not define (BCP-47 languages, MIME types, UCUM, ...) or on a
	// filter the generator does not evaluate: membership cannot be checked.
	Enumerable bool
	Concepts   []Concept // sorted by system, then code

	once    sync.Once
	bySys   map[[2]string]bool
	byCode  map[string]bool
	systems map[string]bool
}

// ValueSet returns the value set with the canonical url (a |version suffix
// is ignored), or nil when the specification does not bind it as required.
func (d *Definitions) ValueSet(url string) *ValueSet {
	return d.valueSets[stripVersion(url)]
}

// Contains reports whether (system, code) is in the value set. With an empty
// system any system matches, as for a plain code element. When the value set
// is not enumerable found is false and enumerable tells the caller to skip
// the check. A nil value set is not enumerable.
func (vs *ValueSet) Contains(system, code string) (found, enumerable bool) {
	if vs == nil || !vs.Enumerable {
		return false, false
	}
	vs.index()
	if system == "" {
		return vs.byCode[code], true
	}
	return vs.bySys[[2]string{system, code}], true
}

// HasSystem reports whether any concept of the value set is from system.
func (vs *ValueSet) HasSystem(system string) bool {
	if vs == nil {
		return false
	}
	vs.index()
	return vs.systems[system]
}

func (vs *ValueSet) index() {
	vs.once.Do(func() {
		vs.bySys = make(map[[2]string]bool, len(vs.Concepts))
		vs.byCode = make(map[string]bool, len(vs.Concepts))
		vs.systems = make(map[string]bool)
		for _, c := range vs.Concepts {
			vs.bySys[[2]string{c.System, c.Code}] = true
			vs.byCode[c.Code] = true
			vs.systems[c.System] = true
		}
	})
}

// CodeSystem is a code system used by a kept value set.
type CodeSystem struct {
	URL      string
	Content  string              // complete | fragment | not-present | example | supplement
	Concepts []CodeSystemConcept // the hierarchy flattened, depth first

	once   sync.Once
	byCode map[string]*CodeSystemConcept
}

// CodeSystemConcept is one concept; Parent is the code it sits under, or "".
type CodeSystemConcept struct {
	Code, Display, Parent string
}

// CodeSystem returns the code system with the canonical url, or nil.
func (d *Definitions) CodeSystem(url string) *CodeSystem {
	return d.codeSystems[stripVersion(url)]
}

// Lookup returns the concept with code, or nil.
func (cs *CodeSystem) Lookup(code string) *CodeSystemConcept {
	if cs == nil {
		return nil
	}
	cs.once.Do(func() {
		cs.byCode = make(map[string]*CodeSystemConcept, len(cs.Concepts))
		for i := range cs.Concepts {
			cs.byCode[cs.Concepts[i].Code] = &cs.Concepts[i]
		}
	})
	return cs.byCode[code]
}

func stripVersion(url string) string {
	for i := 0; i < len(url); i++ {
		if url[i] == '|' {
			return url[:i]
		}
	}
	return url
}
