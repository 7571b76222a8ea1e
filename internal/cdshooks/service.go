// Package cdshooks serves the EMR's order safety checks (allergy,
// duplicate therapy or order, drug–drug interaction: internal/clinical/
// checks) as CDS Hooks 2.0 services (https://cds-hooks.hl7.org/2.0/), so
// that another EHR or an app ordering through its own screens gets the
// alerts the EMR's own order screens give:
//
//	GET  /cds-services                  discovery
//	POST /cds-services/order-sign-safety   hook order-sign: every draft order
//	POST /cds-services/order-select-safety hook order-select: the selected draft orders
//
// A CDS client authenticates with the bearer JWT the specification
// describes, signed with the keys of a client registered with
// `emr client add --type jwt`. The patient's data comes from the request's
// prefetch, which the client fills from its own FHIR server, or, when the
// client lends a token of this EMR's authorisation server
// (fhirAuthorization), from this EMR's store, read through the access gate
// as that token's caller and audited. Without either the service answers
// 412, as the specification says. The interaction knowledge
// (ClinicalUseDefinitions) and Medications are the EMR's own.
package cdshooks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/clinical/checks"
	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/smart"
	"github.com/emr-project/emr/internal/store"
)

// Path is where the services are mounted.
const Path = "/cds-services"

// Clients authenticates CDS clients and the FHIR tokens they lend
// (smart.Server).
type Clients interface {
	// CDSClient verifies a client's bearer JWT for serviceURL.
	CDSClient(ctx context.Context, token, serviceURL string) (clientID string, err error)
	// TokenPrincipal verifies an access token of this EMR and returns its caller.
	TokenPrincipal(ctx context.Context, token string) (*access.Principal, error)
}

// Service serves the CDS Hooks services.
type Service struct {
	Store       store.Store
	Gate        *access.Gate
	Definitions *spec.Definitions
	Clients     Clients
	// BaseURL is this server's origin (https://emr.example.org): the
	// services' URLs, which a client's JWT must name as aud.
	BaseURL string
	// FHIRBase is the FHIR API's base URL: a request whose fhirServer is
	// it (or its R4 base) may lend a token of this EMR.
	FHIRBase string
	// Checks are the rules run (checks.Default(0) when nil).
	Checks []checks.Check
	Logger *slog.Logger
	Now    func() time.Time
}

// service is one CDS service of the discovery document.
type service struct {
	ID, Hook, Title, Description string
	Prefetch                     map[string]string
}

var services = []service{
	{ID: "order-sign-safety", Hook: "order-sign", Title: "Order safety checks", Prefetch: prefetch,
		Description: "Allergy, duplicate therapy or order, and drug–drug interaction checks of the orders about to be signed, against the patient's record and each other"},
	{ID: "order-select-safety", Hook: "order-select", Title: "Order safety checks at selection", Prefetch: prefetch,
		Description: "The same checks of the orders just selected, before they are completed and signed"},
	{ID: "preventive-care", Hook: "patient-view", Title: "Preventive care due", Prefetch: reminderPrefetch,
		Description: "The screening and vaccinations the patient is due for: influenza vaccine, blood pressure, colorectal cancer screening, HbA1c with diabetes"},
}

// prefetch are the templates the order services ask for: the patient's
// allergies, and their active orders (for duplicates and interactions)
// with the Medications they name.
var prefetch = map[string]string{
	"allergies":       "AllergyIntolerance?patient={{context.patientId}}",
	"medications":     "MedicationRequest?subject={{context.patientId}}&status=active,on-hold&_include=MedicationRequest:medication",
	"serviceRequests": "ServiceRequest?subject={{context.patientId}}&status=active,on-hold",
}

// patientElement is the element naming the patient in each prefetched type.
var patientElement = map[string]string{"AllergyIntolerance": "patient", "MedicationRequest": "subject", "ServiceRequest": "subject"}

