package tofhir

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
)

// report is one OBR's DiagnosticReport while its OBX are read.
type report struct {
	res     fhir.Resource
	system  string // of its identifier, which its Observations' share
	id      string
	results []any
	forms   []any         // presentedForm: the documents of ED and RP results
	last    fhir.Resource // the resource an NTE annotates
	effect  string        // OBR-7, for Observations without OBX-14
	lab     bool          // a laboratory section (OBR-24), not imaging
	basedOn []any         // the EMR's order it answers, which its Observations answer too
}

// oru maps an ORU^R01: a DiagnosticReport per OBR, an Observation per OBX.
func (mp *mapper) oru() error {
	patient, err := mp.patient(false)
	if err != nil {
		return err
	}
	var cur *report
	var orc *hl7v2.Segment
	flush := func() {
		if cur == nil {
			return
		}
		if len(cur.results) > 0 {
			cur.res["result"] = cur.results
		}
		if len(cur.forms) > 0 {
			cur.res["presentedForm"] = cur.forms
		}
		mp.add(cur.res, cur.system, cur.id, false)
		cur = nil
	}
	for _, s := range mp.m.Segments {
		switch s.Name {
		case "ORC":
			orc = s
		case "OBR":
			flush()
			if cur, err = mp.report(s, mp.seen(s), orc, patient); err != nil {
				return err
			}
		case "OBX":
			n := mp.seen(s)
			if cur == nil {
				return wrong(hl7v2.ErrSegmentSequence, "OBX", n, 0, "an OBX comes before any OBR")
			}
			if typ := mp.val(s, 2, 1, 1, 1); typ == "ED" || typ == "RP" {
				if err := mp.attachment(s, n, cur); err != nil {
					return err
				}
				cur.last = cur.res
				continue
			}
			obs, err := mp.observation(s, n, cur, patient)
			if err != nil {
				return err
			}
			cur.last = obs
		case "NTE":
			if cur != nil {
				addNote(cur.last, mp.noteText(s))
			}
		}
	}
	if mp.count["OBR"] == 0 {
		return wrong(hl7v2.ErrSegmentSequence, "OBR", 1, 0, "an ORU^R01 needs an OBR for its results")
	}
	flush()
	return nil
}

