package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// patientForm is the registration and demographics form: what the user
// typed, field by field, kept exactly as typed so that a form shown again
// (an error, a duplicate warning, a conflict) loses nothing. Keys are the
// inputs' names (and ids): name-family-0, birth, id-value-1 … Names and
// identifiers are rows; NameRows and IDRows say how many.
type patientForm struct {
	Values   map[string]string
	NameRows int
	IDRows   int
	// Version is the version of the patient the form was read from (0 for
	// a new patient): the update is made If-Match on it.
	Version int64
}

// maxRows bounds the name and identifier rows a form may post.
const maxRows = 10

// The codes the form offers.
var (
	nameUses          = []string{"official", "usual", "maiden", "old"}
	genders           = []string{"female", "male", "other", "unknown"}
	identifierTypes   = []string{"MR", "NI", "PPN"}
	contactRoles      = []string{"C", "N"}
	formLanguages     = []string{"bn", "en", "hi", "ur", "ar", "zh", "es", "fr", "pt", "ru"}
	genderIdentityIDs = []string{"female", "male", "non-binary", "asked-declined"}
)

// genderIdentities maps the form's gender identity choices to the codes of
// the value set http://terminology.hl7.org/ValueSet/gender-identity that
// the R5 extension individual-genderIdentity binds.
var genderIdentities = map[string][2]string{
	"female":         {snomed, "446141000124107"},
	"male":           {snomed, "446151000124109"},
	"non-binary":     {snomed, "33791000087105"},
	"asked-declined": {"http://terminology.hl7.org/CodeSystem/data-absent-reason", "asked-declined"},
}

const (
	genderIdentityURL = "http://hl7.org/fhir/StructureDefinition/individual-genderIdentity"
	v2IdentifierType  = "http://terminology.hl7.org/CodeSystem/v2-0203"
	v2ContactRole     = "http://terminology.hl7.org/CodeSystem/v2-0131"
	bcp47             = "urn:ietf:bcp:47"
)

func newPatientForm() *patientForm {
	return &patientForm{Values: map[string]string{"name-use-0": "official"}, NameRows: 1, IDRows: 1}
}

func (f *patientForm) get(key string) string { return f.Values[key] }

func rowKey(prefix string, i int) string { return prefix + "-" + strconv.Itoa(i) }

