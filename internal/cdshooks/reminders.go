package cdshooks

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/clinical/reminders"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
)

// reminderPrefetch are the templates of the preventive-care service: the
// patient (their age), their active problems, and the records of the
// reminders' codes, newest first.
var reminderPrefetch = func() map[string]string {
	out := map[string]string{"patient": "Patient/{{context.patientId}}"}
	for _, q := range reminders.Queries() {
		v := url.Values{"patient": {"{{context.patientId}}"}}
		for k, val := range q.Params {
			v.Set(k, val)
		}
		out[q.Key] = q.Type + "?" + unescapeTemplate(v.Encode())
	}
	return out
}()

// unescapeTemplate keeps a template's {{…}} and the code lists' | and ,
// readable after url.Values.Encode.
func unescapeTemplate(s string) string {
	return strings.NewReplacer("%7B", "{", "%7D", "}", "%7C", "|", "%2C", ",", "%3A", ":", "%2F", "/").Replace(s)
}

// reminderCards answers patient-view: an info card for each reminder due.
func (s *Service) reminderCards(ctx context.Context, req *hookRequest, client string) ([]any, error) {
	rec, unworked, err := s.reminderRecord(ctx, req, client)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	cards := []any{}
	for _, id := range unworked {
		rule, _ := reminders.RuleByID(id)
		cards = append(cards, map[string]any{"uuid": newUUID(), "indicator": "info", "source": map[string]any{"label": "emr preventive care reminders"},
			"summary": truncate(rule.Title+": not worked out, part of the record is hidden from this token", 139)})
	}
	for _, rem := range reminders.Evaluate(rec, now) {
		if slices.Contains(unworked, rem.Rule) {
			continue
		}
		if rem.Status == reminders.NotKnown {
			cards = append(cards, map[string]any{"uuid": newUUID(), "indicator": "info", "source": map[string]any{"label": "emr preventive care reminders"},
				"summary": "Date of birth not recorded: the reminders that depend on age were not worked out"})
			continue
		}
		if rem.Status != reminders.Due {
			continue
		}
		rule, _ := reminders.RuleByID(rem.Rule)
		last := "no record"
		if rem.Note != "" {
			last = rem.Note
		} else if rem.LastDate != "" {
			last = "last " + rem.What + " " + rem.LastDate
		}
		cards = append(cards, map[string]any{
			"uuid":      newUUID(),
			"summary":   truncate(rule.Title+" is due ("+last+")", 139),
			"detail":    escapeMarkdown(rule.Basis),
			"indicator": "info",
			"source":    map[string]any{"label": "emr preventive care reminders"},
		})
	}
	return cards, nil
}

