package r4

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/fhir/spec"
)

// r4elements.txt.gz holds the R4 element table; see PROVENANCE.md.
//
//go:embed r4elements.txt.gz
var r4Elements []byte

// elem is one element definition of either version, reduced to what the
// conversion needs.
type elem struct {
	path       string   // "Encounter.hospitalization", "Procedure.performed[x]"
	name       string   // last segment without [x]: "performed"
	choice     bool     // the path ends in [x]
	list       bool     // max is not 1
	required   bool     // min is above 0
	types      []string // type codes; empty with contentRef
	contentRef string   // path whose children this element reuses
	// rule converts the element to the other version where the
	// element-by-element copy does not (rulesToR5 on R4 elements,
	// rulesToR4 on R5 ones): set with the table, read without hashing
	// the path once per property.
	rule rule
}

// table is the element tree of one FHIR version.
type table struct {
	version  string // "4.0" or "5.0", as in cross-version extension URLs
	byPath   map[string]*elem
	extValue map[string]bool // types allowed as Extension.value[x]
	root     map[string]bool // the types the table describes
	// kids resolves a JSON property name below an object's path without
	// building strings: choice elements under each of their typed names.
	kids map[string]map[string]kid
}

// kid is what child returns for one property name.
type kid struct {
	e  *elem
	ty string
}

func (t *table) add(e *elem) {
	last := e.path[strings.LastIndexByte(e.path, '.')+1:]
	e.choice = strings.HasSuffix(last, "[x]")
	e.name = strings.TrimSuffix(last, "[x]")
	t.byPath[e.path] = e
	if t.root == nil {
		t.root = map[string]bool{}
	}
	root, _, _ := strings.Cut(e.path, ".")
	t.root[root] = true
}

// child resolves a JSON property name below the object at path, returning
// the element and, for a choice, the type its suffix names.
func (t *table) child(path, key string) (*elem, string, bool) {
	k, ok := t.kids[path][key]
	return k.e, k.ty, ok
}

// setRules gives each element of t its rule from rules (keyed by path).
func (t *table) setRules(rules map[string]rule) {
	for path, r := range rules {
		if e, ok := t.byPath[path]; ok {
			e.rule = r
		}
	}
}

// index fills kids once every element is added: a property is the
// element of that name unless it is a choice; a choice element name[x]
// of type ty is the property name + ty with its first letter upper case
// (valueQuantity, effectiveDateTime), the shortest such name winning
// where two could be read so.
func (t *table) index() {
	t.kids = map[string]map[string]kid{}
	put := func(parent, key string, k kid) {
		m := t.kids[parent]
		if m == nil {
			m = map[string]kid{}
			t.kids[parent] = m
		}
		if old, ok := m[key]; ok && k.e.choice && (!old.e.choice || len(old.e.name) <= len(k.e.name)) {
			return
		}
		m[key] = k
	}
	for _, e := range t.byPath {
		i := strings.LastIndexByte(e.path, '.')
		if i < 0 {
			continue
		}
		parent := e.path[:i]
		if !e.choice {
			put(parent, e.name, kid{e, e.typ()})
			continue
		}
		for _, ty := range e.types {
			if ty != "" {
				put(parent, e.name+strings.ToUpper(ty[:1])+ty[1:], kid{e, ty})
			}
		}
	}
}

// lookup finds an element by path, with or without its [x].
func (t *table) lookup(path string) (*elem, bool) {
	if e, ok := t.byPath[path]; ok {
		return e, true
	}
	e, ok := t.byPath[path+"[x]"]
	return e, ok
}

// typ returns the single type of a non-choice element, "" for an inline
// structure reached by contentReference.
func (e *elem) typ() string {
	if len(e.types) == 1 {
		return e.types[0]
	}
	return ""
}

// next returns the path whose children describe a value of type ty in e.
func (e *elem) next(ty string) string {
	switch {
	case e.contentRef != "":
		return e.contentRef
	case ty == "BackboneElement" || ty == "Element" || ty == "":
		return e.path
	default:
		return ty
	}
}

func isInline(ty string) bool { return ty == "BackboneElement" || ty == "Element" || ty == "" }

func isPrimitive(ty string) bool { return ty != "" && ty[0] >= 'a' && ty[0] <= 'z' }

var (
	r4Once, r5Once sync.Once
	r4Table        *table
	r5Table        *table
)

func r4Model() *table {
	r4Once.Do(func() {
		t := &table{version: "4.0", byPath: map[string]*elem{}, extValue: map[string]bool{}}
		zr, err := gzip.NewReader(bytes.NewReader(r4Elements))
		if err != nil {
			panic("r4: embedded element table: " + err.Error())
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) != 5 {
				continue
			}
			e := &elem{path: f[0], required: f[1] != "0", list: f[2] != "1", contentRef: f[4]}
			if f[3] != "" {
				e.types = strings.Split(f[3], ",")
			}
			t.add(e)
		}
		if ev, ok := t.byPath["Extension.value[x]"]; ok {
			for _, ty := range ev.types {
				t.extValue[ty] = true
			}
		}
		t.index()
		t.setRules(rulesToR5)
		r4Table = t
	})
	return r4Table
}

func r5Model() *table {
	r5Once.Do(func() {
		t := &table{version: "5.0", byPath: map[string]*elem{}, extValue: map[string]bool{}}
		for _, ty := range spec.R5().Types {
			for _, el := range ty.Elements {
				i := strings.LastIndexByte(el.Path, '.')
				if i < 0 {
					continue
				}
				switch el.Path[i+1:] {
				case "id", "extension", "modifierExtension":
					continue
				}
				e := &elem{path: el.Path, required: el.Min > 0, list: el.IsList(), contentRef: el.ContentRef}
				for _, tr := range el.Types {
					e.types = append(e.types, strings.TrimPrefix(tr.Code, "http://hl7.org/fhirpath/System."))
				}
				t.add(e)
			}
		}
		if ev, ok := spec.R5().Types["Extension"]; ok {
			for _, el := range ev.Elements {
				if el.Path == "Extension.value[x]" {
					for _, tr := range el.Types {
						t.extValue[tr.Code] = true
					}
				}
			}
		}
		t.index()
		t.setRules(rulesToR4)
		r5Table = t
	})
	return r5Table
}
