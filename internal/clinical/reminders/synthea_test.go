package reminders

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/r4"
	"github.com/emr-project/emr/internal/sharedtest"
)

// TestSynthea works the reminders out for the 59 Synthea patients, their
// records converted to R5 as an import does: the codes and shapes Synthea
// writes are read (its colonoscopies have a performedPeriod, its
// colorectal cancer is 94260004), and the deceased have none.
func TestSynthea(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedtest.Path(t, "testdata", "synthea-r4"), "*.json"))
	if len(files) == 0 {
		t.Skip("no Synthea data")
	}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	byName := map[string][]Reminder{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bundle struct {
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal(data, &bundle); err != nil {
			t.Fatal(err)
		}
		rec := &Record{}
		for _, e := range bundle.Entry {
			res, err := fhir.ParseResource(e.Resource)
			if err != nil {
				t.Fatal(err)
			}
			conv, _, err := r4.ToR5(res)
			if err != nil {
				continue // a type without conversion holds nothing the rules read
			}
			if conv.Type() == "Patient" {
				rec.BirthDate, _ = conv["birthDate"].(string)
				_, rec.Deceased = conv["deceasedDateTime"]
				continue
			}
			rec.Add(conv)
		}
		rems := Evaluate(rec, now)
		byName[strings.SplitN(filepath.Base(f), "_", 3)[0]+"_"+strings.SplitN(filepath.Base(f), "_", 3)[1]] = rems
		if rec.Deceased && len(rems) > 0 {
			t.Errorf("%s: deceased, reminded of %v", filepath.Base(f), rems)
		}
		for _, r := range rems {
			seen[r.Rule+" "+string(r.Status)]++
			if r.What != "" {
				seen[r.Rule+" found "+r.What]++
			}
		}
	}
	t.Logf("%v", seen)
	for _, want := range []string{"influenza found influenza vaccine", "colorectal found colonoscopy", "hba1c found HbA1c", "blood-pressure found blood pressure", "colorectal surveillance"} {
		if seen[want] == 0 {
			t.Errorf("no reminder with %q over the Synthea patients: %v", want, seen)
		}
	}
	if rems := byName["Librada_Tromp"]; len(rems) > 0 {
		for _, r := range rems {
			if r.Rule == "colorectal" && r.Status != Surveillance {
				t.Errorf("Librada Tromp, with a history of colon cancer: %+v", r)
			}
		}
	}
}
