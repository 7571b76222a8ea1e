package sqlstore

// The hand-made population of TestBackendsAgree: small, but every edge
// that a search can trip on between two SQL dialects. Ids start with "ag-"
// so that nothing clashes with the official examples loaded before it.

// agreePhase is one write of the population: its resources stored in order
// (created or updated), then its deletions. Each phase is its own
// transaction, so its versions share one lastUpdated, which searches on
// _lastUpdated and history Since/At name by the phase ({phase} in a query).
type agreePhase struct {
	name    string
	puts    []string // resource JSON
	deletes []string // Type/id
}

const (
	agMRN   = "http://hospital.example.org/mrn"
	agLOINC = "http://loinc.org"
	agSCT   = "http://snomed.info/sct"
	agUCUM  = "http://unitsofmeasure.org"
	agV2    = "http://terminology.hl7.org/CodeSystem/v2-0203"
	agCat   = "http://terminology.hl7.org/CodeSystem/observation-category"
)

// agNarrative wraps text in a generated narrative.
func agNarrative(text string) string {
	return `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + text + `</div>"}`
}

// agObservation is an Observation of patient with code (system|code) and
// the rest of its JSON (value, effective…).
func agObservation(id, patient, system, code, display, rest string) string {
	js := `{"resourceType":"Observation","id":"` + id + `","status":"final",` +
		`"category":[{"coding":[{"system":"` + agCat + `","code":"laboratory"}]}],` +
		`"code":{"coding":[{"system":"` + system + `","code":"` + code + `","display":"` + display + `"}]}`
	if patient != "" {
		js += `,"subject":{"reference":"Patient/` + patient + `"}`
	}
	if rest != "" {
		js += "," + rest
	}
	return js + "}"
}

func agQuantity(value, unit, system, code string) string {
	js := `"valueQuantity":{"value":` + value
	if unit != "" {
		js += `,"unit":"` + unit + `"`
	}
	if system != "" {
		js += `,"system":"` + system + `"`
	}
	if code != "" {
		js += `,"code":"` + code + `"`
	}
	return js + "}"
}

func agBloodPressure(id, patient, when string, systolic, diastolic string) string {
	component := func(code, value string) string {
		return `{"code":{"coding":[{"system":"` + agLOINC + `","code":"` + code + `"}]},` +
			`"valueQuantity":{"value":` + value + `,"unit":"mmHg","system":"` + agUCUM + `","code":"mm[Hg]"}}`
	}
	return agObservation(id, patient, agLOINC, "85354-9", "Blood pressure panel", `"effectiveDateTime":"`+when+`",`+
		`"component":[`+component("8480-6", systolic)+`,`+component("8462-4", diastolic)+`]`)
}

