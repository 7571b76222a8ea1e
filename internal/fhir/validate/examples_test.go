package validate

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/sharedtest"
)

// knownInvalid lists official examples that are genuinely invalid against
// the R5 definitions, with the reason; the validator must keep rejecting them.
var knownInvalid = map[string]string{
	"BiologicallyDerivedProduct-allogeneicHCT.json":          "request refers to BiologicallyDerivedProduct/...; only ServiceRequest is allowed",
	"BiologicallyDerivedProduct-autologousHCT.json":          "request refers to BiologicallyDerivedProduct/...; only ServiceRequest is allowed",
	"DocumentReference-xray.json":                            "context refers to a DocumentReference; only Appointment, Encounter, EpisodeOfCare are allowed",
	"Encounter-example.json":                                 "careTeam refers to Encounter/example; only CareTeam is allowed",
	"GenomicStudy-example-lungMass.json":                     "references such as DocumentReference/genomicVCFfile_simple: '_' is not allowed in an id",
	"ResearchSubject-example-crossover-placebo-to-drug.json": "subject and study references are bare ids, not Type/id",
	"Transport-simpledelivery.json":                          "requestedLocation and currentLocation refer to Transport/...; only Location is allowed",
}

// TestOfficialExamples validates every resource of the R5 examples package.
func TestOfficialExamples(t *testing.T) {
	checkExamples(t, New(spec.R5()), knownInvalid, false)
}

// TestOfficialExamplesInvariants runs the same corpus with the FHIRPath
// invariants on.
func TestOfficialExamplesInvariants(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	known := maps.Clone(knownInvalid)
	maps.Copy(known, knownInvariantFailures)
	for _, name := range duplicateLinkIDs {
		known["Questionnaire-qgen-"+name+"1.json"] = "que-2: linkIds repeat (generated from a profile)"
	}
	checkExamples(t, New(spec.R5(), WithInvariants(NewFHIRPathInvariants(spec.R5()))), known, true)
}

