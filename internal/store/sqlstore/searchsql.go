package sqlstore

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
)

// sqlBuilder turns search conditions into SQL with numbered parameters
// (?1, ?2 …): fragments can be assembled in any order, and no value is
// ever spliced into the text.
type sqlBuilder struct {
	d       *dialect
	args    []any
	aliases int
	// access, when set, is what the caller may see: every resource_key row
	// a query reads (candidates, chain targets, _has sources, lists) must
	// pass visible.
	access *search.Access
}

// visible is the condition that the resource_key row a, of one of types
// (of any type when empty), is one the caller may see: "TRUE" without
// access control. Knowing the types lets it leave out the rules for
// other types and the type tests a rule shares with the query.
func (b *sqlBuilder) visible(a string, types []string) (string, error) {
	acc := b.access
	if acc == nil {
		return "TRUE", nil
	}
	// A rule's own filters are not limited again (and a chain among them
	// would recurse).
	b.access = nil
	defer func() { b.access = acc }()
	var rules []string
	for _, r := range acc.Rules {
		conds := []string{"TRUE"}
		ruleTypes := r.Types
		if len(types) > 0 && ruleTypes != nil {
			ruleTypes = nil
			covers := true
			for _, t := range types {
				if slices.Contains(r.Types, t) {
					ruleTypes = append(ruleTypes, t)
				} else {
					covers = false
				}
			}
			if len(ruleTypes) == 0 {
				continue // the rule is for other types
			}
			if covers {
				ruleTypes = nil // the query asks for these types only
			}
		}
		if len(ruleTypes) > 0 {
			conds = append(conds, b.in(a+".type", ruleTypes))
		}
		if c := r.Compartment; c != nil {
			cm := b.alias("cm")
			conds = append(conds, a+".rid IN (SELECT "+cm+".rid FROM idx_compartment "+cm+" WHERE "+cm+".comp_type = "+
				b.arg(c.Type)+" AND "+cm+".comp_id = "+b.arg(c.ID)+")")
		}
		if c := r.CareOf; c != nil {
			cm, pt, of := b.alias("cm"), b.alias("pt"), b.alias("of")
			conds = append(conds, a+".rid IN (SELECT "+cm+".rid FROM idx_compartment "+cm+" WHERE "+cm+".comp_type = 'Patient' AND "+
				cm+".comp_id IN (SELECT "+pt+".comp_id FROM idx_compartment "+of+" JOIN idx_compartment "+pt+" ON "+pt+".rid = "+of+".rid"+
				" WHERE "+of+".comp_type = "+b.arg(c.Type)+" AND "+of+".comp_id = "+b.arg(c.ID)+" AND "+pt+".comp_type = 'Patient'))")
		}
		for _, f := range r.Filters {
			c, err := b.filter(f, r.Types, a, false)
			if err != nil {
				return "", fmt.Errorf("access rule: %w", err)
			}
			conds = append(conds, c)
		}
		rules = append(rules, "("+strings.Join(conds, " AND ")+")")
	}
	if len(rules) == 0 {
		return "FALSE", nil
	}
	cond := "(" + strings.Join(rules, " OR ") + ")"
	if acc.Consent != nil {
		cond += " AND " + b.consentCondition(a, acc.Consent)
	}
	return cond, nil
}

// key binds a value compared with an index key column, as the column
// holds it (indexKey).
func (b *sqlBuilder) key(s string) string { return b.arg(indexKey(s)) }

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return fmt.Sprintf("?%d", len(b.args))
}

// in returns "col = ?" or "col IN (?, ?…)"; an empty list puts no
// condition (a system-level search over any type).
func (b *sqlBuilder) in(col string, values []string) string {
	switch len(values) {
	case 0:
		return "TRUE"
	case 1:
		return col + " = " + b.arg(values[0])
	}
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = b.arg(v)
	}
	return col + " IN (" + strings.Join(ps, ", ") + ")"
}

