package search

import (
	"github.com/emr-project/emr/internal/fhir/spec"
)

// Kind is the type of a search parameter.
type Kind string

const (
	KindString    Kind = "string"
	KindToken     Kind = "token"
	KindReference Kind = "reference"
	KindDate      Kind = "date"
	KindNumber    Kind = "number"
	KindQuantity  Kind = "quantity"
	KindURI       Kind = "uri"
	KindComposite Kind = "composite"
	KindSpecial   Kind = "special"
)

// Entry is one index value extracted from a resource for one search
// parameter. Which fields are set depends on Kind; a backend stores each
// kind in its own table.
type Entry struct {
	Param string // the parameter code, e.g. "name", "_lastUpdated"
	Kind  Kind

	// Composite parameters index each component value as an Entry of the
	// component's kind with Param set to the composite's code, Group > 0
	// shared by the components of one composite value, and Component its
	// index in the definition. Group and Component are 0 otherwise.
	Group     int
	Component int

	// string: Text is the normalised value (Normalize); Exact the value as
	// written. uri: Exact is the value.
	Text  string
	Exact string

	// token: System and Code (Code alone when the value has no system, e.g.
	// a code or boolean); Display is the normalised text (Coding.display,
	// CodeableConcept.text, Identifier.type.text) for :text. For an
	// Identifier, TypeSystem/TypeCode are its type's coding, for :of-type.
	// quantity: System and Code are the unit's system and code.
	System     string
	Code       string
	Display    string
	TypeSystem string
	TypeCode   string

	// reference: RefType/RefID for a local reference (Type/id or an
	// absolute URL on this server), RefVersion when versioned; RefURL for an
	// absolute or canonical reference (canonical version in RefVersion).
	// Reference.identifier is indexed as an entry with System/Code set and
	// no RefType, for :identifier.
	RefType    string
	RefID      string
	RefVersion string
	RefURL     string

	// number and quantity: the implicit range of the value, [Low, High),
	// from its precision (NumberRange). Quantity entries are also indexed
	// canonically (UCUM base units) with Canonical set.
	Low, High float64
	Canonical bool

	// date: the range the value covers, [DateLow, DateHigh) in unix
	// milliseconds (DateRange); MinDate/MaxDate for open ends.
	DateLow, DateHigh int64
}

// Open ends of date ranges.
const (
	MinDate int64 = -62135596800000 // 0001-01-01T00:00:00Z
	MaxDate int64 = 253402300800000 // 10000-01-01T00:00:00Z
)

// Query is a parsed search: what to match, how to order and page it, and
// what to include. The zero value of each field means "not asked".
type Query struct {
	// Type is the resource type searched; "" for a system-level search,
	// where Types (from _type) narrows the types.
	Type  string
	Types []string
	// Compartment, when set, restricts the search to a compartment
	// (/Patient/123/Observation): a resource is in it when any of the
	// compartment's parameters for its type references Compartment.ID.
	Compartment *CompartmentRef
	// MoreCompartments are further instances of Compartment.Type (ids,
	// each valid): the search then covers the union of their compartments
	// and Compartment's (a bulk export's batch of patients).
	MoreCompartments []string
	// Filters are ANDed; each Filter ORs its values.
	Filters []*Filter
	Sort    []SortKey
	// Count is the page size (0 → store.DefaultPageSize); CountGiven tells
	// _count=0 (only the total) from no _count.
	Count       int
	CountGiven  bool
	Total       string // "", none, estimate, accurate
	Summary     string // "", true, text, data, count, false
	Elements    []string
	Contained   string // "", false, true, both
	Includes    []Include
	RevIncludes []Include
	// Cursor continues a paged search (opaque, from a previous page's links).
	Cursor string
	// Ignored lists parameters left out under Prefer: handling=lenient;
	// they are not echoed in the self link.
	Ignored []string
	// Raw is the query as it will be echoed in the self link: every
	// parameter understood, in a canonical order.
	Raw string
	// Access, when set, limits the search to what the caller may see. The
	// parser never sets it; the API sets it from the caller's rights.
	Access *Access
}

// Access limits a search to what the caller may see: a resource is visible
// when any of Rules admits it, and none is when there are no rules. A store
// applies it inside the query to the matches, the total, the included
// resources and every resource a chain, _has or _list condition looks at,
// so that nothing about an invisible resource shows, not even as a count.
type Access struct {
	Rules []AccessRule
	// Consent, when set, also hides what the patients' Consents deny this
	// caller (see ConsentRules).
	Consent *ConsentCheck
}

