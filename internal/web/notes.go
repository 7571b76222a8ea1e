package web

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Progress notes are R5 Compositions (docs/visits.md says why not
// DocumentReference): one section per heading of the template the note
// was started from, each section's text its narrative.
//
//   - A draft is a Composition with status preliminary, written as the
//     clinician types (static/notes.js saves 1.5 s after typing stops and
//     every 10 s while it goes on): a reload, a lost connection or a
//     time-out loses at most those seconds, and the page warns while a
//     save is outstanding. Only its author edits it.
//   - Signing makes it final, with a legal attester (the author and the
//     time): its text is locked from then on.
//   - An amendment is a new version with status amended, the new text, a
//     further attester and a note giving the reason; the signed original
//     stays readable as the earlier version.
//   - An addendum is a new Composition that relatesTo the original
//     (type appends), drafted and signed like any note.
//
// Every save names the version it was made on: a second tab or a
// colleague writing the same note gets a conflict, never a silent
// overwrite.

func (ws *Workspace) registerNotes(page pageFunc) {
	page("POST /patients/{id}/visits/{enc}/notes", ws.newNote)
	page("GET /patients/{id}/notes/{note}", ws.note)
	page("POST /patients/{id}/notes/{note}/draft", ws.saveDraft)
	page("POST /patients/{id}/notes/{note}/sign", ws.signNote)
	page("GET /patients/{id}/notes/{note}/amend", ws.amendForm)
	page("POST /patients/{id}/notes/{note}/amend", ws.amendNote)
	page("POST /patients/{id}/notes/{note}/addendum", ws.newAddendum)
	page("GET /admin/note-templates", ws.templatesPage)
	page("POST /admin/note-templates", ws.saveTemplate)
}

const (
	progressNoteCode  = "11506-3"
	attestationSystem = "http://hl7.org/fhir/composition-attestation-mode"
	emptyReasonSystem = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
	noteTemplateKind  = "note-template"
	// maxNoteText bounds one section's text: a dictated novel is refused
	// with a message rather than stored.
	maxNoteText = 100_000
)

// noteTemplate is a kind of note: its name and the headings (sections)
// it has. An administrator edits them (/admin/note-templates); they are
// infrastructure records of kind noteTemplateKind, keyed by Key.
type noteTemplate struct {
	Key      string       `json:"key"`
	Name     string       `json:"name"`
	Sections []noteHeader `json:"sections"`
}

// noteHeader is one section: its heading, LOINC section code (optional)
// and the hint shown under the heading while writing.
type noteHeader struct {
	Title  string `json:"title"`
	Code   string `json:"code,omitempty"`
	Prompt string `json:"prompt,omitempty"`
}

// defaultTemplates are offered until an administrator saves templates:
// SOAP, with the LOINC codes of the four sections, in the user's words.
func defaultTemplates(l *Locale) []noteTemplate {
	return []noteTemplate{{Key: "soap", Name: l.T("note.soap"), Sections: []noteHeader{
		{Title: l.T("note.soap-s"), Code: "61150-9", Prompt: l.T("note.soap-s-hint")},
		{Title: l.T("note.soap-o"), Code: "61149-1", Prompt: l.T("note.soap-o-hint")},
		{Title: l.T("note.soap-a"), Code: "51848-0", Prompt: l.T("note.soap-a-hint")},
		{Title: l.T("note.soap-p"), Code: "18776-5", Prompt: l.T("note.soap-p-hint")},
	}}}
}

func (ws *Workspace) noteTemplates(r *http.Request) ([]noteTemplate, error) {
	recs, err := ws.Store.ListRecords(r.Context(), noteTemplateKind, "")
	if err != nil {
		return nil, err
	}
	var out []noteTemplate
	for _, rec := range recs {
		var t noteTemplate
		if json.Unmarshal(rec.Value, &t) == nil && len(t.Sections) > 0 {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return defaultTemplates(LocaleFor(r)), nil
	}
	return out, nil
}

// noteRow is one note in a list.
type noteRow struct {
	ID, Title, Status, StatusCode, Author, When string
}

func (l *Locale) noteRowOf(v *store.Version) noteRow {
	c := v.Resource
	row := noteRow{ID: v.ID, Title: str(c, "title"), StatusCode: str(c, "status"), Status: l.T("note.status-" + str(c, "status"))}
	var authors []string
	for _, a := range listOf(c, "author") {
		if d := str(asMap(a), "display"); d != "" {
			authors = append(authors, d)
		}
	}
	row.Author = strings.Join(authors, ", ")
	row.When = l.dateTimeText(str(c, "date"))
	return row
}

// newNote is POST /patients/{id}/visits/{enc}/notes: a draft from the
// chosen template, opened for writing.
func (ws *Workspace) newNote(w http.ResponseWriter, r *http.Request) error {
	id, encID := r.PathValue("id"), r.PathValue("enc")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	templates, err := ws.noteTemplates(r)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(templates, func(t noteTemplate) bool { return t.Key == r.PostFormValue("template") })
	if i < 0 {
		return ws.visitPage(w, r, http.StatusBadRequest, LocaleFor(r).T("note.error-template"))
	}
	t := templates[i]
	note := fhir.Resource{"resourceType": "Composition", "id": store.NewID(), "status": "preliminary",
		"type":      map[string]any{"coding": []any{map[string]any{"system": loinc, "code": progressNoteCode, "display": "Progress note"}}, "text": t.Name},
		"subject":   []any{map[string]any{"reference": "Patient/" + id}},
		"encounter": map[string]any{"reference": "Encounter/" + encID},
		"date":      ws.now().UTC().Format(time.RFC3339),
		"author":    []any{principalActor(r)},
		"title":     t.Name}
	texts := make([]string, len(t.Sections))
	note["section"] = noteSections(t.Sections, texts, false)
	err = ws.write(r, "create", "Composition", func(tx store.Tx) ([]access.Touched, error) {
		if _, err := ownedIn(tx, id, "Encounter", encID); err != nil {
			return nil, err
		}
		v, _, err := tx.Update(note, 0)
		return touchedFor(id, v), err
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, notePath(id, note.ID()), http.StatusSeeOther)
	return nil
}

func notePath(patient, note string) string {
	return "/patients/" + url.PathEscape(patient) + "/notes/" + url.PathEscape(note)
}

// noteSections builds the sections of a note: a section's text is its
// narrative; an empty one says it is not started (a draft) or is left
// out (signed: final says nothing was written there).
func noteSections(headers []noteHeader, texts []string, final bool) []any {
	var out []any
	for i, h := range headers {
		s := map[string]any{"title": h.Title}
		if h.Code != "" {
			s["code"] = map[string]any{"coding": []any{map[string]any{"system": loinc, "code": h.Code}}, "text": h.Title}
		}
		text := ""
		if i < len(texts) {
			text = strings.TrimRight(texts[i], " \t\r\n")
		}
		switch {
		case text != "":
			s["text"] = map[string]any{"status": "additional", "div": narrativeOf(text)}
		case final:
			continue
		default:
			s["emptyReason"] = map[string]any{"coding": []any{map[string]any{"system": emptyReasonSystem, "code": "notstarted"}}}
		}
		out = append(out, s)
	}
	return out
}

// narrativeOf writes text as XHTML: a paragraph per blank-line-separated
// block, a <br/> per line break within one, everything escaped.
func narrativeOf(text string) string {
	var b strings.Builder
	b.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml">`)
	text = xmlText(strings.ReplaceAll(text, "\r\n", "\n"))
	for _, para := range regexp.MustCompile(`\n\s*\n`).Split(text, -1) {
		if strings.TrimSpace(para) == "" {
			continue
		}
		b.WriteString("<p>")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br/>")
			}
			b.WriteString(html.EscapeString(line))
		}
		b.WriteString("</p>")
	}
	b.WriteString("</div>")
	return b.String()
}

// xmlText drops the control characters other than tab and line breaks
// (those XML 1.0 does not allow in text, which would make a narrative
// ill-formed, and the C1 controls it discourages) and U+FFFE and U+FFFF:
// pasted from elsewhere, they are never meant.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0x7F && r <= 0x84, r >= 0x86 && r <= 0x9F:
			return -1
		}
		return r
	}, s)
}

