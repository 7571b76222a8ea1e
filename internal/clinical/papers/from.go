package papers

import (
	"fmt"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/clinical/dosage"
	"github.com/emr-project/emr/internal/fhir"
)

// PatientFrom fills a Patient from a FHIR Patient: the official (else
// first) name as "FAMILY, Given (Prefix)", the birth date unambiguous,
// the MRN (identifier type MR) first among the identifiers, and the first
// address.
func PatientFrom(p fhir.Resource) Patient {
	out := Patient{Name: patientName(p), BirthDate: birthDate(datatype.Str(p, "birthDate")), Sex: datatype.Str(p, "gender")}
	var others []Identifier
	for _, v := range datatype.List(p["identifier"]) {
		id := datatype.Obj(v)
		value := datatype.Str(id, "value")
		if value == "" {
			continue
		}
		label := datatype.Text(id["type"])
		isMRN := false
		for _, c := range datatype.Codings(id["type"]) {
			if c.Code == "MR" {
				isMRN = true
			}
		}
		switch {
		case isMRN:
			out.Identifiers = append(out.Identifiers, Identifier{"MRN", value})
			continue
		case label == "":
			label = systemLabel(datatype.Str(id, "system"))
		}
		others = append(others, Identifier{label, value})
	}
	out.Identifiers = append(out.Identifiers, others...)
	if addrs := datatype.List(p["address"]); len(addrs) > 0 {
		a := datatype.Obj(addrs[0])
		if t := datatype.Str(a, "text"); t != "" {
			out.Address = t
		} else {
			var lines []string
			for _, l := range datatype.List(a["line"]) {
				if s, ok := l.(string); ok {
					lines = append(lines, s)
				}
			}
			out.Address = joinNonEmpty(", ", strings.Join(lines, ", "), datatype.Str(a, "city"), datatype.Str(a, "postalCode"), datatype.Str(a, "country"))
		}
	}
	return out
}

// patientName writes the name the UI guide's way: family in capitals,
// given names, then the title in brackets.
func patientName(p fhir.Resource) string {
	n := pickName(p)
	if n == nil {
		return ""
	}
	family := strings.ToUpper(datatype.Str(n, "family"))
	given := strings.Join(stringList(n["given"]), " ")
	prefix := strings.Join(stringList(n["prefix"]), " ")
	if family == "" && given == "" {
		return datatype.Str(n, "text")
	}
	s := joinNonEmpty(", ", family, given)
	if prefix != "" {
		s += " (" + prefix + ")"
	}
	return s
}

// pickName returns the official name, else the usual, else the first.
func pickName(r fhir.Resource) map[string]any {
	names := datatype.List(r["name"])
	for _, use := range []string{"official", "usual"} {
		for _, n := range names {
			if datatype.Str(datatype.Obj(n), "use") == use {
				return datatype.Obj(n)
			}
		}
	}
	if len(names) > 0 {
		return datatype.Obj(names[0])
	}
	return nil
}

