package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

func auditEvent(what string) fhir.Resource {
	return fhir.Resource{
		"resourceType": "AuditEvent",
		"code":         map[string]any{"text": what},
		"recorded":     "2026-01-01T00:00:00Z",
	}
}

// auditTexts returns code.text of every audit event in order, or skips the
// test when the store cannot list its audit log.
func auditTexts(t *testing.T, s store.Store) []string {
	t.Helper()
	scanner, ok := s.(AuditScanner)
	if !ok {
		t.Skip("store does not implement storetest.AuditScanner")
	}
	var texts []string
	err := scanner.ScanAudit(ctx, 0, func(seq int64, ev fhir.Resource) error {
		if ev.ID() == "" {
			t.Errorf("audit event %d has no id", seq)
		}
		code, _ := ev["code"].(map[string]any)
		text, _ := code["text"].(string)
		texts = append(texts, text)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanAudit: %v", err)
	}
	return texts
}

// auditCount is the number of audit events, or 0 for a store that cannot
// list them (comparisons of two counts then pass trivially).
func auditCount(t *testing.T, s store.Store) int {
	t.Helper()
	if _, ok := s.(AuditScanner); !ok {
		return 0
	}
	return len(auditTexts(t, s))
}

var auditTests = []suiteTest{
	{"AppendAuditInOrder", func(t *testing.T, s store.Store) {
		if err := s.AppendAudit(ctx); err != nil {
			t.Fatalf("AppendAudit with no events: %v", err)
		}
		if err := s.AppendAudit(ctx, auditEvent("one"), auditEvent("two")); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if err := s.AppendAudit(ctx, auditEvent("three")); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		got := auditTexts(t, s)
		if fmt.Sprint(got) != "[one two three]" {
			t.Errorf("audit log %q, want [one two three]", got)
		}
	}},
	{"CommittedWithWrite", func(t *testing.T, s store.Store) {
		write(t, s, func(tx store.Tx) error {
			if _, err := tx.Create(patient("Audited")); err != nil {
				return err
			}
			return tx.AppendAudit(auditEvent("create"))
		})
		if got := auditTexts(t, s); fmt.Sprint(got) != "[create]" {
			t.Errorf("audit log %q, want [create]", got)
		}
	}},
	{"ConcurrentAppendAudit", func(t *testing.T, s store.Store) {
		const n = 64
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- s.AppendAudit(ctx, auditEvent(fmt.Sprint("read ", i)))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
		}
		got := auditTexts(t, s)
		seen := map[string]bool{}
		for _, text := range got {
			seen[text] = true
		}
		if len(got) != n || len(seen) != n {
			t.Errorf("got %d audit events (%d distinct), want %d", len(got), len(seen), n)
		}
	}},
}
