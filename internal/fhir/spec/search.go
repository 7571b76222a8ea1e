package spec

// SearchParam is one SearchParameter of the specification.
type SearchParam struct {
	URL            string
	Code           string // the name used in queries, e.g. "name"
	Name           string
	Base           []string // resource types it applies to; Resource or DomainResource for all
	Type           string   // number | date | string | token | reference | composite | quantity | uri | special | resource
	Expression     string   // FHIRPath; "" for parameters the server implements itself (_text, _content, ...)
	ProcessingMode string   // normal | phonetic | other
	Target         []string // reference: allowed target resource types
	Modifier       []string
	Comparator     []string
	MultipleOr     bool // true when the definition allows it or says nothing
	MultipleAnd    bool
	Component      []SearchComponent
}

// SearchComponent is one part of a composite parameter.
type SearchComponent struct {
	Definition string `json:"definition"` // canonical URL of the component's SearchParameter
	Expression string `json:"expression"` // FHIRPath relative to the composite's expression
}

func (d *Definitions) buildSearch(fs []FileSearchParam) {
	d.SearchParams = make([]*SearchParam, len(fs))
	d.searchByType = make(map[string]map[string]*SearchParam)
	for i, f := range fs {
		sp := &SearchParam{URL: f.URL, Code: f.Code, Name: f.Name, Base: f.Base, Type: f.Type,
			Expression: f.Expression, ProcessingMode: f.ProcessingMode, Target: f.Target,
			Modifier: f.Modifier, Comparator: f.Comparator, Component: f.Component,
			MultipleOr: f.MultipleOr == nil || *f.MultipleOr, MultipleAnd: f.MultipleAnd == nil || *f.MultipleAnd}
		d.SearchParams[i] = sp
		for _, b := range sp.Base {
			m := d.searchByType[b]
			if m == nil {
				m = make(map[string]*SearchParam)
				d.searchByType[b] = m
			}
			m[sp.Code] = sp
		}
	}
}

// SearchParamsFor returns the search parameters of a resource type by code,
// those defined on Resource and DomainResource included. The map is fresh:
// the caller may keep or change it.
func (d *Definitions) SearchParamsFor(resourceType string) map[string]*SearchParam {
	out := make(map[string]*SearchParam)
	// Walk from the most general base so that a specific definition wins
	// over an inherited one of the same code.
	var chain []string
	for n := resourceType; n != ""; {
		chain = append(chain, n)
		t := d.Types[n]
		if t == nil {
			break
		}
		n = t.Base
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for code, sp := range d.searchByType[chain[i]] {
			out[code] = sp
		}
	}
	return out
}

// Compartment is one CompartmentDefinition: which resources belong to a
// compartment and through which search parameters.
type Compartment struct {
	Code      string // Patient, Encounter, ...
	URL       string
	Resources []CompartmentResource
}

// CompartmentResource says that resources of type Code are in the
// compartment when any of Params refers to its focus ("{def}" for the focus
// resource itself). No params means the type is never in the compartment.
type CompartmentResource struct {
	Code   string   `json:"code"`
	Params []string `json:"param,omitempty"`
}

// Params returns the search parameters linking resourceType to the
// compartment, or nil when it is not in it.
func (c *Compartment) Params(resourceType string) []string {
	for _, r := range c.Resources {
		if r.Code == resourceType {
			return r.Params
		}
	}
	return nil
}
