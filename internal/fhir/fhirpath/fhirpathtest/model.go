// Package fhirpathtest is a test helper: a Model read from the FHIR core
// package's StructureDefinitions in the shared test material, and a
// converter from FHIR XML to the JSON tree. Production code gets its Model
// from the spec package; only tests import this one.
package fhirpathtest

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/emr-project/emr/internal/sharedtest"
)

// Model implements fhirpath.Model from the core StructureDefinitions.
type Model struct {
	elements map[string]map[string]element // type → element name → info
	base     map[string]string
}

type element struct {
	typ     string
	choice  bool
	isArray bool
}

func (m *Model) ChildType(parent, name string) (string, bool, bool) {
	for t := parent; t != ""; t = m.base[t] {
		if el, ok := m.elements[t][name]; ok {
			return el.typ, el.choice, true
		}
	}
	return "", false, false
}

func (m *Model) BaseType(t string) string { return m.base[t] }

// Element returns the declaration of name on parent or its ancestors.
func (m *Model) Element(parent, name string) (typ string, isChoice, isArray, ok bool) {
	el, ok := m.element(parent, name)
	return el.typ, el.choice, el.isArray, ok
}

// Repeats reports whether name repeats (max > 1) on parent.
func (m *Model) Repeats(parent, name string) bool {
	el, _ := m.element(parent, name)
	return el.isArray
}

// element returns the declaration of name on parent or its ancestors.
func (m *Model) element(parent, name string) (element, bool) {
	for t := parent; t != ""; t = m.base[t] {
		if el, ok := m.elements[t][name]; ok {
			return el, true
		}
	}
	return element{}, false
}

var (
	modelOnce   sync.Once
	loadedModel *Model
	modelErr    error
)

// LoadModel reads the model once per test binary; it skips the test when
// the shared material is absent.
func LoadModel(t testing.TB) *Model {
	t.Helper()
	path := sharedtest.Path(t, "fhir", "hl7.fhir.r5.core-5.0.0.tgz")
	modelOnce.Do(func() { loadedModel, modelErr = readModel(path) })
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return loadedModel
}

type sdJSON struct {
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	Abstract       bool   `json:"abstract"`
	Snapshot       struct {
		Element []struct {
			Path             string `json:"path"`
			Max              string `json:"max"`
			ContentReference string `json:"contentReference"`
			Type             []struct {
				Code      string `json:"code"`
				Extension []struct {
					URL      string `json:"url"`
					ValueURL string `json:"valueUrl"`
				} `json:"extension"`
			} `json:"type"`
		} `json:"element"`
	} `json:"snapshot"`
}

func readModel(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	m := &Model{elements: map[string]map[string]element{}, base: map[string]string{}}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(h.Name, "package/StructureDefinition-") || !strings.HasSuffix(h.Name, ".json") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		var sd sdJSON
		if err := json.Unmarshal(data, &sd); err != nil {
			return nil, err
		}
		if sd.Derivation != "specialization" && sd.Type != "Base" {
			continue
		}
		if sd.Kind == "logical" {
			continue
		}
		if sd.BaseDefinition != "" {
			m.base[sd.Type] = sd.BaseDefinition[strings.LastIndexByte(sd.BaseDefinition, '/')+1:]
		}
		for _, el := range sd.Snapshot.Element {
			dot := strings.LastIndexByte(el.Path, '.')
			if dot < 0 {
				continue
			}
			parent, name := el.Path[:dot], el.Path[dot+1:]
			if parent == sd.Type {
				parent = sd.Type
			} else {
				m.base[parent] = "BackboneElement"
			}
			e := element{isArray: el.Max != "1" && el.Max != "0"}
			if n, ok := strings.CutSuffix(name, "[x]"); ok {
				name, e.choice = n, true
			} else if el.ContentReference != "" {
				e.typ = strings.TrimPrefix(el.ContentReference[strings.IndexByte(el.ContentReference, '#'):], "#")
			} else if len(el.Type) > 0 {
				e.typ = el.Type[0].Code
				if e.typ == "BackboneElement" || e.typ == "Element" && strings.Count(el.Path, ".") > 1 {
					e.typ = el.Path
				}
				if rest, ok := strings.CutPrefix(e.typ, "http://hl7.org/fhirpath/System."); ok {
					e.typ = strings.ToLower(rest[:1]) + rest[1:]
					for _, x := range el.Type[0].Extension {
						if strings.HasSuffix(x.URL, "structuredefinition-fhir-type") {
							e.typ = x.ValueURL
						}
					}
				}
			}
			if m.elements[parent] == nil {
				m.elements[parent] = map[string]element{}
			}
			m.elements[parent][name] = e
		}
	}
	return m, nil
}