// parsePatientForm reads the posted form. It keeps every value as typed
// (trimmed), and applies the row buttons: "add another name", "remove
// this name", and the same for identifiers.
func parsePatientForm(r *http.Request) *patientForm {
	f := &patientForm{Values: map[string]string{}}
	for _, k := range []string{"preferred", "gender", "gender-identity", "birth", "phone", "email", "addr-line1", "addr-line2",
		"addr-city", "addr-district", "addr-postal", "addr-country", "language", "contact-name", "contact-relationship", "contact-phone", "gp"} {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	f.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	action := r.PostFormValue("action")
	f.NameRows = readRows(r, f, "name-family", []string{"name-use", "name-prefix", "name-given", "name-family"}, action, "name")
	f.IDRows = readRows(r, f, "id-value", []string{"id-type", "id-system", "id-value"}, action, "id")
	return f
}

// readRows copies the rows of fields (present while the form has the key
// probe-i), dropping the one the action removes and adding an empty one
// when it asks; it returns the number of rows, at least one.
func readRows(r *http.Request, f *patientForm, probe string, fields []string, action, what string) int {
	n := 0
	for i := 0; i < maxRows; i++ {
		if _, ok := r.PostForm[rowKey(probe, i)]; !ok {
			break
		}
		if action == "remove-"+what+"-"+strconv.Itoa(i) {
			continue
		}
		for _, field := range fields {
			f.Values[rowKey(field, n)] = strings.TrimSpace(r.PostFormValue(rowKey(field, i)))
		}
		n++
	}
	if (action == "add-"+what && n < maxRows) || n == 0 {
		n++
	}
	return n
}

// formOf fills a form from a stored patient.
func formOf(p fhir.Resource, version int64) *patientForm {
	f := &patientForm{Values: map[string]string{}, Version: version}
	for _, x := range list(p["name"]) {
		n, _ := x.(map[string]any)
		if n == nil {
			continue
		}
		if str(n, "use") == "nickname" {
			if f.Values["preferred"] == "" {
				f.Values["preferred"] = preferredName(fhir.Resource{"name": []any{n}})
			}
			continue
		}
		i := f.NameRows
		f.Values[rowKey("name-use", i)] = str(n, "use")
		f.Values[rowKey("name-prefix", i)] = strings.Join(strs(n["prefix"]), " ")
		f.Values[rowKey("name-given", i)] = strings.Join(strs(n["given"]), " ")
		f.Values[rowKey("name-family", i)] = str(n, "family")
		if f.Values[rowKey("name-family", i)] == "" && len(strs(n["given"])) == 0 {
			f.Values[rowKey("name-family", i)] = str(n, "text")
		}
		f.NameRows++
	}
	f.NameRows = max(f.NameRows, 1)
	f.Values["gender"] = str(p, "gender")
	f.Values["gender-identity"] = genderIdentityOf(p)
	if b := str(p, "birthDate"); b != "" {
		f.Values["birth"] = Locales[0].Date(b)
	}
	for _, x := range list(p["identifier"]) {
		id, _ := x.(map[string]any)
		i := f.IDRows
		t, _ := id["type"].(map[string]any)
		f.Values[rowKey("id-type", i)] = codeOf(t)
		f.Values[rowKey("id-system", i)] = str(id, "system")
		f.Values[rowKey("id-value", i)] = str(id, "value")
		f.IDRows++
	}
	f.IDRows = max(f.IDRows, 1)
	if t := firstTelecom(p, "phone"); t != nil {
		f.Values["phone"] = str(t, "value")
	}
	if t := firstTelecom(p, "email"); t != nil {
		f.Values["email"] = str(t, "value")
	}
	if a := firstOf(p, "address"); a != nil {
		lines := strs(a["line"])
		if len(lines) > 0 {
			f.Values["addr-line1"] = lines[0]
		}
		if len(lines) > 1 {
			f.Values["addr-line2"] = strings.Join(lines[1:], ", ")
		}
		f.Values["addr-city"], f.Values["addr-district"] = str(a, "city"), str(a, "district")
		f.Values["addr-postal"], f.Values["addr-country"] = str(a, "postalCode"), str(a, "country")
	}
	if c := firstOf(p, "communication"); c != nil {
		f.Values["language"] = codeOf(c["language"])
	}
	if c := firstOf(p, "contact"); c != nil {
		for _, rel := range list(c["relationship"]) {
			if code := codeOf(rel); slices.Contains(contactRoles, code) {
				f.Values["contact-relationship"] = code
			}
		}
		if n, _ := c["name"].(map[string]any); n != nil {
			f.Values["contact-name"] = str(n, "text")
			if f.Values["contact-name"] == "" {
				f.Values["contact-name"] = strings.TrimSpace(strings.Join(strs(n["given"]), " ") + " " + str(n, "family"))
			}
		}
		if t := firstTelecom(fhir.Resource(c), "phone"); t != nil {
			f.Values["contact-phone"] = str(t, "value")
		}
	}
	if gp := firstOf(p, "generalPractitioner"); gp != nil {
		f.Values["gp"] = strings.TrimPrefix(str(gp, "reference"), "Practitioner/")
	}
	return f
}

func list(v any) []any { l, _ := v.([]any); return l }

func firstOf(p fhir.Resource, key string) map[string]any {
	for _, x := range list(p[key]) {
		if m, ok := x.(map[string]any); ok {
			return m
		}
	}
	return nil
}

func firstTelecom(p fhir.Resource, system string) map[string]any {
	for _, x := range list(p["telecom"]) {
		if t, ok := x.(map[string]any); ok && str(t, "system") == system {
			return t
		}
	}
	return nil
}

func genderIdentityOf(p fhir.Resource) string {
	for _, x := range list(p["extension"]) {
		ext, _ := x.(map[string]any)
		if str(ext, "url") != genderIdentityURL {
			continue
		}
		for _, y := range list(ext["extension"]) {
			sub, _ := y.(map[string]any)
			if str(sub, "url") == "value" {
				code := codeOf(sub["valueCodeableConcept"])
				for k, c := range genderIdentities {
					if c[1] == code {
						return k
					}
				}
			}
		}
	}
	return ""
}

// fieldError is a problem with what was typed in one field ("" for the
// form as a whole).
type fieldError struct {
	Field, Message string
}

// check finds what is missing or cannot be read before anything is asked
// of the validator: the messages a person can act on, in their language.
func (f *patientForm) check(l *Locale, now time.Time) []fieldError {
	var errs []fieldError
	add := func(field, key string) { errs = append(errs, fieldError{field, l.T(key)}) }
	if f.get("name-family-0") == "" {
		add("name-family-0", "reg.err.family")
	}
	if f.get("gender") == "" {
		add("gender", "reg.err.sex")
	}
	switch birth := f.get("birth"); {
	case birth == "":
		add("birth", "reg.err.birth")
	case parseWrittenDate(birth) == "":
		add("birth", "reg.err.birth-format")
	case parseWrittenDate(birth) > now.Format("2006-01-02"):
		add("birth", "reg.err.birth-future")
	}
	for i := range f.IDRows {
		if f.get(rowKey("id-value", i)) != "" && f.get(rowKey("id-type", i)) == "" {
			add(rowKey("id-type", i), "reg.err.id-type")
		}
	}
	for _, k := range []string{"phone", "contact-phone"} {
		if v := f.get(k); v != "" && len(onlyDigits(v)) < 6 {
			add(k, "reg.err.phone")
		}
	}
	if e := f.get("email"); e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " ,;")) {
		add("email", "reg.err.email")
	}
	if f.get("contact-relationship") != "" && f.get("contact-name") == "" && f.get("contact-phone") == "" {
		add("contact-name", "reg.err.contact")
	}
	return errs
}