// report maps OBR (the sequence-th) to a DiagnosticReport.
func (mp *mapper) report(obr *hl7v2.Segment, sequence int, orc *hl7v2.Segment, patient string) (*report, error) {
	r := &report{}
	// The filler's number identifies the report; else the placer's.
	var typ string
	for _, src := range []struct {
		s     *hl7v2.Segment
		field int
		typ   string
	}{{obr, 3, "FILL"}, {orc, 3, "FILL"}, {obr, 2, "PLAC"}, {orc, 2, "PLAC"}} {
		if v := mp.val(src.s, src.field, 1, 1, 1); v != "" && src.s != nil {
			r.id, typ, r.system = v, src.typ, mp.ei(src.s, src.field)
			break
		}
	}
	if r.id == "" {
		return nil, wrong(hl7v2.ErrRequiredField, "OBR", sequence, 3, "the filler order number (OBR-3), or the placer's (OBR-2), is required: it identifies the report")
	}
	if key := "DiagnosticReport " + r.system + "|" + r.id; mp.keys[key] {
		return nil, wrong(hl7v2.ErrDuplicateKey, "OBR", sequence, 3, "a second report with identifier %s in one message", r.id)
	} else {
		mp.keys[key] = true
	}
	code := mp.concept(obr, 4, 1)
	if code == nil {
		return nil, wrong(hl7v2.ErrRequiredField, "OBR", sequence, 4, "the universal service identifier (OBR-4) is required: it is the report's code")
	}
	r.res = fhir.Resource{
		"resourceType": "DiagnosticReport",
		"identifier": []any{map[string]any{"system": r.system, "value": r.id, "type": map[string]any{"coding": []any{
			map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": typ}}}}},
		"status":  reportStatus(mp.val(obr, 25, 1, 1, 1)),
		"code":    code,
		"subject": map[string]any{"reference": patient},
	}
	// A result of an order the EMR placed is based on it, if the order is
	// this patient's: the conditional reference matches no order of
	// another, and the message is AE.
	for _, s := range []*hl7v2.Segment{obr, orc} {
		if id := mp.own(s, 2, ""); id != "" {
			r.basedOn = []any{map[string]any{"reference": "ServiceRequest?_id=" + url.QueryEscape(id) + "&" + mp.patientCriteria}}
			r.res["basedOn"] = r.basedOn
			break
		}
	}
	section := strings.ToUpper(mp.code(obr, 24, 1, 1, 1))
	r.lab = !imagingSections[section]
	if section == "" {
		section = "LAB"
	}
	r.res["category"] = []any{map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": section}}}}
	if v := mp.val(obr, 7, 1, 1, 1); v != "" {
		t, err := parseDTM(v, mp.zone)
		if err != nil {
			return nil, wrong(hl7v2.ErrDataType, "OBR", sequence, 7, "observation date/time %q: %v", v, err)
		}
		r.effect = t.dateTime()
		r.res["effectiveDateTime"] = r.effect
	}
	if v := mp.val(obr, 22, 1, 1, 1); v != "" {
		t, err := parseDTM(v, mp.zone)
		if err != nil {
			return nil, wrong(hl7v2.ErrDataType, "OBR", sequence, 22, "results report/status change time %q: %v", v, err)
		}
		if t.digits >= 12 { // an instant needs the time
			t.digits = 14
			r.res["issued"] = t.dateTime()
		}
	}
	r.last = r.res
	return r, nil
}

// imagingSections are the diagnostic service sections (table 0074) whose
// results are imaging, not laboratory.
var imagingSections = map[string]bool{"RAD": true, "CT": true, "CUS": true, "NMR": true, "NMS": true, "OUS": true, "RUS": true, "VUS": true, "XRC": true}

// reportStatus maps table 0123 (OBR-25) to DiagnosticReport.status.
func reportStatus(code string) string {
	switch code {
	case "O", "I", "S":
		return "registered"
	case "A":
		return "partial"
	case "P", "R":
		return "preliminary"
	case "C", "M":
		return "corrected"
	case "F":
		return "final"
	case "X":
		return "cancelled"
	}
	return "unknown"
}

// observationStatus maps table 0085 (OBX-11) to Observation.status.
func observationStatus(code string) string {
	switch code {
	case "F", "U":
		return "final"
	case "C":
		return "corrected"
	case "P", "R", "S":
		return "preliminary"
	case "I", "O":
		return "registered"
	case "D", "W":
		return "entered-in-error"
	case "N", "X":
		return "cancelled"
	}
	return "unknown"
}

// observation maps OBX (the sequence-th) of report r.
func (mp *mapper) observation(obx *hl7v2.Segment, sequence int, r *report, patient string) (fhir.Resource, error) {
	code := mp.concept(obx, 3, 1)
	if code == nil {
		return nil, wrong(hl7v2.ErrRequiredField, "OBX", sequence, 3, "the observation identifier (OBX-3) is required: it is the result's code")
	}
	obs := fhir.Resource{
		"resourceType": "Observation",
		"status":       observationStatus(mp.val(obx, 11, 1, 1, 1)),
		"code":         code,
		"subject":      map[string]any{"reference": patient},
	}
	if r.basedOn != nil {
		obs["basedOn"] = r.basedOn
	}
	category := "laboratory"
	if !r.lab {
		category = "imaging"
	}
	obs["category"] = []any{map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}}}}
	// Its identifier: OBX-21 when the sender gives one; else the report's
	// and the code's (and the sub-id's), which a corrected result repeats.
	system, id := r.system, ""
	if v := mp.val(obx, 21, 1, 1, 1); v != "" {
		id, system = v, mp.ei(obx, 21)
	} else {
		id = r.id + "/" + mp.val(obx, 3, 1, 1, 1)
		if sub := mp.val(obx, 4, 1, 1, 1); sub != "" {
			id += "/" + sub
		}
		if mp.keys["Observation "+system+"|"+id] {
			id += "/" + mp.val(obx, 1, 1, 1, 1)
		}
	}
	key := "Observation " + system + "|" + id
	if mp.keys[key] {
		return nil, wrong(hl7v2.ErrDuplicateKey, "OBX", sequence, 1, "a second result with identifier %s in one message", id)
	}
	mp.keys[key] = true
	obs["identifier"] = []any{map[string]any{"system": system, "value": id}}

	value, err := mp.value(obx, sequence)
	if err != nil {
		return nil, err
	}
	for k, v := range value {
		obs[k] = v
	}
	if rr := mp.referenceRange(obx, value["valueQuantity"]); rr != nil {
		obs["referenceRange"] = []any{rr}
	}
	var interp []any
	for rep := 1; rep <= obx.Repetitions(8); rep++ {
		if flag := mp.code(obx, 8, rep, 1, 1); flag != "" {
			system := "http://terminology.hl7.org/CodeSystem/v2-0078"
			if v3Interpretations[flag] {
				system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
			}
			interp = append(interp, map[string]any{"coding": []any{map[string]any{"system": system, "code": flag}}})
		}
	}
	if len(interp) > 0 {
		obs["interpretation"] = interp
	}
	if v := mp.val(obx, 14, 1, 1, 1); v != "" {
		t, err := parseDTM(v, mp.zone)
		if err != nil {
			return nil, wrong(hl7v2.ErrDataType, "OBX", sequence, 14, "date/time of the observation %q: %v", v, err)
		}
		obs["effectiveDateTime"] = t.dateTime()
	} else if r.effect != "" {
		obs["effectiveDateTime"] = r.effect
	}
	r.results = append(r.results, map[string]any{"reference": mp.add(obs, system, id, false)})
	return obs, nil
}

// v3Interpretations are the abnormal flags of table 0078 that the v3
// ObservationInterpretation code system has with the same code.
var v3Interpretations = map[string]bool{
	"L": true, "H": true, "LL": true, "HH": true, "<": true, ">": true, "N": true, "A": true, "AA": true,
	"U": true, "D": true, "B": true, "W": true, "S": true, "R": true, "I": true, "MS": true, "VS": true,
	"NEG": true, "POS": true, "IND": true, "DET": true, "ND": true, "AC": true, "RR": true, "QCF": true,
	"TOX": true, "WR": true, "EX": true, "HX": true, "LX": true, "HU": true, "LU": true, "CAR": true, "NCL": true,
	"SYN-R": true, "SYN-S": true, "IE": true, "NR": true, "E": true,
}

// value maps OBX-5 by its type (OBX-2) to the Observation's value[x]
// element, empty when OBX-5 is (a result to come).
func (mp *mapper) value(obx *hl7v2.Segment, sequence int) (map[string]any, error) {
	typ := mp.val(obx, 2, 1, 1, 1)
	reps := obx.Repetitions(5)
	raw := mp.val(obx, 5, 1, 1, 1)
	if reps == 0 || reps == 1 && raw == "" && mp.val(obx, 5, 1, 2, 1) == "" {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return wrong(hl7v2.ErrDataType, "OBX", sequence, 5, format, args...)
	}
	switch typ {
	case "ST", "TX", "FT":
		var lines []string
		for rep := 1; rep <= reps; rep++ {
			lines = append(lines, mp.text(obx, 5, obx.Raw(5, rep, 1, 1)))
		}
		text := strings.Join(lines, "\n")
		if strings.TrimSpace(text) == "" {
			return nil, nil
		}
		return map[string]any{"valueString": text}, nil
	}
	if reps > 1 {
		return nil, bad("a value of type %s repeats: one per OBX", typ)
	}
	switch typ {
	case "NM":
		n, ok := number(raw)
		if !ok {
			return nil, bad("%q is not a number (NM)", raw)
		}
		return map[string]any{"valueQuantity": mp.quantity(obx, 6, n)}, nil
	case "SN":
		return mp.structuredNumeric(obx, bad)
	case "NR":
		low, high := mp.val(obx, 5, 1, 1, 1), mp.val(obx, 5, 1, 2, 1)
		rng := map[string]any{}
		for key, v := range map[string]string{"low": low, "high": high} {
			if v == "" {
				continue
			}
			n, ok := number(v)
			if !ok {
				return nil, bad("%q is not a number (NR)", v)
			}
			rng[key] = mp.quantity(obx, 6, n)
		}
		return map[string]any{"valueRange": rng}, nil
	case "CE", "CWE", "CNE", "CF":
		return map[string]any{"valueCodeableConcept": mp.concept(obx, 5, 1)}, nil
	case "DT", "DTM", "TS":
		t, err := parseDTM(raw, mp.zone)
		if err != nil {
			return nil, bad("%q: %v", raw, err)
		}
		return map[string]any{"valueDateTime": t.dateTime()}, nil
	case "TM":
		clock, _, _ := strings.Cut(strings.SplitN(raw, "+", 2)[0], "-")
		t, err := parseDTM("20000101"+clock, mp.zone)
		if err != nil || t.digits < 12 {
			return nil, bad("%q is not a time (HHMM[SS])", raw)
		}
		return map[string]any{"valueTime": t.t.Format("15:04:05")}, nil
	}
	return nil, wrong(hl7v2.ErrDataType, "OBX", sequence, 2, "results of value type %q are not taken (NM, SN, NR, ST, TX, FT, CE, CWE, CNE, CF, DT, DTM, TS and TM are)", typ)
}

// quantity is value n with the unit (CWE) in field of s (OBX-6, RXA-7): a
// UCUM code when the unit is coded in UCUM, else its text alone.
func (mp *mapper) quantity(s *hl7v2.Segment, field int, n any) map[string]any {
	q := map[string]any{"value": n}
	code, text, system := mp.val(s, field, 1, 1, 1), mp.val(s, field, 1, 2, 1), mp.val(s, field, 1, 3, 1)
	if text == "" {
		text = code
	}
	if text != "" {
		q["unit"] = text
	}
	if code != "" && strings.EqualFold(system, "UCUM") {
		q["system"], q["code"] = "http://unitsofmeasure.org", code
	}
	return q
}

// structuredNumeric maps an SN (comparator^num1^separator^num2): a
// Quantity with its comparator, a Range (num1-num2), a Ratio (num1:num2 or
// num1/num2), or the text of what else it says (an + suffix).
func (mp *mapper) structuredNumeric(obx *hl7v2.Segment, bad func(string, ...any) error) (map[string]any, error) {
	cmp, n1, sep, n2 := mp.val(obx, 5, 1, 1, 1), mp.val(obx, 5, 1, 2, 1), mp.val(obx, 5, 1, 3, 1), mp.val(obx, 5, 1, 4, 1)
	num := func(s string) (any, error) {
		n, ok := number(s)
		if !ok {
			return nil, bad("%q is not a number (SN)", s)
		}
		return n, nil
	}
	a, err := num(n1)
	if err != nil {
		return nil, err
	}
	switch {
	case sep == "" && n2 == "":
		q := mp.quantity(obx, 6, a)
		switch cmp {
		case "", "=":
		case "<", "<=", ">", ">=":
			q["comparator"] = cmp
		case "<>":
			return nil, bad("comparator %q (not equal) has no FHIR Quantity comparator", cmp)
		default:
			return nil, bad("comparator %q is not one of >, <, >=, <=, =, <>", cmp)
		}
		return map[string]any{"valueQuantity": q}, nil
	case cmp != "" && cmp != "=":
		return nil, bad("a comparator %q with a second number", cmp)
	case sep == "-":
		b, err := num(n2)
		if err != nil {
			return nil, err
		}
		return map[string]any{"valueRange": map[string]any{"low": mp.quantity(obx, 6, a), "high": mp.quantity(obx, 6, b)}}, nil
	case sep == ":" || sep == "/":
		b, err := num(n2)
		if err != nil {
			return nil, err
		}
		return map[string]any{"valueRatio": map[string]any{"numerator": map[string]any{"value": a}, "denominator": map[string]any{"value": b}}}, nil
	case sep == "+" && n2 == "":
		return map[string]any{"valueString": n1 + "+"}, nil
	}
	return nil, bad("separator %q of a structured numeric is not -, :, / or a trailing +", sep)
}

// referenceRange maps OBX-7 ("3.5-5.0", "3.5 to 5.0", "<5", ">=10") to a
// referenceRange with the value's unit, or its text when it is none of
// these; nil when absent.
func (mp *mapper) referenceRange(obx *hl7v2.Segment, value any) map[string]any {
	text := mp.val(obx, 7, 1, 1, 1)
	if text == "" {
		return nil
	}
	unit := func(n any) map[string]any {
		q := map[string]any{"value": n}
		if vq, ok := value.(map[string]any); ok {
			for _, k := range []string{"unit", "system", "code"} {
				if v, ok := vq[k]; ok {
					q[k] = v
				}
			}
		}
		return q
	}
	t := strings.TrimSpace(text)
	for _, p := range []struct {
		prefix, key string
	}{{"<=", "high"}, {">=", "low"}, {"<", "high"}, {">", "low"}} {
		if rest, ok := strings.CutPrefix(t, p.prefix); ok {
			if n, ok := number(rest); ok {
				return map[string]any{p.key: unit(n), "text": text}
			}
			return map[string]any{"text": text}
		}
	}
	for _, sep := range []string{" to ", " - ", "-", "_"} {
		low, high, found := strings.Cut(t, sep)
		if !found || low == "" {
			continue
		}
		a, ok1 := number(low)
		b, ok2 := number(high)
		if ok1 && ok2 {
			return map[string]any{"low": unit(a), "high": unit(b)}
		}
	}
	return map[string]any{"text": text}
}

// noteText is an NTE's comment (NTE-3, its repetitions on lines).
func (mp *mapper) noteText(nte *hl7v2.Segment) string {
	var lines []string
	for rep := 1; rep <= nte.Repetitions(3); rep++ {
		if l := mp.text(nte, 3, nte.Raw(3, rep, 1, 1)); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// attachment maps an OBX of type ED (encapsulated data: source^type^
// subtype^encoding^data) or RP (reference pointer: pointer^application^
// type^subtype) to an Attachment of the report's presentedForm, where
// FHIR keeps the document a laboratory renders its report as (a PDF, an
// image). An empty one is left out.
func (mp *mapper) attachment(obx *hl7v2.Segment, sequence int, r *report) error {
	att := map[string]any{}
	if title := mp.val(obx, 3, 1, 2, 1); title != "" {
		att["title"] = title
	}
	bad := func(format string, args ...any) error {
		return wrong(hl7v2.ErrDataType, "OBX", sequence, 5, format, args...)
	}
	if mp.val(obx, 2, 1, 1, 1) == "RP" {
		pointer := mp.val(obx, 5, 1, 1, 1)
		if pointer == "" {
			return nil
		}
		if u, err := url.Parse(pointer); err != nil || !u.IsAbs() {
			return bad("the reference pointer %q is not an absolute URL", pointer)
		}
		att["url"] = pointer
		if ct := mimeType(mp.val(obx, 5, 1, 3, 1), mp.val(obx, 5, 1, 4, 1)); ct != "" {
			att["contentType"] = ct
		}
		r.forms = append(r.forms, att)
		return nil
	}
	data := mp.val(obx, 5, 1, 5, 1)
	if data == "" {
		return nil
	}
	var raw []byte
	switch enc := strings.ToUpper(mp.val(obx, 5, 1, 4, 1)); enc {
	case "BASE64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
		if err != nil {
			return bad("the encapsulated data is not Base64: %v", err)
		}
		raw = b
	case "HEX":
		b, err := hex.DecodeString(data)
		if err != nil {
			return bad("the encapsulated data is not hexadecimal: %v", err)
		}
		raw = b
	case "A", "":
		raw = []byte(data)
	default:
		return bad("encoding %q is not one of table 0299 (A, Hex, Base64)", enc)
	}
	ct := mimeType(mp.val(obx, 5, 1, 2, 1), mp.val(obx, 5, 1, 3, 1))
	if ct == "" {
		ct = "application/octet-stream"
	}
	att["contentType"], att["data"] = ct, base64.StdEncoding.EncodeToString(raw)
	r.forms = append(r.forms, att)
	return nil
}

// mimeTypes are the MIME types of the data subtypes (table 0291) labs use.
var mimeTypes = map[string]string{
	"PDF": "application/pdf", "JPEG": "image/jpeg", "JPG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
	"TIFF": "image/tiff", "RTF": "application/rtf", "HTML": "text/html", "XML": "application/xml",
	"TEXT": "text/plain", "PLAIN": "text/plain", "OCTET-STREAM": "application/octet-stream",
}

// mimeType is the MIME type of an ED's or RP's type and subtype: as
// written when the type is a MIME one (application, image, text, audio,
// video), else the subtype's (table 0291), else the type's (TEXT); ""
// when none says.
func mimeType(typ, subtype string) string {
	switch t := strings.ToLower(typ); t {
	case "application", "image", "text", "audio", "video":
		if subtype != "" && !strings.ContainsAny(subtype, " /;") {
			return t + "/" + strings.ToLower(subtype)
		}
	}
	if subtype == "" {
		return mimeTypes[strings.ToUpper(typ)] // TEXT
	}
	return mimeTypes[strings.ToUpper(subtype)]
}
