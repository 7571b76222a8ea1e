package tofhir

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
)

// siuStatus is the Appointment status an SIU event sets, "" for one that
// takes it from SCH-25.
var siuStatus = map[string]string{"S12": "", "S13": "", "S14": "", "S15": "cancelled", "S17": "entered-in-error", "S26": "noshow"}

// fillerStatus maps table 0278 (SCH-25) to Appointment.status.
var fillerStatus = map[string]string{
	"PENDING": "pending", "WAITLIST": "waitlist", "BOOKED": "booked", "OVERBOOK": "booked", "STARTED": "arrived",
	"COMPLETE": "fulfilled", "CANCELLED": "cancelled", "DC": "cancelled", "DELETED": "entered-in-error", "NOSHOW": "noshow",
}

// siu maps an SIU S12 (booked), S13 (rescheduled), S14 (modified), S15
// (cancelled), S17 (deleted) or S26 (no-show) to an Appointment with the
// patient, the personnel (AIP) and the location (AIL) as participants.
func (mp *mapper) siu(event string) error {
	sch := mp.m.Segment("SCH")
	if sch == nil {
		return wrong(hl7v2.ErrSegmentSequence, "SCH", 1, 0, "an SIU needs its SCH segment")
	}
	patient, err := mp.patient(false)
	if err != nil {
		return err
	}
	var system, id string
	for _, field := range []int{2, 1} { // the filler's appointment id, else the placer's
		if v := mp.val(sch, field, 1, 1, 1); v != "" {
			id, system = v, mp.ei(sch, field)
			break
		}
	}
	if id == "" {
		return wrong(hl7v2.ErrRequiredField, "SCH", 1, 2, "the filler appointment id (SCH-2), or the placer's (SCH-1), is required: it identifies the appointment")
	}
	appt := fhir.Resource{
		"resourceType": "Appointment",
		"identifier":   []any{map[string]any{"system": system, "value": id}},
		"subject":      map[string]any{"reference": patient},
	}
	status := siuStatus[event]
	if status == "" {
		status = "booked"
		if v := mp.val(sch, 25, 1, 1, 1); v != "" {
			s, ok := fillerStatus[strings.ToUpper(v)]
			if !ok {
				return wrong(hl7v2.ErrTableValue, "SCH", 1, 25, "filler status %q is not one of table 0278", v)
			}
			status = s
		}
	}
	appt["status"] = status
	if reason := mp.concept(sch, 7, 1); reason != nil {
		appt["reason"] = []any{map[string]any{"concept": reason}}
	}
	if typ := mp.concept(sch, 8, 1); typ != nil {
		appt["appointmentType"] = typ
	}
	if ais := mp.m.Segment("AIS"); ais != nil {
		if service := mp.concept(ais, 3, 1); service != nil {
			appt["serviceType"] = []any{map[string]any{"concept": service}}
		}
	}
	start, end, err := mp.appointmentTimes(sch)
	if err != nil {
		return err
	}
	switch {
	case start != "" && end != "":
		appt["start"], appt["end"] = start, end
	case start != "":
		return wrong(hl7v2.ErrRequiredField, "TQ1", 1, 8, "the appointment has a start but neither an end (TQ1-8) nor a duration (AIS-7)")
	case status != "cancelled" && status != "waitlist" && status != "proposed": // app-3
		return wrong(hl7v2.ErrRequiredField, "TQ1", 1, 7, "a %s appointment needs its start (TQ1-7, SCH-11.4 or AIS-4)", status)
	}
	if n := mp.val(sch, 9, 1, 1, 1); n != "" && strings.EqualFold(mp.val(sch, 10, 1, 1, 1), "min") {
		if m, err := strconv.Atoi(n); err == nil && m > 0 {
			appt["minutesDuration"] = json.Number(strconv.Itoa(m))
		}
	}
	participants := []any{map[string]any{"actor": map[string]any{"reference": patient}, "status": "accepted"}}
	for _, aip := range mp.m.All("AIP") {
		if actor := mp.person(aip, 3, 1); actor != nil {
			p := map[string]any{"actor": actor, "status": "accepted"}
			if role := mp.concept(aip, 4, 1); role != nil {
				p["type"] = []any{role}
			}
			participants = append(participants, p)
		}
	}
	for _, ail := range mp.m.All("AIL") {
		if loc := mp.location(ail, 3); loc != "" {
			participants = append(participants, map[string]any{"actor": map[string]any{"display": loc, "type": "Location"}, "status": "accepted"})
		}
	}
	appt["participant"] = participants
	mp.add(appt, system, id, false)
	return nil
}

