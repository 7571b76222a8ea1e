// Package papers prints the papers of a visit as PDF: a prescription, an
// order requisition and a visit summary for the patient, each with the
// patient's name, birth date and identifiers, the clinician, the date and
// a signature line. The inputs are plain structs; the From functions fill
// them from FHIR resources.
package papers

import "time"

// Patient is who the paper is for.
type Patient struct {
	// Name as the UI guide writes it: "OKAFOR, Chidinma (Mrs)".
	Name string
	// BirthDate is "09-Mar-1984" (never an ambiguous numeric date); Sex
	// as recorded ("female").
	BirthDate, Sex string
	// Identifiers, the MRN first.
	Identifiers []Identifier
	Address     string
}

// Identifier is a labelled identifier: {"MRN", "12345"}.
type Identifier struct{ Label, Value string }

// Clinician is the prescriber or orderer.
type Clinician struct {
	Name, Qualification string
	// Identifier is a licence or registration number, with its label.
	Identifier   Identifier
	Organization string
	Address      string
	Phone        string
}

// Medication is one line of a prescription.
type Medication struct {
	// Name is the drug as the UI guide orders it: generic name, strength,
	// form ("amoxicillin 500 mg capsule").
	Name string
	// Instructions are the dosage in words.
	Instructions string
	// Quantity to dispense, with its unit ("21 capsules"); "" when not set.
	Quantity string
	// Refills is the number of repeats allowed.
	Refills int
	// Note is anything else for the pharmacist.
	Note string
}

// Prescription is a prescription paper.
type Prescription struct {
	Patient     Patient
	Prescriber  Clinician
	Date        time.Time
	Medications []Medication
	// Allergies are printed so the pharmacist sees them too.
	Allergies []string
}

// Order is one ordered test or examination.
type Order struct {
	Name, Code string
	// Priority is routine, urgent, asap or stat.
	Priority string
	Reason   string
	Specimen string
	Note     string
}

// Requisition is an order requisition for a laboratory or imaging.
type Requisition struct {
	Patient  Patient
	Orderer  Clinician
	Date     time.Time
	Tests    []Order
	Clinical string // clinical information for the performer
}

// Reading is a labelled value of the visit summary ("Blood pressure",
// "128/82 mmHg").
type Reading struct{ Label, Value string }

// VisitSummary is the summary given to the patient after a visit.
type VisitSummary struct {
	Patient     Patient
	Clinician   Clinician
	Date        time.Time
	Reason      string
	Vitals      []Reading
	Diagnoses   []string
	Medications []Medication
	Tests       []Order
	// Instructions and FollowUp are in the clinician's words.
	Instructions, FollowUp string
}
