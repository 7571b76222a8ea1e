package critical_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/clinical/critical"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
	"github.com/emr-project/emr/internal/fhir/validate"
	"github.com/emr-project/emr/internal/search"
	"github.com/emr-project/emr/internal/store"
)

// A review nobody acknowledged in time is marked overdue and passed to
// the team that covers, once, audited as the EMR's duty, whatever the
// patient's Consent keeps from the staff; one acknowledged, or not yet
// due, is left alone.
func TestEscalate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	pat := r.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType": "Patient", "name": [{"family": "Roe"}]}`)["id"].(string)
	prac := r.do(t, http.MethodPost, "/fhir/Practitioner", `{"resourceType": "Practitioner", "name": [{"family": "Able", "given": ["Alice"]}]}`)["id"].(string)
	sr := r.do(t, http.MethodPost, "/fhir/ServiceRequest", `{"resourceType": "ServiceRequest", "status": "active", "intent": "order",
	  "code": {"concept": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]}}, "subject": {"reference": "Patient/`+pat+`"},
	  "requester": {"reference": "Practitioner/`+prac+`", "display": "Dr Alice Able"}}`)["id"].(string)
	k := r.do(t, http.MethodPost, "/fhir/Observation", strings.Replace(observation(pat, "final", "HH"), `"status"`, `"basedOn": [{"reference": "ServiceRequest/`+sr+`"}], "status"`, 1))["id"].(string)
	// A patient whose Consent keeps their record from everyone but
	// their family doctor: the staff cannot see the review, the EMR
	// still escalates it.
	private := r.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType": "Patient", "name": [{"family": "Private"}]}`)["id"].(string)
	p := r.do(t, http.MethodPost, "/fhir/Observation", observation(private, "final", "LL"))["id"].(string)
	consent, _ := fhir.ParseResource([]byte(`{"resourceType": "Consent", "id": "optout", "status": "active", "subject": {"reference": "Patient/` + private + `"},
	  "decision": "deny", "provision": [{"actor": [{"reference": {"reference": "Practitioner/family-doctor"}}]}]}`))
	if err := r.st.Write(ctx, func(tx store.Tx) error { _, _, err := tx.Update(consent, 0); return err }); err != nil {
		t.Fatal(err)
	}
	if n := len(r.reviews(t, p)); n != 0 {
		t.Fatalf("the staff see %d reviews of a patient whose consent keeps them out", n)
	}
	// Acknowledged: never overdue.
	done := r.do(t, http.MethodPost, "/fhir/Observation", observation(pat, "final", "LL"))["id"].(string)
	ack := r.reviews(t, done)[0]
	ack["status"] = "completed"
	b, _ := json.Marshal(ack)
	r.do(t, http.MethodPut, "/fhir/Task/"+ack["id"].(string), string(b))

	team := r.do(t, http.MethodPost, "/fhir/CareTeam", `{"resourceType": "CareTeam", "status": "active", "name": "Medicine on call"}`)["id"].(string)
	tv, err := r.st.Read(ctx, "CareTeam", team)
	if err != nil {
		t.Fatal(err)
	}
	to, err := critical.TargetOf(tv)
	if err != nil || to.Reference != "CareTeam/"+team || to.Display != "Medicine on call" {
		t.Fatalf("TargetOf: %+v, %v", to, err)
	}
	esc := critical.Escalation{After: 30 * time.Minute, To: to}
	reviews := &critical.Reviews{Definitions: spec.R5()}

	if n, err := reviews.Escalate(ctx, r.st, r.gate, esc, time.Now().Add(29*time.Minute)); err != nil || n != 0 {
		t.Fatalf("before it is due: %d escalated (%v)", n, err)
	}
	// Two servers at once: each review is escalated once.
	later := time.Now().Add(31 * time.Minute)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := reviews.Escalate(ctx, r.st, r.gate, esc, later)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}()
	}
	wg.Wait()
	if counts[0]+counts[1] != 2 {
		t.Fatalf("escalated %v, want 2 in all", counts)
	}
	if n, err := reviews.Escalate(ctx, r.st, r.gate, esc, later.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("again: %d escalated (%v)", n, err)
	}
	if n, err := reviews.Overdue(ctx, r.st); err != nil || n != 2 {
		t.Errorf("Overdue: %d (%v), want 2", n, err)
	}

	for _, obs := range []string{k, p} {
		res, err := r.st.Search(ctx, mustQuery(t, "Task", "focus=Observation/"+obs+"/_history/1"))
		if err != nil || len(res.Matches) != 1 {
			t.Fatalf("the review of %s: %v", obs, err)
		}
		v := res.Matches[0]
		task := v.Resource
		if v.VersionID != 2 || !critical.IsOverdue(task) || task["status"] != "requested" {
			t.Errorf("the review of %s after escalation: version %d %v", obs, v.VersionID, task)
		}
		if rp := string(mustJSON(task["requestedPerformer"])); !strings.Contains(rp, `"CareTeam/`+team+`"`) || !strings.Contains(rp, "Medicine on call") {
			t.Errorf("passed to %s", rp)
		}
		if note := string(mustJSON(task["note"])); !strings.Contains(note, "Not acknowledged within 30 minutes") || !strings.Contains(note, "Passed to Medicine on call") {
			t.Errorf("the note: %s", note)
		}
		if obs == k && mapOf(task["owner"])["reference"] != "Practitioner/"+prac {
			t.Errorf("the owner changed: %v", task["owner"])
		}
		if issues := r.valid.Validate(task); validate.HasErrors(issues) {
			t.Errorf("the escalated review is not valid R5: %v", issues)
		}
		// Audited, under the patient, as the EMR's duty.
		by := 0
		for _, e := range slice(r.do(t, http.MethodGet, "/fhir/AuditEvent?entity=Task/"+v.ID, "")["entry"]) {
			a := e.(map[string]any)["resource"].(map[string]any)
			if j := string(mustJSON(a)); a["action"] == "U" && strings.Contains(j, critical.EscalationAgent) && strings.Contains(j, "Patient/") {
				by++
			}
		}
		if by != 1 {
			t.Errorf("%d audit records of escalating Task/%s, want 1", by, v.ID)
		}
	}
	if v, _ := r.st.Read(ctx, "Task", ack["id"].(string)); critical.IsOverdue(v.Resource) || v.Resource["status"] != "completed" {
		t.Errorf("an acknowledged review was escalated: %v", v.Resource)
	}

	// Without anyone to pass to: marked overdue, nothing more.
	q := r.do(t, http.MethodPost, "/fhir/Observation", observation(pat, "final", "HH"))["id"].(string)
	if n, err := reviews.Escalate(ctx, r.st, r.gate, critical.Escalation{After: time.Minute}, time.Now().Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("without a target: %d (%v)", n, err)
	}
	if task := r.reviews(t, q)[0]; !critical.IsOverdue(task) || task["requestedPerformer"] != nil {
		t.Errorf("escalated without a target: %v", task)
	}

	// Only those who can act may be the target.
	pv, _ := r.st.Read(ctx, "Patient", pat)
	if _, err := critical.TargetOf(pv); err == nil {
		t.Errorf("a Patient was taken as the target")
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

func mustQuery(t *testing.T, typ, query string) *search.Query {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(spec.R5(), typ, params, search.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Reviews whose authoredOn is a date alone (as a client may write one),
// or that wait on hold, are escalated too; a page of them does not hold
// back the reviews after it.
func TestEscalateEveryOpenReview(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var ids []string
	err := r.st.Write(ctx, func(tx store.Tx) error {
		for i := range 120 {
			status := "requested"
			if i%10 == 0 {
				status = "on-hold"
			}
			task, _ := fhir.ParseResource([]byte(`{"resourceType": "Task", "status": "` + status + `", "intent": "order", "priority": "stat",
			  "code": {"coding": [{"system": "` + critical.TaskSystem + `", "code": "` + critical.TaskCode + `"}]},
			  "for": {"reference": "Patient/p1"}, "authoredOn": "2020-03-01"}`))
			v, err := tx.Create(task)
			if err != nil {
				return err
			}
			ids = append(ids, v.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pat := r.do(t, http.MethodPost, "/fhir/Patient", `{"resourceType": "Patient", "name": [{"family": "Roe"}]}`)["id"].(string)
	obs := r.do(t, http.MethodPost, "/fhir/Observation", observation(pat, "final", "HH"))["id"].(string)
	reviews := &critical.Reviews{Definitions: spec.R5()}
	n, err := reviews.Escalate(ctx, r.st, r.gate, critical.Escalation{After: 30 * time.Minute}, time.Now().Add(time.Hour))
	if err != nil || n != 121 {
		t.Fatalf("escalated %d (%v), want 121", n, err)
	}
	if task := r.reviews(t, obs)[0]; !critical.IsOverdue(task) {
		t.Errorf("the review after a page of others was not escalated")
	}
	v, _ := r.st.Read(ctx, "Task", ids[0])
	if !critical.IsOverdue(v.Resource) || !strings.Contains(string(mustJSON(v.Resource["note"])), "(2020-03-01)") {
		t.Errorf("a review on hold since a date: %s", v.Resource.JSON())
	}
}