// ConsentCheck is the caller as the patients' Consents see it.
type ConsentCheck struct {
	// Actors are the resources the caller is ("Practitioner/123"); rules
	// for any other actor do not apply to it.
	Actors []string
	// Purpose is the request's purpose of use ("" when not given).
	Purpose string
	// Exempt are patients whose Consents do not limit this caller: the
	// patient themself, and patients opened by break-glass.
	Exempt []string
	// Now is the time Consent periods are compared with (unix ms).
	Now int64
}

// AccessRule admits the resources of Types (of any type when empty) that
// are in Compartment (when set), belong to a patient in the care of CareOf
// (when set), and match every one of Filters (parsed for Types, e.g. a
// SMART scope's ?category=laboratory).
type AccessRule struct {
	Types       []string
	Compartment *CompartmentRef
	// CareOf (Practitioner/123) admits the resources in the compartment of
	// any patient who shares a resource with CareOf's compartment: an
	// encounter it took part in, a care team it is on, a patient whose
	// general practitioner it is.
	CareOf  *CompartmentRef
	Filters []*Filter
}

// CompartmentRef names a compartment instance, e.g. Patient/123.
type CompartmentRef struct {
	Type string // compartment code: Patient, Encounter, Practitioner, RelatedPerson, Device
	ID   string
}

// Filter is one parameter occurrence of a query: its values are ORed.
type Filter struct {
	// Param is the definition; nil for the parameters the parser handles
	// itself (_id is a token on Resource.id in R5 and has a definition;
	// _text, _content, _list, _has have none).
	Param *spec.SearchParam
	Name  string // the parameter code as asked (without modifier)
	Kind  Kind
	// Modifier: "", exact, contains, text, not, missing, above, below, in,
	// not-in, of-type, identifier, code-text, text-advanced, iterate, or a
	// resource type for reference parameters (subject:Patient).
	Modifier string
	Values   []Value
	// Chain, for a chained parameter (subject:Patient.name=peter): the
	// reference parameter is this Filter (Param, Modifier as target type),
	// and the condition on the referenced resource is Chain, evaluated on
	// resources of type ChainType (each possible target when ChainType is "").
	Chain     *Filter
	ChainType string
	// Has, for _has:Observation:patient:code=1234: resources of Has.Type
	// whose reference parameter Has.RefParam points at the candidate and
	// that match Has.Filter (which may itself be a _has).
	Has *HasClause
	// Special names a parameter with no FHIRPath: "_text", "_content", "_list".
	Special string
}

// HasClause is a reverse chain.
type HasClause struct {
	Type     string            // the referring resource type
	RefParam *spec.SearchParam // its reference parameter that points back
	Filter   *Filter           // condition on the referring resource
}

// Value is one value of a Filter, parsed for the Filter's Kind.
type Value struct {
	Raw    string
	Prefix string // eq ne gt lt ge le sa eb ap, for date, number and quantity ("" = eq)
	// Missing holds :missing=true/false.
	Missing bool
	// string: Text normalised (Normalize) for prefix and :contains; Exact as
	// given, for :exact.
	Text  string
	Exact string
	// token: System/Code; HasSystem distinguishes "|code" (system must be
	// absent: HasSystem true, System "") from "code" (any system: HasSystem
	// false). For :of-type, TypeSystem/TypeCode/Code are type|code|value.
	// For :in/:not-in, Code holds the value set URL. quantity: the unit.
	System     string
	Code       string
	HasSystem  bool
	TypeSystem string
	TypeCode   string
	// reference: RefType/RefID ("Patient/123", or RefID alone for a bare
	// id), RefVersion, RefURL (absolute or canonical URL).
	RefType    string
	RefID      string
	RefVersion string
	RefURL     string
	// number/quantity: the range of the value from its precision, and the
	// value itself (for comparisons that use the point, e.g. gt).
	Low, High, Number float64
	// date: the range of the value from its precision, unix ms, half-open.
	DateLow, DateHigh int64
	// composite: the component values, in definition order.
	Components []Value
}

// SortKey is one _sort key.
type SortKey struct {
	Param      *spec.SearchParam // nil for _id, _lastUpdated handled directly
	Name       string
	Descending bool
}

// Include is one _include or _revinclude: resources of SourceType whose
// reference parameter Param points at (revinclude) or is pointed to from
// (include) the matches, optionally only of TargetType. Param "*" means
// every reference parameter of SourceType.
type Include struct {
	SourceType string
	Param      string
	TargetType string
	Iterate    bool
}