// reminderRecord reads what the reminders need: from the prefetch when it
// has every key (a null value being an empty answer), else from this
// EMR's store as the caller of the token the client lends. Records the
// caller cannot see count as not done: a reminder may be due when met
// elsewhere, never met when it was not.
//
// With a lent token, the rules that read a type the caller cannot see, or
// sees only in part (its role's limits, a Consent of the patient, more
// problems than were read), are returned in unworked: they get a card
// saying so, never silence.
func (s *Service) reminderRecord(ctx context.Context, req *hookRequest, client string) (rec *reminders.Record, unworked []string, err error) {
	id := req.Context.PatientID
	complete := true
	for key := range reminderPrefetch {
		if _, ok := req.Prefetch[key]; !ok {
			complete = false
		}
	}
	if complete {
		rec := &reminders.Record{}
		for key := range reminderPrefetch {
			raw := req.Prefetch[key]
			if string(raw) == "null" {
				continue
			}
			res, err := fhir.ParseResource(raw)
			if err != nil {
				return nil, nil, refuse(http.StatusBadRequest, "prefetch %s is not a FHIR resource", key)
			}
			var list []fhir.Resource
			switch {
			case key == "patient" && res.Type() == "Patient":
				if res.ID() != id {
					return nil, nil, refuse(http.StatusBadRequest, "prefetch patient is not context.patientId")
				}
				list = []fhir.Resource{res}
			case res.Type() == "Bundle":
				// A page sorted newest first holds the latest record; but
				// a page of the problems, or of stool tests, may miss the
				// one that makes a reminder due.
				if (key == "conditions" || key == "observations") && partial(res) {
					return nil, nil, refuse(http.StatusPreconditionFailed, "prefetch %s is a page of a longer answer", key)
				}
				list, _, _ = resourcesOf(res, false)
			default:
				return nil, nil, refuse(http.StatusBadRequest, "prefetch %s must be a Bundle (or the Patient)", key)
			}
			for _, r := range list {
				if r.Type() == "Patient" {
					if key == "patient" {
						patientFacts(rec, r)
					}
					continue
				}
				if el, ok := reminderPatientElement[r.Type()]; ok && !forPatient(r, el, id) {
					return nil, nil, refuse(http.StatusBadRequest, "prefetch %s holds %s/%s, which is not context.patientId's", key, r.Type(), r.ID())
				}
				rec.Add(r)
			}
		}
		return rec, nil, nil
	}
	pctx, err := s.lent(ctx, req, client, "the prefetch is incomplete")
	if err != nil {
		return nil, nil, err
	}
	guard := s.Gate.Guard(pctx, s.Store)
	rec = &reminders.Record{}
	v, err := s.readPatient(pctx, id, client)
	if err != nil {
		return nil, nil, err
	}
	patientFacts(rec, v.Resource)
	consent, err := s.consentLimits(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	hidden, partly := map[string]bool{}, map[string]bool{}
	for _, rq := range reminders.Queries() {
		acc := s.Gate.Limit(pctx, 's', []string{rq.Type})
		if acc != nil && len(acc.Rules) == 0 {
			hidden[rq.Type] = true
			continue // the caller sees none: nothing counts as done
		}
		if consent || !access.Unlimited(acc) {
			partly[rq.Type] = true
		}
		params := url.Values{}
		for k, v := range rq.Params {
			params.Set(k, v)
		}
		// By the patient's reference: the planner drives by the rarer
		// codes, where a compartment search walks the whole record.
		params.Set("patient", "Patient/"+id)
		q, err := search.Parse(s.Definitions, rq.Type, params, search.ParseOptions{})
		if err != nil {
			return nil, nil, err
		}
		err = s.Gate.Read(pctx, access.Request{Interaction: "search-type", Type: rq.Type, Query: "cds-hooks", Agent: audit.Agent{Client: client}},
			func() ([]access.Touched, error) {
				res, err := guard.Search(pctx, q)
				if err != nil {
					return nil, err
				}
				var touched []access.Touched
				for _, v := range res.Matches {
					rec.Add(v.Resource)
					touched = append(touched, access.TouchedVersion(v))
				}
				if rq.Type == "Condition" && len(res.Matches) >= reminders.MaxConditions {
					partly["Condition"] = true
				}
				return touched, nil
			})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, rule := range reminders.Rules {
		if slices.ContainsFunc(rule.Needs(), func(t string) bool { return hidden[t] }) ||
			slices.ContainsFunc(rule.ConcealedBy(), func(t string) bool { return partly[t] }) {
			unworked = append(unworked, rule.ID)
		}
	}
	return rec, unworked, nil
}

// reminderPatientElement names the patient in each type the reminders read.
var reminderPatientElement = map[string]string{"Condition": "subject", "Immunization": "patient", "Observation": "subject", "Procedure": "subject"}

// patientFacts copies into rec what the reminders read of the Patient.
func patientFacts(rec *reminders.Record, p fhir.Resource) {
	rec.BirthDate = datatype.Str(p, "birthDate")
	dead, _ := p["deceasedBoolean"].(bool)
	rec.Deceased = dead || datatype.Str(p, "deceasedDateTime") != ""
}
