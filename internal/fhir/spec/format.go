package spec

// The types below are the embedded file's format, written by ./gen and read
// by R5. Field names are short because the file is decoded on every start;
// they are not meant for other uses.

// File is the whole embedded document.
type File struct {
	Package     string            `json:"package"`     // e.g. hl7.fhir.r5.core#5.0.0
	Constraints []FileConstraint  `json:"constraints"` // shared by index: ele-1 alone is on every element
	Types       []FileType        `json:"types"`
	Search      []FileSearchParam `json:"search"`
	Compartment []FileCompartment `json:"compartments"`
	ValueSets   []FileValueSet    `json:"valueSets"`
	CodeSystems []FileCodeSystem  `json:"codeSystems"`
}

// FileConstraint is a Constraint: key, severity, expression, human.
type FileConstraint [4]string

// FileType is a Type.
type FileType struct {
	Name     string        `json:"n"`
	URL      string        `json:"u"`
	Kind     string        `json:"k"`
	Abstract bool          `json:"a,omitempty"`
	Base     string        `json:"b,omitempty"`
	Regex    string        `json:"r,omitempty"`
	Elements []FileElement `json:"e"`
}

// FileElement is an Element; Constraints index File.Constraints.
type FileElement struct {
	Path        string        `json:"p"`
	Min         int           `json:"n,omitempty"`
	Max         int           `json:"x"`
	Types       []FileTypeRef `json:"t,omitempty"`
	ContentRef  string        `json:"r,omitempty"`
	Summary     bool          `json:"s,omitempty"`
	Modifier    bool          `json:"m,omitempty"`
	Binding     *Binding      `json:"b,omitempty"`
	Constraints []int         `json:"c,omitempty"`
}

// FileTypeRef is a TypeRef.
type FileTypeRef struct {
	Code    string   `json:"c"`
	Targets []string `json:"t,omitempty"`
}

// FileSearchParam is a SearchParam; absent MultipleOr/And mean true.
type FileSearchParam struct {
	URL            string            `json:"url"`
	Code           string            `json:"code"`
	Name           string            `json:"name"`
	Base           []string          `json:"base"`
	Type           string            `json:"type"`
	Expression     string            `json:"expr,omitempty"`
	ProcessingMode string            `json:"mode,omitempty"`
	Target         []string          `json:"target,omitempty"`
	Modifier       []string          `json:"modifier,omitempty"`
	Comparator     []string          `json:"comparator,omitempty"`
	MultipleOr     *bool             `json:"or,omitempty"`
	MultipleAnd    *bool             `json:"and,omitempty"`
	Component      []SearchComponent `json:"component,omitempty"`
}

// FileCompartment is a Compartment.
type FileCompartment struct {
	Code      string                `json:"code"`
	URL       string                `json:"url"`
	Resources []CompartmentResource `json:"resources"`
}

// FileValueSet is a ValueSet; codes are grouped by system.
type FileValueSet struct {
	URL        string         `json:"url"`
	Enumerable bool           `json:"enum,omitempty"`
	Systems    []FileVSSystem `json:"systems,omitempty"`
}

// FileVSSystem lists the codes of one system in a value set, and their
// displays (same length as Codes).
type FileVSSystem struct {
	System   string   `json:"s"`
	Codes    []string `json:"c"`
	Displays []string `json:"d"`
}

// FileCodeSystem is a CodeSystem; the concepts are [code, display, parent].
type FileCodeSystem struct {
	URL      string      `json:"url"`
	Content  string      `json:"content"`
	Concepts [][3]string `json:"concepts,omitempty"`
}
