package r4

import (
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/google/go-cmp/cmp"
)

func parse(t *testing.T, s string) fhir.Resource {
	t.Helper()
	r, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return r
}

// Each case is an R4 resource and its R5 form; both directions are checked.
var mappingTests = []struct {
	name   string
	r4, r5 string
	kept   int // elements kept as extensions going to R5
}{
	{"Encounter.class Coding → CodeableConcept list",
		`{"resourceType":"Encounter","status":"planned","class":{"system":"s","code":"AMB"}}`,
		`{"resourceType":"Encounter","status":"planned","class":[{"coding":[{"system":"s","code":"AMB"}]}]}`, 0},
	{"Encounter.period → actualPeriod, hospitalization → admission",
		`{"resourceType":"Encounter","status":"planned","period":{"start":"2020"},"hospitalization":{"dischargeDisposition":{"text":"home"}}}`,
		`{"resourceType":"Encounter","status":"planned","actualPeriod":{"start":"2020"},"admission":{"dischargeDisposition":{"text":"home"}}}`, 0},
	{"Encounter.participant.individual → actor, location.physicalType → form",
		`{"resourceType":"Encounter","status":"planned","participant":[{"individual":{"reference":"Practitioner/1"}}],"location":[{"location":{"reference":"Location/1"},"physicalType":{"text":"ward"}}]}`,
		`{"resourceType":"Encounter","status":"planned","participant":[{"actor":{"reference":"Practitioner/1"}}],"location":[{"location":{"reference":"Location/1"},"form":{"text":"ward"}}]}`, 0},
	{"Encounter.reasonCode and reasonReference → reason.value",
		`{"resourceType":"Encounter","status":"planned","reasonCode":[{"text":"a"}],"reasonReference":[{"reference":"Condition/1"}]}`,
		`{"resourceType":"Encounter","status":"planned","reason":[{"value":[{"concept":{"text":"a"}}]},{"value":[{"reference":{"reference":"Condition/1"}}]}]}`, 0},
	{"Encounter.status finished → completed",
		`{"resourceType":"Encounter","status":"finished"}`,
		`{"resourceType":"Encounter","status":"completed"}`, 0},
	{"Encounter.status arrived → in-progress, original kept",
		`{"resourceType":"Encounter","status":"arrived"}`,
		`{"resourceType":"Encounter","status":"in-progress","extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Encounter.status","valueCode":"arrived"}]}`, 1},
	{"Encounter.hospitalization.dietPreference → Encounter.dietPreference",
		`{"resourceType":"Encounter","status":"planned","hospitalization":{"dietPreference":[{"text":"vegan"}],"origin":{"reference":"Location/1"}}}`,
		`{"resourceType":"Encounter","status":"planned","admission":{"origin":{"reference":"Location/1"}},"dietPreference":[{"text":"vegan"}]}`, 0},
	{"Encounter.hospitalization.preAdmissionIdentifier → admission",
		`{"resourceType":"Encounter","status":"planned","hospitalization":{"preAdmissionIdentifier":{"value":"1"}}}`,
		`{"resourceType":"Encounter","status":"planned","admission":{"preAdmissionIdentifier":{"value":"1"}}}`, 0},
	{"Encounter.diagnosis: condition → CodeableReference list, use → list, rank kept",
		`{"resourceType":"Encounter","status":"planned","diagnosis":[{"condition":{"reference":"Condition/1"},"use":{"text":"AD"},"rank":1}]}`,
		`{"resourceType":"Encounter","status":"planned","diagnosis":[{"condition":[{"reference":{"reference":"Condition/1"}}],"use":[{"text":"AD"}],"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Encounter.diagnosis.rank","valuePositiveInt":1}]}]}`, 1},
	{"Condition recorder and asserter → participant",
		`{"resourceType":"Condition","clinicalStatus":{"text":"active"},"subject":{"reference":"Patient/1"},"recorder":{"reference":"Practitioner/1"},"asserter":{"reference":"Patient/1"}}`,
		`{"resourceType":"Condition","clinicalStatus":{"text":"active"},"subject":{"reference":"Patient/1"},"participant":[{"function":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/provenance-participant-type","code":"informant"}]},"actor":{"reference":"Patient/1"}},{"function":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/provenance-participant-type","code":"author"}]},"actor":{"reference":"Practitioner/1"}}]}`, 0},
	{"MedicationAdministration.effectiveDateTime → occurenceDateTime (sic)",
		`{"resourceType":"MedicationAdministration","status":"completed","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"text":"m"},"effectiveDateTime":"2020"}`,
		`{"resourceType":"MedicationAdministration","status":"completed","subject":{"reference":"Patient/1"},"medication":{"concept":{"text":"m"}},"occurenceDateTime":"2020"}`, 0},
	{"Encounter.serviceType → CodeableReference list",
		`{"resourceType":"Encounter","status":"planned","serviceType":{"text":"cardio"}}`,
		`{"resourceType":"Encounter","status":"planned","serviceType":[{"concept":{"text":"cardio"}}]}`, 0},
	{"Encounter.classHistory backbone → nested extension",
		`{"resourceType":"Encounter","status":"planned","classHistory":[{"class":{"code":"AMB"},"period":{"start":"2020"}}]}`,
		`{"resourceType":"Encounter","status":"planned","extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Encounter.classHistory","extension":[{"url":"class","valueCoding":{"code":"AMB"}},{"url":"period","valuePeriod":{"start":"2020"}}]}]}`, 1},
	{"MedicationRequest.medicationCodeableConcept → medication.concept",
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"text":"ibuprofen"},"reasonReference":[{"reference":"Condition/1"}]}`,
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medication":{"concept":{"text":"ibuprofen"}},"reason":[{"reference":{"reference":"Condition/1"}}]}`, 0},
	{"MedicationRequest.medicationReference → medication.reference; Dosage.asNeededBoolean → asNeeded",
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationReference":{"reference":"Medication/1"},"dosageInstruction":[{"asNeededBoolean":true}]}`,
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medication":{"reference":{"reference":"Medication/1"}},"dosageInstruction":[{"asNeeded":true}]}`, 0},
	{"Dosage.asNeededCodeableConcept → asNeededFor",
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationReference":{"reference":"Medication/1"},"dosageInstruction":[{"asNeededCodeableConcept":{"text":"pain"}}]}`,
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medication":{"reference":{"reference":"Medication/1"}},"dosageInstruction":[{"asNeededFor":[{"text":"pain"}]}]}`, 0},
	{"Procedure.performedPeriod → occurrencePeriod, reasonCode → reason",
		`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"performedPeriod":{"start":"2020"},"reasonCode":[{"text":"x"}]}`,
		`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"occurrencePeriod":{"start":"2020"},"reason":[{"concept":{"text":"x"}}]}`, 0},
	{"Procedure.performedDateTime → occurrenceDateTime, primitive extension carried",
		`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"performedDateTime":"2020-01-01","_performedDateTime":{"id":"p"}}`,
		`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"occurrenceDateTime":"2020-01-01","_occurrenceDateTime":{"id":"p"}}`, 0},
	{"Immunization.reasonCode → reason; education kept",
		`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"v"},"patient":{"reference":"Patient/1"},"occurrenceString":"x","reasonCode":[{"text":"r"}],"education":[{"documentType":"d"}]}`,
		`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"v"},"patient":{"reference":"Patient/1"},"occurrenceString":"x","reason":[{"concept":{"text":"r"}}],"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Immunization.education","extension":[{"url":"documentType","valueString":"d"}]}]}`, 1},
	{"AllergyIntolerance.type code → CodeableConcept, reaction.manifestation → CodeableReference",
		`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"type":"allergy","reaction":[{"manifestation":[{"text":"rash"}]}]}`,
		`{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/1"},"type":{"coding":[{"system":"http://hl7.org/fhir/allergy-intolerance-type","code":"allergy"}]},"reaction":[{"manifestation":[{"concept":{"text":"rash"}}]}]}`, 0},
	{"ImagingStudy modality, series.modality, bodySite, procedureCode",
		`{"resourceType":"ImagingStudy","status":"available","subject":{"reference":"Patient/1"},"modality":[{"code":"DX"}],"procedureCode":[{"text":"p"}],"series":[{"uid":"1.2","modality":{"code":"DX"},"bodySite":{"code":"knee"}}]}`,
		`{"resourceType":"ImagingStudy","status":"available","subject":{"reference":"Patient/1"},"modality":[{"coding":[{"code":"DX"}]}],"procedure":[{"concept":{"text":"p"}}],"series":[{"uid":"1.2","modality":{"coding":[{"code":"DX"}]},"bodySite":{"concept":{"coding":[{"code":"knee"}]}}}]}`, 0},
	{"Organization telecom and address → contact",
		`{"resourceType":"Organization","name":"o","address":[{"city":"A"},{"city":"B"}],"telecom":[{"system":"phone","value":"1"}]}`,
		`{"resourceType":"Organization","name":"o","contact":[{"address":{"city":"A"}},{"address":{"city":"B"}},{"telecom":[{"system":"phone","value":"1"}]}]}`, 0},
	{"Location telecom → contact, physicalType → form",
		`{"resourceType":"Location","telecom":[{"system":"phone","value":"1"}],"physicalType":{"text":"bu"}}`,
		`{"resourceType":"Location","contact":[{"telecom":[{"system":"phone","value":"1"}]}],"form":{"text":"bu"}}`, 0},
	{"CarePlan.addresses → CodeableReference; activity.detail kept",
		`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/1"},"addresses":[{"reference":"Condition/1"}],"activity":[{"detail":{"code":{"text":"rest"},"status":"completed"}}]}`,
		`{"resourceType":"CarePlan","status":"active","intent":"plan","subject":{"reference":"Patient/1"},"addresses":[{"reference":{"reference":"Condition/1"}}],"activity":[{"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-CarePlan.activity.detail","extension":[{"url":"code","valueCodeableConcept":{"text":"rest"}},{"url":"status","valueCode":"completed"}]}]}]}`, 1},
	{"DocumentReference context spread, content.format → profile",
		`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://x"},"format":{"code":"f"}}],"context":{"encounter":[{"reference":"Encounter/1"}],"period":{"start":"2020"}}}`,
		`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://x"},"profile":[{"valueCoding":{"code":"f"}}]}],"context":[{"reference":"Encounter/1"}],"period":{"start":"2020"}}`, 0},
	{"Device deviceName → name; type single → list",
		`{"resourceType":"Device","deviceName":[{"name":"meter","type":"user-friendly-name"}],"type":{"text":"meter"}}`,
		`{"resourceType":"Device","name":[{"value":"meter","type":"user-friendly-name"}],"type":[{"text":"meter"}]}`, 0},
	{"Device.udiCarrier without issuer kept",
		`{"resourceType":"Device","udiCarrier":[{"deviceIdentifier":"9"}]}`,
		`{"resourceType":"Device","extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Device.udiCarrier","extension":[{"url":"deviceIdentifier","valueString":"9"}]}]}`, 1},
	{"Coverage payor → insurer, kind filled",
		`{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/1"},"payor":[{"display":"private"}]}`,
		`{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/1"},"insurer":{"display":"private"},"kind":"insurance"}`, 0},
	{"Coverage.class.value and subscriberId string → Identifier",
		`{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/1"},"subscriberId":"s1","class":[{"type":{"text":"group"},"value":"g1"}]}`,
		`{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/1"},"kind":"insurance","subscriberId":[{"value":"s1"}],"class":[{"type":{"text":"group"},"value":{"value":"g1"}}]}`, 0},
	{"DocumentReference.relatesTo.code code → CodeableConcept",
		`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://x"}}],"relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/1"}}]}`,
		`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://x"}}],"relatesTo":[{"code":{"coding":[{"system":"http://hl7.org/fhir/document-relationship-type","code":"replaces"}]},"target":{"reference":"DocumentReference/1"}}]}`, 0},
	{"Medication form → doseForm, ingredient item and strength",
		`{"resourceType":"Medication","form":{"text":"tablet"},"ingredient":[{"itemCodeableConcept":{"text":"x"},"strength":{"numerator":{"value":1}}}]}`,
		`{"resourceType":"Medication","doseForm":{"text":"tablet"},"ingredient":[{"item":{"concept":{"text":"x"}},"strengthRatio":{"numerator":{"value":1}}}]}`, 0},
	{"ServiceRequest code, location, supportingInfo → CodeableReference",
		`{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"code":{"text":"x"},"locationCode":[{"text":"home"}],"locationReference":[{"reference":"Location/1"}],"supportingInfo":[{"reference":"Observation/1"}]}`,
		`{"resourceType":"ServiceRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"code":{"concept":{"text":"x"}},"location":[{"concept":{"text":"home"}},{"reference":{"reference":"Location/1"}}],"supportingInfo":[{"reference":{"reference":"Observation/1"}}]}`, 0},
	{"Provenance.reason → authorization",
		`{"resourceType":"Provenance","target":[{"reference":"Patient/1"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/1"}}],"reason":[{"text":"treatment"}]}`,
		`{"resourceType":"Provenance","target":[{"reference":"Patient/1"}],"recorded":"2020-01-01T00:00:00Z","agent":[{"who":{"reference":"Practitioner/1"}}],"authorization":[{"concept":{"text":"treatment"}}]}`, 0},
	{"Immunization reportOrigin → informationSource, manufacturer → CodeableReference",
		`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"v"},"patient":{"reference":"Patient/1"},"occurrenceString":"x","reportOrigin":{"text":"record"},"manufacturer":{"reference":"Organization/1"}}`,
		`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"v"},"patient":{"reference":"Patient/1"},"occurrenceString":"x","informationSource":{"concept":{"text":"record"}},"manufacturer":{"reference":{"reference":"Organization/1"}}}`, 0},
	{"CareTeam participant.period → coveragePeriod, role list of one → single, reason; encounter kept",
		`{"resourceType":"CareTeam","encounter":{"reference":"Encounter/1"},"participant":[{"role":[{"text":"gp"}],"period":{"start":"2020"}}],"reasonCode":[{"text":"r"}]}`,
		`{"resourceType":"CareTeam","participant":[{"role":{"text":"gp"},"coveragePeriod":{"start":"2020"}}],"reason":[{"concept":{"text":"r"}}],"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-CareTeam.encounter","valueReference":{"reference":"Encounter/1"}}]}`, 1},
	{"Goal expressedBy → source, outcomeCode/outcomeReference → outcome",
		`{"resourceType":"Goal","lifecycleStatus":"active","description":{"text":"d"},"subject":{"reference":"Patient/1"},"expressedBy":{"reference":"Patient/1"},"outcomeCode":[{"text":"met"}],"outcomeReference":[{"reference":"Observation/1"}]}`,
		`{"resourceType":"Goal","lifecycleStatus":"active","description":{"text":"d"},"subject":{"reference":"Patient/1"},"source":{"reference":"Patient/1"},"outcome":[{"concept":{"text":"met"}},{"reference":{"reference":"Observation/1"}}]}`, 0},
	{"Appointment.comment → note, DiagnosticReport.imagingStudy → study",
		`{"resourceType":"Appointment","status":"booked","participant":[{"status":"accepted","actor":{"reference":"Patient/1"}}],"comment":"bring films"}`,
		`{"resourceType":"Appointment","status":"booked","participant":[{"status":"accepted","actor":{"reference":"Patient/1"}}],"note":[{"text":"bring films"}]}`, 0},
	{"DiagnosticReport.imagingStudy → study",
		`{"resourceType":"DiagnosticReport","status":"final","code":{"text":"x"},"imagingStudy":[{"reference":"ImagingStudy/1"}]}`,
		`{"resourceType":"DiagnosticReport","status":"final","code":{"text":"x"},"study":[{"reference":"ImagingStudy/1"}]}`, 0},
	{"SupplyDelivery.suppliedItem single → list",
		`{"resourceType":"SupplyDelivery","status":"completed","suppliedItem":{"quantity":{"value":1},"itemCodeableConcept":{"text":"x"}}}`,
		`{"resourceType":"SupplyDelivery","status":"completed","suppliedItem":[{"quantity":{"value":1},"itemCodeableConcept":{"text":"x"}}]}`, 0},
	{"Attachment.size number → integer64 string",
		`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://x","size":1024}}]}`,
		`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"url":"http://x","size":"1024"}}]}`, 0},
	{"MedicationStatement active → recorded, medication, reason, context → encounter",
		`{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/1"},"context":{"reference":"Encounter/1"},"reasonCode":[{"text":"r"}]}`,
		`{"resourceType":"MedicationStatement","status":"recorded","medication":{"concept":{"text":"m"}},"subject":{"reference":"Patient/1"},"encounter":{"reference":"Encounter/1"},"reason":[{"concept":{"text":"r"}}]}`, 0},
	{"MedicationStatement stopped → recorded, original kept",
		`{"resourceType":"MedicationStatement","status":"stopped","medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/1"}}`,
		`{"resourceType":"MedicationStatement","status":"recorded","medication":{"concept":{"text":"m"}},"subject":{"reference":"Patient/1"},"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-MedicationStatement.status","valueCode":"stopped"}]}`, 1},
	{"Consent: parties renamed, provision.type → decision, dateTime → date, scope kept",
		`{"resourceType":"Consent","status":"active","scope":{"text":"treatment"},"patient":{"reference":"Patient/1"},"dateTime":"2020-01-02T10:00:00Z","performer":[{"reference":"Patient/1"}],"organization":[{"reference":"Organization/1"}],"sourceAttachment":{"url":"http://x"},"policyRule":{"text":"hipaa"},"provision":{"type":"permit","class":[{"code":"Observation"}],"provision":[{"type":"deny"}]}}`,
		`{"resourceType":"Consent","status":"active","subject":{"reference":"Patient/1"},"date":"2020-01-02","grantor":[{"reference":"Patient/1"}],"manager":[{"reference":"Organization/1"}],"sourceAttachment":[{"url":"http://x"}],"regulatoryBasis":[{"text":"hipaa"}],"decision":"permit","provision":[{"resourceType":[{"code":"Observation"}],"provision":[{"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Consent.provision.type","valueCode":"deny"}]}]}],"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Consent.dateTime","valueDateTime":"2020-01-02T10:00:00Z"},{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Consent.scope","valueCodeableConcept":{"text":"treatment"}}]}`, 3},
	{"Consent: provision with only a type",
		`{"resourceType":"Consent","status":"rejected","scope":{"text":"t"},"provision":{"type":"deny"}}`,
		`{"resourceType":"Consent","status":"not-done","decision":"deny","extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Consent.scope","valueCodeableConcept":{"text":"t"}}]}`, 1},
	{"PractitionerRole availableTime and notAvailable → availability",
		`{"resourceType":"PractitionerRole","availableTime":[{"daysOfWeek":["mon"],"availableStartTime":"09:00:00"}],"notAvailable":[{"description":"leave"}],"availabilityExceptions":"holidays"}`,
		`{"resourceType":"PractitionerRole","availability":[{"availableTime":[{"daysOfWeek":["mon"],"availableStartTime":"09:00:00"}],"notAvailableTime":[{"description":"leave"}]}],"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-PractitionerRole.availabilityExceptions","valueString":"holidays"}]}`, 1},
	{"Location.hoursOfOperation → Availability",
		`{"resourceType":"Location","hoursOfOperation":[{"daysOfWeek":["mon","tue"],"openingTime":"08:00:00","closingTime":"17:00:00"},{"daysOfWeek":["sat"],"allDay":true}]}`,
		`{"resourceType":"Location","hoursOfOperation":[{"availableTime":[{"daysOfWeek":["mon","tue"],"availableStartTime":"08:00:00","availableEndTime":"17:00:00"}]},{"availableTime":[{"daysOfWeek":["sat"],"allDay":true}]}]}`, 0},
	{"MedicationDispense medication and context → encounter",
		`{"resourceType":"MedicationDispense","status":"completed","medicationCodeableConcept":{"text":"m"},"subject":{"reference":"Patient/1"},"context":{"reference":"Encounter/1"}}`,
		`{"resourceType":"MedicationDispense","status":"completed","medication":{"concept":{"text":"m"}},"subject":{"reference":"Patient/1"},"encounter":{"reference":"Encounter/1"}}`, 0},
	{"EpisodeOfCare.diagnosis condition and role → use",
		`{"resourceType":"EpisodeOfCare","status":"active","patient":{"reference":"Patient/1"},"diagnosis":[{"condition":{"reference":"Condition/1"},"role":{"text":"CC"}}]}`,
		`{"resourceType":"EpisodeOfCare","status":"active","patient":{"reference":"Patient/1"},"diagnosis":[{"condition":[{"reference":{"reference":"Condition/1"}}],"use":{"text":"CC"}}]}`, 0},
	{"Specimen: containers kept, bodySite → CodeableReference, processing.procedure → method",
		`{"resourceType":"Specimen","container":[{"type":{"text":"tube"}}],"collection":{"bodySite":{"text":"arm"}},"processing":[{"procedure":{"text":"spin"}}]}`,
		`{"resourceType":"Specimen","collection":{"bodySite":{"concept":{"text":"arm"}}},"processing":[{"method":{"text":"spin"}}],"extension":[{"url":"http://hl7.org/fhir/4.0/StructureDefinition/extension-Specimen.container","extension":[{"url":"type","valueCodeableConcept":{"text":"tube"}}]}]}`, 1},
	{"Immunization.protocolApplied doseNumberPositiveInt → doseNumber string",
		`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"v"},"patient":{"reference":"Patient/1"},"occurrenceString":"x","protocolApplied":[{"doseNumberPositiveInt":1,"seriesDosesString":"three"}]}`,
		`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"v"},"patient":{"reference":"Patient/1"},"occurrenceString":"x","protocolApplied":[{"doseNumber":"1","seriesDoses":"three"}]}`, 0},
	{"SampledData.period → interval in ms",
		`{"resourceType":"Observation","status":"final","code":{"text":"ecg"},"valueSampledData":{"origin":{"value":0},"period":10,"dimensions":1,"data":"1 2"}}`,
		`{"resourceType":"Observation","status":"final","code":{"text":"ecg"},"valueSampledData":{"origin":{"value":0},"interval":10,"intervalUnit":"ms","dimensions":1,"data":"1 2"}}`, 0},
	{"MedicationAdministration.performer.actor → CodeableReference",
		`{"resourceType":"MedicationAdministration","status":"completed","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"text":"m"},"effectiveDateTime":"2020","performer":[{"actor":{"reference":"Practitioner/1"}}]}`,
		`{"resourceType":"MedicationAdministration","status":"completed","subject":{"reference":"Patient/1"},"medication":{"concept":{"text":"m"}},"occurenceDateTime":"2020","performer":[{"actor":{"reference":{"reference":"Practitioner/1"}}}]}`, 0},
	{"Bundle entries converted",
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"performedDateTime":"2020"}}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"occurrenceDateTime":"2020"}}]}`, 0},
	{"contained resources converted",
		`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","telecom":[{"value":"1"}]}],"managingOrganization":{"reference":"#o"}}`,
		`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","contact":[{"telecom":[{"value":"1"}]}]}],"managingOrganization":{"reference":"#o"}}`, 0},
}