var agreePopulation = []agreePhase{
	{name: "people", puts: []string{
		`{"resourceType":"Organization","id":"ag-org-root","name":"Ørestad Health Network","identifier":[{"system":"http://example.org/org","value":"ROOT"}]}`,
		`{"resourceType":"Organization","id":"ag-org-a","name":"Hôpital Saint-Éloi","partOf":{"reference":"Organization/ag-org-root"}}`,
		`{"resourceType":"Organization","id":"ag-org-b","name":"Klinikum an der Straße","partOf":{"reference":"Organization/ag-org-a"}}`,
		`{"resourceType":"Practitioner","id":"ag-dr1","name":[{"family":"Nguyễn","given":["Văn","An"]}],"gender":"male"}`,
		`{"resourceType":"Practitioner","id":"ag-dr2","name":[{"family":"Smith","given":["Alice"]}],"gender":"female"}`,
		`{"resourceType":"Patient","id":"ag-p1",` + agNarrative(`Jürgen Müller lives in Zürich; <b>diabetic</b>, well-known to the clinic, see http://loinc.org/glucose and 5.4 mmol/L`) + `,
		  "meta":{"tag":[{"system":"http://example.org/tags","code":"vip"}],"profile":["http://example.org/StructureDefinition/agree-patient|1.0"],"source":"http://example.org/source#ag"},
		  "identifier":[{"type":{"coding":[{"system":"` + agV2 + `","code":"MR"}],"text":"Medical record"},"system":"` + agMRN + `","value":"A1"}],
		  "active":true,"name":[{"family":"Müller","given":["Jürgen"]}],"gender":"male","birthDate":"1980-05-17",
		  "telecom":[{"system":"email","value":"jm@example.org"}],"address":[{"city":"Zürich","country":"CH","postalCode":"8001"}],
		  "managingOrganization":{"reference":"Organization/ag-org-b"},"generalPractitioner":[{"reference":"Practitioner/ag-dr1"}]}`,
		`{"resourceType":"Patient","id":"ag-p2",` + agNarrative(`Anna Muller, hypertension. Très élevé.`) + `,
		  "identifier":[{"system":"` + agMRN + `","value":"A2"}],"active":false,
		  "name":[{"family":"Muller","given":["Anna"]}],"gender":"female","birthDate":"1980-05","managingOrganization":{"reference":"Organization/ag-org-a"},
		  "generalPractitioner":[{"reference":"Practitioner/ag-dr2"}]}`,
		`{"resourceType":"Patient","id":"ag-p3","name":[{"family":"MÜLLER","given":["Zoë"]}],"gender":"other","birthDate":"1980",
		  "identifier":[{"system":"http://other.example.org","value":"A1"}],"link":[{"other":{"reference":"Patient/ag-p1"},"type":"seealso"}]}`,
		`{"resourceType":"Patient","id":"ag-p4",` + agNarrative(`Иван Иванов из Москвы`) + `,"name":[{"family":"Иванов","given":["Иван"]}],"gender":"male","birthDate":"1975-12-31",
		  "managingOrganization":{"reference":"Organization/ag-org-root"},"address":[{"city":"Москва"}]}`,
		`{"resourceType":"Patient","id":"ag-p5",` + agNarrative(`Νίκος Παπαδόπουλος`) + `,"name":[{"family":"Παπαδόπουλος","given":["Νίκος"]}],"gender":"male","birthDate":"2001-01-01"}`,
		`{"resourceType":"Patient","id":"ag-p6",` + agNarrative(`王小明 患者`) + `,"name":[{"family":"王","given":["小明"]}]}`,
		`{"resourceType":"Patient","id":"ag-p7","name":[{"family":"Smith","given":["John"]}],"gender":"male","birthDate":"1990-06-15","active":true}`,
		`{"resourceType":"Patient","id":"ag-p8","name":[{"family":"Smith","given":["John"]}],"gender":"male","birthDate":"1990-06-15","active":true}`,
		`{"resourceType":"Patient","id":"ag-p9","name":[{"family":"Smith","given":["Jane"]}],"gender":"female","birthDate":"1990-06-15",
		  "deceasedDateTime":"2020-03-01T10:30:00+02:00"}`,
		`{"resourceType":"Patient","id":"ag-p10","identifier":[{"system":"` + agMRN + `","value":"A10"}],"gender":"unknown"}`,
		`{"resourceType":"Patient","id":"ag-p11",` + agNarrative(`Siobhán O'Brien-Łukasiewicz, José (decomposed)`) + `,
		  "name":[{"family":"O'Brien-Łukasiewicz","given":["Siobhán","Jose\u0301"]}],"gender":"female","birthDate":"1966-02-28"}`,
		`{"resourceType":"Patient","id":"ag-p12",` + agNarrative(`Ærøskøbing Großmann, Straße 5`) + `,"name":[{"family":"Großmann","given":["Ærøskøbing"]}],"identifier":[{"system":"http://example.org/ids","value":"ÄB-12"}],
		  "birthDate":"1999-12-31","address":[{"line":["Hauptstraße 5"],"city":"Köln"}]}`,
		`{"resourceType":"Patient","id":"ag-p13","name":[{"family":"Gone","given":["Soon"]}],"birthDate":"1950"}`,
		`{"resourceType":"Patient","id":"ag-p14","name":[{"family":"Phoenix","given":["First"]}],"birthDate":"1960"}`,
		`{"resourceType":"Patient","id":"ag-p15","name":[{"family":"Before","given":["Version"]}],"birthDate":"1970"}`,
		`{"resourceType":"Patient","id":"ag-p16","name":[{"family":"İnce","given":["Işık"]}],"gender":"female","birthDate":"1985-07"}`,
		`{"resourceType":"Patient","id":"ag-p17","name":[{"family":"smith","given":["john"]},{"family":"Zeta"}],"birthDate":"1990-06"}`,
	}},
	{name: "clinical", puts: []string{
		`{"resourceType":"Encounter","id":"ag-enc1","status":"completed","subject":{"reference":"Patient/ag-p1"},
		  "serviceProvider":{"reference":"Organization/ag-org-b"},"participant":[{"actor":{"reference":"Practitioner/ag-dr1"}}],
		  "actualPeriod":{"start":"2020-01-01T09:00:00Z","end":"2020-01-01T11:00:00Z"},"length":{"value":120,"unit":"min","system":"` + agUCUM + `","code":"min"}}`,
		`{"resourceType":"Encounter","id":"ag-enc2","status":"in-progress","subject":{"reference":"Patient/ag-p2"},
		  "participant":[{"actor":{"reference":"Practitioner/ag-dr2"}}],"actualPeriod":{"start":"2021-03-01"},
		  "length":{"value":2,"unit":"h","system":"` + agUCUM + `","code":"h"}}`,
		agObservation("ag-o1", "ag-p1", agLOINC, "2345-7", "Glucose", agQuantity("5.4", "mmol/L", agUCUM, "mmol/L")+
			`,"effectiveDateTime":"2020-01-01T10:00:00Z","encounter":{"reference":"Encounter/ag-enc1"},"performer":[{"reference":"Practitioner/ag-dr1"}]`),
		agObservation("ag-o2", "ag-p1", agLOINC, "2345-7", "Glucose", agQuantity("97", "mg/dL", agUCUM, "mg/dL")+`,"effectiveDateTime":"2020-01-01"`),
		agObservation("ag-o3", "ag-p2", agLOINC, "2345-7", "Glucose", agQuantity("5400", "umol/L", agUCUM, "umol/L")+`,"effectiveDateTime":"2020-01"`),
		agObservation("ag-o4", "ag-p2", agLOINC, "29463-7", "Body weight", agQuantity("70000", "g", agUCUM, "g")+`,"effectiveDateTime":"2020"`),
		agObservation("ag-o5", "ag-p3", agLOINC, "29463-7", "Body weight", agQuantity("70", "kg", agUCUM, "kg")+`,"effectiveDateTime":"2020-06-30T23:59:59.999Z"`),
		agObservation("ag-o6", "ag-p4", agLOINC, "3424-9", "Dose", agQuantity("250", "mg", agUCUM, "mg")+`,"effectiveDateTime":"2021-01-15T08:00:00+01:00"`),
		agObservation("ag-o7", "ag-p4", agLOINC, "3424-9", "Dose", agQuantity("0.25", "g", agUCUM, "g")+`,"effectiveDateTime":"2021-01-15T07:00:00Z"`),
		agObservation("ag-o8", "ag-p5", agLOINC, "3424-9", "Dose", agQuantity("1", "g", agUCUM, "g")+`,"effectiveDateTime":"2021-01-15T09:00:00-05:00"`),
		agObservation("ag-o9", "ag-p5", agLOINC, "3424-9", "Dose", agQuantity("1000", "mg", agUCUM, "mg")+`,"effectiveDateTime":"2021-01-16"`),
		agObservation("ag-o10", "ag-p6", agLOINC, "3424-9", "Dose", agQuantity("2", "tablets", "", "")+`,"effectiveDateTime":"2021-02"`),
		agObservation("ag-o11", "ag-p6", agLOINC, "3424-9", "Dose", agQuantity("3", "pack", "http://example.org/units", "pack")+`,"effectiveDateTime":"2021"`),
		agBloodPressure("ag-o12", "ag-p7", "2021-03-01T08:00:00+01:00", "120", "80"),
		agBloodPressure("ag-o13", "ag-p8", "2021-03-01T09:00:00+01:00", "140", "90"),
		agObservation("ag-o14", "ag-p1", agLOINC, "5778-6", "Color of urine",
			`"valueCodeableConcept":{"coding":[{"system":"`+agSCT+`","code":"371244009","display":"Yellow"}],"text":"Pale yellow"},"effectivePeriod":{"start":"2019-05-01","end":"2019-05-31"}`),
		agObservation("ag-o15", "ag-p2", agLOINC, "5778-6", "Color of urine", `"valueString":"Très élevé","effectivePeriod":{"start":"2019-05-10T10:00:00Z"}`),
		agObservation("ag-o16", "ag-p3", agLOINC, "8665-2", "Last menstrual period", `"valueDateTime":"2019-07-04T12:00:00.123Z","effectiveDateTime":"2019-07-04T12:00:00Z"`),
		agObservation("ag-o17", "", agLOINC, "2345-7", "Glucose", agQuantity("6.1", "mmol/L", agUCUM, "mmol/L")+
			`,"subject":{"reference":"Patient/ag-p1/_history/1"},"effectiveDateTime":"2020-02-01"`),
		agObservation("ag-o18", "", agLOINC, "2345-7", "Glucose", agQuantity("6.1", "mmol/L", agUCUM, "mmol/L")+
			`,"subject":{"reference":"http://other.example.org/fhir/Patient/ag-p1"},"effectiveDateTime":"2020-02-02"`),
		agObservation("ag-o19", "", agLOINC, "2345-7", "Glucose", agQuantity("7", "mmol/L", agUCUM, "mmol/L")+
			`,"subject":{"reference":"urn:uuid:8c0f5a10-5a4e-4c4f-9d3b-7c1a2f6e9b01"},"effectiveDateTime":"2020-02-03"`),
		agObservation("ag-o20", "", agLOINC, "2345-7", "Glucose", agQuantity("7.0", "mmol/L", agUCUM, "mmol/L")+
			`,"subject":{"identifier":{"system":"`+agMRN+`","value":"A1"}},"effectiveDateTime":"2020-02-04"`),
		agObservation("ag-o21", "ag-p9", agLOINC, "8310-5", "Body temperature", agQuantity("37.0", "Cel", agUCUM, "Cel")+`,"effectivePeriod":{"start":"2022-05-01"}`),
		agObservation("ag-o22", "ag-p9", agLOINC, "8310-5", "Body temperature", agQuantity("98.6", "degF", agUCUM, "[degF]")+`,"effectiveInstant":"2022-05-01T00:00:00.000Z"`),
		`{"resourceType":"Observation","id":"ag-o23","status":"preliminary","code":{"text":"Something unmeasured"},"subject":{"reference":"Patient/ag-p10"},
		  "dataAbsentReason":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/data-absent-reason","code":"unknown"}]}}`,
		agObservation("ag-o24", "ag-p1", agLOINC, "24331-1", "Lipid panel", `"effectiveDateTime":"2020-01-01T10:00:00Z",`+
			`"hasMember":[{"reference":"Observation/ag-o1"},{"reference":"Observation/ag-o2"}],"derivedFrom":[{"reference":"Observation/ag-o14"}]`),
		agObservation("ag-o25", "ag-p2", agLOINC, "2345-7", "Glucose", agQuantity("6.1", "mmol/L", agUCUM, "mmol/L")+`,"effectiveDateTime":"2020-01-01T23:30:00-02:00"`),
		agObservation("ag-o26", "ag-p1", agLOINC, "2345-7", "Glucose", agQuantity("4.2", "mmol/L", agUCUM, "mmol/L")+`,"effectiveDateTime":"2019-12-31"`),
		agObservation("ag-o27", "ag-p7", agLOINC, "2345-7", "Glucose", agQuantity("1", "mmol/L", agUCUM, "mmol/L")+`,"effectiveDateTime":"2018-01-01"`),
		agObservation("ag-o28", "ag-p16", agLOINC, "2339-0", "Glucose [Mass/volume] in Blood", agQuantity("100.00", "mg/dL", agUCUM, "mg/dL")+
			`,"effectiveDateTime":"2018-01-01T00:00:00Z","interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"H"}]}]`),
		agObservation("ag-o30", "", agLOINC, "2345-7", "Glucose", agQuantity("5", "mmol/L", agUCUM, "mmol/L")+`,"effectiveDateTime":"2020-03-01"`),
		agObservation("ag-o29", "ag-p17", agLOINC, "2339-0", "Glucose [Mass/volume] in Blood", agQuantity("1e2", "mg/dL", agUCUM, "mg/dL")+`,"effectiveDateTime":"2018-01-01T00:00:00.5Z"`),
		`{"resourceType":"Condition","id":"ag-c1","code":{"coding":[{"system":"` + agSCT + `","code":"44054006","display":"Diabetes mellitus type 2"}]},
		  "subject":{"reference":"Patient/ag-p1"},"onsetDateTime":"2015","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}}`,
		`{"resourceType":"Condition","id":"ag-c2","code":{"coding":[{"system":"` + agSCT + `","code":"38341003","display":"Hypertensive disorder"}]},
		  "subject":{"reference":"Patient/ag-p2"},"onsetDateTime":"2018-03-04T10:00:00Z","encounter":{"reference":"Encounter/ag-enc2"}}`,
		`{"resourceType":"Condition","id":"ag-c3","code":{"text":"Ménière's disease"},"subject":{"reference":"Patient/ag-p4"}}`,
		`{"resourceType":"RiskAssessment","id":"ag-ra1","status":"final","subject":{"reference":"Patient/ag-p1"},"prediction":[{"probabilityDecimal":0.8}]}`,
		`{"resourceType":"RiskAssessment","id":"ag-ra2","status":"final","subject":{"reference":"Patient/ag-p2"},"prediction":[{"probabilityDecimal":0.25}]}`,
		`{"resourceType":"RiskAssessment","id":"ag-ra3","status":"final","subject":{"reference":"Patient/ag-p3"},"prediction":[{"probabilityDecimal":0.800}]}`,
		`{"resourceType":"RiskAssessment","id":"ag-ra4","status":"final","subject":{"reference":"Patient/ag-p4"}}`,
		`{"resourceType":"RiskAssessment","id":"ag-ra5","status":"final","subject":{"reference":"Patient/ag-p5"},"prediction":[{"probabilityDecimal":0.05},{"probabilityDecimal":0.95}]}`,
		`{"resourceType":"List","id":"ag-l1","status":"current","mode":"working","title":"Ward round",
		  "entry":[{"item":{"reference":"Patient/ag-p1"}},{"item":{"reference":"Patient/ag-p3"}},{"item":{"reference":"Observation/ag-o1"}},{"item":{"reference":"Patient/ag-p13"}}]}`,
		`{"resourceType":"List","id":"ag-l2","status":"current","mode":"working","entry":[{"item":{"reference":"Patient/ag-p2"}}]}`,
		`{"resourceType":"List","id":"ag-l3","status":"current","mode":"working","entry":[{"item":{"reference":"Patient/ag-p4"}}]}`,
		`{"resourceType":"ValueSet","id":"ag-vs1","status":"active","url":"http://example.org/fhir/ValueSet/agree","version":"1.0","name":"AgreeOne"}`,
		`{"resourceType":"ValueSet","id":"ag-vs2","status":"active","url":"http://example.org/fhir/ValueSet/agree/sub","name":"AgreeSub"}`,
		`{"resourceType":"ValueSet","id":"ag-vs3","status":"draft","url":"http://other.org/ValueSet/agree","name":"AgreeOther"}`,
		`{"resourceType":"ValueSet","id":"ag-vs4","status":"draft","url":"urn:oid:1.2.3.4.5","name":"AgreeOid"}`,
		`{"resourceType":"Provenance","id":"ag-prov1","target":[{"reference":"Observation/ag-o1"}],"recorded":"2020-01-02T00:00:00Z",
		  "agent":[{"who":{"reference":"Practitioner/ag-dr1"}}]}`,
		`{"resourceType":"Provenance","id":"ag-prov2","target":[{"reference":"Observation/ag-o3"}],"recorded":"2020-01-03T00:00:00Z",
		  "agent":[{"who":{"reference":"Practitioner/ag-dr2"}}]}`,
		`{"resourceType":"QuestionnaireResponse","id":"ag-qr1","status":"completed","questionnaire":"http://example.org/Questionnaire/agree|1.0",
		  "subject":{"reference":"Patient/ag-p1"},"authored":"2020-01-01T12:00:00Z"}`,
		`{"resourceType":"QuestionnaireResponse","id":"ag-qr2","status":"completed","questionnaire":"http://example.org/Questionnaire/agree|2.0",
		  "subject":{"reference":"Patient/ag-p2"},"authored":"2020-01-02"}`,
		`{"resourceType":"Group","id":"ag-g1","type":"person","membership":"enumerated","name":"Agree cohort",
		  "characteristic":[{"code":{"coding":[{"system":"` + agSCT + `","code":"263495000"}]},"valueCodeableConcept":{"coding":[{"system":"` + agSCT + `","code":"248153007"}]},"exclude":false}],
		  "member":[{"entity":{"reference":"Patient/ag-p1"}},{"entity":{"reference":"Patient/ag-p2"}}]}`,
	}},
	{name: "changes", puts: []string{
		`{"resourceType":"Patient","id":"ag-p15","name":[{"family":"After","given":["Version"]}],"birthDate":"1971"}`,
		agObservation("ag-o27", "ag-p7", agLOINC, "2345-7", "Glucose", agQuantity("2", "mmol/L", agUCUM, "mmol/L")+`,"effectiveDateTime":"2018-01-02"`),
	}, deletes: []string{"Patient/ag-p13", "Patient/ag-p14", "Observation/ag-o26", "List/ag-l3"}},
	{name: "revived", puts: []string{
		`{"resourceType":"Patient","id":"ag-p14","name":[{"family":"Phoenix","given":["Second"]}],"birthDate":"1961"}`,
		`{"resourceType":"Patient","id":"ag-p15","name":[{"family":"Later","given":["Version"]}],"birthDate":"1972"}`,
	}},
}
