package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/store"
)

// A visit from check-in to finish: each step a new Encounter version and
// an EncounterHistory, a stale step refused, every resource valid R5.
func TestVisitSteps(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	wantAll(t, "visits", page, http.StatusOK, "No visit recorded.", "Check in (patient has arrived)")
	csrf := csrfOf(t, page.body)

	wantAll(t, "no reason", b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"check-in"}}), http.StatusBadRequest,
		"Give the reason for the visit.")
	a := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"check-in"}, "reason": {"Cough for two weeks"}, "location": {"Room 3"}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/patients/jose/visits/") {
		t.Fatalf("check in: %d %s %.2000s", a.status, a.location, a.body)
	}
	encID := strings.TrimPrefix(a.location, "/patients/jose/visits/")
	visit := b.get(a.location)
	wantAll(t, "checked in", visit, http.StatusOK, "Checked in, waiting", "Cough for two weeks", "Room 3", "dr1", "patient arrived",
		`value="start"`, `value="cancel"`)
	if strings.Contains(visit.body, `value="finish"`) {
		t.Errorf("a visit not started offers to finish it")
	}
	step := func(name, version string) answer {
		return b.post(a.location+"/status", url.Values{"csrf": {csrf}, "step": {name}, "version": {version}})
	}
	if got := step("start", "1"); got.status != http.StatusSeeOther {
		t.Fatalf("start: %d %.2000s", got.status, got.body)
	}
	// A second press of "start" on the page as it was (version 1) finds
	// the visit changed: it says so and changes nothing.
	wantAll(t, "stale start", step("start", "1"), http.StatusConflict, "Someone changed this visit", "In progress")
	if got := step("finish", "2"); got.status != http.StatusSeeOther {
		t.Fatalf("finish: %d %.2000s", got.status, got.body)
	}
	wantAll(t, "finished", b.get(a.location), http.StatusOK, "Finished", "patient left", "patient being seen")

	ctx := context.Background()
	enc, err := s.store.Read(ctx, "Encounter", encID)
	if err != nil {
		t.Fatal(err)
	}
	period := asMap(enc.Resource["actualPeriod"])
	if enc.VersionID != 3 || str(enc.Resource, "status") != "completed" || str(period, "start") == "" || str(period, "end") == "" {
		t.Errorf("encounter: version %d %s", enc.VersionID, enc.Resource.JSON())
	}
	hist, err := s.store.History(ctx, store.HistoryQuery{Type: "EncounterHistory"})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	validator := validate.New(spec.R5())
	for _, v := range append(hist.Versions, enc) {
		if issues := validator.Validate(v.Resource); validate.HasErrors(issues) {
			t.Errorf("%s is not valid R5: %v\n%s", v.Type, issues, v.Resource.JSON())
		}
		if v.Type == "EncounterHistory" {
			statuses = append(statuses, str(v.Resource, "status"))
		}
	}
	if got := strings.Join(statuses, ","); got != "completed,in-progress,planned" {
		t.Errorf("EncounterHistory statuses (newest first): %s", got)
	}
	// Another patient's visit is not found under this one.
	s.put(rahim)
	if got := b.get("/patients/rahim/visits/" + encID); got.status != http.StatusNotFound {
		t.Errorf("José's visit under Rahim: %d", got.status)
	}
}