// knowledgeTypes are the types a reference may be resolved to: what a
// drug is made of, never a patient's record.
var knowledgeTypes = []string{"Medication", "Substance"}

// ServeHTTP serves discovery and the services.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, Path), "/")
	if path == "" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "discovery answers GET")
			return
		}
		s.discovery(w)
		return
	}
	id := strings.TrimPrefix(path, "/")
	i := slices.IndexFunc(services, func(sv service) bool { return sv.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "no CDS service "+id)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "a CDS service is called with POST")
		return
	}
	sv := services[i]
	serviceURL := strings.TrimRight(s.BaseURL, "/") + Path + "/" + sv.ID
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cds-services"`)
		writeError(w, http.StatusUnauthorized, "a CDS client sends a bearer JWT signed with its registered keys")
		return
	}
	client, err := s.Clients.CDSClient(r.Context(), token, serviceURL)
	if err != nil {
		if !errors.Is(err, auth.ErrInvalidToken) {
			s.logger().Error("cdshooks: authenticating a client", "err", err)
			writeError(w, http.StatusInternalServerError, "the client could not be checked; the details are in the server log")
			return
		}
		s.logger().Info("cdshooks: client refused", "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="cds-services", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "the client's JWT was refused: "+smart.CauseOf(err))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "the request is larger than 16 MB")
		} else {
			writeError(w, http.StatusBadRequest, "the request could not be read")
		}
		return
	}
	cards, status, err := s.call(r.Context(), sv, client, r, body)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	out, _ := json.Marshal(map[string]any{"cards": cards})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (s *Service) discovery(w http.ResponseWriter) {
	list := make([]any, 0, len(services))
	for _, sv := range services {
		list = append(list, map[string]any{"hook": sv.Hook, "id": sv.ID, "title": sv.Title, "description": sv.Description, "prefetch": sv.Prefetch})
	}
	out, _ := json.Marshal(map[string]any{"services": list})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// hookRequest is the body of a service call (the parts read).
type hookRequest struct {
	Hook              string `json:"hook"`
	HookInstance      string `json:"hookInstance"`
	FHIRServer        string `json:"fhirServer"`
	FHIRAuthorization *struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	} `json:"fhirAuthorization"`
	Context struct {
		UserID      string          `json:"userId"`
		PatientID   string          `json:"patientId"`
		EncounterID string          `json:"encounterId"`
		Selections  []string        `json:"selections"`
		DraftOrders json.RawMessage `json:"draftOrders"`
	} `json:"context"`
	Prefetch map[string]json.RawMessage `json:"prefetch"`
}

// errStatus is a refusal with its HTTP status.
type errStatus struct {
	status int
	msg    string
}

func (e *errStatus) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &errStatus{status: status, msg: fmt.Sprintf(format, args...)}
}

// call runs a service and returns its cards, or the status and reason of
// a refusal. Every call is recorded in the audit log: which client asked
// about which patient, and how it ended.
func (s *Service) call(ctx context.Context, sv service, client string, r *http.Request, body []byte) ([]any, int, error) {
	var patient string
	cards, err := s.cards(ctx, sv, client, body, &patient)
	outcome, detail := audit.Success, ""
	status := http.StatusOK
	var es *errStatus
	switch {
	case err == nil:
	case errors.As(err, &es):
		status, outcome, detail = es.status, audit.MinorFailure, es.msg
	default:
		s.logger().Error("cdshooks: service failed", "service", sv.ID, "err", err)
		status, outcome, detail = http.StatusInternalServerError, audit.SeriousFailure, "internal error"
		err = errors.New("the checks could not run; the details are in the server log")
	}
	e := audit.Entry{Interaction: "operation", Query: "cds-services/" + sv.ID, Outcome: outcome, Detail: detail, Recorded: time.Now(),
		Agent: audit.Agent{Client: client, Address: r.RemoteAddr}, Observer: "emr"}
	if patient != "" {
		e.Patient = "Patient/" + patient
	}
	if aerr := s.Store.AppendAudit(context.WithoutCancel(ctx), audit.Event(e)); aerr != nil && err == nil {
		// Nothing is answered that was not recorded.
		s.logger().Error("cdshooks: audit", "err", aerr)
		return nil, http.StatusInternalServerError, errors.New("the call could not be recorded; the details are in the server log")
	}
	return cards, status, err
}