// param returns the condition selecting index rows x of parameter code of
// any of types (all types having it when types is empty): "x.pid = ?" or
// "x.pid IN (?, ?…)".
func (b *sqlBuilder) param(x string, types []string, code string) string {
	if len(types) == 0 {
		types = typesWithParam(code)
	}
	pids := paramIDs(types, code)
	switch len(pids) {
	case 0:
		return "FALSE"
	case 1:
		return x + ".pid = " + b.arg(pids[0])
	}
	ps := make([]string, len(pids))
	for i, pid := range pids {
		ps[i] = b.arg(pid)
	}
	return x + ".pid IN (" + strings.Join(ps, ", ") + ")"
}

// probeParam is param for a probe of one resource's rows (x.rid = k.rid):
// the unary plus keeps SQLite from driving the probe by a secondary index
// on (pid, value…), which reads every row of the parameter in the value
// range, instead of the primary key (rid, pid, n), which reads the few rows
// of that one resource. Without statistics the planner took the former,
// and a probe cost grew with the size of the table.
func (b *sqlBuilder) probeParam(x string, types []string, code string) string {
	return "+" + b.param(x, types, code)
}

// paramIDs lists the pids of the rows of parameter code of types: its own,
// or for an alias those of the parameters it unites.
func paramIDs(types []string, code string) []int64 {
	var pids []int64
	for _, t := range types {
		if codes := aliasOf(t, code); codes != nil {
			for _, c := range codes {
				pids = append(pids, paramID(t, c))
			}
		} else {
			pids = append(pids, paramID(t, code))
		}
	}
	return pids
}

func (b *sqlBuilder) alias(prefix string) string {
	b.aliases++
	return fmt.Sprintf("%s%d", prefix, b.aliases)
}

// tableOf is the index table of each kind.
var tableOf = map[search.Kind]string{
	search.KindString:    "idx_string",
	search.KindToken:     "idx_token",
	search.KindReference: "idx_reference",
	search.KindDate:      "idx_date",
	search.KindNumber:    "idx_number",
	search.KindQuantity:  "idx_quantity",
	search.KindURI:       "idx_uri",
}

func notSupported(format string, args ...any) error {
	return fhir.Errorf(fhir.KindNotSupported, format, args...)
}

func invalid(format string, args ...any) error {
	return fhir.Errorf(fhir.KindInvalid, format, args...)
}

// driveScore ranks how selective a filter is likely to be as the search's
// driving index range; 0 means it cannot drive (a negation, :missing).
func driveScore(f *search.Filter) int {
	switch {
	case f.Modifier == "not" || f.Modifier == "missing" || f.Modifier == "not-in":
		return 0
	case f.Has != nil:
		return 30
	case f.Chain != nil:
		return 50
	case f.Special == "_list":
		return 85
	case f.Special != "":
		return 55
	case f.Name == "_id":
		return 100
	case f.Name == "_lastUpdated":
		return 0 // on resource_key itself
	case f.Modifier == "contains" || f.Modifier == "text" || f.Modifier == "code-text" || f.Modifier == "text-advanced":
		return 10
	case f.Modifier == "in" || f.Modifier == "above" || f.Modifier == "below":
		return 20
	}
	switch f.Kind {
	case search.KindReference:
		return 90
	case search.KindToken:
		return 80
	case search.KindURI:
		return 70
	case search.KindString:
		return 60
	case search.KindComposite:
		return 45
	case search.KindDate:
		if dayOrFiner(f) {
			// birthdate=1980-05-17 narrows a million patients to a few
			// dozen, far fewer than a name prefix does.
			return 75
		}
	}
	return 40
}

// dayOrFiner reports whether every value of a date filter asks for
// equality with a day or a finer instant.
func dayOrFiner(f *search.Filter) bool {
	const day = 24 * 60 * 60 * 1000
	for _, v := range f.Values {
		if (v.Prefix != "" && v.Prefix != "eq") || v.DateHigh-v.DateLow > day {
			return false
		}
	}
	return len(f.Values) > 0
}