// appointmentTimes are the start and end of an appointment: TQ1-7 and
// TQ1-8 (v2.5 and later), else SCH-11's fourth and fifth components, else
// the first AIS's start (AIS-4) and duration (AIS-7, in AIS-8's unit).
func (mp *mapper) appointmentTimes(sch *hl7v2.Segment) (start, end string, err error) {
	at := func(s *hl7v2.Segment, field, comp int) (dtm, bool, error) {
		v := mp.val(s, field, 1, comp, 1)
		if v == "" {
			return dtm{}, false, nil
		}
		t, err := parseDTM(v, mp.zone)
		if err != nil {
			return dtm{}, false, wrong(hl7v2.ErrDataType, s.Name, 1, field, "%q: %v", v, err)
		}
		return t, true, nil
	}
	var from, to dtm
	var hasFrom, hasTo bool
	sources := []struct {
		s                          *hl7v2.Segment
		field, comp, field2, comp2 int
	}{{mp.m.Segment("TQ1"), 7, 1, 8, 1}, {sch, 11, 4, 11, 5}}
	for _, src := range sources {
		if src.s == nil {
			continue
		}
		if from, hasFrom, err = at(src.s, src.field, src.comp); err != nil {
			return "", "", err
		}
		if to, hasTo, err = at(src.s, src.field2, src.comp2); err != nil {
			return "", "", err
		}
		if hasFrom {
			break
		}
	}
	if ais := mp.m.Segment("AIS"); !hasFrom && ais != nil {
		if from, hasFrom, err = at(ais, 4, 1); err != nil {
			return "", "", err
		}
		if n, unit := mp.val(ais, 7, 1, 1, 1), mp.val(ais, 8, 1, 1, 1); hasFrom && n != "" {
			d, ok := duration(n, unit)
			if !ok {
				return "", "", wrong(hl7v2.ErrDataType, "AIS", 1, 7, "duration %q %q is not a number of s, min, h or d", n, unit)
			}
			to, hasTo = dtm{t: from.t.Add(d), digits: 14, offset: from.offset}, true
		}
	}
	if !hasFrom {
		return "", "", nil
	}
	if from.digits < 12 {
		return "", "", wrong(hl7v2.ErrDataType, "TQ1", 1, 7, "an appointment's start needs its time, to the minute")
	}
	from.digits = max(from.digits, 14)
	if !hasTo {
		return from.dateTime(), "", nil
	}
	if to.digits < 12 || to.t.Before(from.t) {
		return "", "", wrong(hl7v2.ErrDataType, "TQ1", 1, 8, "an appointment's end needs its time, and must not be before its start")
	}
	to.digits = max(to.digits, 14)
	return from.dateTime(), to.dateTime(), nil
}

// duration is n units (AIS-8: s, min, h, d; minutes when empty).
func duration(n, unit string) (time.Duration, bool) {
	v, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || v < 0 || v > 100000 {
		return 0, false
	}
	switch strings.ToLower(unit) {
	case "s":
		return time.Duration(v) * time.Second, true
	case "min", "":
		return time.Duration(v) * time.Minute, true
	case "h":
		return time.Duration(v) * time.Hour, true
	case "d":
		return time.Duration(v) * 24 * time.Hour, true
	}
	return 0, false
}