func (s *Service) cards(ctx context.Context, sv service, client string, body []byte, patient *string) ([]any, error) {
	var req hookRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, refuse(http.StatusBadRequest, "the request is not a CDS Hooks request: %v", err)
	}
	switch {
	case req.Hook != sv.Hook:
		return nil, refuse(http.StatusBadRequest, "service %s answers hook %s, not %q", sv.ID, sv.Hook, req.Hook)
	case req.HookInstance == "" || len(req.HookInstance) > 100:
		return nil, refuse(http.StatusBadRequest, "hookInstance is required (a UUID)")
	case !fhir.ValidID(req.Context.PatientID):
		return nil, refuse(http.StatusBadRequest, "context.patientId is required and must be a FHIR id")
	case req.Context.UserID == "":
		return nil, refuse(http.StatusBadRequest, "context.userId is required")
	case sv.Hook == "patient-view":
		*patient = req.Context.PatientID
		return s.reminderCards(ctx, &req, client)
	case len(req.Context.DraftOrders) == 0:
		return nil, refuse(http.StatusBadRequest, "context.draftOrders is required")
	case sv.Hook == "order-select" && len(req.Context.Selections) == 0:
		return nil, refuse(http.StatusBadRequest, "context.selections is required for order-select")
	}
	*patient = req.Context.PatientID
	bundle, err := fhir.ParseResource(req.Context.DraftOrders)
	if err != nil || bundle.Type() != "Bundle" {
		return nil, refuse(http.StatusBadRequest, "context.draftOrders must be a Bundle")
	}
	r4in := isR4(bundle)
	drafts, urls, err := resourcesOf(bundle, r4in)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "context.draftOrders: %v", err)
	}
	var orders []int // the drafts asked about, by index
	for i, d := range drafts {
		if t := d.Type(); t != "MedicationRequest" && t != "ServiceRequest" {
			continue
		}
		if !forPatient(d, "subject", req.Context.PatientID) {
			return nil, refuse(http.StatusBadRequest, "draft order %s is not for context.patientId", orderName(d, urls[i]))
		}
		if sv.Hook == "order-sign" || slices.Contains(req.Context.Selections, d.Type()+"/"+d.ID()) || slices.Contains(req.Context.Selections, urls[i]) {
			orders = append(orders, i)
		}
	}
	for _, sel := range req.Context.Selections {
		found := false
		for i, d := range drafts {
			if (d.Type() == "MedicationRequest" || d.Type() == "ServiceRequest") && (sel == d.Type()+"/"+d.ID() || sel == urls[i]) {
				found = true
			}
		}
		if !found {
			return nil, refuse(http.StatusBadRequest, "selection %q is no MedicationRequest or ServiceRequest of context.draftOrders", sel)
		}
	}
	data, err := s.source(ctx, &req, client, r4in, drafts)
	if err != nil {
		return nil, err
	}
	run := s.Checks
	if run == nil {
		run = checks.Default(0)
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	cards := []any{}
	// A check that cannot read a drug's codes would pass it: say so, of
	// the orders asked about and of the other drafts they are checked
	// against.
	for _, o := range drafts {
		if o.Type() != "MedicationRequest" && o.Type() != "ServiceRequest" {
			continue
		}
		if ok, err := readable(ctx, data, o); err != nil {
			return nil, err
		} else if !ok {
			cards = append(cards, unchecked("The safety checks could not run on "+orderName(o, "")+": it names no code this service can read (a medication by reference must come with its Medication)."))
		}
	}
	active, err := data.ActiveMedications(ctx, req.Context.PatientID)
	if err != nil {
		return nil, err
	}
	var unreadable int
	for _, m := range active {
		if ok, err := readable(ctx, data, m); err != nil {
			return nil, err
		} else if !ok {
			unreadable++
		}
	}
	if unreadable > 0 {
		cards = append(cards, unchecked(fmt.Sprintf("%d of the patient's active prescriptions name no code this service can read: the new orders were not checked against them.", unreadable)))
	}
	for _, i := range orders {
		o := drafts[i]
		src := &withDrafts{Source: data, drafts: drafts, proposed: i}
		alerts, err := checks.RunAll(ctx, run, checks.Context{PatientID: req.Context.PatientID, Proposed: o, Now: now, Data: src})
		if err != nil {
			return nil, err
		}
		for _, a := range alerts {
			cards = append(cards, card(a, o))
		}
	}
	return cards, nil
}

