package access

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
)

// Labeler marks sensitive data: a resource that holds a code of a
// sensitive category (mental health, substance use, HIV, reproductive
// health …) gets that category's meta.security label (v3 ActCode) when it
// is written, so that patients' Consents (and later masking) can name the
// category instead of every code. The defaults (labels.json) are code
// ranges and concepts of ICD-10, SNOMED CT and LOINC; a deployment can
// give its own file. Labels are only ever added: a label written by a
// client stays.
type Labeler struct {
	labels []sensitivity
}

type sensitivity struct {
	Code    string `json:"code"`
	Display string `json:"display"`
	Match   []struct {
		System   string   `json:"system"`
		Prefixes []string `json:"prefixes"`
		Codes    []string `json:"codes"`
	} `json:"match"`
}

// LabelSystem is the code system of the sensitivity labels.
const LabelSystem = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

//go:embed labels.json
var defaultLabels []byte

// DefaultLabeler returns the labeler of the built-in categories.
func DefaultLabeler() *Labeler {
	l, err := NewLabeler(defaultLabels)
	if err != nil {
		panic("access: the built-in labels are invalid: " + err.Error())
	}
	return l
}

// NewLabeler reads a labels file (the form of labels.json).
func NewLabeler(data []byte) (*Labeler, error) {
	var f struct {
		Comment string        `json:"_comment"`
		Labels  []sensitivity `json:"labels"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	for _, s := range f.Labels {
		if s.Code == "" || len(s.Match) == 0 {
			return nil, fmt.Errorf("labels: a label needs a code and what it matches")
		}
	}
	return &Labeler{labels: f.Labels}, nil
}

// Label adds to res the labels of the sensitive codes it holds, anywhere
// in it (a contained resource's codes label the whole).
func (l *Labeler) Label(res fhir.Resource) {
	hit := make([]bool, len(l.labels))
	walkCodings(map[string]any(res), func(system, code string) {
		for i, s := range l.labels {
			hit[i] = hit[i] || s.matches(system, code)
		}
	})
	var found []sensitivity // in the file's order, whatever the resource's
	for i, s := range l.labels {
		if hit[i] {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return
	}
	meta, _ := res["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		res["meta"] = meta
	}
	labels, _ := meta["security"].([]any)
	for _, s := range found {
		have := slices.ContainsFunc(labels, func(x any) bool {
			m, _ := x.(map[string]any)
			return m["system"] == LabelSystem && m["code"] == s.Code
		})
		if !have {
			labels = append(labels, map[string]any{"system": LabelSystem, "code": s.Code, "display": s.Display})
		}
	}
	meta["security"] = labels
}

func (s sensitivity) matches(system, code string) bool {
	for _, m := range s.Match {
		if m.System != system {
			continue
		}
		if slices.Contains(m.Codes, code) {
			return true
		}
		for _, p := range m.Prefixes {
			if strings.HasPrefix(code, p) {
				return true
			}
		}
	}
	return false
}

// walkCodings calls fn with each (system, code) pair of v, leaving out
// meta (labels and tags are not clinical content).
func walkCodings(v any, fn func(system, code string)) {
	switch v := v.(type) {
	case map[string]any:
		if sys, ok := v["system"].(string); ok {
			if code, ok := v["code"].(string); ok {
				fn(sys, code)
			}
		}
		for k, x := range v {
			if k != "meta" {
				walkCodings(x, fn)
			}
		}
	case []any:
		for _, x := range v {
			walkCodings(x, fn)
		}
	}
}
