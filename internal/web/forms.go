package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/clinical/questionnaire"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// Structured forms: a Questionnaire (PHQ-9, GAD-7 and the intake form
// ship with internal/clinical/questionnaire; Questionnaires in the store
// are offered too) filled in on a visit. The page shows every item; the
// script hides those whose enableWhen is not met, and the server applies
// the same rules (questionnaire.Evaluate) whatever the browser did: it
// drops the answers of disabled items, computes the scores, and refuses
// a missing required answer at its field. The answers become a
// QuestionnaireResponse of the visit, shown with its score and the
// instrument's severity band.

func (ws *Workspace) registerForms(page pageFunc) {
	page("GET /patients/{id}/visits/{enc}/forms/{form}", ws.formPage)
	page("POST /patients/{id}/visits/{enc}/forms/{form}", ws.submitForm)
	page("GET /patients/{id}/responses/{rid}", ws.responsePage)
}

// formChoice is a form offered on a visit.
type formChoice struct{ ID, Title string }

// availableForms are the shipped Questionnaires and the active ones in
// the store, by id.
func (ws *Workspace) availableForms(r *http.Request) ([]formChoice, error) {
	shipped, err := shippedForms()
	if err != nil {
		return nil, err
	}
	var out []formChoice
	urls := map[string]bool{}
	for _, q := range shipped {
		out = append(out, formChoice{q.ID(), str(q, "title")})
		urls[str(q, "url")] = true
	}
	q, err := search.Parse(ws.Definitions, "Questionnaire", url.Values{"status": {"active"}, "_count": {"50"}}, search.ParseOptions{})
	if err != nil {
		return nil, err
	}
	held, err := ws.Store.Search(r.Context(), q)
	if err != nil {
		return nil, err
	}
	for _, v := range held.Matches {
		if u := str(v.Resource, "url"); u != "" && urls[u] {
			continue // a copy of a shipped form
		}
		if _, err := questionnaire.Parse(v.Resource); err != nil {
			continue // one this page cannot show is not offered
		}
		title := str(v.Resource, "title")
		if title == "" {
			title = str(v.Resource, "name")
		}
		out = append(out, formChoice{v.ID, title})
	}
	return out, nil
}

// loadForm finds the Questionnaire a form page is for: a shipped one by
// id, else the store's.
func (ws *Workspace) loadForm(r *http.Request, id string) (*questionnaire.Questionnaire, error) {
	res, err := questionnaire.Form(id)
	if fhir.IsKind(err, fhir.KindNotFound) {
		v, rerr := ws.Store.Read(r.Context(), "Questionnaire", id)
		if rerr != nil {
			return nil, rerr
		}
		res, err = v.Resource, nil
	}
	if err != nil {
		return nil, err
	}
	return questionnaire.Parse(res)
}

// formItem is one item as the page shows it.
type formItem struct {
	LinkID, Text, Type, Field, Error, Value string
	Required, Repeats, ReadOnly             bool
	Options                                 []formOption
	Items                                   []formItem
	// EnableWhen is the item's enableWhen as JSON for the script.
	EnableWhen, Behavior string
	Chosen               []string
}

type formOption struct{ Value, Label string }

type formData struct {
	ID, Title, Visit string
	Items            []formItem
	Errors           []formItem
}

func (l *Locale) formItems(items []*questionnaire.Item, form url.Values, bad map[string]string) []formItem {
	var out []formItem
	for i, it := range items {
		fi := formItem{LinkID: it.LinkID, Text: it.Text, Type: it.Type, Required: it.Required, Repeats: it.Repeats,
			ReadOnly: it.ReadOnly || it.Calculated != "", Field: fmt.Sprintf("q-%d-%s", i, fieldSafe(it.LinkID)), Error: bad[it.LinkID]}
		fi.Chosen = form[it.LinkID]
		fi.Value = form.Get(it.LinkID)
		for _, o := range it.Options {
			fi.Options = append(fi.Options, formOption{Value: optionValue(o.Value), Label: optionLabel(o.Value)})
		}
		if it.Type == "boolean" {
			fi.Options = []formOption{{"true", l.T("form.yes")}, {"false", l.T("form.no")}}
		}
		if len(it.EnableWhen) > 0 {
			var conds []map[string]string
			for _, ew := range it.EnableWhen {
				conds = append(conds, map[string]string{"q": ew.Question, "op": ew.Operator, "a": optionValue(ew.Answer)})
			}
			b, _ := json.Marshal(conds)
			fi.EnableWhen, fi.Behavior = string(b), it.EnableBehavior
		}
		fi.Items = l.formItems(it.Items, form, bad)
		out = append(out, fi)
	}
	return out
}

func fieldSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// optionValue is how an answer option is posted: its code, or its value.
func optionValue(v questionnaire.Value) string {
	switch v.Kind {
	case "coding":
		return v.Coding.Code
	case "boolean":
		return strconv.FormatBool(v.Bool)
	case "integer", "decimal":
		return datatype.FormatNumber(v.Number)
	}
	return v.Text
}

func optionLabel(v questionnaire.Value) string {
	if v.Kind == "coding" && v.Coding.Display != "" {
		return v.Coding.Display
	}
	return optionValue(v)
}

// flatten lists the items and their descendants.
func flatten(items []formItem) []formItem {
	var out []formItem
	for _, it := range items {
		out = append(out, it)
		out = append(out, flatten(it.Items)...)
	}
	return out
}

func (ws *Workspace) formPage(w http.ResponseWriter, r *http.Request) error {
	return ws.renderForm(w, r, http.StatusOK, url.Values{}, nil)
}

func (ws *Workspace) renderForm(w http.ResponseWriter, r *http.Request, status int, form url.Values, bad map[string]string) error {
	q, err := ws.loadForm(r, r.PathValue("form"))
	if err != nil {
		return err
	}
	encID := r.PathValue("enc")
	v, shown, err := ws.readPatient(w, r, "forms.title", func(p *patientRead, v *view) error {
		enc, err := p.patientResource("Encounter", encID)
		if err != nil {
			return err
		}
		p.touch(enc)
		data := &formData{ID: r.PathValue("form"), Title: q.Title, Visit: encID, Items: v.formItems(q.Items, form, bad)}
		for _, it := range flatten(data.Items) {
			if it.Error != "" {
				data.Errors = append(data.Errors, it)
			}
		}
		v.Data = data
		v.Title = q.Title + " · " + v.Banner.Name
		return nil
	})
	if err != nil || !shown {
		return err
	}
	ws.render(w, status, "form", v)
	return nil
}

