package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// The input structures read only the fields the generator keeps.

type extension struct {
	URL         string `json:"url"`
	ValueURL    string `json:"valueUrl"`
	ValueString string `json:"valueString"`
}

type structureDefinition struct {
	URL            string `json:"url"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	Kind           string `json:"kind"`
	Abstract       bool   `json:"abstract"`
	Derivation     string `json:"derivation"`
	BaseDefinition string `json:"baseDefinition"`
	Snapshot       struct {
		Element []elementDefinition `json:"element"`
	} `json:"snapshot"`
}

type elementDefinition struct {
	Path      string `json:"path"`
	SliceName string `json:"sliceName"`
	Min       int    `json:"min"`
	Max       string `json:"max"`
	Base      struct {
		Path string `json:"path"`
	} `json:"base"`
	Type []struct {
		Code          string      `json:"code"`
		TargetProfile []string    `json:"targetProfile"`
		Extension     []extension `json:"extension"`
	} `json:"type"`
	ContentReference string `json:"contentReference"`
	IsSummary        bool   `json:"isSummary"`
	IsModifier       bool   `json:"isModifier"`
	Binding          *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
	Constraint []struct {
		Key        string `json:"key"`
		Severity   string `json:"severity"`
		Expression string `json:"expression"`
		Human      string `json:"human"`
	} `json:"constraint"`
}

type searchParameter struct {
	URL            string   `json:"url"`
	Code           string   `json:"code"`
	Name           string   `json:"name"`
	Base           []string `json:"base"`
	Type           string   `json:"type"`
	Expression     string   `json:"expression"`
	ProcessingMode string   `json:"processingMode"`
	Target         []string `json:"target"`
	Modifier       []string `json:"modifier"`
	Comparator     []string `json:"comparator"`
	MultipleOr     *bool    `json:"multipleOr"`
	MultipleAnd    *bool    `json:"multipleAnd"`
	Component      []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

type compartmentDefinition struct {
	URL      string `json:"url"`
	Code     string `json:"code"`
	Resource []struct {
		Code  string   `json:"code"`
		Param []string `json:"param"`
	} `json:"resource"`
}

type valueSetInclude struct {
	System  string `json:"system"`
	Concept []struct {
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"concept"`
	Filter []struct {
		Property string `json:"property"`
		Op       string `json:"op"`
		Value    string `json:"value"`
	} `json:"filter"`
	ValueSet []string `json:"valueSet"`
}

type expansionContains struct {
	System   string              `json:"system"`
	Code     string              `json:"code"`
	Display  string              `json:"display"`
	Contains []expansionContains `json:"contains"`
}

type valueSet struct {
	URL     string `json:"url"`
	Compose *struct {
		Include []valueSetInclude `json:"include"`
		Exclude []valueSetInclude `json:"exclude"`
	} `json:"compose"`
	Expansion *struct {
		Contains []expansionContains `json:"contains"`
	} `json:"expansion"`
}

type csConcept struct {
	Code    string      `json:"code"`
	Display string      `json:"display"`
	Concept []csConcept `json:"concept"`
}

type codeSystem struct {
	URL     string      `json:"url"`
	Content string      `json:"content"`
	Concept []csConcept `json:"concept"`
}

// pkg is the part of the package the generator reads.
type pkg struct {
	name, version string
	sds           []*structureDefinition
	params        []*searchParameter
	compartments  []*compartmentDefinition
	valueSets     map[string]*valueSet
	codeSystems   map[string]*codeSystem
}

// readPackage reads the resources at the top of the tarball's package/ folder.
func readPackage(tgz []byte) (*pkg, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	p := &pkg{valueSets: map[string]*valueSet{}, codeSystems: map[string]*codeSystem{}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || path.Dir(h.Name) != "package" || !strings.HasSuffix(h.Name, ".json") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		base := path.Base(h.Name)
		if base == "package.json" {
			var m struct{ Name, Version string }
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			p.name, p.version = m.Name, m.Version
			continue
		}
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
		var target any
		switch head.ResourceType {
		case "StructureDefinition":
			sd := &structureDefinition{}
			p.sds, target = append(p.sds, sd), sd
		case "SearchParameter":
			sp := &searchParameter{}
			p.params, target = append(p.params, sp), sp
		case "CompartmentDefinition":
			cd := &compartmentDefinition{}
			p.compartments, target = append(p.compartments, cd), cd
		case "ValueSet":
			vs := &valueSet{}
			if err := json.Unmarshal(data, vs); err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			p.valueSets[vs.URL] = vs
			continue
		case "CodeSystem":
			cs := &codeSystem{}
			if err := json.Unmarshal(data, cs); err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			p.codeSystems[cs.URL] = cs
			continue
		default:
			continue
		}
		if err := json.Unmarshal(data, target); err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	if p.name == "" {
		return nil, fmt.Errorf("no package/package.json in the tarball")
	}
	return p, nil
}