// A note from draft to signed, amended and added to: the draft survives a
// reload, a save on a stale version is refused, signing locks the text,
// the amendment keeps the signed original readable.
func TestProgressNote(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	a := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"start"}, "reason": {"Diabetes review"}})
	visitPath := a.location
	wantAll(t, "visit", b.get(visitPath), http.StatusOK, "Progress note (SOAP)", "No note written for this visit yet.")
	a = b.post(visitPath+"/notes", url.Values{"csrf": {csrf}, "template": {"soap"}})
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/patients/jose/notes/") {
		t.Fatalf("new note: %d %s %.2000s", a.status, a.location, a.body)
	}
	notePath := a.location
	noteID := strings.TrimPrefix(notePath, "/patients/jose/notes/")
	editor := b.get(notePath)
	wantAll(t, "editor", editor, http.StatusOK, `<label for="s0">Subjective</label>`, `<label for="s3">Plan</label>`,
		"Draft, not signed", `/static/ws/notes.js`, `class="dictate"`, "What the patient tells you")

	// The autosave script's request: JSON back, the new version.
	autosave := func(version, s0 string) (int, map[string]any) {
		t.Helper()
		form := url.Values{"csrf": {csrf}, "version": {version}, "s0": {s0}, "s1": {"BP 142/91"}, "s2": {""}, "s3": {""}}
		req, _ := http.NewRequest("POST", s.srv.URL+notePath+"/draft", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Autosave", "1")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := read(t, resp)
		var j map[string]any
		if err := json.Unmarshal([]byte(got.body), &j); err != nil {
			t.Fatalf("autosave answered %d %q", got.status, got.body)
		}
		return got.status, j
	}
	status, j := autosave("1", "Thirsty <often> & tired.\nWorse at night.\n\nNo weight loss.")
	if status != http.StatusOK || j["version"] != float64(2) {
		t.Fatalf("autosave: %d %v", status, j)
	}
	// A reload shows the draft as typed.
	wantAll(t, "reloaded", b.get(notePath), http.StatusOK, "Thirsty &lt;often&gt; &amp; tired.\nWorse at night.\n\nNo weight loss.</textarea>",
		`name="version" value="2"`)
	// A second window still on version 1 is refused, not written over.
	if status, j = autosave("1", "stale text"); status != http.StatusConflict || !strings.Contains(j["error"].(string), "changed elsewhere") {
		t.Errorf("stale autosave: %d %v", status, j)
	}
	// Another clinician may read the draft but not edit or sign it.
	other := s.signedIn("dr2", "physician")
	wantAll(t, "draft for another", other.get(notePath), http.StatusOK, "Draft, not signed", "Thirsty")
	if strings.Contains(other.get(notePath).body, "<textarea") {
		t.Errorf("another clinician gets the editor of dr1's draft")
	}
	// Signing with nothing written is refused; then signed.
	wantAll(t, "sign empty", b.post(notePath+"/sign", url.Values{"csrf": {csrf}, "version": {"2"}, "s0": {" "}, "s1": {""}, "s2": {""}, "s3": {""}}),
		http.StatusBadRequest, "The note is empty")
	a = b.post(notePath+"/sign", url.Values{"csrf": {csrf}, "version": {"2"}, "s0": {"Thirsty and tired."}, "s1": {"BP 142/91"}, "s2": {"Type 2 diabetes, poorly controlled"}, "s3": {""}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("sign: %d %.3000s", a.status, a.body)
	}
	signed := b.get(notePath)
	wantAll(t, "signed", signed, http.StatusOK, ">Signed<", "Type 2 diabetes, poorly controlled", "Signed by", "Amend the note", "Add an addendum")
	if strings.Contains(signed.body, "<textarea") || strings.Contains(signed.body, ">Plan<") {
		t.Errorf("a signed note is editable, or shows the empty Plan section")
	}
	if status, _ := autosave("3", "rewriting history"); status != http.StatusConflict {
		t.Errorf("saving over a signed note: %d", status)
	}

	// Amend: a reason is needed; the signed original stays as version 3.
	form := b.get(notePath + "/amend")
	wantAll(t, "amend form", form, http.StatusOK, "Reason for the amendment", "Type 2 diabetes, poorly controlled</textarea>")
	amend := url.Values{"csrf": {csrf}, "version": {"3"}, "s0": {"Thirsty and tired."}, "s1": {"BP 142/91"}, "s2": {"Type 2 diabetes, HbA1c 7.4%"}}
	wantAll(t, "amend without reason", b.post(notePath+"/amend", amend), http.StatusConflict, "Say why the note is amended", "HbA1c 7.4%")
	amend.Set("reason", "HbA1c result came back")
	if a = b.post(notePath+"/amend", amend); a.status != http.StatusSeeOther {
		t.Fatalf("amend: %d %.3000s", a.status, a.body)
	}
	wantAll(t, "amended", b.get(notePath), http.StatusOK, "Signed, amended", "HbA1c 7.4%", "Amended: HbA1c result came back", "?version=3")
	wantAll(t, "original", b.get(notePath+"?version=3"), http.StatusOK, "Version 3 as it was signed", "Type 2 diabetes, poorly controlled")

	// An addendum: a new draft appending to the note, listed with it.
	if a = b.post(notePath+"/addendum", url.Values{"csrf": {csrf}}); a.status != http.StatusSeeOther {
		t.Fatalf("addendum: %d %.2000s", a.status, a.body)
	}
	addPath := a.location
	wantAll(t, "addendum editor", b.get(addPath), http.StatusOK, "Addendum to Progress note (SOAP)", `<label for="s0">Addendum</label>`)
	if a = b.post(addPath+"/sign", url.Values{"csrf": {csrf}, "version": {"1"}, "s0": {"Patient called: feeling better."}}); a.status != http.StatusSeeOther {
		t.Fatalf("sign addendum: %d %.2000s", a.status, a.body)
	}
	wantAll(t, "note with addendum", b.get(notePath), http.StatusOK, "Addenda", "Addendum to Progress note (SOAP)")

	ctx := context.Background()
	validator := validate.New(spec.R5())
	for _, id := range []string{noteID, strings.TrimPrefix(addPath, "/patients/jose/notes/")} {
		v, err := s.store.Read(ctx, "Composition", id)
		if err != nil {
			t.Fatal(err)
		}
		if issues := validator.Validate(v.Resource); validate.HasErrors(issues) {
			t.Errorf("Composition is not valid R5: %v\n%s", issues, v.Resource.JSON())
		}
	}
	orig, err := s.store.VRead(ctx, "Composition", noteID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if str(orig.Resource, "status") != "final" || len(listOf(orig.Resource, "attester")) != 1 {
		t.Errorf("the signed version: %s", orig.Resource.JSON())
	}
	if s.audited("jose") < 10 {
		t.Errorf("only %d audit records for a visit, a note, its amendment and addendum", s.audited("jose"))
	}
}

// Only an administrator edits the templates; a saved template is offered
// for new notes, and the built-in one stays.
func TestNoteTemplates(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	doc := s.signedIn("dr1", "physician")
	if got := doc.get("/admin/note-templates"); got.status != http.StatusForbidden {
		t.Errorf("a physician edits templates: %d", got.status)
	}
	admin := s.signedIn("root", "admin")
	page := admin.get("/admin/note-templates")
	wantAll(t, "templates", page, http.StatusOK, "Progress note (SOAP)", "Subjective | 61150-9 | What the patient tells you", "New template")
	csrf := csrfOf(t, page.body)
	wantAll(t, "bad key", admin.post("/admin/note-templates", url.Values{"csrf": {csrf}, "key": {"Bad Key"}, "name": {"X"}, "sections": {"A"}}),
		http.StatusBadRequest, "The short name is")
	wantAll(t, "saved", admin.post("/admin/note-templates", url.Values{"csrf": {csrf}, "key": {"wound"}, "name": {"Wound review"},
		"sections": {"Wound | 72300-7 | Site, size, exudate\nDressing"}}), http.StatusOK, "Template “Wound review” saved.")
	page = doc.get("/patients/jose/visits")
	a := doc.post("/patients/jose/visits", url.Values{"csrf": {csrfOf(t, page.body)}, "step": {"start"}, "reason": {"Leg ulcer"}})
	wantAll(t, "visit offers both", doc.get(a.location), http.StatusOK, `<option value="soap">Progress note (SOAP)</option>`, `<option value="wound">Wound review</option>`)
}

// Vitals typed as clinicians write them are converted, checked and stored
// as vital-signs Observations of the visit; a typo is stopped at its
// field with what was typed kept.
func TestVitalsEntry(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("nurse1", "nurse")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	a := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"check-in"}, "reason": {"Review"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("check in as a nurse: %d %.1000s", a.status, a.body)
	}
	vitalsPath := a.location + "/vitals"
	wantAll(t, "form", b.get(vitalsPath), http.StatusOK, `<label for="weight">Weight</label>`, `<option value="[lb_av]">lb</option>`, "or 98.6 °F")
	bad := url.Values{"csrf": {csrf}, "bp": {"80/120"}, "weight": {"700"}, "weight-unit": {"kg"}, "pulse": {"72"}}
	wantAll(t, "typos", b.post(vitalsPath, bad), http.StatusBadRequest, "Some readings need checking",
		"Weight: not a value that can be right (from", "Blood pressure: write it as systolic/diastolic", `value="700"`, `aria-invalid="true"`)
	wantAll(t, "empty", b.post(vitalsPath, url.Values{"csrf": {csrf}}), http.StatusBadRequest, "No reading was entered.")
	good := url.Values{"csrf": {csrf}, "bp": {"128/82"}, "pulse": {"72"}, "temp": {"98.6"}, "temp-unit": {"[degF]"},
		"weight": {"154 lb"}, "height": {"5 ft 7 in"}, "spo2": {"97"}, "resp": {"16"}, "pain": {"3"}}
	if a := b.post(vitalsPath, good); a.status != http.StatusSeeOther {
		t.Fatalf("record: %d %.3000s", a.status, a.body)
	}
	visit := b.get(strings.TrimSuffix(vitalsPath, "/vitals"))
	wantAll(t, "visit vitals", visit, http.StatusOK, "128/82", "69.85 kg", "170.2 cm", "37 °C", "24.1 kg/m²")
	ctx := context.Background()
	res, err := s.store.Search(ctx, mustQuery(t, "Observation", url.Values{"category": {"vital-signs"}, "_count": {"50"}}))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	validator := validate.New(spec.R5())
	for _, v := range res.Matches {
		if issues := validator.Validate(v.Resource); validate.HasErrors(issues) {
			t.Errorf("Observation is not valid R5: %v\n%s", issues, v.Resource.JSON())
		}
		codes[codeOf(v.Resource["code"])] = true
		if str(asMap(v.Resource["encounter"]), "reference") == "" {
			t.Errorf("a vital sign without its visit: %s", v.Resource.JSON())
		}
	}
	for _, c := range []string{"85354-9", "8867-4", "8310-5", "29463-7", "8302-2", "39156-5", "59408-5", "9279-1", "72514-3"} {
		if !codes[c] {
			t.Errorf("no Observation coded %s among %v", c, codes)
		}
	}
}

// A PHQ-9 filled in on a visit: a missing answer is refused at its
// question; the score and its band are computed and shown; a self-harm
// answer is flagged; the response is valid R5 and listed on the visit.
func TestPHQ9(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	a := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"start"}, "reason": {"Low mood"}})
	visit := a.location
	wantAll(t, "visit", b.get(visit), http.StatusOK, "Fill in PHQ-9", "Fill in GAD-7", "Fill in Vitals and history intake")
	form := b.get(visit + "/forms/phq-9")
	wantAll(t, "form", form, http.StatusOK, "Little interest or pleasure in doing things", `type="radio"`, `name="44250-9"`, "/static/ws/forms.js",
		`data-enable-when=`)
	items := []string{"44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"}
	answers := url.Values{"csrf": {csrf}}
	codes := []string{"LA6569-3", "LA6570-1", "LA6571-9", "LA6568-5"} // several days, more than half, nearly every day, not at all
	for i, it := range items[:8] {
		answers.Set(it, codes[i%3])
	}
	missing := b.post(visit+"/forms/phq-9", answers)
	wantAll(t, "missing", missing, http.StatusBadRequest, "Some answers need attention", "Thoughts that you would be better off dead")
	answers.Set("44260-8", "LA6569-3")
	if a := b.post(visit+"/forms/phq-9", answers); a.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %.3000s", a.status, a.body)
	} else {
		// 1+2+3+1+2+3+1+2 + 1 = 16: moderately severe.
		wantAll(t, "response", b.get(a.location), http.StatusOK, "PHQ-9", "Score", "<strong class=\"v\">16</strong>", "moderately severe",
			"thoughts of self-harm", "Several days")
	}
	wantAll(t, "visit lists it", b.get(visit), http.StatusOK, "PHQ-9", "<strong>16</strong>", "moderately severe", "Self-harm answer")
	res, err := s.store.Search(context.Background(), mustQuery(t, "QuestionnaireResponse", url.Values{}))
	if err != nil || len(res.Matches) != 1 {
		t.Fatalf("responses: %v %v", res, err)
	}
	if issues := validate.New(spec.R5()).Validate(res.Matches[0].Resource); validate.HasErrors(issues) {
		t.Errorf("QuestionnaireResponse is not valid R5: %v\n%s", issues, res.Matches[0].Resource.JSON())
	}
}

