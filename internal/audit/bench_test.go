package audit_test

import (
	"testing"
	"time"

	"github.com/emr-project/emr/internal/audit"
)

// BenchmarkEvent measures building the AuditEvent of a read, which every
// audited read does before its commit (and encoding it as JSON, which the
// store does), and finding its search terms (audit.Index, also the
// store's); Encode does the last two without building the resource.
// Run: go test ./internal/audit -run '^$' -bench Event -benchmem
func BenchmarkEvent(b *testing.B) {
	e := audit.Entry{Interaction: "read", Type: "Patient", ID: "0d9b5a3c4b2a", VersionID: 3, Patient: "Patient/0d9b5a3c4b2a",
		Agent: audit.Agent{User: "dr.who", Client: "app-1", Address: "10.0.0.1"}, Purpose: "TREAT",
		Recorded: time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC), Observer: "emr"}
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			audit.Event(e)
		}
	})
	b.Run("encode-direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			audit.Encode(e, "0194a3b2-7c1d-7e5f-8a9b-0c1d2e3f4a5b")
		}
	})
	b.Run("index", func(b *testing.B) {
		ev := audit.Event(e)
		ev.SetID("0194a3b2-7c1d-7e5f-8a9b-0c1d2e3f4a5b")
		b.ReportAllocs()
		for b.Loop() {
			audit.Index(ev)
		}
	})
	b.Run("build+encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			audit.Event(e).JSON()
		}
	})
}
