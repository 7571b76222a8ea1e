package tofhir

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
)

// vxu maps a VXU^V04: an Immunization per ORC/RXA group, with its route
// and site (RXR) and what its OBX say (the funding source; the others,
// such as the vaccine information statements given, as notes).
func (mp *mapper) vxu() error {
	patient, err := mp.patient(false)
	if err != nil {
		return err
	}
	var (
		orc      *hl7v2.Segment
		cur      fhir.Resource
		sys, key string
	)
	flush := func() {
		if cur != nil {
			mp.add(cur, sys, key, false)
			cur = nil
		}
	}
	for _, s := range mp.m.Segments {
		switch s.Name {
		case "ORC":
			flush()
			orc = s
			mp.seen(s)
		case "RXA":
			flush()
			if cur, sys, key, err = mp.immunization(s, mp.seen(s), orc, patient); err != nil {
				return err
			}
			orc = nil
		case "RXR":
			if cur != nil {
				if route := mp.concept(s, 1, 1); route != nil {
					cur["route"] = route
				}
				if site := mp.concept(s, 2, 1); site != nil {
					cur["site"] = site
				}
			}
		case "OBX":
			mp.seen(s)
			if cur == nil {
				continue // about the patient, before any RXA: not mapped
			}
			value := mp.concept(s, 5, 1)
			if mp.val(s, 3, 1, 1, 1) == "30963-3" && value != nil { // vaccine funding source
				cur["fundingSource"] = value
				continue
			}
			addNote(cur, mp.obxText(s))
		case "NTE":
			if cur != nil {
				addNote(cur, mp.noteText(s))
			}
		}
	}
	if mp.count["RXA"] == 0 {
		return wrong(hl7v2.ErrSegmentSequence, "RXA", 1, 0, "a VXU^V04 needs an RXA for each immunization")
	}
	flush()
	return nil
}

// immunization maps RXA (the sequence-th) and the ORC before it, and
// returns the Immunization with its identifier's system and value.
func (mp *mapper) immunization(rxa *hl7v2.Segment, sequence int, orc *hl7v2.Segment, patient string) (fhir.Resource, string, string, error) {
	// The filler's order number identifies the immunization; else the
	// placer's.
	var system, id string
	for _, field := range []int{3, 2} {
		if v := mp.val(orc, field, 1, 1, 1); v != "" && orc != nil {
			id, system = v, mp.ei(orc, field)
			break
		}
	}
	if id == "" {
		return nil, "", "", wrong(hl7v2.ErrRequiredField, "ORC", mp.count["ORC"], 3, "RXA %d needs an ORC before it with the filler order number (ORC-3), or the placer's (ORC-2): it identifies the immunization", sequence)
	}
	if k := "Immunization " + system + "|" + id; mp.keys[k] {
		return nil, "", "", wrong(hl7v2.ErrDuplicateKey, "ORC", mp.count["ORC"], 3, "a second immunization with identifier %s in one message", id)
	} else {
		mp.keys[k] = true
	}
	vaccine := mp.concept(rxa, 5, 1)
	if vaccine == nil {
		return nil, "", "", wrong(hl7v2.ErrRequiredField, "RXA", sequence, 5, "the administered code (RXA-5) is required: it is the vaccine")
	}
	when := mp.val(rxa, 3, 1, 1, 1)
	if when == "" {
		return nil, "", "", wrong(hl7v2.ErrRequiredField, "RXA", sequence, 3, "the date/time of the administration (RXA-3) is required")
	}
	t, err := parseDTM(when, mp.zone)
	if err != nil {
		return nil, "", "", wrong(hl7v2.ErrDataType, "RXA", sequence, 3, "%q: %v", when, err)
	}
	imm := fhir.Resource{
		"resourceType":       "Immunization",
		"identifier":         []any{map[string]any{"system": system, "value": id}},
		"vaccineCode":        vaccine,
		"patient":            map[string]any{"reference": patient},
		"occurrenceDateTime": t.dateTime(),
	}
	completion := strings.ToUpper(mp.val(rxa, 20, 1, 1, 1))
	switch {
	case strings.EqualFold(mp.val(rxa, 21, 1, 1, 1), "D"):
		imm["status"] = "entered-in-error"
	case completion == "RE" || completion == "NA":
		imm["status"] = "not-done"
		if reason := mp.concept(rxa, 18, 1); reason != nil {
			imm["statusReason"] = reason
		}
	case completion == "" || completion == "CP" || completion == "PA":
		imm["status"] = "completed"
		if completion == "PA" {
			imm["isSubpotent"] = true
		}
	default:
		return nil, "", "", wrong(hl7v2.ErrTableValue, "RXA", sequence, 20, "completion status %q is not one of table 0322 (CP, RE, NA, PA)", completion)
	}
	if amount := mp.val(rxa, 6, 1, 1, 1); amount != "" && amount != "999" { // 999: not recorded
		n, ok := number(amount)
		if !ok {
			return nil, "", "", wrong(hl7v2.ErrDataType, "RXA", sequence, 6, "%q is not a number", amount)
		}
		imm["doseQuantity"] = mp.quantity(rxa, 7, n)
	}
	// RXA-9, table NIP001: 00 a new record of this administration, 01-08
	// one from another source.
	if src := mp.val(rxa, 9, 1, 1, 1); src != "" {
		imm["primarySource"] = src == "00"
	}
	var performers []any
	for _, p := range []struct {
		s             *hl7v2.Segment
		field         int
		code, display string
	}{{rxa, 10, "AP", "Administering Provider"}, {orc, 12, "OP", "Ordering Provider"}} {
		if actor := mp.person(p.s, p.field, 1); p.s != nil && actor != nil {
			performers = append(performers, map[string]any{"actor": actor, "function": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/v2-0443", "code": p.code, "display": p.display}}}})
		}
	}
	if len(performers) > 0 {
		imm["performer"] = performers
	}
	if lot := mp.val(rxa, 15, 1, 1, 1); lot != "" {
		imm["lotNumber"] = lot
	}
	if exp := mp.val(rxa, 16, 1, 1, 1); exp != "" {
		t, err := parseDTM(exp, mp.zone)
		if err != nil {
			return nil, "", "", wrong(hl7v2.ErrDataType, "RXA", sequence, 16, "expiration date %q: %v", exp, err)
		}
		imm["expirationDate"] = t.date()
	}
	if maker := mp.concept(rxa, 17, 1); maker != nil {
		imm["manufacturer"] = map[string]any{"concept": maker}
	}
	return imm, system, id, nil
}

// obxText is an OBX as a line of text: what it is, and its value.
func (mp *mapper) obxText(obx *hl7v2.Segment) string {
	what := mp.val(obx, 3, 1, 2, 1)
	if what == "" {
		what = mp.val(obx, 3, 1, 1, 1)
	}
	value := mp.val(obx, 5, 1, 2, 1)
	if value == "" {
		value = mp.val(obx, 5, 1, 1, 1)
	}
	if value == "" {
		return ""
	}
	if t, err := parseDTM(value, mp.zone); err == nil && (mp.val(obx, 2, 1, 1, 1) == "DT" || mp.val(obx, 2, 1, 1, 1) == "TS") {
		value = t.dateTime()
	}
	return what + ": " + value
}