// orderName names a draft order in a message.
func orderName(o fhir.Resource, fullURL string) string {
	if o.ID() != "" {
		return o.Type() + "/" + o.ID()
	}
	if fullURL != "" {
		return fullURL
	}
	return "a " + o.Type()
}

// forPatient reports whether res's element names Patient/id, as a relative
// or an absolute reference.
func forPatient(res fhir.Resource, element, id string) bool {
	typ, rid, ok := datatype.SplitRef(datatype.RefOf(res[element]))
	return ok && typ == "Patient" && rid == id
}

// readable reports whether the checks can read what res orders: a
// ServiceRequest's code, a MedicationRequest's medication codes (its
// concept, or the Medication it refers to).
func readable(ctx context.Context, src checks.Source, res fhir.Resource) (bool, error) {
	switch res.Type() {
	case "ServiceRequest":
		return len(datatype.Codings(datatype.Obj(res["code"])["concept"])) > 0, nil
	case "MedicationRequest":
		med := datatype.Obj(res["medication"])
		if len(datatype.Codings(med["concept"])) > 0 {
			return true, nil
		}
		ref := datatype.RefOf(med)
		if ref == "" {
			return false, nil
		}
		var m fhir.Resource
		if id, ok := strings.CutPrefix(ref, "#"); ok {
			for _, c := range datatype.List(res["contained"]) {
				if cm := datatype.Obj(c); datatype.Str(cm, "id") == id {
					m = fhir.Resource(cm)
				}
			}
		} else {
			var err error
			m, err = src.Resolve(ctx, ref)
			if fhir.IsKind(err, fhir.KindNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
		}
		return m != nil && m.Type() == "Medication" && len(datatype.Codings(m["code"])) > 0, nil
	}
	return true, nil
}

// unchecked is a warning card: a check that could not run.
func unchecked(summary string) map[string]any {
	return map[string]any{
		"uuid":      newUUID(),
		"summary":   truncate("Safety checks incomplete: "+summary, 139),
		"detail":    summary,
		"indicator": "warning",
		"source":    map[string]any{"label": "emr order safety checks"},
	}
}

// source is where the checks read the patient's data: the prefetch when
// it holds every template's answer, else the EMR's store as the caller of
// the token the client lends, which must be the client's own.
func (s *Service) source(ctx context.Context, req *hookRequest, client string, r4in bool, drafts []fhir.Resource) (checks.Source, error) {
	knowledge := &checks.StoreSource{Store: s.Store, Definitions: s.Definitions}
	complete := true
	var held []fhir.Resource
	var missing []string
	for _, key := range slices.Sorted(maps.Keys(prefetch)) {
		raw, ok := req.Prefetch[key]
		if !ok {
			complete = false
			missing = append(missing, key)
			continue
		}
		if string(raw) == "null" {
			continue // CDS Hooks 2.0: the search found nothing
		}
		b, err := fhir.ParseResource(raw)
		if err != nil || b.Type() != "Bundle" || partial(b) {
			// An error, or a page of a longer answer: not the whole list.
			complete = false
			missing = append(missing, key)
			continue
		}
		list, _, err := resourcesOf(b, r4in || isR4(b))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "prefetch %s: %v", key, err)
		}
		for _, res := range list {
			el, ok := patientElement[res.Type()]
			if !ok {
				held = append(held, res) // a Medication included
				continue
			}
			if !forPatient(res, el, req.Context.PatientID) {
				return nil, refuse(http.StatusBadRequest, "prefetch %s holds %s/%s, which is not context.patientId's", key, res.Type(), res.ID())
			}
			res[el] = map[string]any{"reference": "Patient/" + req.Context.PatientID}
			held = append(held, res)
		}
	}
	if complete {
		return &prefetched{patient: &checks.MemorySource{Resources: held}, knowledge: knowledge, resolvable: append(slices.Clone(held), drafts...)}, nil
	}
	pctx, err := s.lent(ctx, req, client, "the prefetch is incomplete ("+strings.Join(missing, ", ")+")")
	if err != nil {
		return nil, err
	}
	// Checks run on what the caller may see. A token that cannot see the
	// patient, or sees only part of what the checks read (consent,
	// labels, scopes), would make them pass on what it does not see.
	for _, typ := range []string{"AllergyIntolerance", "MedicationRequest", "ServiceRequest"} {
		if !access.Unlimited(s.Gate.Limit(pctx, 's', []string{typ})) {
			return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization sees only part of the patients' %s resources; send the prefetch instead", typ)
		}
	}
	if limited, err := s.consentLimits(ctx, req.Context.PatientID); err != nil {
		return nil, err
	} else if limited {
		return nil, refuse(http.StatusPreconditionFailed, "a Consent of the patient limits who may see their record; send the prefetch instead")
	}
	if _, err := s.readPatient(pctx, req.Context.PatientID, client); err != nil {
		return nil, err
	}
	return &gated{s: s, ctx: pctx, knowledge: knowledge, client: client, drafts: drafts}, nil
}