var (
	paraEnd = regexp.MustCompile(`(?i)</p\s*>`)
	lineEnd = regexp.MustCompile(`(?i)<br\s*/?>`)
	anyTag  = regexp.MustCompile(`<[^>]*>`)
)

// textOf reads a narrative back as the plain text narrativeOf wrote (and
// as readable text from any other XHTML narrative).
func textOf(div string) string {
	s := paraEnd.ReplaceAllString(div, "\n\n")
	s = lineEnd.ReplaceAllString(s, "\n")
	s = html.UnescapeString(anyTag.ReplaceAllString(s, ""))
	return strings.TrimSpace(s)
}

// noteSection is one section on the page: heading, hint and text.
type noteSection struct {
	Field, Title, Prompt, Text string
}

type noteData struct {
	Row      noteRow
	ID       string
	Version  int64
	Versions []int64 // the earlier versions, for a signed note
	Editable bool
	Sections []noteSection
	Signed   []string // "name · time" of each attester
	Notes    []string // amendment reasons
	Addenda  []noteRow
	Appends  string // the note an addendum belongs to
	Visit    string
	Problem  string
	Current  bool // the current version is shown
}

// note is GET /patients/{id}/notes/{note}: the editor for the author of
// a draft, the signed text for everyone else (?version=n an earlier one).
func (ws *Workspace) note(w http.ResponseWriter, r *http.Request) error {
	return ws.notePage(w, r, http.StatusOK, "", nil)
}

