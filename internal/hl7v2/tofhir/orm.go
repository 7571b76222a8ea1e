package tofhir

import (
	"strings"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/hl7v2"
)

// orderControl maps ORC-1 (table 0119) to ServiceRequest.status; "" takes
// the status from ORC-5 (table 0038).
var orderControl = map[string]string{
	"NW": "active", "XO": "active", "RL": "active", "OK": "active",
	"CA": "revoked", "OC": "revoked", "DC": "revoked", "OD": "revoked", "CR": "revoked",
	"HD": "on-hold", "OH": "on-hold",
	"SC": "", "SN": "",
}

// orderStatus maps ORC-5 (table 0038) to ServiceRequest.status.
var orderStatus = map[string]string{
	"A": "active", "IP": "active", "SC": "active", "CM": "completed", "CA": "revoked", "DC": "revoked",
	"HD": "on-hold", "ER": "entered-in-error",
}

// orderPriority maps OBR-5 / TQ1-9 (table 0485) to ServiceRequest.priority.
var orderPriority = map[string]string{"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "C": "urgent", "T": "urgent"}

// orm maps an ORM^O01 or OML^O21: a ServiceRequest per ORC/OBR.
func (mp *mapper) orm() error {
	patient, err := mp.patient(false)
	if err != nil {
		return err
	}
	var (
		orc, tq1 *hl7v2.Segment
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
			orc, tq1 = s, nil
			mp.seen(s)
		case "TQ1":
			tq1 = s
		case "OBR":
			flush()
			n := mp.seen(s)
			if orc == nil {
				return wrong(hl7v2.ErrSegmentSequence, "OBR", n, 0, "an OBR of an order needs its ORC before it")
			}
			if cur, sys, key, err = mp.serviceRequest(s, n, orc, tq1, patient); err != nil {
				return err
			}
		case "NTE":
			if cur != nil {
				addNote(cur, mp.noteText(s))
			}
		}
	}
	if mp.count["OBR"] == 0 {
		return wrong(hl7v2.ErrSegmentSequence, "OBR", 1, 0, "an order message needs an ORC and OBR for each order (pharmacy orders, RXO, are not taken)")
	}
	flush()
	return nil
}

// serviceRequest maps OBR (the sequence-th) with its ORC and TQ1, and
// returns the ServiceRequest with its identifier's system and value.
func (mp *mapper) serviceRequest(obr *hl7v2.Segment, sequence int, orc, tq1 *hl7v2.Segment, patient string) (fhir.Resource, string, string, error) {
	sr := fhir.Resource{"resourceType": "ServiceRequest", "intent": "order", "subject": map[string]any{"reference": patient}}
	// Identified by the placer's order number (the orderer's), else the
	// filler's.
	var ids []any
	var system, id string
	given := map[string]bool{} // PLAC, FILL: from ORC, else OBR
	for _, n := range []struct {
		s     *hl7v2.Segment
		field int
		typ   string
	}{{orc, 2, "PLAC"}, {obr, 2, "PLAC"}, {orc, 3, "FILL"}, {obr, 3, "FILL"}} {
		v := mp.val(n.s, n.field, 1, 1, 1)
		if v == "" || given[n.typ] {
			continue
		}
		given[n.typ] = true
		sys := mp.ei(n.s, n.field)
		ids = append(ids, map[string]any{"system": sys, "value": v, "type": map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": n.typ}}}})
		if id == "" {
			system, id = sys, v
		}
	}
	if id == "" {
		return nil, "", "", wrong(hl7v2.ErrRequiredField, "ORC", mp.count["ORC"], 2, "the placer order number (ORC-2 or OBR-2), or the filler's, is required: it identifies the order")
	}
	if k := "ServiceRequest " + system + "|" + id; mp.keys[k] {
		return nil, "", "", wrong(hl7v2.ErrDuplicateKey, "ORC", mp.count["ORC"], 2, "a second order with number %s in one message", id)
	} else {
		mp.keys[k] = true
	}
	sr["identifier"] = ids
	control := strings.ToUpper(mp.val(orc, 1, 1, 1, 1))
	status, ok := orderControl[control]
	if !ok {
		return nil, "", "", wrong(hl7v2.ErrTableValue, "ORC", mp.count["ORC"], 1, "order control %q is not taken (NW, XO, RL, OK, CA, OC, DC, OD, CR, HD, OH, SC, SN are)", control)
	}
	if status == "" {
		if status, ok = orderStatus[strings.ToUpper(mp.val(orc, 5, 1, 1, 1))]; !ok {
			status = "active"
		}
	}
	sr["status"] = status
	code := mp.concept(obr, 4, 1)
	if code == nil {
		return nil, "", "", wrong(hl7v2.ErrRequiredField, "OBR", sequence, 4, "the universal service identifier (OBR-4) is required: it is what is ordered")
	}
	sr["code"] = map[string]any{"concept": code}
	// The priority: TQ1-9 (2.5 and later), else the TQ of OBR-27 or
	// ORC-7 (component 6; ORM^O01 has no TQ1), else OBR-5 (before 2.5).
	priority := mp.val(tq1, 9, 1, 1, 1)
	for _, at := range []struct {
		s          *hl7v2.Segment
		field, rep int
	}{{obr, 27, 6}, {orc, 7, 6}, {obr, 5, 1}} {
		if priority == "" {
			priority = mp.val(at.s, at.field, 1, at.rep, 1)
		}
	}
	if p, ok := orderPriority[strings.ToUpper(priority)]; ok {
		sr["priority"] = p
	}
	if v := mp.val(orc, 9, 1, 1, 1); v != "" {
		t, err := parseDTM(v, mp.zone)
		if err != nil {
			return nil, "", "", wrong(hl7v2.ErrDataType, "ORC", mp.count["ORC"], 9, "date/time of the transaction %q: %v", v, err)
		}
		sr["authoredOn"] = t.dateTime()
	}
	if requester := mp.person(orc, 12, 1); requester != nil {
		sr["requester"] = requester
	} else if requester := mp.person(obr, 16, 1); requester != nil {
		sr["requester"] = requester
	}
	for rep := 1; rep <= obr.Repetitions(31); rep++ {
		if reason := mp.concept(obr, 31, rep); reason != nil {
			reasons, _ := sr["reason"].([]any)
			sr["reason"] = append(reasons, map[string]any{"concept": reason})
		}
	}
	return sr, system, id, nil
}
