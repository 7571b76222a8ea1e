package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
)

var (
	formInput  = regexp.MustCompile(`<input (?:id="[^"]*" )?name="([^"]+)" type="[^"]*" value="([^"]*)"|<input type="hidden" name="([^"]+)" value="([^"]*)"`)
	formSelect = regexp.MustCompile(`(?s)<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>`)
	selected   = regexp.MustCompile(`<option value="([^"]*)" selected>`)
)

// formValues reads a page's form as a browser would post it.
func formValues(body string) url.Values {
	v := url.Values{}
	for _, m := range formInput.FindAllStringSubmatch(body, -1) {
		if m[1] != "" {
			v.Set(m[1], html.UnescapeString(m[2]))
		} else {
			v.Set(m[3], html.UnescapeString(m[4]))
		}
	}
	for _, m := range formSelect.FindAllStringSubmatch(body, -1) {
		value := ""
		if s := selected.FindStringSubmatch(m[2]); s != nil {
			value = html.UnescapeString(s[1])
		}
		v.Set(m[1], value)
	}
	return v
}

func (s *workspaceSite) patient(id string) fhir.Resource {
	s.t.Helper()
	v, err := s.store.Read(context.Background(), "Patient", id)
	if err != nil {
		s.t.Fatal(err)
	}
	return v.Resource
}

func TestRegisterPatient(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(`{"resourceType":"Practitioner","id":"gp1","name":[{"family":"Rahman","given":["Nasrin"],"prefix":["Dr"]}]}`)
	b := s.signedIn("dr4", "physician")
	a := b.get("/patients/new")
	if a.status != http.StatusOK {
		t.Fatalf("new patient form: %d %.2000s", a.status, a.body)
	}
	for _, want := range []string{`<label for="name-family-0">Family name <span class="req">(required)</span>`, `<label for="birth">`,
		`value="MR"`, `value="NI"`, `value="PPN"`, "RAHMAN, Nasrin (Dr)", "Gender identity", "Add another name"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	form := formValues(a.body)
	// Add a second name row without script: the form comes back with it.
	form.Set("name-given-0", "Chidinma Ada")
	form.Set("action", "add-name")
	a = b.post("/patients", form)
	if a.status != http.StatusOK || !strings.Contains(a.body, `name="name-family-1"`) || !strings.Contains(a.body, `value="Chidinma Ada"`) {
		t.Fatalf("add a name row: %d %.2000s", a.status, a.body)
	}
	// Errors: next to the field, in the summary with a link, input kept.
	form = formValues(a.body)
	form.Set("birth", "31/02/1984")
	form.Set("phone", "12")
	a = b.post("/patients", form)
	for _, want := range []string{`class="error-summary"`, `href="#name-family-0"`, `href="#birth"`, `href="#phone"`,
		`id="birth-error"`, `aria-invalid="true"`, `value="31/02/1984"`, `value="Chidinma Ada"`, `id="name-family-0-error"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("invalid form lacks %q:\n%.4000s", want, a.body)
		}
	}
	if a.status != http.StatusUnprocessableEntity {
		t.Errorf("invalid form: status %d", a.status)
	}
	// The validator's own error (not a URI) lands on its field.
	form = formValues(a.body)
	form.Set("name-family-0", "Okafor")
	form.Set("name-prefix-0", "Mrs")
	form.Set("name-use-1", "maiden")
	form.Set("name-family-1", "Eze")
	form.Set("birth", "9 March 1984")
	form.Set("gender", "female")
	form.Set("gender-identity", "female")
	form.Set("phone", "+880 1711 555 666")
	form.Set("email", "chidinma@example.org")
	form.Set("id-type-0", "NI")
	form.Set("id-system-0", "not a uri")
	form.Set("id-value-0", "1984-NID-77")
	form.Set("preferred", "Ada")
	form.Set("addr-line1", "7 Lake Road")
	form.Set("addr-city", "Dhaka")
	form.Set("language", "bn")
	form.Set("contact-name", "Emeka Okafor")
	form.Set("contact-relationship", "N")
	form.Set("contact-phone", "01711 000 111")
	form.Set("gp", "gp1")
	form.Del("action")
	a = b.post("/patients", form)
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, `id="id-system-0-error"`) || !strings.Contains(a.body, `href="#id-system-0"`) {
		t.Fatalf("validator error: %d\n%.4000s", a.status, a.body)
	}
	form.Set("id-system-0", "urn:oid:2.16.50.1")
	a = b.post("/patients", form)
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/patients/") {
		t.Fatalf("register: %d %s\n%.4000s", a.status, a.location, a.body)
	}
	id := strings.TrimPrefix(a.location, "/patients/")
	p := s.patient(id)
	got := string(p.JSON())
	for _, want := range []string{`"birthDate":"1984-03-09"`, `"family":"Okafor"`, `"given":["Chidinma","Ada"]`, `"prefix":["Mrs"]`,
		`"use":"maiden"`, `"use":"nickname"`, `"code":"NI"`, `"value":"+880 1711 555 666"`, `"system":"email"`,
		`"url":"http://hl7.org/fhir/StructureDefinition/individual-genderIdentity"`, `"code":"446141000124107"`,
		`"code":"bn","system":"urn:ietf:bcp:47"`, `"code":"N"`, `"reference":"Practitioner/gp1"`, `"display":"RAHMAN, Nasrin (Dr)"`} {
		if !strings.Contains(got, want) {
			t.Errorf("stored patient lacks %s:\n%s", want, got)
		}
	}
	if n := s.audited(id); n == 0 {
		t.Error("registering left no audit record")
	}
	// The edit form shows what was stored, under the patient's banner.
	a = b.get("/patients/" + id + "/edit")
	for _, want := range []string{`class="banner`, "OKAFOR, Chidinma Ada (Mrs)", `value="09-Mar-1984"`, `value="Eze"`, `name="version" value="1"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("edit form lacks %q:\n%.3000s", want, a.body)
		}
	}
}