// lent returns ctx with the caller of the token a client lends
// (fhirAuthorization) as principal: a token of this EMR's authorisation
// server, issued to the client itself, for this EMR's FHIR API. why says
// why the service needs it.
func (s *Service) lent(ctx context.Context, req *hookRequest, client, why string) (context.Context, error) {
	if req.FHIRAuthorization == nil || req.FHIRAuthorization.AccessToken == "" {
		return nil, refuse(http.StatusPreconditionFailed, "%s and no fhirAuthorization lends access to this EMR's data", why)
	}
	base := strings.TrimRight(req.FHIRServer, "/")
	if base != strings.TrimRight(s.FHIRBase, "/") && base != strings.TrimRight(s.FHIRBase, "/")+"/R4" {
		return nil, refuse(http.StatusPreconditionFailed, "fhirServer %q is not this EMR's FHIR API; send the prefetch instead", req.FHIRServer)
	}
	p, err := s.Clients.TokenPrincipal(ctx, req.FHIRAuthorization.AccessToken)
	if err != nil {
		return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization: the access token was refused")
	}
	if p.Client != client {
		return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization: the access token was issued to another client")
	}
	return access.WithPrincipal(ctx, p), nil
}

// readPatient reads the patient as the lent token's caller, audited; one
// the caller cannot see is 412.
func (s *Service) readPatient(pctx context.Context, id, client string) (*store.Version, error) {
	var v *store.Version
	gr := access.Request{Interaction: "read", Type: "Patient", ID: id, Query: "cds-hooks", Agent: audit.Agent{Client: client}}
	err := s.Gate.Read(pctx, gr, func() ([]access.Touched, error) {
		var err error
		v, err = s.Gate.Guard(pctx, s.Store).Read(pctx, "Patient", id)
		return []access.Touched{access.TouchedVersion(v)}, err
	})
	if err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) || fhir.IsKind(err, fhir.KindForbidden) {
			return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization does not reach Patient/%s in this EMR", id)
		}
		return nil, err
	}
	return v, nil
}

