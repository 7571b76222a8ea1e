package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
	"github.com/emr-project/emr/internal/store"
)

// clinicians is how many simultaneous clinicians BenchmarkNoteSave
// simulates, each writing their own patient's note.
const clinicians = 50

// noteDesk is one clinician at work: signed in, with a visit and a draft.
type noteDesk struct {
	b               *browser
	csrf, patient   string
	visit, note     string
	version         int
	draftMs, signMs []float64
}

func newNoteDesk(s *workspaceSite, i int) *noteDesk {
	d := &noteDesk{b: s.signedIn(fmt.Sprintf("dr%02d", i), "physician"), patient: fmt.Sprintf("p%02d", i)}
	s.put(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"Bench%02d","given":["Ana"]}],"gender":"female","birthDate":"1970-01-01"}`, d.patient, i))
	page := d.b.get("/patients/" + d.patient + "/visits")
	d.csrf = csrfOf(s.t, page.body)
	a := d.b.post("/patients/"+d.patient+"/visits", url.Values{"csrf": {d.csrf}, "step": {"start"}, "reason": {"Review"}})
	d.visit = a.location
	d.newNote(s)
	return d
}

func (d *noteDesk) newNote(s *workspaceSite) {
	a := d.b.post(d.visit+"/notes", url.Values{"csrf": {d.csrf}, "template": {"soap"}})
	if a.status != http.StatusSeeOther {
		s.t.Fatalf("new note: %d %.500s", a.status, a.body)
	}
	d.note, d.version = a.location, 1
}

// autosave posts the draft as notes.js does and returns the time taken.
func (d *noteDesk) autosave(s *workspaceSite, text string) time.Duration {
	form := url.Values{"csrf": {d.csrf}, "version": {fmt.Sprint(d.version)}, "s0": {text}, "s1": {"BP 128/82, pulse 72"}, "s2": {""}, "s3": {""}}
	req, _ := http.NewRequest("POST", s.srv.URL+d.note+"/draft", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Autosave", "1")
	start := time.Now()
	resp, err := d.b.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	got := read(s.t, resp)
	took := time.Since(start)
	var j struct{ Version int }
	if got.status != http.StatusOK || json.Unmarshal([]byte(got.body), &j) != nil {
		s.t.Fatalf("autosave: %d %.300s", got.status, got.body)
	}
	d.version = j.Version
	return took
}

func (d *noteDesk) sign(s *workspaceSite, text string) time.Duration {
	start := time.Now()
	a := d.b.post(d.note+"/sign", url.Values{"csrf": {d.csrf}, "version": {fmt.Sprint(d.version)}, "s0": {text}, "s1": {"BP 128/82"}, "s2": {"Well"}, "s3": {"Review in 3 months"}})
	took := time.Since(start)
	if a.status != http.StatusSeeOther {
		s.t.Fatalf("sign: %d %.300s", a.status, a.body)
	}
	return took
}

// BenchmarkNoteSave: 50 clinicians at once, each saving their draft as
// they type (four saves) and then signing it, over HTTP to the workspace
// on SQLite on disk: the server time of a draft save and of a signature,
// p50 and p99. "saturated" sends the next request as soon as the last
// answered (the most the server can take); "paced" has each clinician
// save once a second, as the autosave rule does at most while typing
// (50 saves a second in all).
//
//	go test ./internal/web -run '^$' -bench NoteSave -benchtime 200x
func BenchmarkNoteSave(b *testing.B) {
	for _, mode := range []struct {
		name string
		pace time.Duration
	}{{"saturated", 0}, {"paced", time.Second}} {
		b.Run(mode.name, func(b *testing.B) {
			s := newWorkspaceSite(b)
			desks := make([]*noteDesk, clinicians)
			for i := range desks {
				desks[i] = newNoteDesk(s, i)
			}
			var next atomic.Int64
			text := strings.Repeat("Thirsty and tired for two weeks, worse at night. ", 8)
			b.SetParallelism((clinicians + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				n := next.Add(1) - 1
				d := desks[n]
				// Paced clinicians start spread over the first second,
				// as people do, not all on the same tick.
				time.Sleep(mode.pace * time.Duration(n) / clinicians)
				wait := func(took time.Duration) {
					if mode.pace > took {
						time.Sleep(mode.pace - took)
					}
				}
				for pb.Next() {
					for k := range 4 {
						took := d.autosave(s, text[:len(text)*(k+1)/4])
						d.draftMs = append(d.draftMs, ms(took))
						wait(took)
					}
					took := d.sign(s, text)
					d.signMs = append(d.signMs, ms(took))
					wait(took)
					d.newNote(s)
				}
			})
			b.StopTimer()
			var drafts, signs []float64
			for _, d := range desks {
				drafts, signs = append(drafts, d.draftMs...), append(signs, d.signMs...)
			}
			b.ReportMetric(pct(drafts, 50), "draft-p50-ms")
			b.ReportMetric(pct(drafts, 99), "draft-p99-ms")
			b.ReportMetric(pct(signs, 50), "sign-p50-ms")
			b.ReportMetric(pct(signs, 99), "sign-p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[min(len(v)-1, len(v)*p/100)]
}

// TestAutosaveAmplification measures what a minute of typing writes: a
// clinician typing 200 characters a minute in bursts (a pause of 2 s
// after every 6 s of typing, as when thinking between sentences), saved
// by notes.js's rule (1.5 s after typing stops, at least every 10 s while
// it goes on). It logs the versions and bytes of the note and of its
// audit records, and fails if the rule saves more than once per pause
// and per 10 s of typing.
func TestAutosaveAmplification(t *testing.T) {
	s := newWorkspaceSite(t)
	d := newNoteDesk(s, 0)
	const (
		perMinute = 200
		typing    = 6 * time.Second
		pauseFor  = 2 * time.Second
	)
	// The keystrokes' times over one minute, and the saves the rule makes.
	var saves []time.Duration
	var pending bool
	var lastSave, lastKey time.Duration
	gap := time.Minute / perMinute
	typed := 0
	for now := time.Duration(0); now <= time.Minute; now += 100 * time.Millisecond {
		inBurst := now%(typing+pauseFor) < typing
		if inBurst && now-lastKey >= gap {
			lastKey, pending = now, true
			if typed++; typed == 1 {
				lastSave = now // the 10 s clock starts at the first unsaved key
			}
		}
		if pending && (now-lastKey >= 1500*time.Millisecond || now-lastSave >= 10*time.Second) {
			saves, pending, lastSave = append(saves, now), false, now
		}
	}
	bursts := int(time.Minute / (typing + pauseFor))
	if len(saves) > bursts+int(time.Minute/(10*time.Second))+1 {
		t.Errorf("%d saves in a minute of typing in %d bursts", len(saves), bursts)
	}
	ctx := context.Background()
	before, err := s.store.SearchAudit(ctx, store.AuditQuery{Count: 100, Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/" + d.patient}}}})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("x", typed)
	for i, at := range saves {
		d.autosave(s, text[:int(float64(typed)*float64(at)/float64(time.Minute))+i%2])
	}
	noteID := d.note[strings.LastIndex(d.note, "/")+1:]
	hist, err := s.store.History(ctx, store.HistoryQuery{Type: "Composition", ID: noteID})
	if err != nil {
		t.Fatal(err)
	}
	var noteBytes int
	for _, v := range hist.Versions[:len(saves)] {
		noteBytes += len(v.Resource.JSON())
	}
	after, err := s.store.SearchAudit(ctx, store.AuditQuery{Count: 100, Terms: [][]audit.Term{{{Name: audit.ParamPatient, Value: "Patient/" + d.patient}}}})
	if err != nil {
		t.Fatal(err)
	}
	auditBytes := 0
	for _, r := range after.Records[:len(after.Records)-len(before.Records)] {
		auditBytes += len(r.Event)
	}
	t.Logf("a minute of typing (%d characters in %d bursts): %d saves, %d note versions, %d bytes of note versions, %d audit records of %d bytes",
		typed, bursts, len(saves), len(saves), noteBytes, len(after.Records)-len(before.Records), auditBytes)
}
