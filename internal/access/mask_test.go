package access_test

import (
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/access"
	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/spec"
)

func maskRole(t *testing.T) (*access.Role, *spec.Definitions) {
	t.Helper()
	defs := spec.R5()
	roles, err := access.LoadRoles(defs, []byte(`{"roles":[{"name":"m","permissions":[{"types":["*"],"perms":"rs"}],"masks":[
		{"paths":["*.text","Observation.value[x]","DocumentReference.content.attachment.data"]},
		{"paths":["Observation.note"],"replace":[{"text":"withheld"}]},
		{"paths":["Patient.extension"],"urls":["http://x/secret"]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	role, _ := roles.Role("m")
	return role, defs
}

// TestMask applies each kind of mask, inside Bundles and contained
// resources too, and leaves the original alone.
func TestMask(t *testing.T) {
	role, defs := maskRole(t)
	src := `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":
		{"resourceType":"Observation","id":"o","status":"final","code":{"text":"c"},"text":{"status":"generated","div":"<div>N</div>"},
		 "valueString":"VALUE","_valueString":{"id":"v"},"note":[{"text":"NOTE"}],
		 "contained":[{"resourceType":"Patient","id":"p","extension":[{"url":"http://x/secret","valueString":"SECRET"},{"url":"http://x/ok","valueString":"OK"}]}]}},
		{"resource":{"resourceType":"DocumentReference","id":"d","status":"current","content":[{"attachment":{"data":"DATA","title":"TITLE"}}]}},
		{"resource":{"resourceType":"Patient","id":"p2","gender":"male"}}]}`
	res, _ := fhir.ParseResource([]byte(src))
	before := string(res.JSON())
	out, changed := role.Mask(defs, res)
	if !changed {
		t.Fatal("nothing masked")
	}
	got := string(out.JSON())
	for _, gone := range []string{"VALUE", `"id":"v"`, "NOTE", "SECRET", "DATA", "<div>N</div>"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s survives: %s", gone, got)
		}
	}
	for _, kept := range []string{"withheld", "http://x/ok", "TITLE", `"gender":"male"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s missing: %s", kept, got)
		}
	}
	if n := strings.Count(got, "REDACTED"); n != 3 {
		t.Errorf("%d REDACTED labels, want 3 (the Observation, the Patient it contains, the DocumentReference): %s", n, got)
	}
	contained := mustContained(t, `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"c"},
		"contained":[{"resourceType":"Patient","id":"p","extension":[{"url":"http://x/secret","valueString":"SECRET"}]}]}`)
	if out, _ := role.Mask(defs, contained); strings.Count(string(out.JSON()), "REDACTED") != 2 {
		t.Errorf("a container of a masked resource is not labelled: %s", out.JSON())
	}
	if string(res.JSON()) != before {
		t.Errorf("the original changed")
	}
}

// TestRestore: what a role could not see comes back on its writes; a
// hidden element whose list changed length refuses the write.
func TestRestore(t *testing.T) {
	role, defs := maskRole(t)
	stored, _ := fhir.ParseResource([]byte(`{"resourceType":"DocumentReference","id":"d","status":"current","text":{"status":"generated","div":"<div>N</div>"},
		"content":[{"attachment":{"data":"DATA","title":"T"}}]}`))
	shown, _ := role.Mask(defs, stored)
	shown["status"] = "superseded"
	back, err := role.Restore(defs, shown.Clone(), stored)
	if err != nil {
		t.Fatal(err)
	}
	got := string(back.JSON())
	for _, want := range []string{"DATA", "<div>N</div>", "superseded"} {
		if !strings.Contains(got, want) {
			t.Errorf("restored lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "REDACTED") {
		t.Errorf("restored keeps the REDACTED label: %s", got)
	}
	shown["content"] = append(shown["content"].([]any), map[string]any{"attachment": map[string]any{"title": "new"}})
	if _, err := role.Restore(defs, shown, stored); fhir.KindOf(err) != fhir.KindConflict {
		t.Errorf("a content list of another length: %v, want a conflict", err)
	}
}

func mustContained(t *testing.T, s string) fhir.Resource {
	t.Helper()
	res, err := fhir.ParseResource([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return res
}
