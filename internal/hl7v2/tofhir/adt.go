package tofhir

import (
	"fmt"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
)

// adt maps an ADT A01, A03, A04 or A08.
func (mp *mapper) adt(event string) error {
	patient, err := mp.patient(true)
	if err != nil {
		return err
	}
	pv1 := mp.m.Segment("PV1")
	if pv1 == nil || mp.val(pv1, 19, 1, 1, 1) == "" {
		// No encounter without the number that identifies it: the next
		// message about the visit could not find it, and one sent again
		// would make it twice. The patient is still written (a
		// registration system that sends no visit numbers still keeps
		// the demographics current), and the AA says what was left out.
		if event != "A08" {
			mp.warnings = append(mp.warnings, hl7v2.Problem{Code: hl7v2.ErrRequiredField, Segment: "PV1", Sequence: 1, Field: 19,
				Severity: hl7v2.SeverityWarning,
				Text:     fmt.Sprintf("no visit number (PV1-19): the patient is recorded, the %s of the encounter is not, since nothing would identify it", adtEvents[event])})
		}
		return nil
	}
	id := mp.identifier(pv1, 19, 1)
	enc := fhir.Resource{"resourceType": "Encounter", "identifier": []any{id}, "subject": map[string]any{"reference": patient}}
	period := map[string]any{}
	var times [2]dtm
	for i, field := range []int{44, 45} {
		if v := mp.val(pv1, field, 1, 1, 1); v != "" {
			t, err := parseDTM(v, mp.zone)
			if err != nil {
				return wrong(hl7v2.ErrDataType, "PV1", 1, field, "%q: %v", v, err)
			}
			times[i] = t
			period[[]string{"start", "end"}[i]] = t.dateTime()
		}
	}
	if start, end := times[0], times[1]; start.digits > 0 && end.digits > 0 && end.last().Before(start.t) {
		return wrong(hl7v2.ErrDataType, "PV1", 1, 45, "the discharge (PV1-45) is before the admission (PV1-44)")
	}
	if len(period) > 0 {
		enc["actualPeriod"] = period
	}
	switch {
	case event == "A03" || period["end"] != nil:
		enc["status"] = "completed"
	default:
		enc["status"] = "in-progress"
	}
	if class, ok := patientClasses[mp.val(pv1, 2, 1, 1, 1)]; ok {
		enc["class"] = []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class[0], "display": class[1]}}}}
	}
	var participants []any
	for _, p := range []struct {
		field      int
		code, text string
	}{{7, "ATND", "attender"}, {8, "REF", "referrer"}, {17, "ADM", "admitter"}} {
		for rep := 1; rep <= pv1.Repetitions(p.field); rep++ {
			actor := mp.person(pv1, p.field, rep)
			if actor == nil {
				continue
			}
			participants = append(participants, map[string]any{
				"type": []any{map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": p.code, "display": p.text}}}},
				"actor": actor,
			})
		}
	}
	if len(participants) > 0 {
		enc["participant"] = participants
	}
	if loc := mp.location(pv1, 3); loc != "" {
		enc["location"] = []any{map[string]any{"location": map[string]any{"display": loc}}}
	}
	mp.add(enc, id["system"].(string), id["value"].(string), false)
	return nil
}

// adtEvents names what an ADT event records of an encounter.
var adtEvents = map[string]string{"A01": "admission", "A03": "discharge", "A04": "registration"}

// patientClasses maps table 0004 (PV1-2) to v3 ActCode.
var patientClasses = map[string][2]string{
	"E": {"EMER", "emergency"}, "I": {"IMP", "inpatient encounter"}, "O": {"AMB", "ambulatory"},
	"P": {"PRENC", "pre-admission"}, "R": {"AMB", "ambulatory"}, "B": {"IMP", "inpatient encounter"},
}

// merge maps an ADT^A40 (merge patient) to the Parameters of
// Patient/$merge: the patient MRG-1 identifies (its medical record
// number, else its first identifier) merged into the one PID-3 does.
func merge(m *hl7v2.Message, opts Options) (fhir.Resource, error) {
	mp := &mapper{m: m, d: m.Delims, opts: opts, count: map[string]int{}, keys: map[string]bool{}}
	if err := mp.init(); err != nil {
		return nil, err
	}
	pid, mrg := m.Segment("PID"), m.Segment("MRG")
	if pid == nil {
		return nil, wrong(hl7v2.ErrSegmentSequence, "PID", 1, 0, "an ADT^A40 needs the PID of the patient that stays")
	}
	if mrg == nil {
		return nil, wrong(hl7v2.ErrSegmentSequence, "MRG", 1, 0, "an ADT^A40 needs the MRG of the patient merged into it")
	}
	_, target := mp.identifiers(pid, 3)
	if target == nil {
		return nil, wrong(hl7v2.ErrRequiredField, "PID", 1, 3, "the patient identifier list (PID-3) has no identifier")
	}
	_, source := mp.identifiers(mrg, 1)
	if source == nil {
		return nil, wrong(hl7v2.ErrRequiredField, "MRG", 1, 1, "the prior patient identifier list (MRG-1) has no identifier")
	}
	if mp.bad != nil {
		return nil, mp.bad
	}
	if source["system"] == target["system"] && source["value"] == target["value"] {
		return nil, wrong(hl7v2.ErrDuplicateKey, "MRG", 1, 1, "the patient is merged into itself")
	}
	plain := func(id map[string]any) map[string]any {
		return map[string]any{"system": id["system"], "value": id["value"]}
	}
	return fhir.Resource{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "source-patient-identifier", "valueIdentifier": plain(source)},
		map[string]any{"name": "target-patient-identifier", "valueIdentifier": plain(target)},
	}}, nil
}
