package web

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// Documents: scanned letters, outside records and pictures, kept as a
// Binary (the bytes) and a DocumentReference (what, whose, when, by
// whom, and the bytes' type, size and SHA-1 as a FHIR Attachment says),
// written together in one audited transaction. Only PDF, PNG and JPEG
// are taken, told by their first bytes, not by the file's name: a file
// that claims to be a PDF but is not is refused.

// maxDocument is the largest document taken (10 MB).
const maxDocument = 10 << 20

// maxBody bounds every request body of the workspace: a document and its
// form. A larger request is refused before it is read (limitBody).
const maxBody = maxDocument + 1<<20

// documentTypes are the kinds of document the upload form offers (LOINC
// document ontology), by catalog key.
var documentTypes = []struct{ Code, Key string }{
	{"34133-9", "doctype.summary"},
	{"11488-4", "doctype.consult"},
	{"18842-5", "doctype.discharge"},
	{"57133-1", "doctype.referral"},
	{"11502-2", "doctype.lab"},
	{"18748-4", "doctype.imaging"},
	{"51851-4", "doctype.admin"},
}

// sniffDocument tells the content type from the bytes: PDF, PNG or JPEG,
// "" for anything else.
func sniffDocument(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	}
	return ""
}

type documentRow struct {
	ID, Title, Type, Date, Author, ContentType, Size string
}

type documentsData struct {
	Hidden bool // the user's role may not see documents
	Rows   []documentRow
	Types  []struct{ Code, Name string }
	Error  string
	// MaxBytes and TooLarge let the page's script refuse a file too large
	// at its field before sending it (the server refuses it again).
	MaxBytes int
	TooLarge string
	// Form keeps what the user chose when the upload is refused.
	Form struct{ Type, Title, Date string }
}

// documents is GET /patients/{id}/documents: the list and the upload form.
func (ws *Workspace) documents(w http.ResponseWriter, r *http.Request) error {
	return ws.documentsPage(w, r, http.StatusOK, nil)
}

// documentsPage renders the list, with the upload refused by problem
// (nil for none) and status.
func (ws *Workspace) documentsPage(w http.ResponseWriter, r *http.Request, status int, problem error) error {
	v, shown, err := ws.readPatient(w, r, "documents.title", func(p *patientRead, v *view) error {
		l := v.Locale
		data := &documentsData{Hidden: p.hidden("DocumentReference"), MaxBytes: maxDocument, TooLarge: l.T("documents.error-size", maxDocument>>20)}
		for _, t := range documentTypes {
			data.Types = append(data.Types, struct{ Code, Name string }{t.Code, l.T(t.Key)})
		}
		if problem != nil {
			data.Error = problem.Error()
			data.Form.Type, data.Form.Title, data.Form.Date = r.FormValue("type"), r.FormValue("title"), r.FormValue("date")
		}
		docs, err := p.search("DocumentReference", url.Values{"_sort": {"-date"}, "_count": {"200"}})
		if err != nil {
			return err
		}
		for _, d := range docs {
			data.Rows = append(data.Rows, l.documentRowOf(d))
		}
		v.Data = data
		return nil
	})
	if err != nil || !shown {
		return err
	}
	ws.render(w, status, "documents", v)
	return nil
}

func (l *Locale) documentRowOf(d *store.Version) documentRow {
	res := d.Resource
	row := documentRow{ID: d.ID, Type: conceptText(res["type"]), Date: l.dateTimeText(str(res, "date"))}
	var authors []string
	for _, a := range asList(res["author"]) {
		ref, _ := a.(map[string]any)
		if s := str(ref, "display"); s != "" {
			authors = append(authors, s)
		} else if s := str(ref, "reference"); s != "" {
			authors = append(authors, s)
		}
	}
	row.Author = strings.Join(authors, ", ")
	if att := attachmentOf(res); att != nil {
		if c := str(att, "creation"); c != "" {
			row.Date = l.dateTimeText(c)
		}
		row.Title = str(att, "title")
		row.ContentType = str(att, "contentType")
		if n, ok := numberOf(att["size"]); ok {
			row.Size = l.sizeText(int64(n))
		}
	}
	if row.Title == "" {
		row.Title = str(res, "description")
	}
	if row.Title == "" {
		row.Title = row.Type
	}
	return row
}

// sizeText writes a byte count in kB or MB.
func (l *Locale) sizeText(n int64) string {
	if n >= 1<<20 {
		s, _ := numberText(float64(n*10/(1<<20)) / 10)
		return l.T("size.mb", l.Decimal(s))
	}
	return l.T("size.kb", l.Number(max(1, (n+1023)/1024)))
}