func TestRegisterNeedsTheRight(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("nurse2", "nurse")
	if a := b.get("/patients/new"); a.status != http.StatusForbidden {
		t.Errorf("a nurse opening the registration form: %d", a.status)
	}
	// Nurses may correct demographics (roles.json), not register.
	if a := b.get("/patients/jose/edit"); a.status != http.StatusOK {
		t.Errorf("a nurse opening the demographics form: %d", a.status)
	}
	if a := s.signedIn("auditor1", "auditor").get("/patients/jose/edit"); a.status != http.StatusForbidden {
		t.Errorf("an auditor opening the demographics form: %d", a.status)
	}
	form := url.Values{"csrf": {csrfOf(t, b.get("/").body)}, "name-family-0": {"Roy"}, "gender": {"male"}, "birth": {"1990"}}
	if a := b.post("/patients", form); a.status != http.StatusForbidden {
		t.Errorf("a nurse registering: %d %.1000s", a.status, a.body)
	}
}

func TestRegisterDuplicate(t *testing.T) {
	s := newWorkspaceSite(t)
	s.put(jose)
	b := s.signedIn("clerk2", "registrar")
	form := formValues(b.get("/patients/new").body)
	form.Set("name-family-0", "Garcia")
	form.Set("name-given-0", "Jose Luis")
	form.Set("gender", "male")
	form.Set("birth", "04/03/1980")
	form.Set("phone", "(555) 201 3344")
	form.Set("addr-line1", "12 Oak St")
	form.Set("addr-postal", "1205")
	a := b.post("/patients", form)
	for _, want := range []string{"This patient may already be registered", "What you typed", `href="/patients/jose"`, "Open this patient",
		"GARCÍA, José Luis (Mr)", "GARCIA, Jose Luis", "MRN-0042", "This is a different person", `class="certain"`, "Certain match"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("duplicate warning lacks %q", want)
		}
	}
	if a.status != http.StatusConflict {
		t.Fatalf("duplicate warning: %d\n%.4000s", a.status, a.body)
	}
	if n := s.audited("jose"); n == 0 {
		t.Error("showing José as a candidate left no audit record")
	}
	// Enter (the default button) checks again: still the warning.
	again := formValues(a.body)
	if a := b.post("/patients", again); a.status != http.StatusConflict {
		t.Errorf("saving again without confirming: %d", a.status)
	}
	m := regexp.MustCompile(`name="reviewed" value="([^"]*)"`).FindStringSubmatch(a.body)
	if m == nil || m[1] != "jose" {
		t.Fatalf("confirmation button: %v", m)
	}
	again.Set("reviewed", m[1])
	a = b.post("/patients", again)
	if a.status != http.StatusSeeOther || a.location == "/patients/jose" {
		t.Fatalf("confirmed registration: %d %s %.2000s", a.status, a.location, a.body)
	}
	if n := s.audited(strings.TrimPrefix(a.location, "/patients/")); n == 0 {
		t.Error("the confirmed registration left no audit record")
	}
}

func TestEditConflict(t *testing.T) {
	s := newWorkspaceSite(t)
	// José's gender identity is hidden from the registrar's role: editing
	// must not erase it.
	s.put(strings.Replace(jose, `"gender":"male",`, `"gender":"male","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/individual-genderIdentity",
		"extension":[{"url":"value","valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"33791000087105"}]}}]}],`, 1))
	b := s.signedIn("clerk3", "registrar")
	a := b.get("/patients/jose/edit")
	if a.status != http.StatusOK || strings.Contains(a.body, "Gender identity") || !strings.Contains(a.body, `name="version" value="1"`) {
		t.Fatalf("edit form: %d\n%.3000s", a.status, a.body)
	}
	before := s.audited("jose")
	form := formValues(a.body)
	// Meanwhile someone else changes the phone.
	other := strings.Replace(string(s.patient("jose").JSON()), "555-201-3344", "555-999-0000", 1)
	s.put(other)
	form.Set("addr-line1", "14 Elm Street")
	a = b.post("/patients/jose/edit", form)
	if a.status != http.StatusConflict {
		t.Fatalf("edit after another change: %d\n%.3000s", a.status, a.body)
	}
	for _, want := range []string{"Someone else changed this patient", "555-999-0000", "555-201-3344", "14 Elm Street", "12 Oak Street",
		"changed by them", `name="version" value="2"`, `value="14 Elm Street"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("conflict page lacks %q", want)
		}
	}
	stored := string(s.patient("jose").JSON())
	if !strings.Contains(stored, "555-999-0000") || !strings.Contains(stored, "12 Oak Street") {
		t.Errorf("the conflict overwrote something: %s", stored)
	}
	// Saving again, having seen both, keeps the user's values; what the
	// role does not see stays.
	form = formValues(a.body)
	form.Set("phone", "555-999-0000")
	a = b.post("/patients/jose/edit", form)
	if a.status != http.StatusSeeOther || a.location != "/patients/jose" {
		t.Fatalf("save after the conflict: %d %s\n%.3000s", a.status, a.location, a.body)
	}
	stored = string(s.patient("jose").JSON())
	for _, want := range []string{"14 Elm Street", "555-999-0000", "individual-genderIdentity", "MRN-0042", `"versionId":"3"`} {
		if !strings.Contains(stored, want) {
			t.Errorf("after the edit, the patient lacks %s: %s", want, stored)
		}
	}
	if after := s.audited("jose"); after <= before {
		t.Errorf("audit records about José: %d before the edits, %d after", before, after)
	}
}
