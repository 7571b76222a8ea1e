package questionnaire

import (
	"time"

	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
)

// ResponseInfo says whose response it is, who gave it, and when.
type ResponseInfo struct {
	// Subject is the patient ("Patient/1"); Encounter the visit; Author
	// who entered the answers; Source who answered (the patient, when
	// they filled it in themselves). Each may be "".
	Subject, Encounter, Author, Source string
	Authored                           time.Time
}

// Response returns the R5 QuestionnaireResponse of an evaluation: the
// questionnaire's canonical URL (with |version; "Questionnaire/id" for
// one without a URL), status completed when
// there are no issues and in-progress otherwise (a draft keeps every word
// typed), and the items in the questionnaire's order and nesting, each
// enabled item that has answers or answered descendants, with its text.
func Response(q *Questionnaire, r *Result, info ResponseInfo) fhir.Resource {
	return buildResponse(q, r, info)
}

func buildResponse(q *Questionnaire, r *Result, info ResponseInfo) fhir.Resource {
	status := "completed"
	if r.Issues != nil && len(r.Issues) > 0 {
		status = "in-progress"
	}
	resp := fhir.Resource{"resourceType": "QuestionnaireResponse", "status": status}
	// questionnaire is required (1..1) in R5: the canonical URL, else
	// the resource's own reference for a questionnaire without one.
	switch {
	case q.URL != "":
		canonical := q.URL
		if q.Version != "" {
			canonical += "|" + q.Version
		}
		resp["questionnaire"] = canonical
	case q.Resource.ID() != "":
		resp["questionnaire"] = "Questionnaire/" + q.Resource.ID()
	}
	for key, ref := range map[string]string{"subject": info.Subject, "encounter": info.Encounter, "author": info.Author, "source": info.Source} {
		if ref != "" {
			resp[key] = datatype.Ref(ref, "")
		}
	}
	if !info.Authored.IsZero() {
		resp["authored"] = info.Authored.Format(time.RFC3339)
	}
	if items := responseItems(q.Items, r); len(items) > 0 {
		resp["item"] = items
	}
	return resp
}

func responseItems(items []*Item, r *Result) []any {
	var out []any
	for _, it := range items {
		if !r.Enabled[it.LinkID] || it.Type == "display" {
			continue
		}
		m := map[string]any{"linkId": it.LinkID}
		if it.Text != "" {
			m["text"] = it.Text
		}
		children := responseItems(it.Items, r)
		var answers []any
		for _, v := range r.Answers[it.LinkID] {
			answers = append(answers, v.JSON())
		}
		switch {
		case len(answers) > 0:
			// Items below a question go inside its answer (R5 qrs-1).
			if len(children) > 0 {
				answers[0].(map[string]any)["item"] = children
			}
			m["answer"] = answers
		case len(children) > 0 && it.Type == "group":
			m["item"] = children
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}