// attachmentOf is a DocumentReference's first attachment.
func attachmentOf(doc map[string]any) map[string]any {
	for _, c := range asList(doc["content"]) {
		cm, _ := c.(map[string]any)
		if att, _ := cm["attachment"].(map[string]any); att != nil {
			return att
		}
	}
	return nil
}

// uploadRefused is an upload's problem, shown next to the form.
type uploadRefused struct {
	status  int
	message string
}

func (e *uploadRefused) Error() string { return e.message }

// uploadDocument is POST /patients/{id}/documents (multipart: file, type,
// title, date): the Binary and its DocumentReference in one transaction
// through the gate, then back to the list.
func (ws *Workspace) uploadDocument(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ctx := r.Context()
	if ok, err := ws.visible(ctx, id); err != nil {
		return err
	} else if !ok {
		return fhir.Errorf(fhir.KindForbidden, "the record is restricted")
	}
	l := LocaleFor(r)
	content, name, err := readUpload(r, l)
	var refused *uploadRefused
	if errors.As(err, &refused) {
		return ws.documentsPage(w, r, refused.status, refused)
	} else if err != nil {
		return err
	}
	contentType := sniffDocument(content)
	typeCode := r.FormValue("type")
	typeName := ""
	for _, t := range documentTypes {
		if t.Code == typeCode {
			typeName = l.T(t.Key)
		}
	}
	if typeName == "" {
		return ws.documentsPage(w, r, http.StatusBadRequest, &uploadRefused{message: l.T("documents.error-type")})
	}
	title := strings.TrimSpace(r.FormValue("title"))
	if title == "" {
		title = name
	}
	// DocumentReference.date is when the reference was made (an instant);
	// the date the user gives is the document's own (attachment.creation).
	date := ws.now().UTC().Format(time.RFC3339)
	attachment := map[string]any{"contentType": "", "url": "", "size": strconv.Itoa(len(content)), "hash": "", "title": title}
	if d := strings.TrimSpace(r.FormValue("date")); d != "" {
		day := parseWrittenDate(d)
		if day == "" {
			return ws.documentsPage(w, r, http.StatusBadRequest, &uploadRefused{message: l.T("documents.error-date")})
		}
		attachment["creation"] = day
	}
	pr := access.PrincipalFrom(ctx)
	author := map[string]any{"display": pr.User}
	if pr.FHIRUser != "" {
		author["reference"] = pr.FHIRUser
	}
	sum := sha1.Sum(content)
	binID, docID := store.NewID(), store.NewID()
	binary := fhir.Resource{"resourceType": "Binary", "id": binID, "contentType": contentType,
		"securityContext": map[string]any{"reference": "DocumentReference/" + docID},
		"data":            base64.StdEncoding.EncodeToString(content)}
	doc := fhir.Resource{"resourceType": "DocumentReference", "id": docID, "status": "current",
		"type":    map[string]any{"coding": []any{map[string]any{"system": loinc, "code": typeCode, "display": typeName}}, "text": typeName},
		"subject": map[string]any{"reference": "Patient/" + id},
		"date":    date,
		"author":  []any{author},
		"content": []any{map[string]any{"attachment": attachment}}}
	attachment["contentType"], attachment["url"], attachment["hash"] = contentType, "Binary/"+binID, base64.StdEncoding.EncodeToString(sum[:])
	err = ws.write(r, "create", "DocumentReference", func(tx store.Tx) ([]access.Touched, error) {
		bv, _, err := tx.Update(binary, 0)
		if err != nil {
			return nil, err
		}
		dv, _, err := tx.Update(doc, 0)
		if err != nil {
			return nil, err
		}
		bt := access.TouchedVersion(bv)
		bt.Patient = "Patient/" + id
		return []access.Touched{bt, access.TouchedVersion(dv)}, nil
	})
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/patients/"+url.PathEscape(id)+"/documents/"+url.PathEscape(docID), http.StatusSeeOther)
	return nil
}

// readUpload reads the form's file, refusing what is too large or not a
// PDF, PNG or JPEG by its bytes.
func readUpload(r *http.Request, l *Locale) (content []byte, name string, err error) {
	f, h, err := r.FormFile("file")
	if errors.Is(err, http.ErrMissingFile) {
		return nil, "", &uploadRefused{http.StatusBadRequest, l.T("documents.error-nofile")}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, "", &uploadRefused{http.StatusRequestEntityTooLarge, l.T("documents.error-size", maxDocument>>20)}
	}
	if err != nil {
		return nil, "", &uploadRefused{http.StatusBadRequest, l.T("documents.error-form")}
	}
	defer f.Close()
	content, err = io.ReadAll(io.LimitReader(f, maxDocument+1))
	if err != nil {
		return nil, "", err
	}
	switch {
	case len(content) > maxDocument:
		return nil, "", &uploadRefused{http.StatusRequestEntityTooLarge, l.T("documents.error-size", maxDocument>>20)}
	case len(content) == 0:
		return nil, "", &uploadRefused{http.StatusBadRequest, l.T("documents.error-nofile")}
	case sniffDocument(content) == "":
		return nil, "", &uploadRefused{http.StatusUnsupportedMediaType, l.T("documents.error-kind", h.Filename)}
	}
	return content, h.Filename, nil
}