func stringList(v any) []string {
	var out []string
	for _, x := range datatype.List(v) {
		if s, ok := x.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// birthDate writes a FHIR date as 09-Mar-1984; a partial date stays as
// it is (1984, 1984-03), and an empty one is "".
func birthDate(s string) string {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Format("02-Jan-2006")
	}
	if t, err := time.Parse("2006-01", s); err == nil {
		return t.Format("Jan-2006")
	}
	return s
}

var systemLabels = map[string]string{
	"http://hl7.org/fhir/sid/us-npi": "NPI",
	"http://hl7.org/fhir/sid/us-ssn": "SSN",
}

func systemLabel(system string) string {
	if l, ok := systemLabels[system]; ok {
		return l
	}
	return "Identifier"
}

// ClinicianFrom fills a Clinician from a FHIR Practitioner: "Dr Ada Obi",
// the first qualification, and the first identifier (an NPI labelled so).
func ClinicianFrom(pr fhir.Resource) Clinician {
	var c Clinician
	if n := pickName(pr); n != nil {
		if t := datatype.Str(n, "text"); t != "" {
			c.Name = t
		} else {
			c.Name = joinNonEmpty(" ", strings.Join(stringList(n["prefix"]), " "), strings.Join(stringList(n["given"]), " "), datatype.Str(n, "family"))
		}
	}
	if qs := datatype.List(pr["qualification"]); len(qs) > 0 {
		c.Qualification = datatype.Text(datatype.Obj(qs[0])["code"])
	}
	if ids := datatype.List(pr["identifier"]); len(ids) > 0 {
		id := datatype.Obj(ids[0])
		label := datatype.Text(id["type"])
		if label == "" {
			label = systemLabel(datatype.Str(id, "system"))
		}
		c.Identifier = Identifier{label, datatype.Str(id, "value")}
	}
	for _, t := range datatype.List(pr["telecom"]) {
		if datatype.Str(datatype.Obj(t), "system") == "phone" {
			c.Phone = datatype.Str(datatype.Obj(t), "value")
			break
		}
	}
	return c
}

// MedicationFrom fills a prescription line from an R5 MedicationRequest:
// the medication's text (its concept, or a contained Medication's code),
// the dosage instructions in words, the quantity to dispense and the
// refills (dispenseRequest), and the notes. It returns the dosage's error
// when an instruction cannot be read: a paper must not print a guess.
func MedicationFrom(mr fhir.Resource) (Medication, error) {
	med := datatype.Obj(mr["medication"])
	m := Medication{Name: datatype.Text(med)}
	if ref := datatype.RefOf(med["reference"]); m.Name == "" && strings.HasPrefix(ref, "#") {
		for _, c := range datatype.List(mr["contained"]) {
			if cm := datatype.Obj(c); datatype.Str(cm, "id") == ref[1:] {
				m.Name = datatype.Text(cm["code"])
			}
		}
	}
	if m.Name == "" {
		m.Name = "Medication not named"
	}
	if dosages := datatype.List(mr["dosageInstruction"]); len(dosages) > 0 {
		text, err := dosage.TextAll(dosages)
		if err != nil {
			return Medication{}, fmt.Errorf("papers: %s: %w", m.Name, err)
		}
		m.Instructions = text
	} else {
		m.Instructions = "No instructions recorded"
	}
	dr := datatype.Obj(mr["dispenseRequest"])
	if q, ok := datatype.QuantityOf(dr["quantity"]); ok {
		m.Quantity = joinNonEmpty(" ", datatype.FormatNumber(q.Value), q.UnitText())
	}
	if n, ok := datatype.Number(dr["numberOfRepeatsAllowed"]); ok && n >= 0 {
		m.Refills = int(n)
	}
	var notes []string
	for _, n := range datatype.List(mr["note"]) {
		if t := datatype.Str(datatype.Obj(n), "text"); t != "" {
			notes = append(notes, t)
		}
	}
	m.Note = strings.Join(notes, " ")
	return m, nil
}

// OrderFrom fills a requisition line from an R5 ServiceRequest: the test's
// name and LOINC code, priority, reasons, specimens and notes.
func OrderFrom(sr fhir.Resource) Order {
	t := Order{Name: datatype.Text(sr["code"]), Priority: datatype.Str(sr, "priority")}
	for _, c := range datatype.Codings(sr["code"]) {
		if c.System == datatype.LOINC {
			t.Code = "LOINC " + c.Code
			break
		}
	}
	var reasons, specimens, notes []string
	for _, r := range datatype.List(sr["reason"]) {
		if s := reasonText(r); s != "" {
			reasons = append(reasons, s)
		}
	}
	for _, s := range datatype.List(sr["specimen"]) {
		if d := datatype.Str(datatype.Obj(s), "display"); d != "" {
			specimens = append(specimens, d)
		}
	}
	for _, n := range datatype.List(sr["note"]) {
		if s := datatype.Str(datatype.Obj(n), "text"); s != "" {
			notes = append(notes, s)
		}
	}
	t.Reason, t.Specimen, t.Note = strings.Join(reasons, "; "), strings.Join(specimens, "; "), strings.Join(notes, " ")
	return t
}

// reasonText reads a CodeableReference: its concept, else its
// reference's display.
func reasonText(v any) string {
	m := datatype.Obj(v)
	if t := datatype.Text(m["concept"]); t != "" {
		return t
	}
	return datatype.Str(datatype.Obj(m["reference"]), "display")
}

// ReadingFrom fills a measurement of the visit summary from an
// Observation: its name and value with unit, blood pressure as
// systolic/diastolic.
func ReadingFrom(o fhir.Resource) Reading {
	r := Reading{Label: datatype.Text(o["code"])}
	if q, ok := datatype.QuantityOf(o["valueQuantity"]); ok {
		r.Value = joinNonEmpty(" ", datatype.FormatNumber(q.Value), q.UnitText())
		return r
	}
	var parts []string
	unit := ""
	for _, c := range datatype.List(o["component"]) {
		if q, ok := datatype.QuantityOf(datatype.Obj(c)["valueQuantity"]); ok {
			parts = append(parts, datatype.FormatNumber(q.Value))
			unit = q.UnitText()
		}
	}
	r.Value = joinNonEmpty(" ", strings.Join(parts, "/"), unit)
	return r
}
