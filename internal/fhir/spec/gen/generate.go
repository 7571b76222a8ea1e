package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/emr-project/emr/internal/fhir/spec"
)

const (
	extFHIRType = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
	extRegex    = "http://hl7.org/fhir/StructureDefinition/regex"
	systemTypes = "http://hl7.org/fhirpath/System."
)

// Generate compiles the package tarball into the embedded file and returns
// it with a one-line summary of what it holds.
func Generate(tgz []byte) ([]byte, string, error) {
	p, err := readPackage(tgz)
	if err != nil {
		return nil, "", fmt.Errorf("read package: %w", err)
	}
	f := &spec.File{Package: p.name + "#" + p.version}
	constraints := map[spec.FileConstraint]bool{}
	required := map[string]bool{}
	for _, sd := range p.sds {
		if !keepType(sd) {
			continue
		}
		ft, err := compileType(sd)
		if err != nil {
			return nil, "", err
		}
		f.Types = append(f.Types, ft)
		for _, el := range sd.Snapshot.Element {
			for _, c := range el.Constraint {
				constraints[spec.FileConstraint{c.Key, c.Severity, c.Expression, c.Human}] = true
			}
			if el.Binding != nil && el.Binding.Strength == "required" && el.Binding.ValueSet != "" {
				required[stripVersion(el.Binding.ValueSet)] = true
			}
		}
	}
	slices.SortFunc(f.Types, func(a, b spec.FileType) int { return strings.Compare(a.Name, b.Name) })

	// Constraints are stored once and referred to by index.
	for c := range constraints {
		f.Constraints = append(f.Constraints, c)
	}
	slices.SortFunc(f.Constraints, func(a, b spec.FileConstraint) int {
		for i := range a {
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	index := make(map[spec.FileConstraint]int, len(f.Constraints))
	for i, c := range f.Constraints {
		index[c] = i
	}
	sds := map[string]*structureDefinition{}
	for _, sd := range p.sds {
		if keepType(sd) {
			sds[sd.Type] = sd
		}
	}
	for i := range f.Types {
		sd := sds[f.Types[i].Name]
		for j, el := range keptElements(sd) {
			for _, c := range el.Constraint {
				f.Types[i].Elements[j].Constraints = append(f.Types[i].Elements[j].Constraints,
					index[spec.FileConstraint{c.Key, c.Severity, c.Expression, c.Human}])
			}
		}
	}

	for _, sp := range p.params {
		fs := spec.FileSearchParam{URL: sp.URL, Code: sp.Code, Name: sp.Name, Base: sp.Base, Type: sp.Type,
			Expression: sp.Expression, ProcessingMode: sp.ProcessingMode, Target: sp.Target,
			Modifier: sp.Modifier, Comparator: sp.Comparator, MultipleOr: sp.MultipleOr, MultipleAnd: sp.MultipleAnd}
		for _, c := range sp.Component {
			fs.Component = append(fs.Component, spec.SearchComponent{Definition: c.Definition, Expression: c.Expression})
		}
		f.Search = append(f.Search, fs)
	}
	slices.SortFunc(f.Search, func(a, b spec.FileSearchParam) int { return strings.Compare(a.URL, b.URL) })

	for _, cd := range p.compartments {
		if strings.HasSuffix(cd.URL, "/example") {
			continue // an example, not a definition: it repeats Device
		}
		fc := spec.FileCompartment{Code: cd.Code, URL: cd.URL}
		for _, r := range cd.Resource {
			fc.Resources = append(fc.Resources, spec.CompartmentResource{Code: r.Code, Params: r.Param})
		}
		slices.SortFunc(fc.Resources, func(a, b spec.CompartmentResource) int { return strings.Compare(a.Code, b.Code) })
		f.Compartment = append(f.Compartment, fc)
	}
	slices.SortFunc(f.Compartment, func(a, b spec.FileCompartment) int { return strings.Compare(a.Code, b.Code) })

	ex := newExpander(p)
	systems := map[string]bool{}
	enumerable := 0
	for _, url := range sortedKeys(required) {
		fv := ex.fileValueSet(url)
		if fv.Enumerable {
			enumerable++
		}
		for _, s := range fv.Systems {
			systems[s.System] = true
		}
		f.ValueSets = append(f.ValueSets, fv)
	}
	for _, url := range sortedKeys(systems) {
		if cs := p.codeSystems[url]; cs != nil {
			f.CodeSystems = append(f.CodeSystems, compileCodeSystem(cs))
		}
	}

	raw, err := json.Marshal(f)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	// The zero header (no name, no ModTime) keeps the bytes reproducible.
	if _, err := zw.Write(raw); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	elements := 0
	for _, t := range f.Types {
		elements += len(t.Elements)
	}
	stats := fmt.Sprintf("%d types, %d elements, %d constraints, %d search parameters, %d compartments, %d value sets (%d enumerable), %d code systems, %d bytes of JSON",
		len(f.Types), elements, len(f.Constraints), len(f.Search), len(f.Compartment), len(f.ValueSets), enumerable, len(f.CodeSystems), len(raw))
	return buf.Bytes(), stats, nil
}

// keepType keeps the base definitions of resources, datatypes and
// primitives; profiles (derivation constraint) and logical models are left out.
func keepType(sd *structureDefinition) bool {
	switch sd.Kind {
	case "resource", "complex-type", "primitive-type":
		return sd.Derivation != "constraint"
	}
	return false
}

// keptElements is the snapshot without slices, which base definitions do
// not use but which would give two elements one path.
func keptElements(sd *structureDefinition) []elementDefinition {
	var out []elementDefinition
	for _, el := range sd.Snapshot.Element {
		if el.SliceName == "" {
			out = append(out, el)
		}
	}
	return out
}

func compileType(sd *structureDefinition) (spec.FileType, error) {
	ft := spec.FileType{Name: sd.Type, URL: sd.URL, Kind: sd.Kind, Abstract: sd.Abstract, Base: lastSegment(sd.BaseDefinition)}
	for _, el := range keptElements(sd) {
		fe := spec.FileElement{Path: el.Path, Min: el.Min, Summary: el.IsSummary, Modifier: el.IsModifier,
			ContentRef: contentRef(el.ContentReference)}
		switch el.Max {
		case "*":
			fe.Max = -1
		case "":
			fe.Max = 1 // only roots of some types omit it
		default:
			n, err := strconv.Atoi(el.Max)
			if err != nil {
				return ft, fmt.Errorf("%s: max %q", el.Path, el.Max)
			}
			fe.Max = n
		}
		primitiveValue := sd.Kind == "primitive-type" && el.Path == sd.Type+".value"
		for _, t := range el.Type {
			code := t.Code
			for _, x := range t.Extension {
				switch {
				case x.URL == extFHIRType && strings.HasPrefix(code, systemTypes) && !primitiveValue:
					// Resource.id, Element.id, Extension.url are FHIR
					// primitives carried as System types in the snapshot.
					code = x.ValueURL
				case x.URL == extRegex && primitiveValue:
					ft.Regex = x.ValueString
				}
			}
			if el.Base.Path == "Element.id" {
				// Element.id is a string (Element's own definition); the
				// snapshots of most datatypes say "id", which would reject
				// ids such as ElementDefinition's "Patient.name".
				code = "string"
			}
			tr := spec.FileTypeRef{Code: code}
			for _, target := range t.TargetProfile {
				tr.Targets = append(tr.Targets, lastSegment(target))
			}
			fe.Types = append(fe.Types, tr)
		}
		if el.Binding != nil && el.Binding.ValueSet != "" {
			fe.Binding = &spec.Binding{Strength: el.Binding.Strength, ValueSet: stripVersion(el.Binding.ValueSet)}
		}
		ft.Elements = append(ft.Elements, fe)
	}
	if len(ft.Elements) == 0 {
		return ft, fmt.Errorf("%s has no snapshot", sd.URL)
	}
	return ft, nil
}

// contentRef turns "#Questionnaire.item" (or a URL ending in it) into the path.
func contentRef(ref string) string {
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

func lastSegment(url string) string {
	return url[strings.LastIndexByte(url, '/')+1:]
}

func stripVersion(url string) string {
	if i := strings.IndexByte(url, '|'); i >= 0 {
		return url[:i]
	}
	return url
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func compileCodeSystem(cs *codeSystem) spec.FileCodeSystem {
	fc := spec.FileCodeSystem{URL: cs.URL, Content: cs.Content}
	var walk func(list []csConcept, parent string)
	walk = func(list []csConcept, parent string) {
		for _, c := range list {
			fc.Concepts = append(fc.Concepts, [3]string{c.Code, c.Display, parent})
			walk(c.Concept, c.Code)
		}
	}
	walk(cs.Concept, "")
	return fc
}