// checkExamples validates every official example with v: the ones in
// knownInvalid must fail, the others pass. With allEvaluated, a warning
// that an invariant could not be evaluated fails the test too (a
// contained Parameters answering dom-2, qrs-2's repeat over answers and
// items, and eld-11, whose double-quoted ":" and string function over
// several type codes are corrected, all once could not).
func checkExamples(t *testing.T, v *Validator, knownInvalid map[string]string, allEvaluated bool) {
	valid, invalid := 0, 0
	var report []string
	for _, ex := range sharedtest.R5Examples(t) {
		name, data := ex.File, ex.Body
		res, err := fhir.ParseResource(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		issues := v.Validate(res)
		for _, is := range issues {
			if allEvaluated && strings.Contains(is.Diagnostics, "could not be evaluated") {
				t.Errorf("%s: %s at %v", name, is.Diagnostics, is.Expression)
			}
		}
		_, known := knownInvalid[name]
		if !HasErrors(issues) {
			valid++
			if known {
				t.Errorf("%s: listed as invalid (%s) but validates", name, knownInvalid[name])
			}
			continue
		}
		invalid++
		var lines []string
		for _, is := range issues {
			if is.Severity == "error" {
				lines = append(lines, fmt.Sprintf("    %s %s: %s", is.Code, strings.Join(is.Expression, ","), is.Diagnostics))
			}
		}
		report = append(report, name+"\n"+strings.Join(lines, "\n"))
		if !known {
			t.Errorf("%s is rejected:\n%s", name, strings.Join(lines, "\n"))
		}
	}
	sort.Strings(report)
	t.Logf("%d valid, %d invalid", valid, invalid)
	for _, r := range report {
		t.Log(r)
	}
	if total := valid + invalid; total < 2800 {
		t.Errorf("only %d examples read", total)
	}
}

// knownInvariantFailures lists examples that break an invariant of the
// specification, with the reason; they are rejected only when invariants
// are checked.
var knownInvariantFailures = map[string]string{
	"StructureDefinition-Definition.json":             sdf27,
	"StructureDefinition-Event.json":                  sdf27,
	"StructureDefinition-FiveWs.json":                 sdf27,
	"StructureDefinition-Participant.json":            sdf27,
	"StructureDefinition-ParticipantContactable.json": sdf27,
	"StructureDefinition-ParticipantLiving.json":      sdf27,
	"StructureDefinition-Product.json":                sdf27,
	"StructureDefinition-Publishable.json":            sdf27,
	"StructureDefinition-Request.json":                sdf27,
	"StructureDefinition-Shareable.json":              sdf27,
}

const sdf27 = "sdf-27: a logical model with a baseDefinition but no derivation"

// duplicateLinkIDs are the Questionnaire-qgen-*1.json examples, generated
// from profiles, whose item linkIds repeat (que-2). Checked independently:
// the same 161 files repeat a linkId when read with another JSON tool.
var duplicateLinkIDs = strings.Fields(qgenDuplicates)

const qgenDuplicates = `
	ActivityDefinition ActorDefinition AdministrableProductDefinition AdverseEvent 
	AllergyIntolerance ArtifactAssessment AuditEvent BiologicallyDerivedProduct BodyStructure 
	Bundle CapabilityStatement CareTeam ChargeItem ChargeItemDefinition Citation Claim 
	ClaimResponse ClinicalImpression ClinicalUseDefinition CodeSystem Communication 
	CommunicationRequest CompartmentDefinition Composition ConceptMap Condition 
	ConditionDefinition Consent Contract Coverage CoverageEligibilityRequest 
	CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceRequest 
	DeviceUsage DiagnosticReport DocumentReference EventDefinition Evidence EvidenceReport 
	EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory GenomicStudy 
	Goal GraphDefinition Group GuidanceResponse Immunization ImplementationGuide Ingredient 
	InventoryItem Invoice Library ManufacturedItemDefinition Measure MeasureReport Medication 
	MedicationAdministration MedicationKnowledge MedicationRequest MedicationStatement 
	MedicinalProductDefinition MessageDefinition MessageHeader MolecularSequence NamingSystem 
	NutritionIntake NutritionOrder NutritionProduct Observation ObservationDefinition 
	OperationDefinition PackagedProductDefinition Parameters Patient PaymentReconciliation 
	Person PlanDefinition Practitioner Procedure Provenance Questionnaire 
	QuestionnaireResponse RegulatedAuthorization RequestOrchestration Requirements 
	RiskAssessment SearchParameter ServiceRequest Specimen SpecimenDefinition 
	StructureDefinition StructureMap SubscriptionTopic Substance SubstanceDefinition 
	SubstanceReferenceInformation SupplyDelivery SupplyRequest Task TerminologyCapabilities 
	TestPlan TestReport TestScript Transport ValueSet actualgroup bmi bodyheight bodytemp 
	bodyweight bp cdshooksguidanceresponse cdshooksrequestorchestration 
	cdshooksserviceplandefinition cholesterol computableplandefinition computablevalueset 
	cqllibrary devicemetricobservation ebmrecommendation elementdefinition-de elmlibrary 
	executablevalueset familymemberhistory-genetic fhirpathlibrary groupdefinition 
	hdlcholesterol headcircum heartrate ldlcholesterol lipidprofile logiclibrary 
	modelinfolibrary moduledefinitionlibrary oxygensat publishableactivitydefinition 
	publishablecodesystem publishableconceptmap publishablelibrary publishablemeasure 
	publishablenamingsystem publishableplandefinition publishablevalueset resprate 
	shareableactivitydefinition shareablecodesystem shareableconceptmap shareablelibrary 
	shareablemeasure shareablenamingsystem shareableplandefinition shareabletestscript 
	shareablevalueset triglyceride vitalsigns vitalspanel 
`
