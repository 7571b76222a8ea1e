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
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/auth"
	"github.com/emr-project/emr/internal/clinical/checks"
	"github.com/emr-project/emr/internal/clinical/datatype"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/fhir/spec"
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
	// selected reports whether a draft order is one the hook asks about.
	selected func(req *hookRequest, order fhir.Resource) bool
}

var services = []service{
	{ID: "order-sign-safety", Hook: "order-sign", Title: "Order safety checks",
		Description: "Allergy, duplicate therapy or order, and drug–drug interaction checks of the orders about to be signed",
		selected:    func(*hookRequest, fhir.Resource) bool { return true }},
	{ID: "order-select-safety", Hook: "order-select", Title: "Order safety checks at selection",
		Description: "The same checks of the orders just selected, before they are completed and signed",
		selected: func(req *hookRequest, order fhir.Resource) bool {
			return slices.Contains(req.Context.Selections, order.Type()+"/"+order.ID())
		}},
}

// prefetch are the templates every service asks for: the patient's
// allergies, and their active orders (for duplicates and interactions).
var prefetch = map[string]string{
	"allergies":       "AllergyIntolerance?patient={{context.patientId}}",
	"medications":     "MedicationRequest?subject={{context.patientId}}&status=active,on-hold",
	"serviceRequests": "ServiceRequest?subject={{context.patientId}}&status=active,on-hold",
}

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
		s.logger().Info("cdshooks: client refused", "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="cds-services", error="invalid_token"`)
		msg := "the client's JWT was refused"
		if errors.Is(err, auth.ErrInvalidToken) {
			msg += ": " + strings.TrimPrefix(err.Error(), auth.ErrInvalidToken.Error()+": ")
		}
		writeError(w, http.StatusUnauthorized, msg)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the request is larger than 16 MB")
		return
	}
	cards, status, err := s.call(r.Context(), sv, client, body)
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
		list = append(list, map[string]any{"hook": sv.Hook, "id": sv.ID, "title": sv.Title, "description": sv.Description, "prefetch": prefetch})
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
// a refusal.
func (s *Service) call(ctx context.Context, sv service, client string, body []byte) ([]any, int, error) {
	cards, err := s.cards(ctx, sv, client, body)
	if err == nil {
		return cards, http.StatusOK, nil
	}
	var es *errStatus
	if errors.As(err, &es) {
		return nil, es.status, es
	}
	s.logger().Error("cdshooks: service failed", "service", sv.ID, "err", err)
	return nil, http.StatusInternalServerError, errors.New("the checks could not run; the details are in the server log")
}

func (s *Service) cards(ctx context.Context, sv service, client string, body []byte) ([]any, error) {
	var req hookRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, refuse(http.StatusBadRequest, "the request is not a CDS Hooks request: %v", err)
	}
	switch {
	case req.Hook != sv.Hook:
		return nil, refuse(http.StatusBadRequest, "service %s answers hook %s, not %q", sv.ID, sv.Hook, req.Hook)
	case req.HookInstance == "":
		return nil, refuse(http.StatusBadRequest, "hookInstance is required")
	case !fhir.ValidID(req.Context.PatientID):
		return nil, refuse(http.StatusBadRequest, "context.patientId is required and must be a FHIR id")
	case req.Context.UserID == "":
		return nil, refuse(http.StatusBadRequest, "context.userId is required")
	case len(req.Context.DraftOrders) == 0:
		return nil, refuse(http.StatusBadRequest, "context.draftOrders is required")
	}
	bundle, err := fhir.ParseResource(req.Context.DraftOrders)
	if err != nil || bundle.Type() != "Bundle" {
		return nil, refuse(http.StatusBadRequest, "context.draftOrders must be a Bundle")
	}
	r4in := isR4(bundle)
	orders, err := resourcesOf(bundle, r4in)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "context.draftOrders: %v", err)
	}
	data, err := s.source(ctx, &req, r4in)
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
	for _, order := range orders {
		if t := order.Type(); (t != "MedicationRequest" && t != "ServiceRequest") || !sv.selected(&req, order) {
			continue
		}
		if datatype.RefOf(order["subject"]) != "Patient/"+req.Context.PatientID {
			return nil, refuse(http.StatusBadRequest, "draft order %s/%s is not for context.patientId", order.Type(), order.ID())
		}
		alerts, err := checks.RunAll(ctx, run, checks.Context{PatientID: req.Context.PatientID, Proposed: order, Now: now, Data: data})
		if err != nil {
			return nil, err
		}
		for _, a := range alerts {
			cards = append(cards, card(a, order))
		}
	}
	return cards, nil
}