func (ws *Workspace) notePage(w http.ResponseWriter, r *http.Request, status int, problem string, typed []string) error {
	noteID := r.PathValue("note")
	data := &noteData{ID: noteID, Problem: problem}
	name := "note"
	v, shown, err := ws.readPatient(w, r, "note.title", func(p *patientRead, v *view) error {
		c, err := p.patientResource("Composition", noteID)
		if err != nil {
			return err
		}
		data.Current = true
		if s := r.URL.Query().Get("version"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 || n > c.VersionID {
				return notFound
			}
			if n != c.VersionID {
				if c, err = p.st.VRead(p.ctx, "Composition", noteID, n); err != nil {
					return err
				}
				data.Current = false
			}
		}
		p.touch(c)
		data.Row, data.Version = v.noteRowOf(c), c.VersionID
		data.Visit = strings.TrimPrefix(str(asMap(c.Resource["encounter"]), "reference"), "Encounter/")
		data.Editable = data.Current && str(c.Resource, "status") == "preliminary" && isAuthor(c.Resource, r)
		data.Sections = shownSections(c.Resource, typed)
		for _, a := range listOf(c.Resource, "attester") {
			am := asMap(a)
			data.Signed = append(data.Signed, str(asMap(am["party"]), "display")+" · "+v.dateTimeText(str(am, "time")))
		}
		for _, n := range listOf(c.Resource, "note") {
			data.Notes = append(data.Notes, str(asMap(n), "text"))
		}
		for _, rel := range listOf(c.Resource, "relatesTo") {
			if str(asMap(rel), "type") == "appends" {
				data.Appends = strings.TrimPrefix(str(asMap(asMap(rel)["resourceReference"]), "reference"), "Composition/")
			}
		}
		if str(c.Resource, "status") == "amended" {
			if data.Versions, err = signedVersions(p, noteID, c.VersionID); err != nil {
				return err
			}
		}
		addenda, err := p.search("Composition", url.Values{"related": {"Composition/" + noteID}, "_sort": {"date"}, "_count": {"50"}})
		if err != nil {
			return err
		}
		for _, a := range addenda {
			data.Addenda = append(data.Addenda, v.noteRowOf(a))
		}
		if data.Editable {
			templates, _ := ws.noteTemplates(r)
			hints := map[string]string{}
			for _, t := range templates {
				for _, h := range t.Sections {
					hints[h.Title] = h.Prompt
				}
			}
			for i := range data.Sections {
				data.Sections[i].Prompt = hints[data.Sections[i].Title]
			}
		}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, name, v)
	return nil
}

// signedVersions lists the versions of a note, older than current, that
// were signed (final or amended), oldest first: the drafts before the
// signature are not the note anyone signed. They are the newest versions
// (a signed note only takes amendments), so the history is read from the
// newest until a draft.
func signedVersions(p *patientRead, noteID string, current int64) ([]int64, error) {
	var out []int64
	q := store.HistoryQuery{Type: "Composition", ID: noteID, Count: 50}
	for {
		page, err := p.st.History(p.ctx, q)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			switch s := str(v.Resource, "status"); {
			case v.VersionID >= current:
			case s == "final" || s == "amended":
				out = append(out, v.VersionID)
			default:
				slices.Reverse(out)
				return out, nil
			}
		}
		if !page.More || len(page.Versions) == 0 {
			slices.Reverse(out)
			return out, nil
		}
		q.Before = page.Versions[len(page.Versions)-1].Seq
	}
}

