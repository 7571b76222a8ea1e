package fhirpath

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/fhir/fhirpath/fhirpathtest"
	"github.com/emr-project/emr/internal/sharedtest"
)

type suiteXML struct {
	Groups []struct {
		Name  string `xml:"name,attr"`
		Tests []struct {
			Name       string `xml:"name,attr"`
			InputFile  string `xml:"inputfile,attr"`
			Predicate  string `xml:"predicate,attr"`
			Mode       string `xml:"mode,attr"`
			Invalid    string `xml:"invalid,attr"`
			Expression struct {
				Text    string `xml:",chardata"`
				Invalid string `xml:"invalid,attr"`
			} `xml:"expression"`
			Outputs []struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"output"`
		} `xml:"test"`
	} `xml:"group"`
}

// suiteSkips are tests we do not run, with the reason.
var suiteModeSkips = map[string]string{
	"cda": "CDA logical model is not supported",
	"tx":  "needs a terminology server (%terminologies)",
}

func TestOfficialSuite(t *testing.T) {
	path := sharedtest.Path(t, "testdata", "fhir-test-cases", "r5", "fhirpath", "tests-fhir-r5.xml")
	model := fhirpathtest.LoadModel(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suite suiteXML
	if err := xml.Unmarshal(data, &suite); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]map[string]any{}
	inputDir := filepath.Join(filepath.Dir(filepath.Dir(path)), "inputs")
	load := func(name string) (map[string]any, error) {
		if r, ok := inputs[name]; ok {
			return r, nil
		}
		raw, err := os.ReadFile(filepath.Join(inputDir, name))
		if err != nil {
			return nil, err
		}
		var r map[string]any
		if strings.HasSuffix(name, ".json") {
			r, err = fhir.ParseResource(raw)
		} else {
			r, err = fhirpathtest.XMLToJSON(model, raw)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		inputs[name] = r
		return r, nil
	}
	passed, failed, skipped := 0, 0, 0
	var failures, skips []string
	for _, g := range suite.Groups {
		for _, tc := range g.Tests {
			expr := strings.TrimSpace(tc.Expression.Text)
			id := g.Name + "/" + tc.Name
			if reason, ok := suiteModeSkips[tc.Mode]; ok {
				skipped++
				skips = append(skips, id+": "+reason)
				continue
			}
			invalid := tc.Invalid != "" || tc.Expression.Invalid != ""
			var input []any
			if tc.InputFile != "" {
				r, err := load(tc.InputFile)
				if err != nil {
					skipped++
					skips = append(skips, id+": input "+err.Error())
					continue
				}
				input = append(input, r)
			}
			got, err := func() (out []Node, err error) {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("PANIC: %v", p)
					}
				}()
				x, err := Compile(expr)
				if err != nil {
					return nil, err
				}
				ctx := &Context{Model: model, Lenient: strings.HasPrefix(tc.Mode, "lenient")}
				return x.Evaluate(ctx, input...)
			}()
			fail := func(format string, args ...any) {
				failed++
				failures = append(failures, fmt.Sprintf("%s: %s: %s", id, expr, fmt.Sprintf(format, args...)))
			}
			switch {
			case invalid && err != nil:
				passed++
				continue
			case invalid:
				fail("expected an error, got %s", describe(got))
				continue
			case err != nil:
				fail("error: %v", err)
				continue
			}
			if tc.Predicate == "true" {
				got = []Node{boolNode(len(got) > 0)}
			}
			if len(got) != len(tc.Outputs) {
				fail("got %s, want %d items", describe(got), len(tc.Outputs))
				continue
			}
			ok := true
			for i, want := range tc.Outputs {
				gt, gv := outputOf(got[i])
				if gt != want.Type || !sameOutput(want.Type, gv, want.Value) {
					fail("item %d: got %s %q, want %s %q", i, gt, gv, want.Type, want.Value)
					ok = false
					break
				}
			}
			if ok {
				passed++
			}
		}
	}
	for _, s := range skips {
		t.Logf("skip %s", s)
	}
	for _, f := range failures {
		t.Logf("FAIL %s", f)
	}
	total := passed + failed + skipped
	t.Logf("%d passed, %d failed, %d skipped (of %d)", passed, failed, skipped, total)
	if passed < total*90/100 {
		t.Errorf("only %d of %d passed, want at least 90%%", passed, total)
	}
}

func describe(c []Node) string {
	parts := make([]string, len(c))
	for i, n := range c {
		t, v := outputOf(n)
		parts[i] = t + " " + v
	}
	return fmt.Sprintf("[%s]", strings.Join(parts, ", "))
}

// outputOf gives the suite's type name and text for a result item.
func outputOf(n Node) (string, string) {
	typ := n.Type
	if rest, ok := strings.CutPrefix(typ, "System."); ok {
		typ = strings.ToLower(rest[:1]) + rest[1:]
		if typ == "quantity" {
			typ = "Quantity"
		}
	}
	v, ok := formatValue(system(n))
	if !ok {
		v = fmt.Sprint(n.Value)
	}
	return typ, v
}

func sameOutput(typ, got, want string) bool {
	want = strings.TrimSpace(want)
	switch typ {
	case "date", "dateTime":
		want = strings.TrimPrefix(want, "@")
	case "time":
		want = strings.TrimPrefix(want, "@T")
	case "decimal":
		a, err1 := ParseDecimal(got)
		b, err2 := ParseDecimal(want)
		return err1 == nil && err2 == nil && a.Cmp(b) == 0
	}
	return got == want
}