// source is where the checks read the patient's data: the prefetch when
// it holds every template's answer, else the EMR's store as the caller of
// the lent token.
func (s *Service) source(ctx context.Context, req *hookRequest, r4in bool) (checks.Source, error) {
	knowledge := &checks.StoreSource{Store: s.Store, Definitions: s.Definitions}
	complete := true
	var held []fhir.Resource
	for key := range prefetch {
		raw, ok := req.Prefetch[key]
		if !ok || string(raw) == "null" {
			complete = false
			continue
		}
		b, err := fhir.ParseResource(raw)
		if err != nil || b.Type() != "Bundle" {
			return nil, refuse(http.StatusBadRequest, "prefetch %s must be a searchset Bundle", key)
		}
		list, err := resourcesOf(b, r4in || isR4(b))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "prefetch %s: %v", key, err)
		}
		held = append(held, list...)
	}
	if complete {
		return &prefetched{patient: &checks.MemorySource{Resources: held}, knowledge: knowledge}, nil
	}
	if req.FHIRAuthorization == nil || req.FHIRAuthorization.AccessToken == "" {
		return nil, refuse(http.StatusPreconditionFailed, "the prefetch is incomplete (%s) and no fhirAuthorization lends access to this EMR's data", strings.Join(slices.Sorted(maps.Keys(prefetch)), ", "))
	}
	base := strings.TrimRight(req.FHIRServer, "/")
	if base != strings.TrimRight(s.FHIRBase, "/") && base != strings.TrimRight(s.FHIRBase, "/")+"/R4" {
		return nil, refuse(http.StatusPreconditionFailed, "fhirServer %q is not this EMR's FHIR API; send the prefetch instead", req.FHIRServer)
	}
	p, err := s.Clients.TokenPrincipal(ctx, req.FHIRAuthorization.AccessToken)
	if err != nil {
		return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization: the access token was refused")
	}
	pctx := access.WithPrincipal(ctx, p)
	// Checks run on what the caller may see. A token that cannot see the
	// patient at all would make every check pass on no data: refused.
	if _, err := s.Gate.Guard(pctx, s.Store).Read(pctx, "Patient", req.Context.PatientID); err != nil {
		if fhir.IsKind(err, fhir.KindNotFound) || fhir.IsKind(err, fhir.KindGone) || fhir.IsKind(err, fhir.KindForbidden) {
			return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization does not reach Patient/%s in this EMR", req.Context.PatientID)
		}
		return nil, err
	}
	return &gated{s: s, ctx: pctx, knowledge: knowledge, hook: req.HookInstance}, nil
}

// prefetched reads the patient's data from the prefetch, and knowledge
// and Medications from the store.
type prefetched struct {
	patient   *checks.MemorySource
	knowledge *checks.StoreSource
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
func (p *prefetched) Resolve(ctx context.Context, ref string) (fhir.Resource, error) {
	if r, err := p.patient.Resolve(ctx, ref); err == nil {
		return r, nil
	}
	return p.knowledge.Resolve(ctx, ref)
}

// gated reads the patient's data from the store as the lent token's
// caller, each read decided and audited by the gate.
type gated struct {
	s         *Service
	ctx       context.Context
	knowledge *checks.StoreSource
	hook      string
}

func (g *gated) read(typ string, fn func(src checks.Source) ([]fhir.Resource, error)) ([]fhir.Resource, error) {
	var out []fhir.Resource
	req := access.Request{Interaction: "search-type", Type: typ, Query: "cds-hooks hookInstance=" + g.hook}
	err := g.s.Gate.Read(g.ctx, req, func() ([]access.Touched, error) {
		src := &checks.StoreSource{Store: g.s.Gate.Guard(g.ctx, g.s.Store), Definitions: g.s.Definitions}
		var err error
		if out, err = fn(src); err != nil {
			return nil, err
		}
		touched := make([]access.Touched, 0, len(out))
		for _, r := range out {
			touched = append(touched, access.Touched{Type: r.Type(), ID: r.ID(), Patient: patientOf(r)})
		}
		return touched, nil
	})
	if fhir.IsKind(err, fhir.KindForbidden) || fhir.IsKind(err, fhir.KindUnauthorized) {
		return nil, refuse(http.StatusPreconditionFailed, "fhirAuthorization does not allow searching %s", typ)
	}
	return out, err
}

func patientOf(r fhir.Resource) string {
	for _, k := range []string{"patient", "subject"} {
		if ref := datatype.RefOf(r[k]); strings.HasPrefix(ref, "Patient/") {
			return ref
		}
	}
	return ""
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
func (g *gated) Resolve(ctx context.Context, ref string) (fhir.Resource, error) {
	return g.knowledge.Resolve(ctx, ref)
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

// resourcesOf returns a Bundle's entries' resources, in R5.
func resourcesOf(b fhir.Resource, fromR4 bool) ([]fhir.Resource, error) {
	var out []fhir.Resource
	for i, e := range datatype.List(b["entry"]) {
		res := fhir.Resource(datatype.Obj(datatype.Obj(e)["resource"]))
		if res == nil || res.Type() == "" {
			continue
		}
		if fromR4 {
			conv, _, err := r4.ToR5(res)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %v", i, err)
			}
			res = conv
		}
		out = append(out, res)
	}
	return out, nil
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
	summary := a.Message()
	if len(summary) > 140 {
		summary = summary[:137] + "..."
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
		"summary":   summary,
		"detail":    detail,
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
				"resourceId": []any{order.Type() + "/" + order.ID()}}},
		}}
	}
	return c
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