func extensionOf(contentType string) string {
	switch contentType {
	case "application/pdf":
		return ".pdf"
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	}
	return ""
}

// limitBody refuses a request body larger than maxBody with a page that
// says so, before anything reads it; bodies sent without a length are cut
// at maxBody.
func (ws *Workspace) limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			v := ws.view(r, "error.title")
			v.Message = v.T("documents.error-size", maxDocument>>20)
			w.Header().Set("Connection", "close")
			ws.render(w, http.StatusRequestEntityTooLarge, "error", v)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		h.ServeHTTP(w, r)
	})
}

type documentData struct {
	Row       documentRow
	BinaryURL string
	Image     bool
}

// document is GET /patients/{id}/documents/{doc}: the document's details
// and its content inline (an image, or a PDF in a sandboxed frame).
func (ws *Workspace) document(w http.ResponseWriter, r *http.Request) error {
	return ws.patientPage(w, r, "document", "documents.title", func(p *patientRead, v *view) error {
		doc, err := p.patientDocument(r.PathValue("doc"))
		if err != nil {
			return err
		}
		p.touch(doc)
		data := &documentData{Row: v.Locale.documentRowOf(doc)}
		if att := attachmentOf(doc.Resource); att != nil {
			if bin, ok := strings.CutPrefix(str(att, "url"), "Binary/"); ok {
				data.BinaryURL = "/patients/" + url.PathEscape(p.id) + "/binary/" + url.PathEscape(bin)
			}
			data.Image = strings.HasPrefix(str(att, "contentType"), "image/")
		}
		v.Title = data.Row.Title + " · " + v.Banner.Name
		v.Data = data
		return nil
	})
}

// patientDocument reads a DocumentReference of the patient the user may
// see; another patient's is not found.
func (p *patientRead) patientDocument(id string) (*store.Version, error) {
	doc, err := p.st.Read(p.ctx, "DocumentReference", id)
	if err != nil {
		return nil, err
	}
	if audit.PatientOf(doc.Resource) != "Patient/"+p.id {
		return nil, fhir.Errorf(fhir.KindNotFound, "no such document")
	}
	return doc, nil
}

// binary is GET /patients/{id}/binary/{bin}: the bytes of a document of
// the patient, served only when a DocumentReference of that patient the
// user may see points at them, with their own type, inline, never
// sniffed, and sandboxed so that a PDF's scripts cannot act as the page.
// It is audited as the read of the Binary and its DocumentReference.
func (ws *Workspace) binary(w http.ResponseWriter, r *http.Request) error {
	id, binID := r.PathValue("id"), r.PathValue("bin")
	ctx := r.Context()
	if ok, err := ws.visible(ctx, id); err != nil {
		return err
	} else if !ok {
		return fhir.Errorf(fhir.KindForbidden, "the record is restricted")
	}
	var content []byte
	var contentType string
	err := ws.read(r, access.Request{Interaction: "read", Type: "Binary", ID: binID}, func(st store.Store) ([]access.Touched, error) {
		p := &patientRead{ctx: ctx, ws: ws, st: st, id: id}
		docs, err := p.find("DocumentReference", url.Values{"_count": {"1000"}})
		if err != nil {
			return nil, err
		}
		var doc *store.Version
		for _, d := range docs {
			if att := attachmentOf(d.Resource); att != nil && str(att, "url") == "Binary/"+binID {
				doc = d
			}
		}
		if doc == nil {
			return nil, fhir.Errorf(fhir.KindNotFound, "no document of Patient/%s holds Binary/%s", id, binID)
		}
		bin, err := st.Read(ctx, "Binary", binID)
		if err != nil {
			return nil, err
		}
		content, err = base64.StdEncoding.DecodeString(str(bin.Resource, "data"))
		if err != nil {
			return nil, err
		}
		contentType = sniffDocument(content)
		if contentType == "" {
			contentType = "application/octet-stream"
		}
		bt := access.TouchedVersion(bin)
		bt.Patient = "Patient/" + id
		return []access.Touched{access.TouchedVersion(doc), bt}, nil
	})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	// ?download=1 saves the file instead: some browsers' PDF viewers do
	// not run inside a sandbox, and a saved copy opens in the system's.
	if r.URL.Query().Get("download") == "1" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "document-" + binID + extensionOf(contentType)}))
	} else {
		h.Set("Content-Disposition", "inline")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(content)))
	w.Write(content)
	return nil
}