// consentLimits reports whether the patient has an active Consent, which
// may hide part of their record from a caller: only that it exists is
// read, by the service itself.
func (s *Service) consentLimits(ctx context.Context, patient string) (bool, error) {
	q, err := search.Parse(s.Definitions, "Consent", url.Values{"patient": {"Patient/" + patient}, "status": {"active"}, "_count": {"1"}, "_total": {"none"}}, search.ParseOptions{})
	if err != nil {
		return false, err
	}
	res, err := s.Store.Search(ctx, q)
	if err != nil {
		return false, err
	}
	return len(res.Matches) > 0, nil
}

// partial reports whether a searchset Bundle is less than the whole
// answer: a next page, a total above its matches, or an outcome entry.
func partial(b fhir.Resource) bool {
	for _, l := range datatype.List(b["link"]) {
		if datatype.Str(datatype.Obj(l), "relation") == "next" {
			return true
		}
	}
	matches := 0
	for _, e := range datatype.List(b["entry"]) {
		switch datatype.Str(datatype.Obj(datatype.Obj(e)["search"]), "mode") {
		case "outcome":
			return true
		case "include":
		default:
			matches++
		}
	}
	if total, ok := datatype.Number(b["total"]); ok && int(total) > matches {
		return true
	}
	return false
}

// prefetched reads the patient's data from the prefetch, resolves
// references among the request's resources only (a client's reference
// names its server's resource, not this EMR's), and reads the interaction
// knowledge from the store.
type prefetched struct {
	patient    *checks.MemorySource
	knowledge  *checks.StoreSource
	resolvable []fhir.Resource
}

func (p *prefetched) Allergies(ctx context.Context, id string) ([]fhir.Resource, error) {
	return p.patient.Allergies(ctx, id)
}
func (p *prefetched) ActiveMedications(ctx context.Context, id string) ([]fhir.Resource, error) {
	return p.patient.ActiveMedications(ctx, id)
}
func (p *prefetched) OpenServiceRequests(ctx context.Context, id string) ([]fhir.Resource, error) {
	return p.patient.OpenServiceRequests(ctx, id)
}
func (p *prefetched) Interactions(ctx context.Context) ([]fhir.Resource, error) {
	return p.knowledge.Interactions(ctx)
}
func (p *prefetched) Resolve(_ context.Context, ref string) (fhir.Resource, error) {
	typ, id, ok := datatype.SplitRef(ref)
	if ok && slices.Contains(knowledgeTypes, typ) {
		for _, r := range p.resolvable {
			if r.Type() == typ && r.ID() == id {
				return r, nil
			}
		}
	}
	return nil, fhir.Errorf(fhir.KindNotFound, "%s is not in the request", ref)
}

// gated reads the patient's data from the store as the lent token's
// caller, each read decided and audited by the gate.
type gated struct {
	s         *Service
	ctx       context.Context
	knowledge *checks.StoreSource
	client    string
	drafts    []fhir.Resource
}

func (g *gated) read(typ string, fn func(src checks.Source) ([]fhir.Resource, error)) ([]fhir.Resource, error) {
	var out []fhir.Resource
	req := access.Request{Interaction: "search-type", Type: typ, Query: "cds-hooks", Agent: audit.Agent{Client: g.client}}
	err := g.s.Gate.Read(g.ctx, req, func() ([]access.Touched, error) {
		src := &checks.StoreSource{Store: g.s.Gate.Guard(g.ctx, g.s.Store), Definitions: g.s.Definitions}
		var err error
		if out, err = fn(src); err != nil {
			return nil, err
		}
		touched := make([]access.Touched, 0, len(out))
		for _, r := range out {
			touched = append(touched, access.Touched{Type: r.Type(), ID: r.ID(), Patient: audit.PatientOf(r)})
		}
		return touched, nil
	})
	if fhir.IsKind(err, fhir.KindForbidden) || fhir.IsKind(err, fhir.KindUnauthorized) {
		return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization does not allow searching %s", typ)
	}
	return out, err
}