// isAuthor reports whether the signed-in user wrote the note.
func isAuthor(c fhir.Resource, r *http.Request) bool {
	me := principalActor(r)
	for _, a := range listOf(c, "author") {
		am := asMap(a)
		if ref := str(me, "reference"); ref != "" && str(am, "reference") == ref {
			return true
		}
		if str(am, "reference") == "" && str(am, "display") == str(me, "display") {
			return true
		}
	}
	return false
}

// typedSections reads the section texts the form posted (s0, s1, …),
// as many as the note has.
func typedSections(r *http.Request, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		out[i] = r.PostFormValue("s" + strconv.Itoa(i))
		if len(out[i]) > maxNoteText {
			return nil, fhir.Errorf(fhir.KindInvalid, "section %d is longer than %d characters", i+1, maxNoteText)
		}
	}
	return out, nil
}

// headersOf are the sections of a stored note as headers to write again.
func headersOf(c fhir.Resource) []noteHeader {
	var out []noteHeader
	for _, s := range listOf(c, "section") {
		sec := asMap(s)
		h := noteHeader{Title: str(sec, "title")}
		for _, cd := range listOf(asMap(sec["code"]), "coding") {
			if str(asMap(cd), "system") == loinc {
				h.Code = str(asMap(cd), "code")
			}
		}
		out = append(out, h)
	}
	return out
}

// noteChange is what a save, sign or amendment does to the current
// version of a note, inside the write; it answers a conflict (fhir
// KindConflict) when the note is not in a state it may change.
type noteChange func(c fhir.Resource, texts []string) error

// changeNote reads the form's texts and version and applies change to
// the note in one audited write on that version.
func (ws *Workspace) changeNote(r *http.Request, interaction string, change noteChange) (*store.Version, []string, error) {
	id, noteID := r.PathValue("id"), r.PathValue("note")
	if err := ws.mayWrite(r, id); err != nil {
		return nil, nil, err
	}
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || version < 1 {
		return nil, nil, fhir.Errorf(fhir.KindInvalid, "the form names no version of the note")
	}
	var written *store.Version
	var typed []string
	err = ws.write(r, interaction, "Composition", func(tx store.Tx) ([]access.Touched, error) {
		cur, err := ownedIn(tx, id, "Composition", noteID)
		if err != nil {
			return nil, err
		}
		c := cur.Resource
		if typed, err = typedSections(r, len(listOf(c, "section"))); err != nil {
			return nil, err
		}
		if err := change(c, typed); err != nil {
			return nil, err
		}
		written, _, err = tx.Update(c, version)
		return touchedFor(id, written), err
	})
	return written, typed, err
}

// draftChange keeps the draft's text: only its author, only while it is
// a draft.
func draftChange(r *http.Request, now time.Time) noteChange {
	return func(c fhir.Resource, texts []string) error {
		if str(c, "status") != "preliminary" {
			return fhir.Errorf(fhir.KindConflict, "the note is signed: its text is locked")
		}
		if !isAuthor(c, r) {
			return fhir.Errorf(fhir.KindForbidden, "only the author edits a draft")
		}
		c["section"] = noteSections(headersOf(c), texts, false)
		c["date"] = now.Format(time.RFC3339)
		return nil
	}
}