// filter returns a condition true when the resource k (an alias of
// resource_key, of one of types) matches f. drive asks for the form
// "k.rid IN (SELECT …)" that SQLite can start from; otherwise the
// condition is a correlated EXISTS probing the index by rid.
func (b *sqlBuilder) filter(f *search.Filter, types []string, k string, drive bool) (string, error) {
	switch {
	case f.Has != nil:
		return b.has(f, types, k, drive)
	case f.Chain != nil:
		return b.chain(f, types, k, drive)
	case f.Special != "":
		return b.special(f, k)
	case f.Name == "_id":
		return b.idFilter(f, k)
	case f.Name == "_lastUpdated" && f.Modifier == "":
		return b.lastUpdated(f, k)
	case f.Name == "_lastUpdated" && f.Modifier == "missing" && len(f.Values) > 0:
		// Every resource has one, and the index holds no rows for it.
		if f.Values[0].Missing {
			return "FALSE", nil
		}
		return "TRUE", nil
	}
	if len(f.Values) == 0 {
		return "", invalid("parameter %s has no value", f.Name)
	}
	if f.Kind == search.KindComposite {
		return b.composite(f, types, k, drive)
	}
	table := tableOf[f.Kind]
	if table == "" {
		return "", notSupported("search parameter %s of type %s is not supported", f.Name, f.Kind)
	}
	switch f.Modifier {
	case "missing":
		probe := "EXISTS (SELECT 1 FROM " + table + " x WHERE x.rid = " + k + ".rid AND " + b.probeParam("x", types, f.Name) + ")"
		if f.Values[0].Missing {
			return "NOT " + probe, nil
		}
		return probe, nil
	case "not", "not-in":
		pos := *f
		pos.Modifier = map[string]string{"not": "", "not-in": "in"}[f.Modifier]
		c, err := b.filter(&pos, types, k, false)
		if err != nil {
			return "", err
		}
		return "NOT " + c, nil
	}
	var conds []string
	for _, v := range f.Values {
		c, err := b.value(f.Kind, f, v, "x")
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	if drive {
		parts := make([]string, len(conds))
		for i, c := range conds {
			parts[i] = "SELECT x.rid FROM " + table + " x WHERE " + b.param("x", types, f.Name) + " AND " + c
			if table == "idx_quantity" {
				// Always true of a plain parameter's rows, and what lets
				// SQLite use the partial index idx_quantity_code.
				parts[i] += " AND x.grp = 0"
			}
		}
		return k + ".rid IN (" + strings.Join(parts, " UNION ALL ") + ")", nil
	}
	return "EXISTS (SELECT 1 FROM " + table + " x WHERE x.rid = " + k + ".rid AND " + b.probeParam("x", types, f.Name) +
		" AND (" + strings.Join(conds, " OR ") + "))", nil
}

// value is the condition on index row x for one value of a filter of kind.
func (b *sqlBuilder) value(kind search.Kind, f *search.Filter, v search.Value, x string) (string, error) {
	switch kind {
	case search.KindString:
		return b.stringValue(f.Modifier, v, x)
	case search.KindToken:
		return b.tokenValue(f, v, x)
	case search.KindReference:
		return b.referenceValue(f, v, x)
	case search.KindDate:
		if f.Modifier != "" {
			return "", notSupported("modifier :%s on date parameter %s", f.Modifier, f.Name)
		}
		return b.rangeCond(x+".low", x+".high", v.Prefix, float64(v.DateLow), float64(v.DateHigh), 0, true)
	case search.KindNumber:
		if f.Modifier != "" {
			return "", notSupported("modifier :%s on number parameter %s", f.Modifier, f.Name)
		}
		return b.rangeCond(x+".low", x+".high", v.Prefix, v.Low, v.High, v.Number, false)
	case search.KindQuantity:
		if f.Modifier != "" {
			return "", notSupported("modifier :%s on quantity parameter %s", f.Modifier, f.Name)
		}
		if base, factor, ok := search.UCUMCanonical(v.Code); ok && v.System == ucumSystem {
			// Compare in base units with the canonical copies of the
			// entries, so that 5.4 mmol/L finds 5400 umol/L.
			c, err := b.rangeCond(x+".low", x+".high", v.Prefix, v.Low*factor, v.High*factor, v.Number*factor, false)
			if err != nil {
				return "", err
			}
			return c + " AND " + x + ".canonical = 1 AND " + x + ".code = " + b.arg(base) + " AND " + x + ".system = " + b.arg(ucumSystem), nil
		}
		c, err := b.rangeCond(x+".low", x+".high", v.Prefix, v.Low, v.High, v.Number, false)
		if err != nil {
			return "", err
		}
		switch {
		case v.System != "" && v.Code != "":
			c += " AND " + x + ".system = " + b.key(v.System) + " AND " + x + ".code = " + b.key(v.Code)
		case v.Code != "":
			c += " AND " + x + ".code = " + b.key(v.Code)
		case v.System != "":
			c += " AND " + x + ".system = " + b.key(v.System)
		default:
			// Without a unit every entry matches on its own unit; the
			// canonical copies would match twice, harmlessly.
		}
		return c, nil
	case search.KindURI:
		return b.uriValue(f.Modifier, v, x)
	}
	return "", notSupported("search parameters of type %s are not supported", kind)
}

// unescaped is a value as written, search escapes (\, \| \$) undone: the
// parser keeps it in Exact.
func unescaped(v search.Value) string {
	if v.Exact != "" {
		return v.Exact
	}
	return v.Raw
}

const ucumSystem = "http://unitsofmeasure.org"

// maxRune bounds a prefix range: every string starting with p sorts before
// p + maxRune (UTF-8 order is code point order).
const maxRune = "\U0010FFFF"

func (b *sqlBuilder) prefixRange(col, p string) string {
	p = indexKey(p)
	return col + " >= " + b.arg(p) + " AND " + col + " < " + b.arg(p+maxRune)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (b *sqlBuilder) stringValue(modifier string, v search.Value, x string) (string, error) {
	text := v.Text
	if text == "" {
		text = search.Normalize(v.Raw)
	}
	switch modifier {
	case "":
		return b.prefixRange(x+".text", text), nil
	case "exact":
		exact := v.Exact
		if exact == "" {
			exact = v.Raw
		}
		return x + ".text = " + b.key(search.Normalize(exact)) + " AND " + x + ".exact = " + b.arg(noNUL(exact)), nil
	case "contains":
		return x + ".text " + b.d.like + " " + b.arg("%"+likeEscape(text)+"%") + ` ESCAPE '\'`, nil
	case "text", "text-advanced":
		// A word anywhere in the value starts with the text.
		return "(" + b.prefixRange(x+".text", text) + " OR " + x + ".text " + b.d.like + " " + b.arg("% "+likeEscape(text)+"%") + ` ESCAPE '\')`, nil
	}
	return "", notSupported("modifier :%s on string parameters", modifier)
}

func (b *sqlBuilder) tokenValue(f *search.Filter, v search.Value, x string) (string, error) {
	switch f.Modifier {
	case "", "identifier":
		return b.systemCode(v, x), nil
	case "text", "text-advanced":
		text := v.Text
		if text == "" {
			text = search.Normalize(v.Raw)
		}
		return "(" + b.prefixRange(x+".display", text) + " OR " + x + ".display " + b.d.like + " " + b.arg("% "+likeEscape(text)+"%") + ` ESCAPE '\')`, nil
	case "code-text":
		return x + ".code " + b.d.like + " " + b.arg(likeEscape(unescaped(v))+"%") + ` ESCAPE '\'`, nil
	case "of-type":
		return x + ".type_system = " + b.key(v.TypeSystem) + " AND " + x + ".type_code = " + b.key(v.TypeCode) +
			" AND " + x + ".code = " + b.key(v.Code), nil
	case "in":
		vs := spec.R5().ValueSet(v.Code)
		if vs == nil || !vs.Enumerable {
			return "", notSupported("value set %s cannot be expanded for :in", v.Code)
		}
		if len(vs.Concepts) == 0 {
			return "FALSE", nil
		}
		codes := make([]string, 0, len(vs.Concepts))
		pairs := make([]string, 0, len(vs.Concepts))
		for _, c := range vs.Concepts {
			codes = append(codes, c.Code)
			pairs = append(pairs, c.System+"|"+c.Code)
		}
		// A code without a system (a code element) is taken from the
		// value set when the value set has it in any system.
		return b.in(x+".code", codes) + " AND (" + x + ".system = '' OR " + b.in(x+".system || '|' || "+x+".code", pairs) + ")", nil
	}
	return "", notSupported("modifier :%s on token parameter %s", f.Modifier, f.Name)
}

// systemCode matches system|code, |code, system| and code.
func (b *sqlBuilder) systemCode(v search.Value, x string) string {
	switch {
	case v.HasSystem && v.Code == "":
		return x + ".system = " + b.key(v.System)
	case v.HasSystem:
		return x + ".code = " + b.key(v.Code) + " AND " + x + ".system = " + b.key(v.System)
	}
	return x + ".code = " + b.key(v.Code)
}

func (b *sqlBuilder) referenceValue(f *search.Filter, v search.Value, x string) (string, error) {
	if f.Modifier == "identifier" {
		return x + ".ref_type = '' AND " + b.systemCode(v, x), nil
	}
	if f.Modifier == "above" || f.Modifier == "below" || f.Modifier == "text" || f.Modifier == "code-text" {
		return "", notSupported("modifier :%s on reference parameter %s", f.Modifier, f.Name)
	}
	var c string
	switch {
	case v.RefURL != "":
		c = x + ".ref_url = " + b.key(v.RefURL)
	case v.RefID == "":
		return "", invalid("reference parameter %s: no reference in %q", f.Name, v.Raw)
	default:
		types := []string{v.RefType}
		switch {
		case v.RefType != "":
		case f.Modifier != "":
			types = []string{f.Modifier}
		case f.Param != nil && len(f.Param.Target) > 0:
			types = f.Param.Target
		default:
			types = nil
		}
		if f.Modifier != "" && v.RefType != "" && v.RefType != f.Modifier {
			return "FALSE", nil
		}
		if types == nil {
			c = x + ".ref_id = " + b.key(v.RefID)
		} else {
			c = b.in(x+".ref_type", types) + " AND " + x + ".ref_id = " + b.key(v.RefID)
		}
	}
	if v.RefVersion != "" {
		c += " AND " + x + ".ref_version = " + b.key(v.RefVersion)
	}
	return c, nil
}

func (b *sqlBuilder) uriValue(modifier string, v search.Value, x string) (string, error) {
	uri := unescaped(v)
	switch modifier {
	case "":
		return x + ".uri = " + b.key(uri), nil
	case "below":
		return b.prefixRange(x+".uri", uri), nil
	case "above":
		// The URI itself and every parent path of it.
		var parents []string
		for i := len(uri); i > 0; i = strings.LastIndexByte(uri[:i], '/') {
			parents = append(parents, uri[:i], uri[:i]+"/")
			if strings.HasSuffix(uri[:i], "//") || strings.HasSuffix(uri[:i], ":/") {
				break
			}
		}
		return b.in(x+".uri", parents), nil
	case "contains":
		return x + ".uri " + b.d.like + " " + b.arg("%"+likeEscape(uri)+"%") + ` ESCAPE '\'`, nil
	}
	return "", notSupported("modifier :%s on uri parameters", modifier)
}

// rangeCond compares the indexed range [low, high) with the search value's
// [pl, ph) for a prefix, as the table in the specification's "prefixes"
// section says: eq is "the value's range contains the indexed range", sa
// and eb compare the ends. For dates gt, lt, ge and le ask whether the
// indexed range reaches beyond the value's range; for numbers and
// quantities they compare the indexed value (the middle of its range) with
// the value as written (point), so that gt6 matches 6.1 although 6 stands
// for [5.5, 6.5).
func (b *sqlBuilder) rangeCond(low, high, prefix string, pl, ph, point float64, date bool) (string, error) {
	val := func(f float64) string {
		if date {
			return b.arg(int64(f))
		}
		return b.arg(f)
	}
	contained := func() string { return low + " >= " + val(pl) + " AND " + high + " <= " + val(ph) }
	mid := "(" + low + " + " + high + ") / 2"
	switch prefix {
	case "", "eq":
		// low < ph is implied (a range is never empty) and bounds the
		// scan of the (pid, low) index on both sides.
		return "(" + contained() + " AND " + low + " < " + val(ph) + ")", nil
	case "ne":
		return "NOT (" + contained() + ")", nil
	case "sa":
		return low + " >= " + val(ph), nil
	case "eb":
		return high + " <= " + val(pl), nil
	case "ap":
		// Approximately: the ranges overlap once the value's is widened by
		// 10% of its distance from now (dates) or of itself (numbers).
		var gap float64
		if date {
			gap = 0.1 * math.Abs(float64(time.Now().UnixMilli())-pl)
		} else {
			gap = 0.1 * math.Abs(point)
		}
		return low + " < " + val(ph+gap) + " AND " + high + " > " + val(pl-gap), nil
	}
	if date {
		switch prefix {
		case "gt":
			return high + " > " + val(ph), nil
		case "lt":
			return low + " < " + val(pl), nil
		case "ge":
			return "(" + high + " > " + val(ph) + " OR (" + contained() + "))", nil
		case "le":
			return "(" + low + " < " + val(pl) + " OR (" + contained() + "))", nil
		}
	} else {
		// high > point bounds the scan of the index for gt and ge.
		switch prefix {
		case "gt":
			return high + " > " + val(point) + " AND " + mid + " > " + val(point), nil
		case "lt":
			return low + " < " + val(point) + " AND " + mid + " < " + val(point), nil
		case "ge":
			return high + " >= " + val(point) + " AND " + mid + " >= " + val(point), nil
		case "le":
			return low + " <= " + val(point) + " AND " + mid + " <= " + val(point), nil
		}
	}
	return "", invalid("unknown prefix %q", prefix)
}

func (b *sqlBuilder) idFilter(f *search.Filter, k string) (string, error) {
	ids := make([]string, 0, len(f.Values))
	for _, v := range f.Values {
		id := v.Code
		if id == "" {
			id = v.Raw
		}
		ids = append(ids, id)
	}
	switch f.Modifier {
	case "", "exact":
		return b.in(k+".id", ids), nil
	case "not":
		return "NOT " + b.in(k+".id", ids), nil
	case "missing":
		if f.Values[0].Missing {
			return "FALSE", nil
		}
		return "TRUE", nil
	}
	return "", notSupported("modifier :%s on _id", f.Modifier)
}

// lastUpdated compares resource_key.last_updated, a range of one
// millisecond.
func (b *sqlBuilder) lastUpdated(f *search.Filter, k string) (string, error) {
	var conds []string
	for _, v := range f.Values {
		c, err := b.rangeCond(k+".last_updated", "("+k+".last_updated + 1)", v.Prefix, float64(v.DateLow), float64(v.DateHigh), 0, true)
		if err != nil {
			return "", err
		}
		conds = append(conds, "("+c+")")
	}
	return "(" + strings.Join(conds, " OR ") + ")", nil
}

// chain: subject:Patient.name=peter is "k references a live Patient that
// matches name=peter".
func (b *sqlBuilder) chain(f *search.Filter, types []string, k string, drive bool) (string, error) {
	targets := []string{f.ChainType}
	if f.ChainType == "" {
		if f.Param == nil || len(f.Param.Target) == 0 {
			return "", invalid("chained parameter %s needs a target type", f.Name)
		}
		targets = nil
		for _, t := range f.Param.Target {
			if f.Chain.Name == "_id" || f.Chain.Has != nil || spec.R5().SearchParamsFor(t)[f.Chain.Name] != nil {
				targets = append(targets, t)
			}
		}
		if len(targets) == 0 {
			return "FALSE", nil
		}
	}
	t := b.alias("t")
	x := b.alias("x")
	seen, err := b.visible(t, targets)
	if err != nil {
		return "", err
	}
	if drive {
		inner, err := b.filter(f.Chain, targets, t, true)
		if err != nil {
			return "", err
		}
		// CROSS JOIN keeps SQLite from starting at every reference of the
		// parameter: the chained condition is the selective side.
		// (PostgreSQL chooses the join order from its statistics.)
		return k + ".rid IN (SELECT " + x + ".rid FROM resource_key " + t + " " + b.d.crossJoin + " idx_reference " + x +
			" ON " + b.param(x, types, f.Name) +
			" AND " + x + ".ref_type = " + t + ".type AND " + x + ".ref_id = " + t + ".id" +
			" WHERE " + b.in(t+".type", targets) + " AND " + t + ".deleted = 0 AND " + seen + " AND " + inner + ")", nil
	}
	inner, err := b.filter(f.Chain, targets, t, false)
	if err != nil {
		return "", err
	}
	return "EXISTS (SELECT 1 FROM idx_reference " + x + " JOIN resource_key " + t +
		" ON " + t + ".type = " + x + ".ref_type AND " + t + ".id = " + x + ".ref_id" +
		" WHERE " + x + ".rid = " + k + ".rid AND " + b.probeParam(x, types, f.Name) +
		" AND " + b.in(t+".type", targets) + " AND " + t + ".deleted = 0 AND " + seen + " AND " + inner + ")", nil
}

// has: _has:Observation:patient:code=1234 is "a live Observation whose
// patient is k matches code=1234".
func (b *sqlBuilder) has(f *search.Filter, types []string, k string, drive bool) (string, error) {
	h := f.Has
	if h.RefParam == nil || h.Filter == nil {
		return "", invalid("_has needs a type, a reference parameter and a condition")
	}
	r := b.alias("r")
	x := b.alias("x")
	t := b.alias("t")
	seen, err := b.visible(r, []string{h.Type})
	if err != nil {
		return "", err
	}
	if drive {
		inner, err := b.filter(h.Filter, []string{h.Type}, r, true)
		if err != nil {
			return "", err
		}
		return k + ".rid IN (SELECT " + t + ".rid FROM resource_key " + r +
			" JOIN idx_reference " + x + " ON " + x + ".rid = " + r + ".rid AND " + b.param(x, []string{h.Type}, h.RefParam.Code) +
			" JOIN resource_key " + t + " ON " + t + ".type = " + x + ".ref_type AND " + t + ".id = " + x + ".ref_id" +
			" WHERE " + r + ".type = " + b.arg(h.Type) + " AND " + r + ".deleted = 0 AND " + seen + " AND " + inner +
			" AND " + b.in(t+".type", types) + ")", nil
	}
	inner, err := b.filter(h.Filter, []string{h.Type}, r, false)
	if err != nil {
		return "", err
	}
	return "EXISTS (SELECT 1 FROM idx_reference " + x + " JOIN resource_key " + r + " ON " + r + ".rid = " + x + ".rid" +
		" WHERE " + b.param(x, []string{h.Type}, h.RefParam.Code) +
		" AND " + x + ".ref_type = " + k + ".type AND " + x + ".ref_id = " + k + ".id AND " + seen + " AND " + inner + ")", nil
}

// special: _text and _content (full text), _list.
func (b *sqlBuilder) special(f *search.Filter, k string) (string, error) {
	switch f.Special {
	case "_text", "_content":
		col := map[string]string{"_text": "narrative", "_content": "content"}[f.Special]
		var groups [][]string
		for _, v := range f.Values {
			groups = append(groups, textQuery(unescaped(v))...)
		}
		if len(groups) == 0 {
			return "", invalid("%s has no words to search", f.Special)
		}
		not := ""
		if f.Modifier == "not" {
			not = "NOT "
		} else if f.Modifier != "" {
			return "", notSupported("modifier :%s on %s", f.Modifier, f.Special)
		}
		return not + b.d.ftsMatch(b, k, col, groups), nil
	case "_list":
		l := b.alias("l")
		x := b.alias("x")
		t := b.alias("t")
		ids := make([]string, len(f.Values))
		for i, v := range f.Values {
			ids[i] = v.RefID
			if ids[i] == "" {
				ids[i] = strings.TrimPrefix(v.Raw, "List/")
			}
			if strings.HasPrefix(ids[i], "$") {
				return "", notSupported("functional list %s", ids[i])
			}
		}
		seen, err := b.visible(l, []string{"List"})
		if err != nil {
			return "", err
		}
		return k + ".rid IN (SELECT " + t + ".rid FROM resource_key " + l +
			" JOIN idx_reference " + x + " ON " + x + ".rid = " + l + ".rid AND " + b.param(x, []string{"List"}, "item") +
			" JOIN resource_key " + t + " ON " + t + ".type = " + x + ".ref_type AND " + t + ".id = " + x + ".ref_id" +
			" WHERE " + l + ".type = 'List' AND " + b.in(l+".id", ids) + " AND " + l + ".deleted = 0 AND " + seen + ")", nil
	}
	return "", notSupported("parameter %s is not supported", f.Name)
}

// textQuery splits a _text or _content value into groups of words: a
// resource matches when it has every word of any group. Words are ANDed;
// "or" between words, as the specification allows, starts a new group.
// Each word comes folded by ftsWords, as the index holds text: a word it
// cuts in two ("loinc.org") is a phrase of its parts.
func textQuery(raw string) [][]string {
	var groups [][]string
	var cur []string
	for _, w := range strings.Fields(raw) {
		if strings.EqualFold(w, "or") && len(cur) > 0 {
			groups, cur = append(groups, cur), nil
			continue
		}
		w = ftsWords(strings.Trim(w, `"()`))
		if w == "" {
			continue // punctuation only: no word the index holds
		}
		cur = append(cur, w)
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// composite: every component of one value on rows of the same rid and grp.
func (b *sqlBuilder) composite(f *search.Filter, types []string, k string, drive bool) (string, error) {
	if f.Param == nil || len(f.Param.Component) == 0 {
		return "", invalid("composite parameter %s has no components", f.Name)
	}
	if f.Modifier != "" {
		return "", notSupported("modifier :%s on composite parameter %s", f.Modifier, f.Name)
	}
	kinds := make([]search.Kind, len(f.Param.Component))
	for i, c := range f.Param.Component {
		sp := searchParamByURL(c.Definition)
		if sp == nil || tableOf[search.Kind(sp.Type)] == "" {
			return "", notSupported("composite parameter %s: component %s", f.Name, c.Definition)
		}
		kinds[i] = search.Kind(sp.Type)
	}
	var parts []string
	for _, v := range f.Values {
		if len(v.Components) != len(kinds) {
			return "", invalid("composite parameter %s needs %d components in %q", f.Name, len(kinds), v.Raw)
		}
		var from, where []string
		for i, kind := range kinds {
			c := b.alias("c")
			cf := &search.Filter{Param: nil, Name: f.Name, Kind: kind}
			cond := "TRUE" // a component left empty matches any value
			if cv := v.Components[i]; cv.Raw != "" {
				var err error
				if cond, err = b.value(kind, cf, cv, c); err != nil {
					return "", err
				}
			}
			if i == 0 {
				from = append(from, tableOf[kind]+" "+c)
				if drive {
					where = append(where, b.param(c, types, f.Name), c+".comp = 0")
				} else {
					where = append(where, b.probeParam(c, types, f.Name), c+".comp = 0", c+".rid = "+k+".rid")
				}
			} else {
				c0 := strings.Fields(from[0])[1]
				from = append(from, "JOIN "+tableOf[kind]+" "+c+" ON "+c+".rid = "+c0+".rid AND "+c+".pid = "+c0+".pid AND "+
					c+".grp = "+c0+".grp AND "+c+fmt.Sprintf(".comp = %d", i))
			}
			where = append(where, "("+cond+")")
		}
		c0 := strings.Fields(from[0])[1]
		parts = append(parts, "SELECT "+c0+".rid FROM "+strings.Join(from, " ")+" WHERE "+strings.Join(where, " AND "))
	}
	if drive {
		return k + ".rid IN (" + strings.Join(parts, " UNION ALL ") + ")", nil
	}
	for i := range parts {
		parts[i] = "EXISTS (" + parts[i] + ")"
	}
	return "(" + strings.Join(parts, " OR ") + ")", nil
}

var searchParamsByURL = sync.OnceValue(func() map[string]*spec.SearchParam {
	m := make(map[string]*spec.SearchParam)
	for _, sp := range spec.R5().SearchParams {
		m[sp.URL] = sp
	}
	return m
})

func searchParamByURL(url string) *spec.SearchParam {
	url, _, _ = strings.Cut(url, "|")
	return searchParamsByURL()[url]
}

// resourceTypes lists every resource type of the specification.
var resourceTypes = sync.OnceValue(func() []string {
	var out []string
	for name, t := range spec.R5().Types {
		if t.Kind == "resource" && !t.Abstract {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
})

// typesWithParam lists the resource types that have a search parameter
// code, for index lookups of a system-level search.
var typesWithParamCache sync.Map

func typesWithParam(code string) []string {
	if v, ok := typesWithParamCache.Load(code); ok {
		return v.([]string)
	}
	var out []string
	for _, t := range resourceTypes() {
		if spec.R5().SearchParamsFor(t)[code] != nil {
			out = append(out, t)
		}
	}
	typesWithParamCache.Store(code, out)
	return out
}