// A Questionnaire the clinic keeps in the store is offered beside the
// shipped forms and filled in the same way.
func TestStoredQuestionnaire(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose, `{"resourceType":"Questionnaire","id":"falls","url":"https://clinic.example/Questionnaire/falls","status":"active","title":"Falls risk",
		"item":[{"linkId":"fell","text":"Have you fallen in the last year?","type":"boolean","required":true},
			{"linkId":"times","text":"How many times?","type":"integer","enableWhen":[{"question":"fell","operator":"=","answerBoolean":true}]}]}`)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	visit := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"start"}, "reason": {"Review"}}).location
	wantAll(t, "offered", b.get(visit), http.StatusOK, "Fill in Falls risk", "Fill in PHQ-9")
	wantAll(t, "form", b.get(visit+"/forms/falls"), http.StatusOK, "Have you fallen in the last year?", `data-enable-when=`)
	a := b.post(visit+"/forms/falls", url.Values{"csrf": {csrf}, "fell": {"true"}, "times": {"2"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %.2000s", a.status, a.body)
	}
	wantAll(t, "answers", b.get(a.location), http.StatusOK, "<h2>Falls risk</h2>", "Have you fallen in the last year?", "Yes", "How many times?", "2")
}

// Control characters pasted into a form never reach a resource: the note
// saved is valid R5.
func TestFormTextCleaned(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("dr1", "physician")
	page := b.get("/patients/jose/visits")
	csrf := csrfOf(t, page.body)
	visit := b.post("/patients/jose/visits", url.Values{"csrf": {csrf}, "step": {"start"}, "reason": {"Cough\x07 and fever\x1b"}}).location
	note := b.post(visit+"/notes", url.Values{"csrf": {csrf}, "template": {"soap"}}).location
	if a := b.post(note+"/sign", url.Values{"csrf": {csrf}, "version": {"1"}, "s0": {"Pasted\x0c text\x10 here"}}); a.status != http.StatusSeeOther {
		t.Fatalf("sign: %d %.1000s", a.status, a.body)
	}
	ctx := context.Background()
	enc, _ := s.store.Read(ctx, "Encounter", visit[strings.LastIndex(visit, "/")+1:])
	c, _ := s.store.Read(ctx, "Composition", note[strings.LastIndex(note, "/")+1:])
	validator := validate.New(spec.R5())
	reason := Locales[0].visitRowOf(enc).Reason
	text := textOf(str(asMap(asMap(listOf(c.Resource, "section")[0])["text"]), "div"))
	if reason != "Cough and fever" || text != "Pasted text here" {
		t.Errorf("stored: reason %q, note %q", reason, text)
	}
	for _, v := range []*store.Version{enc, c} {
		if is := validator.Validate(v.Resource); validate.HasErrors(is) {
			t.Errorf("%s is not valid R5: %v", v.Type, is)
		}
	}
}