// saveDraft is POST /patients/{id}/notes/{note}/draft. The autosave
// script asks with X-Autosave and gets JSON (the new version, or why
// not); a form posted without the script comes back to the editor.
func (ws *Workspace) saveDraft(w http.ResponseWriter, r *http.Request) error {
	l := LocaleFor(r)
	now := ws.now().UTC()
	v, typed, err := ws.changeNote(r, "update", draftChange(r, now))
	if r.Header.Get("X-Autosave") != "" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		switch {
		case err == nil:
			fmt.Fprintf(w, `{"version":%d,"saved":%q}`, v.VersionID, l.T("note.saved-at", l.DateTime(now.Local())))
		case fhir.IsKind(err, fhir.KindPreconditionFailed), fhir.IsKind(err, fhir.KindConflict):
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, `{"error":%q}`, l.T("note.error-changed"))
		case fhir.IsKind(err, fhir.KindInvalid), fhir.IsKind(err, fhir.KindForbidden):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, err.Error())
		default:
			return err
		}
		return nil
	}
	return ws.afterNoteChange(w, r, err, typed, "note.error-changed")
}

// afterNoteChange goes back to the note after a change, or shows the
// editor again with what was typed and why it was not kept.
func (ws *Workspace) afterNoteChange(w http.ResponseWriter, r *http.Request, err error, typed []string, conflictKey string) error {
	l := LocaleFor(r)
	switch {
	case fhir.IsKind(err, fhir.KindPreconditionFailed), fhir.IsKind(err, fhir.KindConflict):
		return ws.notePage(w, r, http.StatusConflict, l.T(conflictKey), typed)
	case fhir.IsKind(err, fhir.KindInvalid):
		return ws.notePage(w, r, http.StatusBadRequest, err.Error(), typed)
	case err != nil:
		return err
	}
	http.Redirect(w, r, notePath(r.PathValue("id"), r.PathValue("note")), http.StatusSeeOther)
	return nil
}

// signNote is POST /patients/{id}/notes/{note}/sign: the text as posted
// becomes final, attested by its author now.
func (ws *Workspace) signNote(w http.ResponseWriter, r *http.Request) error {
	now := ws.now().UTC()
	_, typed, err := ws.changeNote(r, "update", func(c fhir.Resource, texts []string) error {
		if err := draftChange(r, now)(c, texts); err != nil {
			return err
		}
		if !slices.ContainsFunc(texts, func(t string) bool { return strings.TrimSpace(t) != "" }) {
			return fhir.Errorf(fhir.KindInvalid, "%s", LocaleFor(r).T("note.error-empty"))
		}
		c["status"] = "final"
		c["section"] = noteSections(headersOf(c), texts, true)
		c["attester"] = append(listOf(c, "attester"), attestation(r, now))
		return nil
	})
	return ws.afterNoteChange(w, r, err, typed, "note.error-changed")
}

func attestation(r *http.Request, now time.Time) map[string]any {
	return map[string]any{"mode": map[string]any{"coding": []any{map[string]any{"system": attestationSystem, "code": "legal", "display": "Legal"}}},
		"time": now.Format(time.RFC3339), "party": principalActor(r)}
}

// amendForm is GET /patients/{id}/notes/{note}/amend: the signed text to
// correct, and the reason to give.
func (ws *Workspace) amendForm(w http.ResponseWriter, r *http.Request) error {
	return ws.amendPage(w, r, http.StatusOK, "", nil, "")
}

func (ws *Workspace) amendPage(w http.ResponseWriter, r *http.Request, status int, problem string, typed []string, reason string) error {
	noteID := r.PathValue("note")
	data := &noteData{ID: noteID, Problem: problem}
	v, shown, err := ws.readPatient(w, r, "note.amend-title", func(p *patientRead, v *view) error {
		c, err := p.patientResource("Composition", noteID)
		if err != nil {
			return err
		}
		p.touch(c)
		if s := str(c.Resource, "status"); s != "final" && s != "amended" {
			return fhir.Errorf(fhir.KindInvalid, "%s", v.T("note.error-not-signed"))
		}
		data.Row, data.Version, data.Current = v.noteRowOf(c), c.VersionID, true
		data.Sections = shownSections(c.Resource, typed)
		data.Notes = []string{reason}
		return nil
	})
	if err != nil || !shown {
		return err
	}
	v.Data = data
	ws.render(w, status, "amend", v)
	return nil
}