func TestMappings(t *testing.T) {
	for _, tt := range mappingTests {
		t.Run(tt.name, func(t *testing.T) {
			r4, r5 := parse(t, tt.r4), parse(t, tt.r5)
			if issues := validate.New(spec.R5()).Validate(r5); validate.HasErrors(issues) {
				t.Errorf("the case's R5 form is not valid R5: %v", issues)
			}
			got, report, err := ToR5(r4)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r5, got); diff != "" {
				t.Errorf("ToR5 (-want +got):\n%s", diff)
			}
			if report.KeptTotal() != tt.kept {
				t.Errorf("ToR5 kept %d (%v), want %d", report.KeptTotal(), report.Kept, tt.kept)
			}
			back, _, err := ToR4(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r4, back); diff != "" {
				t.Errorf("ToR4 (-want +got):\n%s", diff)
			}
		})
	}
}

// R5-only content going to R4 becomes 5.0 extensions and comes back.
func TestR5OnlyRoundTrip(t *testing.T) {
	tests := []struct{ name, r5, r4 string }{
		{"Encounter.class with two codings",
			`{"resourceType":"Encounter","status":"planned","class":[{"coding":[{"code":"AMB"},{"code":"X"}]}]}`,
			`{"resourceType":"Encounter","status":"planned","class":{"code":"AMB"},"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.class","valueCodeableConcept":{"coding":[{"code":"AMB"},{"code":"X"}]}}]}`},
		{"Encounter.status discharged",
			`{"resourceType":"Encounter","status":"discharged"}`,
			`{"resourceType":"Encounter","status":"finished","extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.status","valueCode":"discharged"}]}`},
		{"Patient R5-only element",
			`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"focus":{"reference":"Patient/2"}}`,
			`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-Procedure.focus","valueReference":{"reference":"Patient/2"}}]}`},
		{"MedicationRequest medication with concept and reference",
			`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medication":{"concept":{"text":"a"},"reference":{"reference":"Medication/1"}}}`,
			`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},"medicationCodeableConcept":{"text":"a"},"extension":[{"url":"http://hl7.org/fhir/5.0/StructureDefinition/extension-MedicationRequest.medication","extension":[{"url":"concept","valueCodeableConcept":{"text":"a"}},{"url":"reference","valueReference":{"reference":"Medication/1"}}]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r5, r4 := parse(t, tt.r5), parse(t, tt.r4)
			got, report, err := ToR4(r5)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r4, got); diff != "" {
				t.Errorf("ToR4 (-want +got):\n%s", diff)
			}
			if report.KeptTotal() == 0 {
				t.Errorf("ToR4 reported nothing kept")
			}
			back, _, err := ToR5(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r5, back); diff != "" {
				t.Errorf("back to R5 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReportString(t *testing.T) {
	_, report, err := ToR5(parse(t, `{"resourceType":"Encounter","status":"arrived","classHistory":[{"class":{"code":"AMB"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "kept 2 as extensions (Encounter.classHistory ×1, Encounter.status ×1); restored 0"
	if got := report.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNotSupported(t *testing.T) {
	for _, conv := range []func(fhir.Resource) (fhir.Resource, *Report, error){ToR5, ToR4} {
		_, _, err := conv(parse(t, `{"resourceType":"TestScript"}`))
		if !fhir.IsKind(err, fhir.KindNotSupported) {
			t.Errorf("got %v, want a KindNotSupported error", err)
		}
	}
}