// submitForm is POST …/forms/{form}: the answers checked by the
// questionnaire's rules and stored as a QuestionnaireResponse.
func (ws *Workspace) submitForm(w http.ResponseWriter, r *http.Request) error {
	id, encID := r.PathValue("id"), r.PathValue("enc")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	q, err := ws.loadForm(r, r.PathValue("form"))
	if err != nil {
		return err
	}
	l := LocaleFor(r)
	r.ParseForm()
	answers := questionnaire.Answers{}
	bad := map[string]string{}
	var walk func(items []*questionnaire.Item)
	walk = func(items []*questionnaire.Item) {
		for _, it := range items {
			walk(it.Items)
			if it.Type == "group" || it.Type == "display" || it.ReadOnly || it.Calculated != "" {
				continue
			}
			for _, raw := range r.PostForm[it.LinkID] {
				if strings.TrimSpace(raw) == "" {
					continue
				}
				val, err := questionnaire.ParseAnswer(it, strings.TrimSpace(raw))
				if err != nil {
					bad[it.LinkID] = l.T("forms.error-answer", fhirMessage(err))
					continue
				}
				answers[it.LinkID] = append(answers[it.LinkID], val)
			}
		}
	}
	walk(q.Items)
	result := questionnaire.Evaluate(q, answers)
	for _, is := range result.Issues {
		if _, ok := bad[is.LinkID]; !ok {
			bad[is.LinkID] = issueText(l, q, is)
		}
	}
	if len(bad) > 0 {
		return ws.renderForm(w, r, http.StatusBadRequest, r.PostForm, bad)
	}
	pr := access.PrincipalFrom(r.Context())
	author := pr.FHIRUser
	qr := questionnaire.Response(q, result, questionnaire.ResponseInfo{Subject: "Patient/" + id, Encounter: "Encounter/" + encID,
		Author: author, Authored: ws.now()})
	qr.SetID(store.NewID())
	if author == "" {
		qr["author"] = map[string]any{"display": pr.User}
	}
	err = ws.write(r, "create", "QuestionnaireResponse", func(tx store.Tx) ([]access.Touched, error) {
		if _, err := ownedIn(tx, id, "Encounter", encID); err != nil {
			return nil, err
		}
		v, _, err := tx.Update(qr, 0)
		return touchedFor(id, v), err
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/responses/"+url.PathEscape(qr.ID()), http.StatusSeeOther)
	return nil
}

func issueText(l *Locale, q *questionnaire.Questionnaire, is questionnaire.Issue) string {
	if it := q.Item(is.LinkID); it != nil && it.Required && strings.Contains(strings.ToLower(is.Message), "required") {
		return l.T("forms.error-required", it.Text)
	}
	return l.T("forms.error-answer", is.Message)
}

// responseView is a stored response as the pages show it.
type responseView struct {
	ID, Title, When, Score, Severity string
	Visit                            string // the encounter's id
	SelfHarm                         bool
	Answers                          [][2]string // question, answer
}

// responseOf reads a QuestionnaireResponse back: the shipped form it
// answers (for the title, score and band), its answers in order.
func (l *Locale) responseOf(v *store.Version) responseView {
	qr := v.Resource
	rv := responseView{ID: v.ID, When: l.dateTimeText(str(qr, "authored")), Title: str(qr, "questionnaire"),
		Visit: strings.TrimPrefix(str(asMap(qr["encounter"]), "reference"), "Encounter/")}
	canonical, _, _ := strings.Cut(str(qr, "questionnaire"), "|")
	var items func(list []any)
	var totals = map[string]string{questionnaire.PHQ9URL: questionnaire.PHQ9Total, questionnaire.GAD7URL: questionnaire.GAD7Total}
	items = func(list []any) {
		for _, x := range list {
			it := asMap(x)
			var answers []string
			for _, a := range listOf(it, "answer") {
				answers = append(answers, l.answerText(asMap(a)))
				items(listOf(asMap(a), "item"))
			}
			if len(answers) > 0 {
				rv.Answers = append(rv.Answers, [2]string{str(it, "text"), strings.Join(answers, ", ")})
			}
			if str(it, "linkId") == totals[canonical] && len(answers) > 0 {
				rv.Score = answers[0]
				if n, err := strconv.ParseFloat(answers[0], 64); err == nil {
					if band, err := questionnaire.Interpret(canonical, n); err == nil {
						rv.Severity = l.T("forms.band-" + strings.ReplaceAll(band, " ", "-"))
					}
				}
			}
			if str(it, "linkId") == questionnaire.PHQ9SelfHarm && len(answers) > 0 && codeOfAnswer(it) != "" && codeOfAnswer(it) != "LA6568-5" {
				rv.SelfHarm = true
			}
			items(listOf(it, "item"))
		}
	}
	items(listOf(qr, "item"))
	forms, _ := shippedForms()
	for _, f := range forms {
		if str(f, "url") == canonical {
			rv.Title = str(f, "title")
		}
	}
	return rv
}

// codeOfAnswer is the code of an item's first coded answer.
func codeOfAnswer(item map[string]any) string {
	for _, a := range listOf(item, "answer") {
		if c := asMap(asMap(a)["valueCoding"]); c != nil {
			return str(c, "code")
		}
	}
	return ""
}

func (l *Locale) answerText(a map[string]any) string {
	for k, v := range a {
		if !strings.HasPrefix(k, "value") {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if d := str(x, "display"); d != "" {
				return d
			}
			if c := str(x, "code"); c != "" {
				return c
			}
			if q, ok := datatype.QuantityOf(x); ok {
				return datatype.FormatNumber(q.Value) + " " + q.Unit
			}
		case bool:
			if x {
				return l.T("form.yes")
			}
			return l.T("form.no")
		default:
			return fmt.Sprint(x)
		}
	}
	return ""
}

// shippedForms are the Questionnaires the EMR ships, parsed once: pages
// only read them.
var shippedForms = sync.OnceValues(questionnaire.Forms)

// responsePage is GET /patients/{id}/responses/{rid}: a filled-in form,
// its score and band, and a self-harm answer marked for attention.
func (ws *Workspace) responsePage(w http.ResponseWriter, r *http.Request) error {
	return ws.patientPage(w, r, "response", "forms.response-title", func(p *patientRead, v *view) error {
		res, err := p.patientResource("QuestionnaireResponse", r.PathValue("rid"))
		if err != nil {
			return err
		}
		p.touch(res)
		rv := v.responseOf(res)
		if strings.Contains(rv.Title, "://") {
			// Not a shipped form: its title is the Questionnaire's.
			canonical, _, _ := strings.Cut(rv.Title, "|")
			q, err := search.Parse(ws.Definitions, "Questionnaire", url.Values{"url": {canonical}}, search.ParseOptions{})
			if err != nil {
				return err
			}
			if found, err := p.st.Search(p.ctx, q); err == nil && len(found.Matches) > 0 {
				if t := str(found.Matches[0].Resource, "title"); t != "" {
					rv.Title = t
				}
			}
		}
		v.Data = rv
		return nil
	})
}