// amendNote is POST /patients/{id}/notes/{note}/amend: a signed note's
// corrected text as its next version, with the reason and a new
// attestation; the signed original is the version before.
func (ws *Workspace) amendNote(w http.ResponseWriter, r *http.Request) error {
	l := LocaleFor(r)
	now := ws.now().UTC()
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	_, typed, err := ws.changeNote(r, "update", func(c fhir.Resource, texts []string) error {
		if s := str(c, "status"); s != "final" && s != "amended" {
			return fhir.Errorf(fhir.KindConflict, "only a signed note is amended")
		}
		if reason == "" {
			return fhir.Errorf(fhir.KindInvalid, "%s", l.T("note.error-reason"))
		}
		if !slices.ContainsFunc(texts, func(t string) bool { return strings.TrimSpace(t) != "" }) {
			return fhir.Errorf(fhir.KindInvalid, "%s", l.T("note.error-empty"))
		}
		c["status"] = "amended"
		// A section left empty by the amendment stays a heading saying so.
		sections := noteSections(headersOf(c), texts, false)
		for _, s := range sections {
			if sm := asMap(s); sm["emptyReason"] != nil {
				sm["emptyReason"] = map[string]any{"coding": []any{map[string]any{"system": emptyReasonSystem, "code": "withheld"}}}
			}
		}
		c["section"] = sections
		c["attester"] = append(listOf(c, "attester"), attestation(r, now))
		me := principalActor(r)
		c["note"] = append(listOf(c, "note"), map[string]any{"authorString": str(me, "display"), "time": now.Format(time.RFC3339),
			"text": l.T("note.amended-because", reason)})
		return nil
	})
	if err != nil && (fhir.IsKind(err, fhir.KindInvalid) || fhir.IsKind(err, fhir.KindConflict) || fhir.IsKind(err, fhir.KindPreconditionFailed)) {
		msg := err.Error()
		if !fhir.IsKind(err, fhir.KindInvalid) {
			msg = l.T("note.error-changed")
		}
		return ws.amendPage(w, r, http.StatusConflict, msg, typed, reason)
	}
	return ws.afterNoteChange(w, r, err, typed, "note.error-changed")
}

// newAddendum is POST /patients/{id}/notes/{note}/addendum: a draft that
// appends to a signed note, opened for writing.
func (ws *Workspace) newAddendum(w http.ResponseWriter, r *http.Request) error {
	id, noteID := r.PathValue("id"), r.PathValue("note")
	if err := ws.mayWrite(r, id); err != nil {
		return err
	}
	l := LocaleFor(r)
	var added fhir.Resource
	err := ws.write(r, "create", "Composition", func(tx store.Tx) ([]access.Touched, error) {
		orig, err := ownedIn(tx, id, "Composition", noteID)
		if err != nil {
			return nil, err
		}
		if s := str(orig.Resource, "status"); s != "final" && s != "amended" {
			return nil, fhir.Errorf(fhir.KindConflict, "only a signed note takes an addendum")
		}
		title := l.T("note.addendum-to", str(orig.Resource, "title"))
		added = fhir.Resource{"resourceType": "Composition", "id": store.NewID(), "status": "preliminary",
			"type": orig.Resource["type"], "subject": orig.Resource["subject"],
			"date":   ws.now().UTC().Format(time.RFC3339),
			"author": []any{principalActor(r)}, "title": title,
			"relatesTo": []any{map[string]any{"type": "appends", "resourceReference": map[string]any{"reference": "Composition/" + noteID}}},
			"section":   noteSections([]noteHeader{{Title: l.T("note.addendum")}}, nil, false)}
		if enc := orig.Resource["encounter"]; enc != nil {
			added["encounter"] = enc
		}
		v, _, err := tx.Update(added, 0)
		return touchedFor(id, v), err
	})
	if fhir.IsKind(err, fhir.KindConflict) {
		return ws.notePage(w, r, http.StatusConflict, l.T("note.error-not-signed"), nil)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, notePath(id, added.ID()), http.StatusSeeOther)
	return nil
}

type templatesData struct {
	Templates []noteTemplate
	Problem   string
	Saved     string
}

// templatesPage is GET /admin/note-templates: the note templates, each
// editable, and a blank one to add. Administrators only.
func (ws *Workspace) templatesPage(w http.ResponseWriter, r *http.Request) error {
	return ws.renderTemplates(w, r, http.StatusOK, "", "")
}

