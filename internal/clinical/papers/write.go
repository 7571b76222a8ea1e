package papers

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
)

// WritePrescription writes the prescription as PDF to w. It returns an
// error of kind fhir.KindInvalid for a prescription without a patient
// name, a prescriber or a medication.
func WritePrescription(w io.Writer, rx Prescription) error {
	return writePrescription(w, rx, options{compress: true})
}

func writePrescription(w io.Writer, rx Prescription, o options) error {
	if err := need(rx.Patient, rx.Prescriber.Name, len(rx.Medications), "medication"); err != nil {
		return err
	}
	p := openPaper("Prescription", "Date", rx.Date, rx.Patient, o)
	if len(rx.Allergies) > 0 {
		p.field("Allergies", strings.Join(rx.Allergies, "; "))
	}
	p.clinician("Prescriber", rx.Prescriber)
	p.section("Medications")
	for i, m := range rx.Medications {
		p.para("B", fmt.Sprintf("%d. %s", i+1, m.Name))
		p.para("", m.Instructions)
		qty := m.Quantity
		if qty == "" {
			qty = "Not stated"
		}
		p.para("", fmt.Sprintf("Quantity: %s    Refills: %d", qty, m.Refills))
		if m.Note != "" {
			p.para("I", m.Note)
		}
		p.pdf.Ln(2)
	}
	p.signature(rx.Prescriber.Name, rx.Date)
	return p.finish(w)
}

// WriteRequisition writes the order requisition as PDF to w. It returns
// an error of kind fhir.KindInvalid without a patient name, an orderer or
// a test.
func WriteRequisition(w io.Writer, r Requisition) error {
	return writeRequisition(w, r, options{compress: true})
}

func writeRequisition(w io.Writer, r Requisition, o options) error {
	if err := need(r.Patient, r.Orderer.Name, len(r.Tests), "test"); err != nil {
		return err
	}
	p := openPaper("Order requisition", "Date", r.Date, r.Patient, o)
	p.clinician("Ordered by", r.Orderer)
	p.section("Tests")
	for i, t := range r.Tests {
		p.para("B", fmt.Sprintf("%d. %s", i+1, joinNonEmpty(" - ", t.Name, t.Code)))
		priority := t.Priority
		if priority == "" {
			priority = "routine"
		}
		p.field("Priority", priority)
		if t.Reason != "" {
			p.field("Reason", t.Reason)
		}
		if t.Specimen != "" {
			p.field("Specimen", t.Specimen)
		}
		if t.Note != "" {
			p.field("Note", t.Note)
		}
		p.pdf.Ln(2)
	}
	if r.Clinical != "" {
		p.section("Clinical information")
		p.para("", r.Clinical)
	}
	p.signature(r.Orderer.Name, r.Date)
	return p.finish(w)
}

// WriteVisitSummary writes the patient's visit summary as PDF to w. It
// returns an error of kind fhir.KindInvalid without a patient name or a
// clinician.
func WriteVisitSummary(w io.Writer, v VisitSummary) error {
	return writeVisitSummary(w, v, options{compress: true})
}

func writeVisitSummary(w io.Writer, v VisitSummary, o options) error {
	if err := need(v.Patient, v.Clinician.Name, 1, ""); err != nil {
		return err
	}
	p := openPaper("Visit summary", "Date of visit", v.Date, v.Patient, o)
	p.clinician("Seen by", v.Clinician)
	if v.Reason != "" {
		p.section("Reason for the visit")
		p.para("", v.Reason)
	}
	if len(v.Vitals) > 0 {
		p.section("Measurements")
		for _, r := range v.Vitals {
			p.field(r.Label, r.Value)
		}
	}
	if len(v.Diagnoses) > 0 {
		p.section("Diagnoses")
		for _, d := range v.Diagnoses {
			p.para("", "- "+d)
		}
	}
	if len(v.Medications) > 0 {
		p.section("Medicines")
		for _, m := range v.Medications {
			p.para("B", m.Name)
			p.para("", m.Instructions)
		}
	}
	if len(v.Tests) > 0 {
		p.section("Tests ordered")
		for _, t := range v.Tests {
			p.para("", "- "+joinNonEmpty(" - ", t.Name, t.Priority))
		}
	}
	if v.Instructions != "" {
		p.section("What to do next")
		p.para("", v.Instructions)
	}
	if v.FollowUp != "" {
		p.section("Follow-up")
		p.para("", v.FollowUp)
	}
	p.signature(v.Clinician.Name, v.Date)
	return p.finish(w)
}

// openPaper starts a paper the way every one starts: its title, its
// date, and the patient.
func openPaper(title, dateLabel string, date time.Time, pt Patient, o options) *page {
	p := newPage(title, date, o)
	p.heading(title)
	p.field(dateLabel, dateText(date))
	p.patient(pt)
	return p
}

// need checks what every paper must have.
func need(pt Patient, clinician string, items int, what string) error {
	switch {
	case strings.TrimSpace(pt.Name) == "":
		return fhir.Errorf(fhir.KindInvalid, "papers: no patient name")
	case len(pt.Identifiers) == 0 && strings.TrimSpace(pt.BirthDate) == "":
		return fhir.Errorf(fhir.KindInvalid, "papers: a paper needs a second patient identifier (birth date or MRN)")
	case strings.TrimSpace(clinician) == "":
		return fhir.Errorf(fhir.KindInvalid, "papers: no clinician")
	case items == 0:
		return fhir.Errorf(fhir.KindInvalid, "papers: no %s", what)
	}
	return nil
}
