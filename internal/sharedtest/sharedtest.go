// Package sharedtest finds the project's shared test material (../shared
// beside the repository root, or $EMR_SHARED) for tests. A fresh clone of
// the project does not have it, so tests that need it skip with a message;
// CI always has it.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared directory, or skips the test when it is absent.
func Dir(t testing.TB) string {
	t.Helper()
	if d := Find(); d != "" {
		return d
	}
	t.Skip("shared test material not found: set EMR_SHARED or put it at ../shared beside the repository")
	return ""
}

// Path returns a path under the shared directory, skipping the test when it is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Dir(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test material %s not found", p)
	}
	return p
}

// Find returns the shared directory or "" when there is none.
func Find() string {
	if d := os.Getenv("EMR_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(filepath.Dir(dir), "shared")
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				return d
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}