func (ws *Workspace) renderTemplates(w http.ResponseWriter, r *http.Request, status int, problem, saved string) error {
	if err := adminOnly(r); err != nil {
		return err
	}
	templates, err := ws.noteTemplates(r)
	if err != nil {
		return err
	}
	v := ws.view(r, "note.templates-title")
	v.Data = &templatesData{Templates: append(templates, noteTemplate{}), Problem: problem, Saved: saved}
	ws.render(w, status, "note-templates", v)
	return nil
}

func adminOnly(r *http.Request) error {
	if pr := access.PrincipalFrom(r.Context()); pr == nil || pr.Role != "admin" {
		return fhir.Errorf(fhir.KindForbidden, "only an administrator edits note templates")
	}
	return nil
}

var templateKey = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// saveTemplate is POST /admin/note-templates: one template's name and
// sections, one per line as "Heading | LOINC code | hint" (code and hint
// optional).
func (ws *Workspace) saveTemplate(w http.ResponseWriter, r *http.Request) error {
	if err := adminOnly(r); err != nil {
		return err
	}
	l := LocaleFor(r)
	t := noteTemplate{Key: strings.TrimSpace(r.PostFormValue("key")), Name: strings.TrimSpace(r.PostFormValue("name"))}
	for _, line := range strings.Split(r.PostFormValue("sections"), "\n") {
		parts := strings.SplitN(line, "|", 3)
		h := noteHeader{Title: strings.TrimSpace(parts[0])}
		if h.Title == "" {
			continue
		}
		if len(parts) > 1 {
			h.Code = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 {
			h.Prompt = strings.TrimSpace(parts[2])
		}
		t.Sections = append(t.Sections, h)
	}
	switch {
	case !templateKey.MatchString(t.Key):
		return ws.renderTemplates(w, r, http.StatusBadRequest, l.T("note.error-key"), "")
	case t.Name == "" || len(t.Sections) == 0:
		return ws.renderTemplates(w, r, http.StatusBadRequest, l.T("note.error-template-empty"), "")
	}
	ctx := r.Context()
	// The first save replaces the built-in defaults: keep them as records
	// too, so saving one template does not make the others disappear.
	if recs, err := ws.Store.ListRecords(ctx, noteTemplateKind, ""); err != nil {
		return err
	} else if len(recs) == 0 {
		for _, d := range defaultTemplates(l) {
			if d.Key != t.Key {
				value, _ := json.Marshal(d)
				if _, err := ws.Store.PutRecord(ctx, &store.Record{Kind: noteTemplateKind, Key: d.Key, Value: value}, store.AnyVersion); err != nil {
					return err
				}
			}
		}
	}
	value, _ := json.Marshal(t)
	if _, err := ws.Store.PutRecord(ctx, &store.Record{Kind: noteTemplateKind, Key: t.Key, Value: value}, store.AnyVersion); err != nil {
		return err
	}
	pr := access.PrincipalFrom(ctx)
	ev := audit.Event(audit.Entry{Category: audit.CategorySecurityAlert, Interaction: "note-template-changed", Subject: pr.User, Type: "Basic", ID: t.Key,
		Outcome: audit.Success, Observer: "emr", Agent: audit.Agent{User: pr.User, Address: clientAddr(r)}})
	if err := ws.Store.AppendAudit(ctx, ev); err != nil {
		return err
	}
	return ws.renderTemplates(w, r, http.StatusOK, "", l.T("note.template-saved", t.Name))
}

// shownSections are a note's sections as the form shows them: each one's
// text from the Composition, or what the clinician typed in its place
// (typed, by section, when a save was refused and the form comes back).
func shownSections(c fhir.Resource, typed []string) []noteSection {
	var out []noteSection
	for i, s := range listOf(c, "section") {
		sec := asMap(s)
		ns := noteSection{Field: "s" + strconv.Itoa(i), Title: str(sec, "title"), Text: textOf(str(asMap(sec["text"]), "div"))}
		if i < len(typed) {
			ns.Text = typed[i]
		}
		out = append(out, ns)
	}
	return out
}