// patient builds the Patient the form describes on base (a copy of the
// stored patient, or nil for a new one): the elements the form shows are
// replaced, everything else is kept. fieldAt maps the elements it wrote
// ("Patient.name[0].family") to the form's fields, for the validator's
// messages. showIdentity false leaves the gender identity as stored (the
// user's role does not see it).
func (f *patientForm) patient(base fhir.Resource, showIdentity bool, gpDisplay string) (fhir.Resource, map[string]string) {
	p := fhir.Resource{"resourceType": "Patient"}
	if base != nil {
		p = base.Clone()
	}
	at := map[string]string{}
	set := func(key string, v any, empty bool) {
		if empty {
			delete(p, key)
		} else {
			p[key] = v
		}
	}

	var names []any
	for i := range f.NameRows {
		use, prefix, given, family := f.get(rowKey("name-use", i)), f.get(rowKey("name-prefix", i)), f.get(rowKey("name-given", i)), f.get(rowKey("name-family", i))
		if prefix+given+family == "" {
			continue
		}
		n := map[string]any{}
		if use != "" {
			n["use"] = use
		}
		if family != "" {
			n["family"] = family
		}
		if g := strings.Fields(given); len(g) > 0 {
			n["given"] = anys(g)
		}
		if pre := strings.Fields(prefix); len(pre) > 0 {
			n["prefix"] = anys(pre)
		}
		k := "Patient.name[" + strconv.Itoa(len(names)) + "]"
		at[k], at[k+".family"], at[k+".given"], at[k+".prefix"], at[k+".use"] =
			rowKey("name-family", i), rowKey("name-family", i), rowKey("name-given", i), rowKey("name-prefix", i), rowKey("name-use", i)
		names = append(names, n)
	}
	nickname := true
	for _, x := range list(p["name"]) {
		if n, _ := x.(map[string]any); str(n, "use") == "nickname" {
			if nickname { // the form shows the first nickname only
				nickname = false
				continue
			}
			names = append(names, n)
		}
	}
	if pref := f.get("preferred"); pref != "" {
		at["Patient.name["+strconv.Itoa(len(names))+"]"] = "preferred"
		names = append(names, map[string]any{"use": "nickname", "given": anys(strings.Fields(pref))})
	}
	set("name", names, len(names) == 0)

	set("gender", f.get("gender"), f.get("gender") == "")
	at["Patient.gender"] = "gender"
	if showIdentity {
		var exts []any
		for _, x := range list(p["extension"]) {
			if ext, _ := x.(map[string]any); str(ext, "url") != genderIdentityURL {
				exts = append(exts, x)
			}
		}
		if c, ok := genderIdentities[f.get("gender-identity")]; ok {
			at["Patient.extension["+strconv.Itoa(len(exts))+"]"] = "gender-identity"
			exts = append(exts, map[string]any{"url": genderIdentityURL, "extension": []any{map[string]any{"url": "value",
				"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": c[0], "code": c[1]}}}}}})
		}
		set("extension", exts, len(exts) == 0)
	}
	birth := parseWrittenDate(f.get("birth"))
	set("birthDate", birth, birth == "")
	at["Patient.birthDate"] = "birth"

	var ids []any
	for i := range f.IDRows {
		typ, system, value := f.get(rowKey("id-type", i)), f.get(rowKey("id-system", i)), f.get(rowKey("id-value", i))
		if value == "" && system == "" {
			continue
		}
		id := map[string]any{"value": value}
		if system != "" {
			id["system"] = system
		}
		if typ != "" {
			id["type"] = map[string]any{"coding": []any{map[string]any{"system": v2IdentifierType, "code": typ}}}
		}
		k := "Patient.identifier[" + strconv.Itoa(len(ids)) + "]"
		at[k], at[k+".value"], at[k+".system"], at[k+".type"] = rowKey("id-value", i), rowKey("id-value", i), rowKey("id-system", i), rowKey("id-type", i)
		ids = append(ids, id)
	}
	set("identifier", ids, len(ids) == 0)

	// The first phone and the first email are the form's; other telecoms
	// (a work phone, a fax) are kept after them.
	var telecom []any
	for _, system := range []string{"phone", "email"} {
		if v := f.get(system); v != "" {
			t := map[string]any{"system": system, "value": v}
			if old := firstTelecom(p, system); old != nil {
				t = maps(old)
				t["value"] = v
			}
			at["Patient.telecom["+strconv.Itoa(len(telecom))+"]"] = system
			telecom = append(telecom, t)
		}
	}
	phone, email := firstTelecom(p, "phone"), firstTelecom(p, "email")
	for _, x := range list(p["telecom"]) {
		if t, _ := x.(map[string]any); !sameMap(t, phone) && !sameMap(t, email) {
			telecom = append(telecom, x)
		}
	}
	set("telecom", telecom, len(telecom) == 0)

	addr := map[string]any{}
	if old := firstOf(p, "address"); old != nil {
		addr = maps(old)
	}
	var lines []any
	for _, k := range []string{"addr-line1", "addr-line2"} {
		if v := f.get(k); v != "" {
			lines = append(lines, v)
		}
	}
	putOrDelete(addr, "line", lines, len(lines) == 0)
	for k, el := range map[string]string{"addr-city": "city", "addr-district": "district", "addr-postal": "postalCode", "addr-country": "country"} {
		putOrDelete(addr, el, f.get(k), f.get(k) == "")
		at["Patient.address[0]."+el] = k
	}
	at["Patient.address[0]"], at["Patient.address[0].line"] = "addr-line1", "addr-line1"
	p["address"] = replaceFirst(list(p["address"]), addr, len(lines) == 0 && len(addr) == 0 || onlyKeys(addr, "use", "type"))
	if len(list(p["address"])) == 0 {
		delete(p, "address")
	}

	var comm map[string]any
	if lang := f.get("language"); lang != "" {
		comm = map[string]any{"language": map[string]any{"coding": []any{map[string]any{"system": bcp47, "code": lang}}}}
	}
	at["Patient.communication[0]"] = "language"
	p["communication"] = replaceFirst(list(p["communication"]), comm, comm == nil)
	if len(list(p["communication"])) == 0 {
		delete(p, "communication")
	}

	var contact map[string]any
	if f.get("contact-name")+f.get("contact-phone")+f.get("contact-relationship") != "" {
		contact = map[string]any{}
		if old := firstOf(p, "contact"); old != nil {
			contact = maps(old)
		}
		var rel []any
		if code := f.get("contact-relationship"); code != "" {
			rel = []any{map[string]any{"coding": []any{map[string]any{"system": v2ContactRole, "code": code}}}}
		}
		putOrDelete(contact, "relationship", rel, rel == nil)
		putOrDelete(contact, "name", map[string]any{"text": f.get("contact-name")}, f.get("contact-name") == "")
		var tel []any
		if ph := f.get("contact-phone"); ph != "" {
			tel = []any{map[string]any{"system": "phone", "value": ph}}
		}
		putOrDelete(contact, "telecom", tel, tel == nil)
	}
	at["Patient.contact[0]"], at["Patient.contact[0].name"], at["Patient.contact[0].telecom"], at["Patient.contact[0].relationship"] =
		"contact-name", "contact-name", "contact-phone", "contact-relationship"
	p["contact"] = replaceFirst(list(p["contact"]), contact, contact == nil)
	if len(list(p["contact"])) == 0 {
		delete(p, "contact")
	}

	var gp map[string]any
	if id := f.get("gp"); id != "" {
		gp = map[string]any{"reference": "Practitioner/" + id}
		if gpDisplay != "" {
			gp["display"] = gpDisplay
		}
	}
	at["Patient.generalPractitioner[0]"] = "gp"
	p["generalPractitioner"] = replaceFirst(list(p["generalPractitioner"]), gp, gp == nil)
	if len(list(p["generalPractitioner"])) == 0 {
		delete(p, "generalPractitioner")
	}
	return p, at
}