func (g *gated) Allergies(_ context.Context, id string) ([]fhir.Resource, error) {
	return g.read("AllergyIntolerance", func(src checks.Source) ([]fhir.Resource, error) { return src.Allergies(g.ctx, id) })
}
func (g *gated) ActiveMedications(_ context.Context, id string) ([]fhir.Resource, error) {
	return g.read("MedicationRequest", func(src checks.Source) ([]fhir.Resource, error) { return src.ActiveMedications(g.ctx, id) })
}
func (g *gated) OpenServiceRequests(_ context.Context, id string) ([]fhir.Resource, error) {
	return g.read("ServiceRequest", func(src checks.Source) ([]fhir.Resource, error) { return src.OpenServiceRequests(g.ctx, id) })
}
func (g *gated) Interactions(ctx context.Context) ([]fhir.Resource, error) {
	return g.knowledge.Interactions(ctx)
}

// Resolve reads a Medication or Substance: from the draft orders, or
// this EMR's store as the token's caller.
func (g *gated) Resolve(_ context.Context, ref string) (fhir.Resource, error) {
	typ, id, ok := datatype.SplitRef(ref)
	if !ok || !slices.Contains(knowledgeTypes, typ) {
		return nil, fhir.Errorf(fhir.KindNotFound, "%s is not a Medication or Substance", ref)
	}
	for _, r := range g.drafts {
		if r.Type() == typ && r.ID() == id {
			return r, nil
		}
	}
	var out fhir.Resource
	gr := access.Request{Interaction: "read", Type: typ, ID: id, Query: "cds-hooks", Agent: audit.Agent{Client: g.client}}
	err := g.s.Gate.Read(g.ctx, gr, func() ([]access.Touched, error) {
		v, err := g.s.Gate.Guard(g.ctx, g.s.Store).Read(g.ctx, typ, id)
		if err != nil {
			return nil, err
		}
		out = v.Resource
		return []access.Touched{access.TouchedVersion(v)}, nil
	})
	return out, err
}

// withDrafts is a source for one proposed order that counts the other
// draft orders of the request as ordered already: two new orders that
// interact, or repeat each other, are found as they would be once signed.
type withDrafts struct {
	checks.Source
	drafts   []fhir.Resource
	proposed int // the index in drafts of the order checked
}

func (w *withDrafts) others(typ string) []fhir.Resource {
	var out []fhir.Resource
	for i, d := range w.drafts {
		if d.Type() == typ && i != w.proposed {
			out = append(out, d)
		}
	}
	return out
}

func (w *withDrafts) ActiveMedications(ctx context.Context, id string) ([]fhir.Resource, error) {
	list, err := w.Source.ActiveMedications(ctx, id)
	return append(list, w.others("MedicationRequest")...), err
}

func (w *withDrafts) OpenServiceRequests(ctx context.Context, id string) ([]fhir.Resource, error) {
	list, err := w.Source.OpenServiceRequests(ctx, id)
	return append(list, w.others("ServiceRequest")...), err
}

// isR4 reports whether a Bundle's resources are R4, as most CDS clients
// send (CDS Hooks names no FHIR version): R4's MedicationRequest has
// medication[x] where R5 has a CodeableReference, and R4's
// ServiceRequest.code is a CodeableConcept where R5's is a
// CodeableReference.
func isR4(b fhir.Resource) bool {
	for _, e := range datatype.List(b["entry"]) {
		res := datatype.Obj(datatype.Obj(e)["resource"])
		switch res["resourceType"] {
		case "MedicationRequest":
			if _, ok := res["medicationCodeableConcept"]; ok {
				return true
			}
			if _, ok := res["medicationReference"]; ok {
				return true
			}
		case "ServiceRequest":
			code := datatype.Obj(res["code"])
			if _, ok := code["coding"]; ok {
				return true
			}
			if _, ok := code["text"]; ok {
				return true
			}
		}
	}
	return false
}

