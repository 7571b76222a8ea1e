package sqlstore

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emr-project/emr/internal/fhir"
	"github.com/emr-project/emr/internal/store"
)

// TestWALCheckpointer: what writes append to the write-ahead log reaches
// the database file without the writer checkpointing (its own
// checkpoints wait for 64 MiB of log), and the writes are all there after
// the store is closed and opened again.
func TestWALCheckpointer(t *testing.T) {
	db := openTest(t)
	path := db.where
	fileSize := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	start := fileSize()
	note := strings.Repeat("a long note ", 800) // about 10 KB
	const patients = 400                        // about 4 MB of log
	for i := 0; i < patients; i += 50 {
		err := db.Write(ctx, func(tx store.Tx) error {
			for j := i; j < i+50; j++ {
				p := fhir.Resource{"resourceType": "Patient", "id": fmt.Sprintf("p%d", j),
					"text": map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">` + note + `</div>`}}
				if _, _, err := tx.Update(p, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for fileSize()-start < 2<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file grew by %d bytes in 10 s; the log was not checkpointed", fileSize()-start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, id := range []string{"p0", fmt.Sprintf("p%d", patients-1)} {
		if _, err := again.Read(ctx, "Patient", id); err != nil {
			t.Errorf("Patient/%s after reopening: %v", id, err)
		}
	}
}