// fieldOf finds the form field of a validator's expression: the element
// itself, else the nearest enclosing element the form wrote ("" when the
// problem is elsewhere in the record).
func fieldOf(at map[string]string, expr string) string {
	for expr != "" {
		if f, ok := at[expr]; ok {
			return f
		}
		i := strings.LastIndexAny(expr, ".[")
		if i < 0 {
			break
		}
		expr = expr[:i]
	}
	return ""
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func maps(m map[string]any) map[string]any { return fhir.CloneValue(m).(map[string]any) }

func sameMap(a, b map[string]any) bool { return a != nil && b != nil && jsonOf(a) == jsonOf(b) }

func jsonOf(v any) string { return string(fhir.AppendJSON(nil, v)) }

func putOrDelete(m map[string]any, key string, v any, empty bool) {
	if empty {
		delete(m, key)
	} else {
		m[key] = v
	}
}

// onlyKeys reports whether m has no key but those given.
func onlyKeys(m map[string]any, keys ...string) bool {
	for k := range m {
		if !slices.Contains(keys, k) {
			return false
		}
	}
	return true
}

// replaceFirst returns l with its first element replaced by v, or removed
// when empty (v appended to an empty list).
func replaceFirst(l []any, v map[string]any, empty bool) []any {
	out := slices.Clone(l)
	switch {
	case len(out) == 0 && !empty:
		return []any{v}
	case len(out) == 0:
		return nil
	case empty:
		return out[1:]
	}
	out[0] = v
	return out
}
