package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/emr-project/emr/"

// TestImportRules enforces the direction of imports in docs/architecture.md.
func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	rules := []struct {
		pkgPrefix string
		may       func(imp string) bool
		why       string
	}{
		{"internal/fhir", func(imp string) bool { return strings.HasPrefix(imp, "internal/fhir") || imp == "internal/sharedtest" },
			"the resource model depends on nothing else of ours"},
		{"internal/search", func(imp string) bool { return strings.HasPrefix(imp, "internal/fhir") || imp == "internal/sharedtest" },
			"search plans and extraction depend only on the model"},
		{"internal/store", func(imp string) bool {
			return strings.HasPrefix(imp, "internal/fhir") || strings.HasPrefix(imp, "internal/store") || imp == "internal/search" || imp == "internal/audit" || imp == "internal/sharedtest"
		}, "the store depends only on the model, the search plan and the audit record's search terms"},
		{"internal/audit", func(imp string) bool { return strings.HasPrefix(imp, "internal/fhir") || imp == "internal/sharedtest" },
			"audit records depend only on the model (the store indexes them)"},
		{"internal/importer", func(imp string) bool {
			return strings.HasPrefix(imp, "internal/fhir") || imp == "internal/store" || imp == "internal/search" || imp == "internal/sharedtest"
		}, "the importer works on the model and the Store interface; cmd/emr picks the backend"},
	}
	backends := []string{"internal/store/sqlstore"}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			imp := strings.Trim(spec.Path.Value, `"`)
			if !strings.HasPrefix(imp, module) {
				continue
			}
			imp = strings.TrimPrefix(imp, module)
			if strings.HasPrefix(imp, "cmd/") {
				t.Errorf("%s imports %s: nothing imports cmd/", path, imp)
			}
			for _, r := range rules {
				// Tests may reach across layers (an external test package
				// checks a type against the interface it serves).
				if strings.HasSuffix(path, "_test.go") {
					break
				}
				if (rel == r.pkgPrefix || strings.HasPrefix(rel, r.pkgPrefix+"/")) && !r.may(imp) {
					t.Errorf("%s imports %s: %s", path, imp, r.why)
				}
			}
			for _, b := range backends {
				inBackend := rel == b || strings.HasPrefix(rel, b+"/")
				if (imp == b || strings.HasPrefix(imp, b+"/")) && !inBackend && !strings.HasSuffix(path, "_test.go") {
					t.Errorf("%s imports backend %s: only cmd/emr picks a backend", path, imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