// resourcesOf returns a Bundle's entries' resources, in R5, and their
// fullUrls.
func resourcesOf(b fhir.Resource, fromR4 bool) ([]fhir.Resource, []string, error) {
	var out []fhir.Resource
	var urls []string
	for i, e := range datatype.List(b["entry"]) {
		res := fhir.Resource(datatype.Obj(datatype.Obj(e)["resource"]))
		if res == nil || res.Type() == "" {
			continue
		}
		if fromR4 {
			conv, _, err := r4.ToR5(res)
			if err != nil {
				return nil, nil, fmt.Errorf("entry %d: %v", i, err)
			}
			res = conv
		}
		out = append(out, res)
		urls = append(urls, datatype.Str(datatype.Obj(e), "fullUrl"))
	}
	return out, urls, nil
}

// card is the CDS Hooks card of an alert on order.
func card(a checks.Alert, order fhir.Resource) map[string]any {
	indicator := "info"
	switch a.Severity {
	case checks.High:
		indicator = "critical"
	case checks.Moderate:
		indicator = "warning"
	}
	detail := a.Message()
	if a.Detail != "" {
		detail += "\n\n" + a.Detail
	}
	if len(a.Implicated) > 0 {
		detail += "\n\nRecorded: " + strings.Join(a.Implicated, ", ")
	}
	c := map[string]any{
		"uuid":      newUUID(),
		"summary":   truncate(a.Message(), 139),
		"detail":    escapeMarkdown(detail),
		"indicator": indicator,
		"source": map[string]any{"label": "emr order safety checks",
			"topic": map[string]any{"system": a.Code.System, "code": a.Code.Code, "display": a.Code.Display}},
		"overrideReasons": overrideReasons,
	}
	if order.ID() != "" {
		c["selectionBehavior"] = "at-most-one"
		c["suggestions"] = []any{map[string]any{
			"label": "Remove this " + map[string]string{"MedicationRequest": "prescription", "ServiceRequest": "order"}[order.Type()],
			"uuid":  newUUID(),
			"actions": []any{map[string]any{"type": "delete", "description": "Remove " + order.Type() + "/" + order.ID(),
				"resourceId": order.Type() + "/" + order.ID()}},
		}}
	}
	return c
}

// truncate cuts s to at most n characters (not bytes).
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// escapeMarkdown keeps names from the record or the client from being
// read as Markdown in a card's detail.
func escapeMarkdown(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune("\\`*_{}[]()<>#+-!|~", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// overrideReasons are offered with every card: why a clinician goes on.
var overrideReasons = []any{
	reason("patient-aware", "Patient is aware of the risk and has tolerated the drug before"),
	reason("benefit-outweighs-risk", "Benefit outweighs the risk"),
	reason("will-monitor", "Will monitor the patient"),
	reason("alert-incorrect", "The alert does not apply to this patient"),
}

func reason(code, display string) map[string]any {
	return map[string]any{"system": "https://github.com/emr-project/emr/cds-override-reason", "code": code, "display": display}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func writeError(w http.ResponseWriter, status int, msg string) {
	out, _ := json.Marshal(map[string]any{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// SMARTClients is Clients of the EMR's SMART authorisation server: a CDS
// client is a client registered there with its keys (type jwt).
type SMARTClients struct{ Server *smart.Server }

// CDSClient implements Clients.
func (c SMARTClients) CDSClient(ctx context.Context, token, serviceURL string) (string, error) {
	cl, err := c.Server.CDSClient(ctx, token, serviceURL)
	if err != nil {
		return "", err
	}
	return cl.ID, nil
}

// TokenPrincipal implements Clients.
func (c SMARTClients) TokenPrincipal(ctx context.Context, token string) (*access.Principal, error) {
	return c.Server.TokenPrincipal(ctx, token)
}
