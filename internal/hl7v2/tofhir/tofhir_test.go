package tofhir

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/sharedtest"
)

var validator = validate.New(spec.R5(), validate.WithInvariants(validate.NewFHIRPathInvariants(spec.R5())))

func parse(t testing.TB, lines ...string) *hl7v2.Message {
	t.Helper()
	m, err := hl7v2.Parse([]byte(strings.Join(lines, "\r")))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// entries returns the Bundle's entries by resource type, checking that
// each resource is valid R5.
func entries(t *testing.T, b fhir.Resource) map[string][]map[string]any {
	t.Helper()
	if b["type"] != "transaction" {
		t.Fatalf("bundle type %v", b["type"])
	}
	out := map[string][]map[string]any{}
	for _, e := range b["entry"].([]any) {
		e := e.(map[string]any)
		res := fhir.Resource(e["resource"].(map[string]any))
		if issues := validator.Validate(res.Clone()); validate.HasErrors(issues) {
			t.Errorf("%s is not valid: %v\n%s", res.Type(), issues, res.JSON())
		}
		out[res.Type()] = append(out[res.Type()], e)
	}
	return out
}

// seg writes a segment from its fields by number.
func seg(name string, fields map[int]string) string {
	n := 0
	for i := range fields {
		n = max(n, i)
	}
	out := make([]string, n+1)
	out[0] = name
	for i, f := range fields {
		out[i] = f
	}
	return strings.Join(out, "|")
}

// bundle maps m, a message other than an ADT^A40, to its transaction
// Bundle.
func bundle(m *hl7v2.Message, opts Options) (fhir.Resource, error) {
	mp, err := mapMessage(m, opts)
	if err != nil {
		return nil, err
	}
	return mp.bundle(), nil
}

func resource(e map[string]any) map[string]any { return e["resource"].(map[string]any) }

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const adtA01 = "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|EMR|CLINIC|20261124083000+0100||ADT^A01^ADT_A01|MSG00001|P|2.5.1"

func TestADT(t *testing.T) {
	m := parse(t, adtA01,
		"EVN|A01|20261124083000",
		"PID|1||PATID1234^^^GHH&2.16.840.1.113883.19.5&ISO^MR~123-45-6789^^^USSSA^SS||EVERYMAN^ADAM^A^III^DR^^L~ADAM^^^^^^N||19610615|M|||2222 HOME STREET^^GREENSBORO^NC^27401-1020^USA^H||^PRN^PH^^1^555^5552004~^NET^Internet^adam@example.org|^WPN^PH^^1^555^5553000||||||||||||||||N",
		seg("PV1", map[int]string{1: "1", 2: "I", 3: "2000^2012^01^GHH", 7: "004777^ATTEND^AARON^A^^^DR", 10: "SUR", 17: "0048^ADMIT^ALICE",
			19: "V1001^^^GHH&2.16.840.1.113883.19.5&ISO^VN", 44: "20261124080000"}))
	b, err := bundle(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	if len(got["Patient"]) != 1 || len(got["Encounter"]) != 1 || len(got) != 2 {
		t.Fatalf("entries %v", asJSON(b))
	}
	pe, ee := got["Patient"][0], got["Encounter"][0]
	if want := map[string]any{"method": "PUT", "url": "Patient?identifier=urn%3Aoid%3A2.16.840.1.113883.19.5%7CPATID1234"}; !cmp.Equal(pe["request"], want) {
		t.Errorf("patient request %v, want %v", pe["request"], want)
	}
	p := resource(pe)
	for path, want := range map[string]string{
		"identifier": `[{"system":"urn:oid:2.16.840.1.113883.19.5","type":{"coding":[{"code":"MR","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]},"value":"PATID1234"},` +
			`{"system":"urn:emr:hl7v2:authority:USSSA","type":{"coding":[{"code":"SS","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]},"value":"123-45-6789"}]`,
		"name":      `[{"family":"EVERYMAN","given":["ADAM","A"],"prefix":["DR"],"suffix":["III"],"use":"official"},{"family":"ADAM","use":"nickname"}]`,
		"birthDate": `"1961-06-15"`,
		"gender":    `"male"`,
		"address":   `[{"city":"GREENSBORO","country":"USA","line":["2222 HOME STREET"],"postalCode":"27401-1020","state":"NC","use":"home"}]`,
		"telecom":   `[{"system":"phone","use":"home","value":"5555552004"},{"system":"email","use":"home","value":"adam@example.org"},{"system":"phone","use":"work","value":"5555553000"}]`,
	} {
		if g := asJSON(p[path]); g != want {
			t.Errorf("Patient.%s = %s\nwant %s", path, g, want)
		}
	}
	e := resource(ee)
	if e["subject"].(map[string]any)["reference"] != pe["fullUrl"] {
		t.Errorf("Encounter.subject %v, want the Patient's fullUrl %v", e["subject"], pe["fullUrl"])
	}
	for path, want := range map[string]string{
		"status":       `"in-progress"`,
		"class":        `[{"coding":[{"code":"IMP","display":"inpatient encounter","system":"http://terminology.hl7.org/CodeSystem/v3-ActCode"}]}]`,
		"actualPeriod": `{"start":"2026-11-24T08:00:00+01:00"}`,
		"identifier":   `[{"system":"urn:oid:2.16.840.1.113883.19.5","type":{"coding":[{"code":"VN","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]},"value":"V1001"}]`,
		"location":     `[{"location":{"display":"GHH, 2000, 2012, 01"}}]`,
	} {
		if g := asJSON(e[path]); g != want {
			t.Errorf("Encounter.%s = %s\nwant %s", path, g, want)
		}
	}
	if g := asJSON(e["participant"]); !strings.Contains(g, `"actor":{"display":"AARON A ATTEND","identifier":{"system":"urn:emr:hl7v2:authority:GOOD%20HEALTH%20HOSPITAL","value":"004777"},"type":"Practitioner"}`) ||
		!strings.Contains(g, `"code":"ATND"`) || !strings.Contains(g, `"code":"ADM"`) {
		t.Errorf("Encounter.participant = %s", g)
	}

	// A discharge completes the encounter; an A08 without a visit is the
	// patient alone; an A01, A03 or A04 without one is the patient and a
	// warning.
	disch := parse(t, strings.Replace(adtA01, "ADT^A01^ADT_A01", "ADT^A03^ADT_A03", 1),
		"PID|1||PATID1234^^^GHH&2.16.840.1.113883.19.5&ISO^MR||EVERYMAN^ADAM",
		seg("PV1", map[int]string{1: "1", 2: "I", 19: "V1001^^^GHH&2.16.840.1.113883.19.5&ISO^VN", 44: "20261124080000", 45: "20261126103000"}))
	b, err = bundle(disch, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if enc := resource(entries(t, b)["Encounter"][0]); enc["status"] != "completed" || asJSON(enc["actualPeriod"]) != `{"end":"2026-11-26T10:30:00+01:00","start":"2026-11-24T08:00:00+01:00"}` {
		t.Errorf("discharged encounter %s", asJSON(enc))
	}
	upd := parse(t, strings.Replace(adtA01, "ADT^A01^ADT_A01", "ADT^A08^ADT_A08", 1), "PID|1||PATID1234^^^GHH&2.16.840.1.113883.19.5&ISO^MR||EVERYMAN^ADAM")
	if b, err = bundle(upd, Options{}); err != nil || len(b["entry"].([]any)) != 1 {
		t.Errorf("A08 without PV1: %v, %v", asJSON(b), err)
	}
	if req, err := Map(upd, Options{}); err != nil || req.Warnings != nil {
		t.Errorf("A08 without PV1: %v, warnings %v", err, req.Warnings)
	}
	for event, what := range map[string]string{"A01": "admission", "A03": "discharge", "A04": "registration"} {
		for _, pv1 := range []string{"PV1|1|I", ""} {
			lines := []string{strings.Replace(adtA01, "ADT^A01^ADT_A01", "ADT^"+event, 1), "PID|1||PATID1234^^^GHH&2.16.840.1.113883.19.5&ISO^MR||EVERYMAN^ADAM"}
			if pv1 != "" {
				lines = append(lines, pv1)
			}
			req, err := Map(parse(t, lines...), Options{})
			if err != nil {
				t.Fatalf("%s without a visit number: %v", event, err)
			}
			if got := entries(t, req.Body); len(got["Patient"]) != 1 || len(got) != 1 {
				t.Errorf("%s without a visit number: %s", event, asJSON(req.Body))
			}
			if len(req.Warnings) != 1 {
				t.Fatalf("%s without a visit number: warnings %v", event, req.Warnings)
			}
			w := req.Warnings[0]
			if w.Severity != hl7v2.SeverityWarning || w.Code != hl7v2.ErrRequiredField || w.Segment != "PV1" || w.Field != 19 || !strings.Contains(w.Text, what) {
				t.Errorf("%s without a visit number: warning %+v", event, w)
			}
		}
	}
}

const oruR01 = "MSH|^~\\&|LAB|CITY LAB^2.16.840.1.113883.19.4^ISO|EMR|CLINIC|20261124093000-0500||ORU^R01^ORU_R01|CNTRL-3456|P|2.5.1"

func TestORU(t *testing.T) {
	m := parse(t, oruR01,
		"PID|1||555-44-4444^^^CITY LAB^MR||EVERYWOMAN^EVE^E||19620320|F",
		"ORC|RE|845439^EMR|1045813^CITY LAB",
		seg("OBR", map[int]string{1: "1", 2: "845439^EMR", 3: "1045813^CITY LAB", 4: "24323-8^Comprehensive metabolic panel^LN", 7: "202611240730",
			22: "202611240900", 24: "CH", 25: "F"}),
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^milligram per deciliter^UCUM|70-105|H|||F|||202611240730",
		"NTE|1|L|Patient had eaten.",
		"OBX|2|SN|2160-0^Creatinine^LN||<^0.5|mg/dL^^UCUM|0.6 to 1.2|L|||F",
		"OBX|3|NM|2951-2^Sodium^LN||140|mmol/L^^UCUM|>=135|N|||C",
		"OBX|4|CWE|5778-6^Color of Urine^LN||YEL^Yellow^L|||N|||P",
		"OBX|5|ST|8251-1^Service comment^LN||First line~Second line||||||F",
		"OBX|6|NM|2823-3^Potassium^LN||||||||I",
		"OBX|7|SN|5048-4^ANA titer^LN||^1^:^128|||A|||F")
	b, err := bundle(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	if len(got["Patient"]) != 1 || len(got["DiagnosticReport"]) != 1 || len(got["Observation"]) != 7 {
		t.Fatalf("entries %v", asJSON(b))
	}
	pe := got["Patient"][0]
	if want := map[string]any{"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn%3Aemr%3Ahl7v2%3Aauthority%3ACITY%2520LAB%7C555-44-4444"}; !cmp.Equal(pe["request"], want) {
		t.Errorf("an ORU's patient request %v, want %v", pe["request"], want)
	}
	dr := got["DiagnosticReport"][0]
	if want := map[string]any{"method": "PUT", "url": "DiagnosticReport?identifier=urn%3Aemr%3Ahl7v2%3Aauthority%3ACITY%2520LAB%7C1045813"}; !cmp.Equal(dr["request"], want) {
		t.Errorf("report request %v, want %v", dr["request"], want)
	}
	r := resource(dr)
	for path, want := range map[string]string{
		"status":            `"final"`,
		"effectiveDateTime": `"2026-11-24T07:30:00-05:00"`,
		"issued":            `"2026-11-24T09:00:00-05:00"`,
		"category":          `[{"coding":[{"code":"CH","system":"http://terminology.hl7.org/CodeSystem/v2-0074"}]}]`,
		"code":              `{"coding":[{"code":"24323-8","display":"Comprehensive metabolic panel","system":"http://loinc.org"}],"text":"Comprehensive metabolic panel"}`,
	} {
		if g := asJSON(r[path]); g != want {
			t.Errorf("DiagnosticReport.%s = %s\nwant %s", path, g, want)
		}
	}
	results := r["result"].([]any)
	if len(results) != 7 {
		t.Fatalf("DiagnosticReport.result %v", results)
	}
	for i, o := range got["Observation"] {
		if results[i].(map[string]any)["reference"] != o["fullUrl"] {
			t.Errorf("result %d is %v, not the Observation's fullUrl %v", i, results[i], o["fullUrl"])
		}
		if resource(o)["subject"].(map[string]any)["reference"] != pe["fullUrl"] {
			t.Errorf("Observation %d's subject is not the Patient", i)
		}
	}
	want := []map[string]string{
		{"valueQuantity": `{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"milligram per deciliter","value":182}`,
			"referenceRange": `[{"high":{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"milligram per deciliter","value":105},"low":{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"milligram per deciliter","value":70}}]`,
			"interpretation": `[{"coding":[{"code":"H","system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"}]}]`,
			"status":         `"final"`, "effectiveDateTime": `"2026-11-24T07:30:00-05:00"`,
			"note":       `[{"text":"Patient had eaten."}]`,
			"identifier": `[{"system":"urn:emr:hl7v2:authority:CITY%20LAB","value":"1045813/2345-7"}]`,
			"category":   `[{"coding":[{"code":"laboratory","system":"http://terminology.hl7.org/CodeSystem/observation-category"}]}]`},
		{"valueQuantity": `{"code":"mg/dL","comparator":"\u003c","system":"http://unitsofmeasure.org","unit":"mg/dL","value":0.5}`,
			"referenceRange": `[{"high":{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"mg/dL","value":1.2},"low":{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"mg/dL","value":0.6}}]`},
		{"status": `"corrected"`, "referenceRange": `[{"low":{"code":"mmol/L","system":"http://unitsofmeasure.org","unit":"mmol/L","value":135},"text":"\u003e=135"}]`},
		{"valueCodeableConcept": `{"coding":[{"code":"YEL","display":"Yellow"}],"text":"Yellow"}`, "status": `"preliminary"`},
		{"valueString": `"First line\nSecond line"`},
		{"status": `"registered"`, "valueQuantity": `null`},
		{"valueRatio": `{"denominator":{"value":128},"numerator":{"value":1}}`},
	}
	for i, w := range want {
		o := resource(got["Observation"][i])
		for path, v := range w {
			if g := asJSON(o[path]); g != v {
				t.Errorf("Observation %d .%s = %s\nwant %s", i+1, path, g, v)
			}
		}
	}
}

// A report's documents (ED, RP) are its presentedForm, not Observations.
func TestPresentedForm(t *testing.T) {
	m := parse(t, oruR01, "PID|1||555^^^LAB^MR||DOE^JANE", "OBR|1||1045813|24323-8^CMP^LN",
		"OBX|1|NM|2345-7^Glucose^LN||99|mg/dL^^UCUM||||F",
		"OBX|2|ED|PDF^Report^L||^application^pdf^Base64^JVBER\\.br\\i0x||||||F",
		"OBX|3|ED|IMG^Image^L||^IM^JPEG^Hex^ffd8ffe0||||||F",
		"OBX|4|ED|TXT^Summary^L||^TEXT^^A^All normal.||||||F",
		"OBX|5|RP|LINK^Viewer^L||https://lab.example.org/r/1045813^LAB^AP^PDF||||||F",
		"OBX|6|ED|EMPTY^Nothing^L||^AP^PDF^Base64^||||||F")
	b, err := bundle(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	if len(got["Observation"]) != 1 {
		t.Errorf("%d Observations, want the glucose alone", len(got["Observation"]))
	}
	want := `[{"contentType":"application/pdf","data":"JVBERi0x","title":"Report"},` +
		`{"contentType":"image/jpeg","data":"/9j/4A==","title":"Image"},` +
		`{"contentType":"text/plain","data":"QWxsIG5vcm1hbC4=","title":"Summary"},` +
		`{"contentType":"application/pdf","title":"Viewer","url":"https://lab.example.org/r/1045813"}]`
	if g := asJSON(resource(got["DiagnosticReport"][0])["presentedForm"]); g != want {
		t.Errorf("presentedForm\n%s\nwant\n%s", g, want)
	}
}

func TestVXU(t *testing.T) {
	m := parse(t, "MSH|^~\\&|IZ|NIST-AA-IZ-2|EMR|CLINIC|20150624090000-0600||VXU^V04^VXU_V04|NIST-IZ-007|P|2.5.1",
		"PID|1||90012^^^NIST-MPI-1^MR||Wong^Elise^^^^^L||19830615|F",
		"ORC|RE|4422^NIST-AA-IZ-2|13696^NIST-AA-IZ-2|||||||||654^Thomas^Wilma^Elizabeth^^^^^NIST-PI-1^L^^^MD",
		seg("RXA", map[int]string{1: "0", 2: "1", 3: "20150624", 5: "49281-0215-88^TENIVAC^NDC^115^Tdap^CVX", 6: "0.5", 7: "mL^mL^UCUM",
			9: "00^New Record^NIP001", 10: "7824^Jackson^Lily^Suzanne^^^^^NIST-PI-1^L^^^PRN", 15: "315841", 16: "20151216",
			17: "PMC^Sanofi Pasteur^MVX", 20: "CP", 21: "A"}),
		"RXR|C28161^Intramuscular^NCIT|RD^Right Deltoid^HL70163",
		"OBX|1|CE|30963-3^Vaccine Funding Source^LN|1|PHC70^Private^CDCPHINVS||||||F",
		"OBX|2|DT|29769-7^Date Vis Presented^LN|3|20150624||||||F",
		"ORC|RE||38760^NIST-AA-IZ-2",
		seg("RXA", map[int]string{1: "0", 2: "1", 3: "20141012", 5: "88^influenza, unspecified formulation^CVX", 6: "999",
			9: "01^Historical Administration^NIP001", 20: "RE", 18: "00^Parental decision^NIP002"}))
	b, err := bundle(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	imms := got["Immunization"]
	if len(imms) != 2 || len(got["Patient"]) != 1 {
		t.Fatalf("entries %s", asJSON(b))
	}
	if want := "Immunization?identifier=urn%3Aemr%3Ahl7v2%3Aauthority%3ANIST-AA-IZ-2%7C13696"; imms[0]["request"].(map[string]any)["url"] != want {
		t.Errorf("request %v, want PUT %s", imms[0]["request"], want)
	}
	for i, want := range []map[string]string{{
		"status":             `"completed"`,
		"occurrenceDateTime": `"2015-06-24"`,
		"vaccineCode":        `{"coding":[{"code":"49281-0215-88","display":"TENIVAC","system":"http://hl7.org/fhir/sid/ndc"},{"code":"115","display":"Tdap","system":"http://hl7.org/fhir/sid/cvx"}],"text":"TENIVAC"}`,
		"doseQuantity":       `{"code":"mL","system":"http://unitsofmeasure.org","unit":"mL","value":0.5}`,
		"primarySource":      `true`,
		"lotNumber":          `"315841"`,
		"expirationDate":     `"2015-12-16"`,
		"manufacturer":       `{"concept":{"coding":[{"code":"PMC","display":"Sanofi Pasteur"}],"text":"Sanofi Pasteur"}}`,
		"route":              `{"coding":[{"code":"C28161","display":"Intramuscular"}],"text":"Intramuscular"}`,
		"site":               `{"coding":[{"code":"RD","display":"Right Deltoid","system":"http://terminology.hl7.org/CodeSystem/v2-0163"}],"text":"Right Deltoid"}`,
		"fundingSource":      `{"coding":[{"code":"PHC70","display":"Private"}],"text":"Private"}`,
		"note":               `[{"text":"Date Vis Presented: 2015-06-24"}]`,
	}, {
		"status":        `"not-done"`,
		"statusReason":  `{"coding":[{"code":"00","display":"Parental decision"}],"text":"Parental decision"}`,
		"primarySource": `false`,
		"doseQuantity":  `null`,
	}} {
		imm := resource(imms[i])
		for path, v := range want {
			if g := asJSON(imm[path]); g != v {
				t.Errorf("Immunization %d .%s = %s\nwant %s", i+1, path, g, v)
			}
		}
	}
	if g := asJSON(resource(imms[0])["performer"]); !strings.Contains(g, `"code":"AP"`) || !strings.Contains(g, `"code":"OP"`) || !strings.Contains(g, "Lily Suzanne Jackson") {
		t.Errorf("performers %s", g)
	}
	expectError(t, parse(t, "MSH|^~\\&|IZ|NIST|EMR|CLINIC|20150624||VXU^V04|1|P|2.5.1", "PID|1||90012^^^MPI^MR", "RXA|0|1|20150624||88^flu^CVX"),
		hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "ORC", Field: 3})
}

func TestSIU(t *testing.T) {
	const mshSIU = "MSH|^~\\&|SCH|GHH^2.16.840.1.122848.1.30^ISO|EMR|CLINIC|20261124090000+0100||SIU^S12^SIU_S12|M1|P|2.5.1"
	pid := "PID|1||42^^^GHH^MR||DOE^JANE"
	sch := seg("SCH", map[int]string{1: "12345", 2: "36996", 7: "CHECKUP", 8: "Normal", 9: "50", 10: "min", 25: "Booked"})
	for name, c := range map[string]struct {
		lines []string
		want  map[string]string
	}{
		"TQ1": {[]string{mshSIU, sch, "TQ1|||||||202611260930|202611261020", pid,
			"AIS|1|A|76164006^Biopsy of colon^SCT|202611260930|||50|min",
			"AIP|1||1210^GE^Robert^C|010^Gastroenterologist^L",
			"AIL|1||055^Room01^^GH Clinic"}, map[string]string{
			"status": `"booked"`, "start": `"2026-11-26T09:30:00+01:00"`, "end": `"2026-11-26T10:20:00+01:00"`, "minutesDuration": `50`,
			"identifier":  `[{"system":"urn:oid:2.16.840.1.122848.1.30","value":"36996"}]`,
			"serviceType": `[{"concept":{"coding":[{"code":"76164006","display":"Biopsy of colon","system":"http://snomed.info/sct"}],"text":"Biopsy of colon"}}]`,
			"reason":      `[{"concept":{"coding":[{"code":"CHECKUP"}]}}]`,
		}},
		"AIS duration": {[]string{strings.Replace(mshSIU, "S12", "S13", 1), sch, pid, "AIS|1|A|76164006^Biopsy^SCT|202611260930|||2|h"}, map[string]string{
			"start": `"2026-11-26T09:30:00+01:00"`, "end": `"2026-11-26T11:30:00+01:00"`, "status": `"booked"`,
		}},
		"SCH-11": {[]string{mshSIU, seg("SCH", map[int]string{2: "36996", 11: "^^^202611260930^202611261000", 25: "Pending"}), pid}, map[string]string{
			"start": `"2026-11-26T09:30:00+01:00"`, "end": `"2026-11-26T10:00:00+01:00"`, "status": `"pending"`,
		}},
		"cancelled": {[]string{strings.Replace(mshSIU, "S12", "S15", 1), sch, pid}, map[string]string{"status": `"cancelled"`, "start": `null`}},
		"no-show":   {[]string{strings.Replace(mshSIU, "S12", "S26", 1), sch, "TQ1|||||||202611260930|202611261020", pid}, map[string]string{"status": `"noshow"`}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := bundle(parse(t, c.lines...), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := entries(t, b)
			appt := resource(got["Appointment"][0])
			for path, v := range c.want {
				if g := asJSON(appt[path]); g != v {
					t.Errorf("Appointment.%s = %s, want %s", path, g, v)
				}
			}
			if p := asJSON(appt["participant"]); !strings.Contains(p, got["Patient"][0]["fullUrl"].(string)) {
				t.Errorf("the patient is not a participant: %s", p)
			}
		})
	}
	expectError(t, parse(t, mshSIU, sch, pid), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "TQ1", Sequence: 1, Field: 7})
	expectError(t, parse(t, mshSIU, sch, pid, "TQ1|||||||202611260930|202611260920"), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "TQ1", Sequence: 1, Field: 8})
	expectError(t, parse(t, mshSIU, strings.Replace(sch, "Booked", "Sleeping", 1), pid), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrTableValue, Segment: "SCH", Sequence: 1, Field: 25})
}

func TestORM(t *testing.T) {
	const mshORM = "MSH|^~\\&|ORDERS|GHH^2.16.840.1.122848.1.30^ISO|EMR|CLINIC|20261124090000+0100||ORM^O01^ORM_O01|M1|P|2.5.1"
	pid := "PID|1||42^^^GHH^MR||DOE^JANE"
	orc := seg("ORC", map[int]string{1: "NW", 2: "1101^GHHPlacer", 3: "1201^GHHFiller", 5: "SC", 9: "202611240915", 12: "3850^ORDPROVIDER^JONES^A"})
	obr := seg("OBR", map[int]string{1: "1", 4: "24725-4^CT Head^LN", 5: "S", 31: "R51^Headache^I10"})
	b, err := bundle(parse(t, mshORM, pid, orc, obr, "NTE|1||Patient is claustrophobic"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	sr := resource(got["ServiceRequest"][0])
	if want := "ServiceRequest?identifier=urn%3Aemr%3Ahl7v2%3Aauthority%3AGHHPlacer%7C1101"; got["ServiceRequest"][0]["request"].(map[string]any)["url"] != want {
		t.Errorf("request %v, want PUT %s", got["ServiceRequest"][0]["request"], want)
	}
	for path, want := range map[string]string{
		"status": `"active"`, "intent": `"order"`, "priority": `"stat"`, "authoredOn": `"2026-11-24T09:15:00+01:00"`,
		"code":       `{"concept":{"coding":[{"code":"24725-4","display":"CT Head","system":"http://loinc.org"}],"text":"CT Head"}}`,
		"identifier": `[{"system":"urn:emr:hl7v2:authority:GHHPlacer","type":{"coding":[{"code":"PLAC","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]},"value":"1101"},{"system":"urn:emr:hl7v2:authority:GHHFiller","type":{"coding":[{"code":"FILL","system":"http://terminology.hl7.org/CodeSystem/v2-0203"}]},"value":"1201"}]`,
		"requester":  `{"display":"JONES A ORDPROVIDER","identifier":{"system":"urn:oid:2.16.840.1.122848.1.30","value":"3850"},"type":"Practitioner"}`,
		"reason":     `[{"concept":{"coding":[{"code":"R51","display":"Headache","system":"http://hl7.org/fhir/sid/icd-10"}],"text":"Headache"}}]`,
		"note":       `[{"text":"Patient is claustrophobic"}]`,
	} {
		if g := asJSON(sr[path]); g != want {
			t.Errorf("ServiceRequest.%s = %s\nwant %s", path, g, want)
		}
	}
	for control, want := range map[string]string{"CA": "revoked", "HD": "on-hold", "XO": "active"} {
		b, err := bundle(parse(t, mshORM, pid, strings.Replace(orc, "ORC|NW", "ORC|"+control, 1), obr), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if g := resource(entries(t, b)["ServiceRequest"][0])["status"]; g != want {
			t.Errorf("ORC-1 %s: status %v, want %s", control, g, want)
		}
	}
	b, err = bundle(parse(t, mshORM, pid, seg("ORC", map[int]string{1: "SC", 2: "1101^GHHPlacer", 5: "CM"}), obr), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g := resource(entries(t, b)["ServiceRequest"][0])["status"]; g != "completed" {
		t.Errorf("ORC-1 SC with ORC-5 CM: status %v, want completed", g)
	}
	expectError(t, parse(t, mshORM, pid, strings.Replace(orc, "ORC|NW", "ORC|ZZ", 1), obr), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrTableValue, Segment: "ORC", Sequence: 1, Field: 1})
	expectError(t, parse(t, mshORM, pid, obr), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrSegmentSequence, Segment: "OBR", Sequence: 1})
	expectError(t, parse(t, mshORM, pid, "ORC|NW", obr), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "ORC", Sequence: 1, Field: 2})
}

func TestMerge(t *testing.T) {
	m := parse(t, "MSH|^~\\&|PAS|GHH|EMR|CLINIC|20261124090000+0100||ADT^A40^ADT_A39|M1|P|2.5.1",
		"PID|1||12345^^^BCBS^MR~999^^^OTHER^PI||Test^Test", "MRG|56789^^^BCBS^MR")
	req, err := Map(m, Options{Authorities: map[string]string{"BCBS": "https://bcbs.example.org/member"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"parameter":[{"name":"source-patient-identifier","valueIdentifier":{"system":"https://bcbs.example.org/member","value":"56789"}},` +
		`{"name":"target-patient-identifier","valueIdentifier":{"system":"https://bcbs.example.org/member","value":"12345"}}],"resourceType":"Parameters"}`
	if req.Path != "Patient/$merge" || asJSON(req.Body) != want {
		t.Errorf("request %s %s\nwant Patient/$merge %s", req.Path, asJSON(req.Body), want)
	}
	for name, c := range map[string]struct {
		lines []string
		want  hl7v2.Problem
	}{
		"no MRG":    {[]string{"PID|1||12345^^^BCBS^MR"}, hl7v2.Problem{Code: hl7v2.ErrSegmentSequence, Segment: "MRG", Sequence: 1}},
		"empty MRG": {[]string{"PID|1||12345^^^BCBS^MR", "MRG|"}, hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "MRG", Sequence: 1, Field: 1}},
		"itself":    {[]string{"PID|1||12345^^^BCBS^MR", "MRG|12345^^^BCBS^MR"}, hl7v2.Problem{Code: hl7v2.ErrDuplicateKey, Segment: "MRG", Sequence: 1, Field: 1}},
	} {
		_, err := Map(parse(t, append([]string{"MSH|^~\\&|PAS|GHH|EMR|CLINIC|20261124090000||ADT^A40|M1|P|2.5.1"}, c.lines...)...), Options{})
		var e *Error
		if !errors.As(err, &e) || e.Code != hl7v2.AE || e.Problem.Code != c.want.Code || e.Problem.Segment != c.want.Segment || e.Problem.Field != c.want.Field {
			t.Errorf("%s: %v, want AE %+v", name, err, c.want)
		}
	}
}

// expectError checks that m is refused with code and problem.
func expectError(t *testing.T, m *hl7v2.Message, code string, want hl7v2.Problem) {
	t.Helper()
	b, err := bundle(m, Options{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Bundle = %v, %v; want an *Error", asJSON(b), err)
	}
	got := e.Problem
	got.Text = ""
	if e.Code != code || got != want {
		t.Errorf("error %s %+v (%v), want %s %+v", e.Code, e.Problem, err, code, want)
	}
	if e.Problem.Text == "" {
		t.Error("the problem has no text")
	}
}

func TestRefused(t *testing.T) {
	pid := "PID|1||555^^^LAB^MR||DOE^JANE"
	obr := "OBR|1||1045813|24323-8^CMP^LN|||202611240730"
	for name, c := range map[string]struct {
		msg  *hl7v2.Message
		code string
		want hl7v2.Problem
	}{
		"unsupported event": {parse(t, strings.Replace(oruR01, "ORU^R01^ORU_R01", "ADT^A02^ADT_A02", 1), pid), hl7v2.AR,
			hl7v2.Problem{Code: hl7v2.ErrUnsupportedEvent, Segment: "MSH", Sequence: 1, Field: 9}},
		"unsupported type": {parse(t, strings.Replace(oruR01, "ORU^R01^ORU_R01", "MDM^T02^MDM_T02", 1), pid), hl7v2.AR,
			hl7v2.Problem{Code: hl7v2.ErrUnsupportedType, Segment: "MSH", Sequence: 1, Field: 9}},
		"no sender": {parse(t, "MSH|^~\\&|||EMR|CLINIC|20261124093000||ORU^R01|1|P|2.5.1", pid, obr), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "MSH", Sequence: 1, Field: 4}},
		"no PID": {parse(t, oruR01, obr), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrSegmentSequence, Segment: "PID", Sequence: 1}},
		"no patient identifier": {parse(t, oruR01, "PID|1||^^^LAB||DOE^JANE", obr), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "PID", Sequence: 1, Field: 3}},
		"bad birth date": {parse(t, oruR01, "PID|1||555^^^LAB^MR||DOE^JANE||19620230", obr), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "PID", Sequence: 1, Field: 7}},
		"bad sex": {parse(t, oruR01, "PID|1||555^^^LAB^MR||DOE^JANE||19620220|Q", obr), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrTableValue, Segment: "PID", Sequence: 1, Field: 8}},
		"no OBR": {parse(t, oruR01, pid), hl7v2.AE, hl7v2.Problem{Code: hl7v2.ErrSegmentSequence, Segment: "OBR", Sequence: 1}},
		"OBX before OBR": {parse(t, oruR01, pid, "OBX|1|NM|2345-7^Glucose^LN||182", obr), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrSegmentSequence, Segment: "OBX", Sequence: 1}},
		"no order number": {parse(t, oruR01, pid, "OBR|1|||24323-8^CMP^LN"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "OBR", Sequence: 1, Field: 3}},
		"no report code": {parse(t, oruR01, pid, "OBR|1||1045813"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "OBR", Sequence: 1, Field: 4}},
		"not a number": {parse(t, oruR01, pid, obr, "OBX|1|NM|2345-7^Glucose^LN||182|mg/dL", "OBX|2|NM|2345-7^Glucose^LN|2|high"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 2, Field: 5}},
		"repeated number": {parse(t, oruR01, pid, obr, "OBX|1|NM|2345-7^Glucose^LN||60~120"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 1, Field: 5}},
		"unsupported value type": {parse(t, oruR01, pid, obr, "OBX|1|MO|2345-7^Fee^L||12.50^USD"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 1, Field: 2}},
		"bad time": {parse(t, oruR01, pid, obr, seg("OBX", map[int]string{1: "1", 2: "NM", 3: "2345-7^Glucose^LN", 5: "182", 11: "F", 14: "20261324"})), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 1, Field: 14}},
		"not-equal comparator": {parse(t, oruR01, pid, obr, "OBX|1|SN|2345-7^Glucose^LN||<>^5"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 1, Field: 5}},
		"not Base64": {parse(t, oruR01, pid, obr, "OBX|1|ED|PDF^Report^L||^AP^PDF^Base64^not base64!"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 1, Field: 5}},
		"a pointer not a URL": {parse(t, oruR01, pid, obr, "OBX|1|RP|PDF^Report^L||report-1^LAB^AP^PDF"), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDataType, Segment: "OBX", Sequence: 1, Field: 5}},
		"the same report twice": {parse(t, oruR01, pid, obr, obr), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDuplicateKey, Segment: "OBR", Sequence: 2, Field: 3}},
		"the same result twice": {parse(t, oruR01, pid, obr, seg("OBX", map[int]string{1: "1", 2: "NM", 3: "2345-7^Glucose^LN", 5: "1", 11: "F", 21: "EI1"}),
			seg("OBX", map[int]string{1: "2", 2: "NM", 3: "2345-7^Glucose^LN", 5: "2", 11: "F", 21: "EI1"})), hl7v2.AE,
			hl7v2.Problem{Code: hl7v2.ErrDuplicateKey, Segment: "OBX", Sequence: 2, Field: 1}},
	} {
		t.Run(name, func(t *testing.T) { expectError(t, c.msg, c.code, c.want) })
	}
}

// Two results of one code in one report (no sub-id) are told apart by
// their set ids; the same message mapped twice asks for the same
// resources.
func TestIdentifiersStable(t *testing.T) {
	m := parse(t, oruR01, "PID|1||555^^^LAB^MR||DOE^JANE", "OBR|1||1045813|24323-8^CMP^LN",
		"OBX|1|TX|8251-1^Comment^LN||one", "OBX|2|TX|8251-1^Comment^LN||two", "OBX|3|NM|2345-7^Glucose^LN|1|5")
	urls := func() []string {
		b, err := bundle(m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range b["entry"].([]any) {
			rq := e.(map[string]any)["request"].(map[string]any)
			out = append(out, rq["url"].(string)+" "+asJSON(rq["ifNoneExist"]))
		}
		return out
	}
	first := urls()
	want := []string{
		`Patient "identifier=urn%3Aemr%3Ahl7v2%3Aauthority%3ALAB%7C555"`,
		`Observation?identifier=urn%3Aoid%3A2.16.840.1.113883.19.4%7C1045813%2F8251-1 null`,
		`Observation?identifier=urn%3Aoid%3A2.16.840.1.113883.19.4%7C1045813%2F8251-1%2F2 null`,
		`Observation?identifier=urn%3Aoid%3A2.16.840.1.113883.19.4%7C1045813%2F2345-7%2F1 null`,
		`DiagnosticReport?identifier=urn%3Aoid%3A2.16.840.1.113883.19.4%7C1045813 null`,
	}
	if !cmp.Equal(first, want) {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(first, "\n"), strings.Join(want, "\n"))
	}
	if again := urls(); !cmp.Equal(again, first) {
		t.Errorf("the same message maps to other resources:\n%s", cmp.Diff(first, again))
	}
}

func TestAuthorities(t *testing.T) {
	m := parse(t, adtA01, "PID|1||42^^^MRN^MR", seg("PV1", map[int]string{1: "1", 2: "O", 19: "7^^^VISITS"}))
	b, err := bundle(m, Options{Authorities: map[string]string{"MRN": "https://hospital.example.org/mrn"}})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	if g := asJSON(resource(got["Patient"][0])["identifier"]); !strings.Contains(g, `"system":"https://hospital.example.org/mrn"`) {
		t.Errorf("Patient.identifier %s", g)
	}
	if g := asJSON(resource(got["Encounter"][0])["identifier"]); !strings.Contains(g, `"system":"urn:emr:hl7v2:authority:VISITS"`) {
		t.Errorf("Encounter.identifier %s", g)
	}
}

// Bytes that are not UTF-8 are ISO 8859-1 unless MSH-18 says UTF-8.
func TestCharacterSets(t *testing.T) {
	latin1 := "PID|1||42^^^GHH^MR||M\xfcller^Ren\xe9e"
	for name, c := range map[string]struct {
		charset, pid, want string
		fail               bool
	}{
		"8859/1":          {"8859/1", latin1, `[{"family":"Müller","given":["Renée"]}]`, false},
		"not said":        {"", latin1, `[{"family":"Müller","given":["Renée"]}]`, false},
		"UTF-8":           {"UNICODE UTF-8", "PID|1||42^^^GHH^MR||Müller^Renée", `[{"family":"Müller","given":["Renée"]}]`, false},
		"UTF-8 said, not": {"UNICODE UTF-8", latin1, "", true},
		"control":         {"", "PID|1||42^^^GHH^MR||M\x01ller", "", true},
	} {
		t.Run(name, func(t *testing.T) {
			m := parse(t, "MSH|^~\\&|PAS|GHH|||||ADT^A08|C1|P|2.5.1||||||"+c.charset, c.pid)
			b, err := bundle(m, Options{})
			if c.fail {
				var e *Error
				if !errors.As(err, &e) || e.Code != hl7v2.AE || e.Problem.Segment != "PID" || e.Problem.Field != 5 {
					t.Errorf("Bundle: %v; want AE at PID-5", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := asJSON(resource(entries(t, b)["Patient"][0])["name"]); g != c.want {
				t.Errorf("name %s, want %s", g, c.want)
			}
		})
	}
}

func TestDTM(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	for in, want := range map[string][2]string{
		"2026":                   {"2026", "2026"},
		"202611":                 {"2026-11", "2026-11"},
		"20261124":               {"2026-11-24", "2026-11-24"},
		"2026112409":             {"2026-11-24", "2026-11-24T09:00:00+02:00"},
		"202611240930":           {"2026-11-24", "2026-11-24T09:30:00+02:00"},
		"20261124093015":         {"2026-11-24", "2026-11-24T09:30:15+02:00"},
		"20261124093015.25":      {"2026-11-24", "2026-11-24T09:30:15.25+02:00"},
		"20261124093015.1234-05": {"", ""},
		"20261124093015-0500":    {"2026-11-24", "2026-11-24T09:30:15-05:00"},
		"202611240930+0000":      {"2026-11-24", "2026-11-24T09:30:00Z"},
		"20260230":               {"", ""},
		"20261324":               {"", ""},
		"2026112425":             {"", ""},
		"20261124093":            {"", ""},
		"2026.5":                 {"", ""},
		"20261124+1500":          {"", ""},
		"2026112409301x":         {"", ""},
		"":                       {"", ""},
	} {
		d, err := parseDTM(in, plus2)
		if want[0] == "" {
			if err == nil {
				t.Errorf("parseDTM(%q) = %v, want an error", in, d)
			}
			continue
		}
		if err != nil || d.date() != want[0] || d.dateTime() != want[1] {
			t.Errorf("parseDTM(%q) = %q %q (%v), want %q", in, d.date(), d.dateTime(), err, want)
		}
	}
}

func TestNumber(t *testing.T) {
	for in, want := range map[string]string{
		"182": "182", "+007.50": "7.50", "-0.5": "-0.5", ".5": "0.5", "5.": "5", "-0": "0", " 12 ": "12",
		"1e5": "", "abc": "", "": "", "-": "", ".": "", "1.2.3": "", "1,5": "", "NaN": "",
	} {
		n, ok := number(in)
		if string(n) != want || ok != (want != "") {
			t.Errorf("number(%q) = %q, %v; want %q", in, n, ok, want)
		}
	}
}

// Every ADT and ORU message of the shared corpus maps to valid R5
// resources, or is refused with a reason for a value the mapping does not
// take.
func TestCorpus(t *testing.T) {
	var files []string
	for _, dir := range [][]string{{"microsoft-fhir-converter", "messages"}, {"python-hl7"}} {
		fs, err := filepath.Glob(filepath.Join(sharedtest.Path(t, append([]string{"testdata", "hl7v2"}, dir...)...), "*.hl7"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
	}
	mapped, refused := 0, map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := hl7v2.ParseBatch(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, m := range msgs {
			code, event, _ := m.Type()
			req, err := Map(m, Options{})
			var e *Error
			switch {
			case errors.As(err, &e) && e.Code == hl7v2.AR:
				if strings.Contains(strings.Join(Events, " "), code+"^"+event) {
					t.Errorf("%s: %s^%s refused: %v", filepath.Base(f), code, event, err)
				}
			case errors.As(err, &e):
				refused[filepath.Base(f)] = err.Error()
			case err != nil:
				t.Errorf("%s: %v", filepath.Base(f), err)
			case req.Path != "":
				t.Run(filepath.Base(f), func(t *testing.T) {
					if issues := validator.Validate(req.Body.Clone()); validate.HasErrors(issues) {
						t.Errorf("%s: %v", req.Path, issues)
					}
				})
				mapped++
			default:
				t.Run(filepath.Base(f), func(t *testing.T) { entries(t, req.Body) })
				mapped++
			}
		}
	}
	for f, why := range refused {
		t.Logf("%s refused: %s", f, why)
	}
	if mapped < 43 { // of 53 messages of the events Map takes
		t.Errorf("only %d messages mapped", mapped)
	}
	t.Logf("%d messages mapped, %d refused with AE", mapped, len(refused))
}

// A result of an order the EMR placed (its placer number in
// Options.Placer's namespace) is based on that ServiceRequest, and the
// patient the EMR sent is the one it has.
func TestPlacedOrderResult(t *testing.T) {
	m := parse(t, oruR01,
		"PID|1||0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b^^^EMR^PI~555-44-4444^^^CITY LAB^MR||EVERYWOMAN^EVE||19620320|F",
		"ORC|RE|0193a2b4-aaaa-7e8f-9a0b-1c2d3e4f5a6b^EMR|1045813^CITY LAB",
		seg("OBR", map[int]string{1: "1", 2: "0193a2b4-aaaa-7e8f-9a0b-1c2d3e4f5a6b^EMR", 3: "1045813^CITY LAB", 4: "24323-8^Comprehensive metabolic panel^LN", 25: "F"}),
		"OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^^UCUM|70-105|H|||F")
	b, err := bundle(m, Options{Placer: "EMR"})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, b)
	if len(got["Patient"]) != 0 {
		t.Errorf("a Patient entry for the EMR's own patient: %s", asJSON(got["Patient"]))
	}
	report := resource(got["DiagnosticReport"][0])
	// Based on the order only if it is this patient's (the conditional
	// reference matches no other's), the results as well as the report.
	want := `[{"reference":"ServiceRequest?_id=0193a2b4-aaaa-7e8f-9a0b-1c2d3e4f5a6b\u0026patient=0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}]`
	if g := asJSON(report["basedOn"]); g != want {
		t.Errorf("basedOn %s", g)
	}
	if g := asJSON(resource(got["Observation"][0])["basedOn"]); g != want {
		t.Errorf("the result's basedOn %s", g)
	}
	// A patient known by an identifier: the order must be that patient's.
	byMRN := parse(t, oruR01, "PID|1||555-44-4444^^^CITY LAB^MR||EVERYWOMAN^EVE",
		seg("OBR", map[int]string{1: "1", 2: "0193a2b4-aaaa-7e8f-9a0b-1c2d3e4f5a6b^EMR", 3: "F-2^CITY LAB", 4: "2345-7^Glucose^LN"}))
	b, err = bundle(byMRN, Options{Placer: "EMR"})
	if err != nil {
		t.Fatal(err)
	}
	if g := asJSON(resource(entries(t, b)["DiagnosticReport"][0])["basedOn"]); !strings.Contains(g, `\u0026patient.identifier=urn%3Aemr%3Ahl7v2%3Aauthority%3ACITY%2520LAB%7C555-44-4444"`) {
		t.Errorf("basedOn for a patient known by an identifier: %s", g)
	}
	for _, e := range append(got["DiagnosticReport"], got["Observation"]...) {
		if ref := resource(e)["subject"].(map[string]any)["reference"]; ref != "Patient?_id=0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b" {
			t.Errorf("%s subject %v", resource(e)["resourceType"], ref)
		}
	}
	// Another placer's numbers, or no Placer set, are not the EMR's.
	for _, opts := range []Options{{}, {Placer: "OTHER"}} {
		b, err := bundle(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := entries(t, b)
		if len(got["Patient"]) != 1 || resource(got["DiagnosticReport"][0])["basedOn"] != nil {
			t.Errorf("Placer %q: %s", opts.Placer, asJSON(b))
		}
	}
	bad := parse(t, oruR01, "PID|1||not an id!^^^EMR^PI||EVERYWOMAN^EVE", seg("OBR", map[int]string{1: "1", 3: "1^LAB", 4: "1-8^X^LN"}))
	if _, err := Map(bad, Options{Placer: "EMR"}); err == nil || err.(*Error).Problem.Field != 3 {
		t.Errorf("an invalid own id: %v", err)
	}
}

func TestInverse(t *testing.T) {
	for uri, want := range map[string]string{"http://loinc.org": "LN", "http://snomed.info/sct": "SCT", "http://hl7.org/fhir/sid/icd-10-cm": "I10C",
		"http://terminology.hl7.org/CodeSystem/v2-0203": "HL70203", "https://example.org/codes": ""} {
		if got := CodeSystemName(uri); got != want {
			t.Errorf("CodeSystemName(%s) = %q, want %q", uri, got, want)
		}
		if want != "" && codeSystem(want) != uri {
			t.Errorf("%s does not map back to %s", want, uri)
		}
	}
	opts := Options{Authorities: map[string]string{"MRN": "https://hospital.example.org/mrn"}}
	for _, system := range []string{"https://hospital.example.org/mrn", "urn:oid:2.16.840.1.113883.19.5", "urn:uuid:0193a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
		localAuthority("CITY LAB"), "https://example.org/ids"} {
		ns, uid, typ := Authority(system, opts)
		mp := &mapper{opts: opts}
		if got := mp.authority(ns, uid, typ); got != system {
			t.Errorf("Authority(%s) = %q, %q, %q, which maps back to %s", system, ns, uid, typ, got)
		}
	}
}
